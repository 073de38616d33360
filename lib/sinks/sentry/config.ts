import type { DestinationFromSchema } from '../../config/types.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';

/** Per request when `timeoutSeconds` is not set. */
export const DEFAULT_TIMEOUT_SECONDS = 10;

/** The event levels Sentry knows (its SDKs' `log` is not one an event may carry here). */
export const SENTRY_LEVELS = ['fatal', 'error', 'warning', 'info', 'debug'] as const;
export type SentryLevel = (typeof SENTRY_LEVELS)[number];

const LEVEL_SCHEMA = { type: 'string', enum: SENTRY_LEVELS } as const;
const LABEL_NAME = { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' } as const;
const SLUG = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' } as const;

/** The Sentry destination's own fields (draft 2020-12; `name`, `sink`, `matchers` are common). */
export const sentryConfigSchema = {
  type: 'object',
  properties: {
    /** NAME of the secret holding the project's DSN. */
    dsnSecret: { type: 'string', minLength: 1, description: 'NAME of the secret holding the DSN' },
    /** NAME of the secret holding an auth token with event:write; without it resolves are off. */
    authTokenSecret: {
      type: 'string',
      minLength: 1,
      description: 'NAME of the secret holding an auth token with event:write (enables resolving)',
    },
    /** Organization slug, for the Web API. Required with authTokenSecret. */
    org: { ...SLUG, description: 'organization slug' },
    /** Project slug, for people reading logs; the resolve is scoped by the DSN's project id. */
    project: { ...SLUG, description: 'project slug' },
    /** Web API base (`https://de.sentry.io`, a self-hosted URL). Default: derived from the DSN. */
    apiUrl: {
      type: 'string',
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      description: 'Web API base URL, e.g. https://de.sentry.io',
    },
    /** severity label value -> Sentry level, merged over the defaults. */
    levels: {
      type: 'object',
      propertyNames: { type: 'string', minLength: 1 },
      additionalProperties: LEVEL_SCHEMA,
    },
    /** Label read for the level. Default `severity`. */
    severityLabel: LABEL_NAME,
    /** Label whose value becomes the event's environment. Default `environment`. */
    environmentLabel: LABEL_NAME,
    /** Label whose value becomes the event's release. Default `release`. */
    releaseLabel: LABEL_NAME,
    /** Per request. Default 10. */
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 60, default: DEFAULT_TIMEOUT_SECONDS },
    /** Liquid templates (docs/templates.md): `message` is the event's message (its first line the issue title), per alert. */
    templates: {
      type: 'object',
      properties: { message: templateSourceSchema },
      additionalProperties: false,
    },
  },
  required: ['dsnSecret'],
  dependentRequired: { authTokenSecret: ['org'] },
  additionalProperties: false,
} as const;

/**
 * A Sentry destination: one event per firing alert into the DSN's project; with an auth token,
 * resolved alerts resolve their issues through the Web API.
 */
export type SentryDestination = DestinationFromSchema<typeof sentryConfigSchema>;

/** Sentry shows messages as plain text: `message` replaces the event's message, rendered per alert (`alert`). */
export const SENTRY_TEMPLATES: TemplateSpec = { keys: ['message'], format: 'text' };

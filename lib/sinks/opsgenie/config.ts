import { secretNameSchema } from '../../config/schema.ts';
import type { DestinationFromSchema } from '../../config/types.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';

/**
 * An Opsgenie destination's own fields: the JSON schema the config loader checks, and the
 * TypeScript type derived from it (plus the common name, sink and matchers), written once.
 */

/**
 * The Opsgenie Alert API (https://docs.opsgenie.com/docs/alert-api). EU accounts use
 * https://api.eu.opsgenie.com; Jira Service Management operations (where Opsgenie accounts are
 * being moved) takes the same calls under https://api.atlassian.com/jsm/ops/integration.
 */
export const DEFAULT_OPSGENIE_URL = 'https://api.opsgenie.com';
/** Whole-request timeout when `timeoutSeconds` is not set. */
export const DEFAULT_OPSGENIE_TIMEOUT_SECONDS = 10;

export const OPSGENIE_PRIORITIES = ['P1', 'P2', 'P3', 'P4', 'P5'] as const;
export type OpsgeniePriority = (typeof OPSGENIE_PRIORITIES)[number];

const priority = { type: 'string', enum: OPSGENIE_PRIORITIES } as const;
const labelName = { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' } as const;

export const opsgenieConfigSchema = {
  type: 'object',
  properties: {
    /** NAME of the secret holding the API integration's key (sent as `Authorization: GenieKey <key>`). */
    apiKeySecret: {
      ...secretNameSchema,
      description: "NAME of the secret holding the Opsgenie (or JSM) API integration's key",
    },
    /** Default https://api.opsgenie.com. */
    baseUrl: {
      type: 'string',
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      description:
        'API base URL: https://api.eu.opsgenie.com for EU accounts, https://api.atlassian.com/jsm/ops/integration for Jira Service Management',
    },
    /** `group` (default): one Opsgenie alert per Alertmanager group, with Alertmanager's own alias. `alert`: one per alert. */
    mode: { type: 'string', enum: ['group', 'alert'], default: 'group' },
    /** Label whose value picks the priority. Default `severity`. */
    priorityLabel: labelName,
    /** Label value -> priority, merged over the default map (critical P1, error/high P2, warning P3, info P5). */
    priorityMap: { type: 'object', additionalProperties: priority },
    /** When the label is missing or unmapped. Default P3 (Opsgenie's own default). */
    defaultPriority: priority,
    /** Labels that become tags (`name:value`). Default every label the alerts share. */
    tagLabels: { type: 'array', items: labelName, maxItems: 20 },
    /** Whole-request timeout. Default 10. */
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 60, default: DEFAULT_OPSGENIE_TIMEOUT_SECONDS },
    /** Liquid templates (docs/templates.md): `summary` is the alert's message, `description` its description. */
    templates: {
      type: 'object',
      properties: { summary: templateSourceSchema, description: templateSourceSchema },
      additionalProperties: false,
    },
  },
  required: ['apiKeySecret'],
  additionalProperties: false,
} as const;

/** An Opsgenie destination: one API integration (its key). */
export type OpsgenieDestination = DestinationFromSchema<typeof opsgenieConfigSchema>;

/** Opsgenie's fields are plain text: `summary` replaces the message, `description` the description. */
export const OPSGENIE_TEMPLATES: TemplateSpec = { keys: ['summary', 'description'], format: 'text' };

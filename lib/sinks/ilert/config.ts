import type { DestinationFromSchema } from '../../config/types.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';

export const DEFAULT_ILERT_URL = 'https://api.ilert.com';
/** Whole-request timeout when `timeoutSeconds` is not set. */
export const DEFAULT_TIMEOUT_SECONDS = 10;

/** The priorities an ilert alert takes. */
export const ILERT_PRIORITIES = ['HIGH', 'LOW'] as const;
export type IlertPriority = (typeof ILERT_PRIORITIES)[number];

/** The ilert destination's own fields (draft 2020-12; `name`, `sink`, `matchers` are common). */
export const ilertConfigSchema = {
  type: 'object',
  properties: {
    /** NAME of the secret holding the alert source's integration key. */
    keySecret: {
      type: 'string',
      minLength: 1,
      description: "NAME of the secret holding the ilert alert source's integration key",
    },
    /** `alertmanager` (default): forward to ilert's Prometheus endpoint. `events`: one event per alert. */
    mode: { type: 'string', enum: ['alertmanager', 'events'], default: 'alertmanager' },
    /** Default https://api.ilert.com. */
    baseUrl: {
      type: 'string',
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      description: 'ilert API base URL (default https://api.ilert.com)',
    },
    /** Label whose value picks the priority (mode events). Default `severity`. */
    severityLabel: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' },
    /**
     * Label value -> HIGH/LOW, merged over DEFAULT_PRIORITY_MAP; unmapped values send no
     * priority (the alert source's default applies).
     */
    priorityMap: { type: 'object', additionalProperties: { type: 'string', enum: ILERT_PRIORITIES } },
    /** Whole-request timeout. Default 10. */
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 60, default: DEFAULT_TIMEOUT_SECONDS },
    /**
     * Liquid templates (docs/templates.md), mode events: the event's `summary` and `details`,
     * rendered per alert. Mode alertmanager sends the notification, which ilert renders itself.
     */
    templates: {
      type: 'object',
      properties: { summary: templateSourceSchema, details: templateSourceSchema },
      additionalProperties: false,
    },
  },
  required: ['keySecret'],
  additionalProperties: false,
} as const;

/** An ilert destination: an alert source, fed through its Prometheus endpoint or the Events API. */
export type IlertDestination = DestinationFromSchema<typeof ilertConfigSchema>;

/**
 * `summary` and `details` replace the event's (mode events), per alert. ilert renders Markdown
 * in the details; the summary is the alert's title, read as plain text (and in SMS and calls).
 */
export const ILERT_TEMPLATES: TemplateSpec = {
  keys: ['summary', 'details'],
  format: 'markdown',
  keyFormats: { summary: 'text' },
};

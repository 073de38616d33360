import type { DestinationFromSchema } from '../../config/types.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';

export const DEFAULT_PAGERDUTY_URL = 'https://events.pagerduty.com';
/** Whole-request timeout when `timeoutSeconds` is not set. */
export const DEFAULT_TIMEOUT_SECONDS = 10;

/** The severities an Events API v2 event takes. */
export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type PagerDutySeverity = (typeof PAGERDUTY_SEVERITIES)[number];

const severity = { type: 'string', enum: PAGERDUTY_SEVERITIES } as const;
const labelName = { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' } as const;

/** The PagerDuty destination's own fields (draft 2020-12; `name`, `sink`, `matchers` are common). */
export const pagerdutyConfigSchema = {
  type: 'object',
  properties: {
    /** NAME of the secret holding the 32-character integration (routing) key. */
    routingKeySecret: {
      type: 'string',
      minLength: 1,
      description: 'NAME of the secret holding the Events API v2 integration (routing) key',
    },
    /** `group` (default): one PagerDuty alert per Alertmanager group, as Alertmanager does. `alert`: one per alert. */
    mode: { type: 'string', enum: ['group', 'alert'], default: 'group' },
    /** Default https://events.pagerduty.com (EU accounts: https://events.eu.pagerduty.com). */
    baseUrl: {
      type: 'string',
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      description: 'Events API base URL, e.g. https://events.eu.pagerduty.com',
    },
    /** Label whose value picks the severity. Default `severity`. */
    severityLabel: labelName,
    /** Label value -> PagerDuty severity, merged over DEFAULT_SEVERITY_MAP. */
    severityMap: { type: 'object', additionalProperties: severity },
    /** When the label is missing or unmapped. Default `error` (Alertmanager's default). */
    defaultSeverity: severity,
    /** Label for `payload.source`. Default `instance`. */
    sourceLabel: labelName,
    /** Label for `payload.component`. Default `job`. */
    componentLabel: labelName,
    /** Label for `payload.group`. Default none. */
    groupLabel: labelName,
    /** Label for `payload.class`. Default `alertname`. */
    classLabel: labelName,
    /** Whole-request timeout. Default 10. */
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 60, default: DEFAULT_TIMEOUT_SECONDS },
    /**
     * Liquid templates (docs/templates.md): `summary` is payload.summary (1024 characters),
     * `description` the first entry of custom_details.
     */
    templates: {
      type: 'object',
      properties: { summary: templateSourceSchema, description: templateSourceSchema },
      additionalProperties: false,
    },
  },
  required: ['routingKeySecret'],
  additionalProperties: false,
} as const;

/** A PagerDuty destination: one Events API v2 integration (routing key). */
export type PagerDutyDestination = DestinationFromSchema<typeof pagerdutyConfigSchema>;

/** PagerDuty shows its fields as plain text: `summary` replaces payload.summary, `description` leads custom_details. */
export const PAGERDUTY_TEMPLATES: TemplateSpec = { keys: ['summary', 'description'], format: 'text' };

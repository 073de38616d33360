import type { FromSchema } from 'json-schema-to-ts';
import type { DestinationFromSchema } from '../../config/types.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';

/**
 * Sysdig SaaS regions -> Monitor URL. us2 and eu1 are from Sysdig's REST API conventions page
 * (https://docs.sysdig.com/en/docs/developer-tools/sysdig-rest-api-conventions/), us1 is the
 * SDK's default; the others are as Sysdig's region list names them (docs/sinks/sysdig.md lists
 * them all). For anything else, set `baseUrl`.
 */
export const SYSDIG_REGIONS = {
  us1: 'https://app.sysdigcloud.com',
  us2: 'https://us2.app.sysdig.com',
  us4: 'https://app.us4.sysdig.com',
  eu1: 'https://eu1.app.sysdig.com',
  au1: 'https://app.au1.sysdig.com',
  me2: 'https://app.me2.sysdig.com',
  in1: 'https://app.in1.sysdig.com',
} as const;
export type SysdigRegion = keyof typeof SYSDIG_REGIONS;

/** Per request (connect, headers and body) when `timeoutSeconds` is not set. */
export const DEFAULT_TIMEOUT_SECONDS = 10;
/** For an alert without the severity label, or with a value not in the map: warning. */
export const DEFAULT_SEVERITY = 4;

/** A scope key: dot-separated identifiers, as Sysdig's metadata names are. */
export const SCOPE_KEY_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$';

const severitySchema = { type: 'integer', minimum: 0, maximum: 7 } as const;

/** How labels become scope keys (lib/sinks/sysdig/scope.ts). */
const scopeSchema = {
  type: 'object',
  properties: {
    /**
     * Labels whose name starts with one of these are converted by the common convention,
     * `_` -> `.` (`container_name` -> `container.name`, `host_hostName` -> `host.hostName`).
     * Default: DEFAULT_SCOPE_PREFIXES.
     */
    prefixes: { type: 'array', items: { type: 'string', minLength: 1 } },
    /** Label name -> scope key, taken as written; wins over `prefixes`. */
    labels: {
      type: 'object',
      additionalProperties: { type: 'string', pattern: SCOPE_KEY_PATTERN },
    },
  },
  additionalProperties: false,
} as const;

/** The Sysdig destination's own fields (draft 2020-12; `name`, `sink`, `matchers` are common). */
export const sysdigConfigSchema = {
  type: 'object',
  properties: {
    /** NAME of the secret holding the Sysdig Monitor API token (or a service account token). */
    tokenSecret: {
      type: 'string',
      minLength: 1,
      description: 'NAME of the secret holding the Sysdig Monitor API token',
    },
    /** A SaaS region (see SYSDIG_REGIONS). Default us1. */
    region: { type: 'string', enum: Object.keys(SYSDIG_REGIONS) as SysdigRegion[] },
    /** The Sysdig Monitor URL (on-premises, a region not listed, a proxy, a test server). Wins over region. */
    baseUrl: {
      type: 'string',
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      description: 'Sysdig Monitor URL, e.g. https://eu1.app.sysdig.com (no query, no credentials)',
    },
    /** The label whose value picks the severity. Default `severity`. */
    severityLabel: { type: 'string', minLength: 1, default: 'severity' },
    /** Label value (case-insensitive) -> severity 0 (highest) .. 7 (lowest); merged over DEFAULT_SEVERITIES. */
    severities: { type: 'object', additionalProperties: severitySchema },
    /** For an alert without the label, or with a value not in the map. Default 4 (warning). */
    defaultSeverity: { ...severitySchema, default: DEFAULT_SEVERITY },
    /** Which labels become the event's scope. Default: DEFAULT_SCOPE_PREFIXES by the `_` -> `.` convention. */
    scope: scopeSchema,
    /** Per request (connect, headers and body). Default 10. */
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 120, default: DEFAULT_TIMEOUT_SECONDS },
    /** Liquid templates (docs/templates.md): the event's `name` and `description`, rendered per alert. */
    templates: {
      type: 'object',
      properties: { name: templateSourceSchema, description: templateSourceSchema },
      additionalProperties: false,
    },
  },
  required: ['tokenSecret'],
  additionalProperties: false,
} as const;

/**
 * A Sysdig Monitor destination: one custom event per alert, in a SaaS region or at `baseUrl`.
 */
export type SysdigDestination = DestinationFromSchema<typeof sysdigConfigSchema>;

/** The `scope:` block of a destination: how labels become scope keys. */
export type ScopeMapping = FromSchema<typeof scopeSchema>;

/** Sysdig shows events as plain text: `name` and `description` replace the event's, rendered per alert (`alert`). */
export const SYSDIG_TEMPLATES: TemplateSpec = { keys: ['name', 'description'], format: 'text' };

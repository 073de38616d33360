import type { FromSchema } from 'json-schema-to-ts';
import { secretNameSchema } from '../../../config/schema.ts';

/**
 * The `graph:` block of a destination (the Slack sink embeds graphConfigSchema as its `graph`
 * property): where to query the alert's expression and how to draw it. The TypeScript type is
 * derived from the schema, so the two cannot drift apart.
 */

export const GRAPH_DEFAULTS = {
  /** Seconds before the first startsAt the default window begins. */
  leadSeconds: 3600,
  /** The default window never reaches back further than this (an alert firing for weeks). */
  maxDefaultWindowSeconds: 7 * 86400,
  points: 120,
  timeoutSeconds: 5,
  timeZone: 'UTC',
} as const;

/** JSON schema of the `graph:` block (draft 2020-12, strict-mode ajv). */
export const graphConfigSchema = {
  type: 'object',
  properties: {
    // Base URL of the Prometheus-compatible API we query; a path prefix such as Grafana
    // Cloud's `/api/prom` is kept. Never the host written in an alert's generatorURL: a
    // payload must not choose what we fetch.
    prometheusUrl: {
      type: 'string',
      // No user-info: credentials belong in the *Secret fields, not in a URL that gets logged.
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      description: 'Base URL of the Prometheus API to query (/api/v1/query_range is appended)',
    },
    // How far back from now the chart goes. Default: from 1 h before the first alert's
    // startsAt (at least 1 h, at most 7 days).
    windowSeconds: { type: 'integer', minimum: 60, maximum: 31 * 86400 },
    // About how many points per series (the query step is window / points). Prometheus
    // refuses more than 11,000 points per series; a chart 1000 px wide needs far fewer.
    points: { type: 'integer', minimum: 10, maximum: 1000, default: GRAPH_DEFAULTS.points },
    // The whole query, connect to last byte.
    timeoutSeconds: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 60,
      default: GRAPH_DEFAULTS.timeoutSeconds,
    },
    // NAMEs of secrets: a bearer token, or a basic auth user name and password (both).
    bearerTokenSecret: secretNameSchema,
    basicAuthUserSecret: secretNameSchema,
    basicAuthPasswordSecret: secretNameSchema,
    // IANA time zone for the time axis labels. Default UTC.
    timeZone: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$' },
  },
  required: ['prometheusUrl'],
  additionalProperties: false,
  dependentRequired: {
    basicAuthUserSecret: ['basicAuthPasswordSecret'],
    basicAuthPasswordSecret: ['basicAuthUserSecret'],
  },
  // One Authorization header: with a bearer token, the basic auth fields must be absent.
  dependentSchemas: {
    bearerTokenSecret: { properties: { basicAuthUserSecret: false, basicAuthPasswordSecret: false } },
  },
} as const;

/** The `graph:` block as the sink reads it (fields with a default stay optional: ajv does not fill them in). */
export type GraphConfig = FromSchema<typeof graphConfigSchema, { keepDefaultedPropertiesOptional: true }>;

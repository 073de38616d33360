import { secretNameSchema } from '../../../config/schema.ts';

/**
 * The `graph:` block of a destination (the Slack sink embeds graphConfigSchema as its `graph`
 * property): where to query the alert's expression and how to draw it.
 */
export interface GraphConfig {
  /**
   * Base URL of the Prometheus-compatible API we query (`/api/v1/query_range` is appended;
   * a path prefix such as Grafana Cloud's `/api/prom` is kept). Never the host written in an
   * alert's generatorURL: a payload must not choose what we fetch.
   */
  prometheusUrl: string;
  /** How far back from now the chart goes. Default: from 1 h before the first alert's startsAt (at least 1 h, at most 7 days). */
  windowSeconds?: number;
  /** About how many points per series (the query step is window / points). Default 120. */
  points?: number;
  /** The whole query, connect to last byte. Default 5. */
  timeoutSeconds?: number;
  /** NAME of the secret holding a bearer token for Prometheus. */
  bearerTokenSecret?: string;
  /** NAME of the secret holding the basic auth user name (with basicAuthPasswordSecret). */
  basicAuthUserSecret?: string;
  /** NAME of the secret holding the basic auth password (with basicAuthUserSecret). */
  basicAuthPasswordSecret?: string;
  /** IANA time zone for the time axis labels. Default UTC. */
  timeZone?: string;
}

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
export const graphConfigSchema: Record<string, unknown> = {
  type: 'object',
  properties: {
    prometheusUrl: {
      type: 'string',
      // No user-info: credentials belong in the *Secret fields, not in a URL that gets logged.
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      description: 'Base URL of the Prometheus API to query (/api/v1/query_range is appended)',
    },
    windowSeconds: { type: 'integer', minimum: 60, maximum: 31 * 86400 },
    // Prometheus refuses more than 11,000 points per series; a chart 1000 px wide needs far fewer.
    points: { type: 'integer', minimum: 10, maximum: 1000, default: GRAPH_DEFAULTS.points },
    timeoutSeconds: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 60,
      default: GRAPH_DEFAULTS.timeoutSeconds,
    },
    bearerTokenSecret: secretNameSchema,
    basicAuthUserSecret: secretNameSchema,
    basicAuthPasswordSecret: secretNameSchema,
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
};

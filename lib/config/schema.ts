import type { FromSchema } from 'json-schema-to-ts';
import { watchdogConfigSchema } from '../watchdog/config.ts';

/** A secret's NAME: an environment variable locally, the SSM parameter /<service>-<stage>/NAME on AWS. */
export const secretNameSchema = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } as const;

// How the AWS stack is sized (read by `npm run build` / lib/infra only; `npm start` ignores it).
// The defaults live in lib/infra/constants.ts; the bounds here are AWS's own, so a value the
// build accepts is one CloudFormation accepts.

/**
 * `ingest.reservedConcurrency`: the ingest function's reserved concurrency (also its ceiling), or
 * `none` (or 0) for no reservation. Lambda keeps 100 of the account's concurrency unreserved, so a
 * reservation of N needs an account quota of at least N + 100 (lib/infra/deploy-checks.ts).
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
 */
export const reservedConcurrencySchema = {
  anyOf: [{ type: 'integer', minimum: 0 }, { const: 'none' }],
} as const;

/** The retention periods CloudWatch Logs accepts (AWS::Logs::LogGroup RetentionInDays). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export const sinkDeploymentSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    // The event source mapping's MaximumConcurrency: 2..1000.
    // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
    maximumConcurrency: { type: 'integer', minimum: 2, maximum: 1000 },
    // Lambda memory, 128..10240 MB: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
    memoryMb: { type: 'integer', minimum: 128, maximum: 10240 },
  },
} as const;

/**
 * `host:port` (an IPv6 host in brackets): where `metrics.listen` opens its own listener. Kept
 * readable, as a config error quotes it; the port's range (0..65535) is checked at start.
 */
export const LISTEN_ADDRESS_PATTERN = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$';

/**
 * `metrics:`, `npm start` only (AWS has CloudWatch): how the local runtime serves GET /metrics.
 * Without it, on the relay's own address and port, without authentication (as Alertmanager and
 * Prometheus serve their own).
 */
export const metricsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    // NAME of the secret whose value a scrape must send as `Authorization: Bearer <value>`.
    bearerTokenSecret: secretNameSchema,
    // `host:port` of a listener of its own that serves /metrics alone (it then leaves the relay's port).
    listen: { type: 'string', pattern: LISTEN_ADDRESS_PATTERN },
  },
} as const;

/** The `metrics:` block of relay.yaml. */
export type MetricsConfig = FromSchema<typeof metricsConfigSchema>;

/**
 * The common part of the relay's configuration. Each destination's own fields are checked
 * against its sink's `configSchema` (lib/sinks/<sink>/config.ts) by lib/config/load.ts.
 */
export const relayConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['destinations'],
  properties: {
    ingest: {
      type: 'object',
      additionalProperties: false,
      properties: {
        tokenSecret: secretNameSchema,
        previousTokenSecret: secretNameSchema,
        // Removed: the build refuses it and says why (lib/infra/deploy-checks.ts); accepted here
        // so an old relay.yaml gets that explanation instead of "unknown field".
        throttle: { type: 'object' },
        // AWS only: the ingest function's reserved concurrency, or `none`.
        reservedConcurrency: reservedConcurrencySchema,
        // AWS only: how long the HTTP API's access log (one line per request) is kept.
        accessLogRetentionDays: { enum: LOG_RETENTION_DAYS },
      },
    },
    // AWS only: per sink (by sink name, e.g. `slack:`), its function's concurrency and memory.
    sinks: {
      type: 'object',
      additionalProperties: sinkDeploymentSchema,
    },
    // AWS only: the DynamoDB state table.
    state: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // Point-in-time recovery costs per GB-month; the table holds short-lived delivery records.
        pointInTimeRecovery: { type: 'boolean' },
      },
    },
    // The relay pages when Alertmanager's always-firing alert stops (lib/watchdog, docs/watchdog.md).
    watchdog: watchdogConfigSchema,
    // npm start's GET /metrics (lib/local/metrics.ts, monitoring/README.md).
    metrics: metricsConfigSchema,
    destinations: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'sink'],
        properties: {
          // Names go into SQS message group ids, log fields and metric dimensions.
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' },
          sink: { type: 'string' },
          matchers: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
} as const;

/** Fields every destination has, whatever its sink. */
export const commonDestinationFields = ['name', 'sink', 'matchers'] as const;

/** One entry of `sinks:` in relay.yaml. */
export type SinkDeploymentConfig = FromSchema<typeof sinkDeploymentSchema>;

/** The parts of relay.yaml that size the AWS stack (lib/infra reads them at build time). */
export interface DeploymentConfig {
  ingest?: {
    /** Removed (the stage throttle): the build refuses it. */
    throttle?: unknown;
    reservedConcurrency?: FromSchema<typeof reservedConcurrencySchema>;
    accessLogRetentionDays?: (typeof LOG_RETENTION_DAYS)[number];
  };
  sinks?: Record<string, SinkDeploymentConfig>;
  state?: { pointInTimeRecovery?: boolean };
}

import type { FromSchema } from 'json-schema-to-ts';

/** A secret's NAME: an environment variable name locally, a key of the JSON secret on AWS. */
export const secretNameSchema = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } as const;

/**
 * How the AWS stack is sized (read by `npm run build` / lib/infra only; `npm start` ignores it).
 * The defaults live in lib/infra/constants.ts; the bounds here are AWS's own, so a value the
 * build accepts is one CloudFormation accepts.
 */
export const ingestThrottleSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    // API Gateway HTTP API stage throttling (token bucket): steady requests per second and the
    // bucket size. Both are targets under the account's own limit (10,000 rps, burst 5,000):
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html
    rateLimit: { type: 'number', exclusiveMinimum: 0, maximum: 10000 },
    burstLimit: { type: 'integer', minimum: 1, maximum: 5000 },
  },
} as const;

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
        // AWS only: API Gateway stage throttling of POST /alertmanager.
        throttle: ingestThrottleSchema,
        // AWS only: the ingest function's reserved concurrency (also its ceiling). Lambda keeps
        // 100 of the account's concurrency unreserved, so the account must allow this + 100.
        // https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
        reservedConcurrency: { type: 'integer', minimum: 1, maximum: 1000 },
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

/** `ingest.throttle` of relay.yaml. */
export type IngestThrottleConfig = FromSchema<typeof ingestThrottleSchema>;
/** One entry of `sinks:` in relay.yaml. */
export type SinkDeploymentConfig = FromSchema<typeof sinkDeploymentSchema>;

/** The parts of relay.yaml that size the AWS stack (lib/infra reads them at build time). */
export interface DeploymentConfig {
  ingest?: { throttle?: IngestThrottleConfig; reservedConcurrency?: number };
  sinks?: Record<string, SinkDeploymentConfig>;
  state?: { pointInTimeRecovery?: boolean };
}

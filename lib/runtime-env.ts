/**
 * Names of the environment variables the Lambda functions read. serverless.yml (via
 * lib/infra) sets them; the local runtime does not use them.
 */
export const ENV = {
  /** The validated config, JSON, injected by the build (esbuild define). */
  bundledConfig: 'RELAY_BUNDLED_CONFIG',
  /** When `npm run build` built the bundle (ISO 8601), injected like the config: the watchdog's deployment (lib/watchdog/deployment.ts). */
  builtAt: 'RELAY_BUILT_AT',
  /** SSM path of the stage's secrets, `/alertmanager-relay-prod/`: one SecureString per secret NAME under it. */
  secretsPath: 'RELAY_SECRETS_PATH',
  /** DynamoDB state table name. */
  stateTable: 'STATE_TABLE',
  /** maxReceiveCount of the sink's queue redrive policy. */
  maxReceiveCount: 'MAX_RECEIVE_COUNT',
  /** The sink a sink function serves. */
  sink: 'RELAY_SINK',
  /** Optional DSN for the relay's own errors. */
  sentryDsn: 'SENTRY_DSN',
} as const;

/** `QUEUE_URL_WEBHOOK`: the URL of a sink's FIFO queue. */
export function queueUrlVar(sink: string): string {
  return `QUEUE_URL_${sink.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** `DLQ_URL_WEBHOOK`: the URL of a sink's FIFO dead-letter queue. */
export function dlqUrlVar(sink: string): string {
  return `DLQ_URL_${sink.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

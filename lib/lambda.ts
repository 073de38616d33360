import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { bundledConfig } from './config/bundled.ts';
import { ingestSecretNames, sinkSecretNames } from './config/secrets.ts';
import type { DestinationConfig } from './config/types.ts';
import { DELIVERY_POLICY } from './delivery/policy.ts';
import { createRecordHandler, type RecordHandler } from './delivery/record-handler.ts';
import type { Sink } from './delivery/sink.ts';
import { createIngestHandler, type IngestHandler } from './ingest/ingest.ts';
import { SqsEnqueuer, SqsRecordQueue } from './queue/sqs.ts';
import { dlqUrlVar, ENV, queueUrlVar } from './runtime-env.ts';
import { lazyGetParameters, ParameterStoreSecrets } from './secrets.ts';
import { DynamoDbStateStore } from './state/dynamodb.ts';
import { createLambdaTelemetry, type ErrorReporter, type Telemetry } from './telemetry.ts';

/** The composition root on AWS: turns the environment serverless.yml sets into handlers. */

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`environment variable ${name} is not set (it is set by serverless.yml)`);
  return value;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`environment variable ${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** Wires the ingest handler: SQS queues of every sink, the token's parameters, the bundled config. */
export function awsIngest(
  env: NodeJS.ProcessEnv,
  reporter?: ErrorReporter,
): { handler: IngestHandler; telemetry: Telemetry } {
  const config = bundledConfig();
  if (!config.ingest.tokenSecret) {
    // `npm run deploy` refuses such a config; this catches a bundle deployed another way.
    throw new Error('ingest.tokenSecret is not configured: refusing to accept unauthenticated notifications');
  }
  const telemetry = createLambdaTelemetry({ serviceName: 'ingest', reporter });
  // Only the sinks the config uses: a configured sink without its queue would answer 503 to
  // every notification routed to it, so a missing URL fails the cold start instead.
  const queueUrls = new Map<string, string>();
  for (const { sink } of config.destinations) queueUrls.set(sink, required(env, queueUrlVar(sink)));
  const handler = createIngestHandler({
    config,
    secrets: new ParameterStoreSecrets({
      getParameters: lazyGetParameters(),
      path: required(env, ENV.secretsPath),
      names: ingestSecretNames(config),
    }),
    enqueuer: new SqsEnqueuer(new SQSClient({}), queueUrls),
    telemetry,
  });
  return { handler, telemetry };
}

/**
 * Wires one sink's record handler: its queue and DLQ, the state table, the parameters of the
 * secrets its destinations name (fetched together). Lambda calls
 * the handler with its context (middy passes it on), whose getRemainingTimeInMillis is the
 * deadline the handler and the sink's vendor calls keep to.
 */
export function awsSink<C extends DestinationConfig>(
  sink: Sink<C>,
  env: NodeJS.ProcessEnv,
  reporter?: ErrorReporter,
): { handler: RecordHandler; telemetry: Telemetry } {
  const sinkName = sink.name;
  const config = bundledConfig();
  const telemetry = createLambdaTelemetry({ serviceName: sinkName, reporter });
  const sqs = new SQSClient({});
  const handler = createRecordHandler({
    sink,
    config,
    secrets: new ParameterStoreSecrets({
      getParameters: lazyGetParameters(),
      path: required(env, ENV.secretsPath),
      names: sinkSecretNames(config, sinkName),
    }),
    state: new DynamoDbStateStore(
      DynamoDBDocumentClient.from(new DynamoDBClient({})),
      required(env, ENV.stateTable),
    ),
    queue: new SqsRecordQueue(sqs, {
      queueUrl: required(env, queueUrlVar(sinkName)),
      dlqUrl: required(env, dlqUrlVar(sinkName)),
    }),
    telemetry,
    // The queue's redrive backstop; the relay's own attempt count (maxAttempts) decides the DLQ.
    maxReceiveCount: positiveInteger(env, ENV.maxReceiveCount, DELIVERY_POLICY.receiveBackstop),
    maxAttempts: DELIVERY_POLICY.maxAttempts,
  });
  return { handler, telemetry };
}

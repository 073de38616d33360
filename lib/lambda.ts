import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ScheduledEvent } from 'aws-lambda';
import { bundledBuildTime, bundledConfig } from './config/bundled.ts';
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
import type { WatchdogCheck } from './watchdog/checker.ts';
import { resolveWatchdog } from './watchdog/config.ts';
import { deploymentSince } from './watchdog/deployment.ts';
import { createWatchdogEnqueue } from './watchdog/enqueue.ts';
import { createWatchdogRun } from './watchdog/run.ts';

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

function stateStore(env: NodeJS.ProcessEnv): DynamoDbStateStore {
  return new DynamoDbStateStore(
    DynamoDBDocumentClient.from(new DynamoDBClient({})),
    required(env, ENV.stateTable),
  );
}

/**
 * Wires the ingest handler: SQS queues of every sink, the token's parameters, the bundled config;
 * with a `watchdog:` block, the state table, where it records the heartbeats.
 */
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
    ...(config.watchdog ? { state: stateStore(env) } : {}),
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
    state: stateStore(env),
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

export type WatchdogHandler = (event: ScheduledEvent) => Promise<WatchdogCheck>;

/**
 * Wires the watchdog's scheduled check (every minute, EventBridge): the state table, the SQS
 * queues of the sinks its destinations use, the bundled config and build time. A silence is
 * counted from no earlier than the first check of this deployment (lib/watchdog/deployment.ts),
 * read once per container. A failed check is reported and thrown (a Lambda error; the next
 * minute's check retries what it claimed).
 */
export function awsWatchdog(
  env: NodeJS.ProcessEnv,
  reporter?: ErrorReporter,
): { handler: WatchdogHandler; telemetry: Telemetry } {
  const config = bundledConfig();
  const watchdog = resolveWatchdog(config.watchdog);
  if (!watchdog) {
    // The stack deploys this function only for a config with the block.
    throw new Error('watchdog: is not configured in the bundled config: nothing to check');
  }
  const builtAt = bundledBuildTime();
  const telemetry = createLambdaTelemetry({ serviceName: 'watchdog', reporter });
  const state = stateStore(env);
  // Only the queues of the sinks the page goes to; a missing URL fails the cold start.
  const queueUrls = new Map<string, string>();
  for (const name of watchdog.destinations) {
    const destination = config.destinations.find((d) => d.name === name);
    if (!destination) throw new Error(`watchdog.destinations: unknown destination "${name}"`);
    queueUrls.set(destination.sink, required(env, queueUrlVar(destination.sink)));
  }
  let since: Promise<Date> | undefined;
  const run = createWatchdogRun({
    state,
    watchdog,
    destinations: config.destinations,
    enqueue: createWatchdogEnqueue({
      destinations: config.destinations,
      enqueuer: new SqsEnqueuer(new SQSClient({}), queueUrls),
    }),
    telemetry,
    since: () => {
      // Once per container; a failed read is tried again at the next check.
      since ??= deploymentSince(state, watchdog.alertname, builtAt, new Date()).catch((error: unknown) => {
        since = undefined;
        throw error;
      });
      return since;
    },
  });
  const handler: WatchdogHandler = async () => {
    try {
      return await run();
    } catch (error) {
      telemetry.reportError(error, { stage: 'watchdog' });
      throw error;
    }
  };
  return { handler, telemetry };
}

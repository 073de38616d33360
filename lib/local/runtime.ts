import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { RelayConfig } from '../config/types.ts';
import { type BackoffPolicy, DELIVERY_POLICY } from '../delivery/policy.ts';
import { createRecordHandler } from '../delivery/record-handler.ts';
import type { SecretReader } from '../delivery/sink.ts';
import { createIngestHandler } from '../ingest/ingest.ts';
import {
  deadLetterQueueName,
  ensureSinkQueues,
  LocalEnqueuer,
  LocalRecordQueue,
  sinkQueueName,
} from '../queue/local.ts';
import { SqliteQueue } from '../queue/sqlite-queue.ts';
import { findSink, sinks } from '../sinks/registry.ts';
import { SqliteStateStore } from '../state/sqlite.ts';
import { CountingTelemetry, contextLogger, createLogger } from '../telemetry.ts';
import { acquireDataDirLock } from './data-dir-lock.ts';
import { createLocalServer } from './server.ts';
import { QueueWorker } from './worker.ts';

/** The embedded queue's settings: the same maxReceiveCount as on AWS, a visibility timeout that covers a slow batch. */
export const LOCAL_QUEUE_DEFAULTS = {
  visibilityTimeoutSeconds: 120,
  maxReceiveCount: DELIVERY_POLICY.receiveBackstop,
} as const;

export interface RelayOptions {
  config: RelayConfig;
  secrets: SecretReader;
  /** Directory of the node:sqlite database (created if missing). */
  dataDir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  logger?: Logger;
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
  backoff?: BackoffPolicy;
}

export interface Relay {
  /** `http://127.0.0.1:9099` */
  readonly url: string;
  readonly queue: SqliteQueue;
  readonly telemetry: CountingTelemetry;
  /** The worker of each used sink's queue, by queue name; each emits `batch` after an invocation. */
  readonly workers: ReadonlyMap<string, QueueWorker>;
  /**
   * Resolves once `condition()` holds, checking now and after every batch any worker
   * finishes (for tests and the smoke command: await an outcome, never sleep).
   */
  until(condition: () => boolean): Promise<void>;
  /** Stop accepting, finish in-flight requests and deliveries, close the database. */
  close(): Promise<void>;
}

/**
 * Starts the local runtime: the ingest handler behind node:http and, per sink, a worker
 * that feeds the sink's record handler from the embedded FIFO queue: the production code
 * path with node:sqlite in place of SQS and DynamoDB.
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  mkdirSync(options.dataDir, { recursive: true });
  const releaseLock = acquireDataDirLock(options.dataDir);
  const queueSettings = {
    visibilityTimeoutSeconds:
      options.visibilityTimeoutSeconds ?? LOCAL_QUEUE_DEFAULTS.visibilityTimeoutSeconds,
    maxReceiveCount: options.maxReceiveCount ?? LOCAL_QUEUE_DEFAULTS.maxReceiveCount,
  };
  const queue = new SqliteQueue({ path: join(options.dataDir, 'relay.db') });
  const state = new SqliteStateStore(join(options.dataDir, 'state.db'));
  const logger = options.logger ?? createLogger('alertmanager-relay');
  const telemetry = new CountingTelemetry({ logger });
  ensureSinkQueues(
    queue,
    sinks.map((s) => s.name),
    queueSettings,
  );
  // Only this process uses the data dir (the lock): what a killed process left in flight is
  // nobody's, so it is released now instead of after the visibility timeout.
  for (const sink of sinks) queue.releaseInFlight(sinkQueueName(sink.name));

  const workers = new Map<string, QueueWorker>();
  const wake = (queueName: string) => workers.get(queueName)?.wake();
  const usedSinks = new Set(options.config.destinations.map((d) => d.sink));
  for (const sinkName of usedSinks) {
    const sink = findSink(sinkName);
    if (!sink) continue;
    const handler = createRecordHandler({
      sink,
      config: options.config,
      secrets: options.secrets,
      state,
      queue: new LocalRecordQueue(queue, sink.name, { onSent: wake }),
      telemetry,
      maxReceiveCount: queueSettings.maxReceiveCount,
      backoff: options.backoff,
    });
    const queueName = sinkQueueName(sink.name);
    workers.set(
      queueName,
      new QueueWorker({ queue, queueName, handler, logger: contextLogger(logger, { sink: sink.name }) }),
    );
  }

  const ingest = createIngestHandler({
    config: options.config,
    secrets: options.secrets,
    enqueuer: new LocalEnqueuer(queue, { onSent: wake }),
    telemetry,
  });
  const server = createLocalServer({
    ingest,
    health: () => ({
      status: 'ok',
      queues: Object.fromEntries(
        [...usedSinks].map((sink) => [
          sink,
          {
            ...queue.depth(sinkQueueName(sink)),
            deadLettered: queue.depth(deadLetterQueueName(sink)).visible,
          },
        ]),
      ),
      counters: telemetry.snapshot(),
    }),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 9099, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    queue.close();
    state.close();
    releaseLock();
    throw error;
  }
  for (const worker of workers.values()) worker.start();
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    queue,
    telemetry,
    workers,
    until: (condition) =>
      new Promise<void>((done) => {
        if (condition()) return done();
        const check = () => {
          if (!condition()) return;
          for (const worker of workers.values()) worker.off('batch', check);
          done();
        };
        for (const worker of workers.values()) worker.on('batch', check);
      }),
    close: () => {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await Promise.all([...workers.values()].map((w) => w.stop()));
        queue.close();
        state.close();
        releaseLock();
      })();
      return closing;
    },
  };
}

import { hash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Logger } from '@aws-lambda-powertools/logger';
import { LISTEN_ADDRESS_PATTERN } from '../config/schema.ts';
import type { RelayConfig } from '../config/types.ts';
import { type BackoffPolicy, DELIVERY_POLICY } from '../delivery/policy.ts';
import { createRecordHandler } from '../delivery/record-handler.ts';
import type { SecretReader } from '../delivery/sink.ts';
import { authReason, createAuthenticator, createIngestHandler, safeEqual } from '../ingest/ingest.ts';
import { RejectionLog } from '../ingest/rejections.ts';
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
import { resolveWatchdog } from '../watchdog/config.ts';
import { createWatchdogEnqueue } from '../watchdog/enqueue.ts';
import { createWatchdogRun } from '../watchdog/run.ts';
import { localCheckIntervalSeconds, startWatchdogTimer, type WatchdogTimer } from '../watchdog/timer.ts';
import { startCheckpointer } from './checkpointer.ts';
import { acquireDataDirLock } from './data-dir-lock.ts';
import { DataFileError, dataFileError, SQLITE_CORRUPT } from './data-files.ts';
import { IngestFaults, trackEnqueues } from './ingest-health.ts';
import { type DestinationQueueState, RelayMetrics, UNKNOWN_LABEL } from './metrics.ts';
import { createLocalServer, createMetricsServer, type MetricsEndpoint } from './server.ts';
import { describeStorageError, QueueWorker } from './worker.ts';

export { DataFileError } from './data-files.ts';

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
  /** The embedded queue's redrive backstop (default DELIVERY_POLICY.receiveBackstop): catches crashes only. */
  maxReceiveCount?: number;
  /** Failed attempts before the handler dead-letters a message (default DELIVERY_POLICY.maxAttempts). */
  maxAttempts?: number;
  /** Each invocation's time budget, as a sink Lambda's timeout (default INFRA.sink.timeoutSeconds). */
  functionTimeoutSeconds?: number;
  visibilityTimeoutSeconds?: number;
  backoff?: BackoffPolicy;
  /** The workers' wait after a storage failure (default 100 ms doubling to 30 s). */
  storageBackoff?: { initialMs: number; maxMs: number };
  /**
   * The watchdog timer's clock and interval (default: the wall clock, localCheckIntervalSeconds),
   * for tests: a silence of `silentAfter` without waiting it out.
   */
  watchdog?: { now?: () => Date; intervalSeconds?: number };
}

/**
 * Checks every page of one of the data directory's databases (PRAGMA quick_check: a corrupt page
 * would otherwise surface only when something reaches it), then opens it. The check comes first:
 * the queue reads its whole table as it opens, and quick_check's answer names the page. Any
 * failure becomes a DataFileError that names the file and the remedy.
 */
function openDataFile<T extends { close(): void }>(what: 'queue' | 'state', path: string, open: () => T): T {
  let opened: T | undefined;
  try {
    const probe = new DatabaseSync(path, { timeout: 5_000 });
    try {
      const rows = probe.prepare('PRAGMA quick_check(1)').all() as Record<string, unknown>[];
      // Its answer spans lines (`*** in database main ***` then the page); one line reads better.
      const verdict = String(Object.values(rows[0] ?? {})[0] ?? 'no answer').replace(/\s+/g, ' ');
      if (verdict !== 'ok') {
        throw Object.assign(new Error(verdict), { errcode: SQLITE_CORRUPT, errstr: verdict });
      }
    } finally {
      probe.close();
    }
    opened = open();
    return opened;
  } catch (error) {
    opened?.close();
    throw dataFileError(what, path, error);
  }
}

/** The queue (relay.db) and state (state.db) databases, checked, with the sinks' queues in place. */
function openDataFiles(
  dataDir: string,
  queueSettings: { visibilityTimeoutSeconds: number; maxReceiveCount: number },
): { queue: SqliteQueue; state: SqliteStateStore } {
  const queuePath = join(dataDir, 'relay.db');
  const queue = openDataFile('queue', queuePath, () => new SqliteQueue({ path: queuePath }));
  try {
    ensureSinkQueues(
      queue,
      sinks.map((s) => s.name),
      queueSettings,
    );
    // Only this process uses the data dir (the lock): what a killed process left in flight is
    // nobody's, so it is released now instead of after the visibility timeout.
    for (const sink of sinks) queue.releaseInFlight(sinkQueueName(sink.name));
    const statePath = join(dataDir, 'state.db');
    return { queue, state: openDataFile('state', statePath, () => new SqliteStateStore(statePath)) };
  } catch (error) {
    queue.close();
    throw error instanceof DataFileError ? error : dataFileError('queue', queuePath, error);
  }
}

export interface Relay {
  /** `http://127.0.0.1:9099` */
  readonly url: string;
  /** Where GET /metrics is served: `${url}/metrics`, or on the listener of `metrics.listen`. */
  readonly metricsUrl: string;
  readonly queue: SqliteQueue;
  /** The counters behind /healthz (and the tests' `telemetry.get`). */
  readonly telemetry: CountingTelemetry;
  /** The Prometheus metrics of GET /metrics. */
  readonly metrics: RelayMetrics;
  /** The worker of each used sink's queue, by queue name; each emits `batch` after an invocation. */
  readonly workers: ReadonlyMap<string, QueueWorker>;
  /**
   * Resolves once `condition()` holds, checking now and after every batch any worker
   * finishes (for tests and the smoke command: await an outcome, never sleep).
   */
  until(condition: () => boolean): Promise<void>;
  /**
   * Stop accepting (/alertmanager then answers 503 on a connection still open, /healthz 503
   * `stopping`), finish in-flight requests and deliveries, close the databases. With `drainMs`,
   * whatever is still running after that long is given up (its messages stay queued and are
   * delivered after the next start) and the files are closed anyway: STOP_DRAIN_MS is `npm
   * start`'s. Without it, close waits for everything.
   */
  close(options?: { drainMs?: number }): Promise<void>;
}

/** `host:port` (LISTEN_ADDRESS_PATTERN: an IPv6 host in brackets) as node:net's listen takes it. */
export function parseListenAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  if (at <= 0 || !new RegExp(LISTEN_ADDRESS_PATTERN).test(address))
    throw new Error(`expected host:port, e.g. 127.0.0.1:9100 or [::1]:9100: ${JSON.stringify(address)}`);
  const port = Number(address.slice(at + 1));
  if (port > 65_535) throw new Error(`the port of ${address} is over 65535`);
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * The destination a queue message's group id names: ingest's group ids are `<destination>:<hash>`
 * (messageGroupId); anything else is `unknown`.
 */
function destinationOfGroup(groupId: string): string {
  const at = groupId.lastIndexOf(':');
  return at > 0 ? groupId.slice(0, at) : UNKNOWN_LABEL;
}

/**
 * Every sink queue's state per destination, from the queue's in-memory index (a walk over the
 * message groups, no SQL): what /metrics' queue gauges show at each scrape. Every sink of the
 * registry, used or not: a removed destination's messages and dead letters still show (as
 * `unknown` when the config no longer names them).
 */
function queueStates(queue: SqliteQueue): DestinationQueueState[] {
  const states: DestinationQueueState[] = [];
  for (const { name: sink } of sinks) {
    const live = queue.depthsBy(sinkQueueName(sink), destinationOfGroup);
    const dead = queue.depthsBy(deadLetterQueueName(sink), destinationOfGroup);
    for (const destination of new Set([...live.keys(), ...dead.keys()])) {
      const depth = live.get(destination);
      const letters = dead.get(destination);
      states.push({
        destination,
        sink,
        visible: depth?.visible ?? 0,
        inFlight: depth?.inFlight ?? 0,
        delayed: depth?.delayed ?? 0,
        ...(depth?.oldestSentAt !== undefined ? { oldestSentAt: depth.oldestSentAt } : {}),
        deadLetters: letters ? letters.visible + letters.inFlight + letters.delayed : 0,
      });
    }
  }
  return states;
}

/**
 * The check of `metrics.bearerTokenSecret` on a scrape's Authorization header, in constant time
 * as ingest's token (both sides hashed to equal-length digests, then safeEqual). Throws when the
 * secret cannot be read.
 */
function metricsAuthenticator(
  secrets: SecretReader,
  name: string,
): (authorization?: string) => Promise<boolean> {
  const digest = (value: string) => hash('sha256', value, 'buffer');
  let known: { token: string; digest: Buffer } | undefined;
  return async (authorization) => {
    const token = await secrets.get(name);
    if (known?.token !== token) known = { token, digest: digest(token) };
    const presented = /^Bearer ([^\s]+)$/i.exec(authorization ?? '')?.[1];
    return safeEqual(digest(presented ?? ''), known.digest) && presented !== undefined;
  };
}

/** Listens; rejects with the listen error (EADDRINUSE, EACCES) naming `what`. */
function listen(server: Server, port: number, host: string, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      const message = `cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port} for ${what}: ${error.code ?? error.message}`;
      reject(Object.assign(new Error(message, { cause: error }), { code: error.code }));
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/** `http://host:port` of a listening server. */
function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** Closes a server: no new connections, idle ones closed, resolves once every request was answered. */
function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/**
 * Starts the local runtime: the ingest handler behind node:http and, per sink, a worker
 * that feeds the sink's record handler from the embedded FIFO queue: the production code
 * path with node:sqlite in place of SQS and DynamoDB. GET /metrics serves RelayMetrics (on
 * the same port, or on `metrics.listen`). With a `watchdog:` block, ingest records the
 * heartbeats in state.db and a timer checks for a silence (lib/watchdog/timer.ts).
 *
 * A start that fails (a port in use, a config ingest refuses) closes whatever it had opened
 * before it rejects, so a process whose start failed ends by itself.
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const startedAt = new Date();
  const { config } = options;
  let metricsAddress: { host: string; port: number } | undefined;
  try {
    if (config.metrics?.listen) metricsAddress = parseListenAddress(config.metrics.listen);
  } catch (error) {
    throw new Error(`metrics.listen: ${(error as Error).message}`);
  }
  const metricsTokenSecret = config.metrics?.bearerTokenSecret;
  if (metricsTokenSecret) {
    // Before anything is opened: a scrape that could never pass should fail the start, not every scrape.
    await options.secrets.get(metricsTokenSecret).catch((error: unknown) => {
      throw new Error(`metrics.bearerTokenSecret: ${(error as Error).message}`, { cause: error });
    });
  }
  try {
    mkdirSync(options.dataDir, { recursive: true });
  } catch (error) {
    throw dataFileError('directory', options.dataDir, error);
  }
  const releaseLock = acquireDataDirLock(options.dataDir);
  const queueSettings = {
    visibilityTimeoutSeconds:
      options.visibilityTimeoutSeconds ?? LOCAL_QUEUE_DEFAULTS.visibilityTimeoutSeconds,
    maxReceiveCount: options.maxReceiveCount ?? LOCAL_QUEUE_DEFAULTS.maxReceiveCount,
  };
  let opened: { queue: SqliteQueue; state: SqliteStateStore };
  try {
    opened = openDataFiles(options.dataDir, queueSettings);
  } catch (error) {
    releaseLock();
    throw error;
  }
  const { queue, state } = opened;
  const logger = options.logger ?? createLogger('alertmanager-relay');
  const counting = new CountingTelemetry({ logger });
  const metrics = new RelayMetrics({
    destinations: config.destinations,
    queueState: () => queueStates(queue),
  });
  // Every count the handlers make lands in /healthz's counters and in /metrics.
  const telemetry = metrics.observe(counting);
  // Checkpoints off the event loop: a commit no longer stalls every request to copy the WAL.
  const checkpointer = startCheckpointer(
    [join(options.dataDir, 'relay.db'), join(options.dataDir, 'state.db')],
    [queue.database, state.database],
    {
      onFailure: (reason) =>
        logger.warn('the checkpoint thread failed; the databases checkpoint on their own again', {
          error: reason,
        }),
    },
  );

  const workers = new Map<string, QueueWorker>();
  const servers: Server[] = [];
  let watchdogTimer: WatchdogTimer | undefined;
  /** Stops what runs and closes what is open, in order: the listeners, the timer, the workers, the files. */
  let stopping = false;
  const shutdown = async (drainMs?: number) => {
    stopping = true;
    // The listeners, the timer and the workers stop together: a delivery need not wait for the
    // last request, and a worker's batch gets the drain's deadline (QueueWorker.stop).
    const settled = Promise.all([
      ...servers.map(closeServer),
      watchdogTimer?.stop(),
      ...[...workers.values()].map((w) => w.stop(drainMs === undefined ? {} : { drainMs })),
    ]);
    if (drainMs !== undefined && !(await within(settled, drainMs))) {
      const messages = [...workers.values()].reduce((sum, w) => sum + w.inFlight, 0);
      logger.warn('stopping: still busy at the drain deadline; giving up on what is left', {
        drainMs,
        messagesInFlight: messages,
        detail: 'messages in flight stay queued and are delivered after the next start',
      });
      for (const server of servers) server.closeAllConnections();
      for (const worker of workers.values()) worker.abandon();
    }
    await checkpointer.stop();
    queue.close();
    state.close();
    releaseLock();
  };

  let url: string;
  let metricsUrl: string;
  try {
    const wake = (queueName: string) => workers.get(queueName)?.wake();
    const usedSinks = new Set(config.destinations.map((d) => d.sink));
    for (const sinkName of usedSinks) {
      const sink = findSink(sinkName);
      if (!sink) continue;
      const handler = createRecordHandler({
        sink,
        config,
        secrets: options.secrets,
        state,
        queue: new LocalRecordQueue(queue, sink.name, { onSent: wake }),
        telemetry,
        maxReceiveCount: queueSettings.maxReceiveCount,
        ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
        backoff: options.backoff,
      });
      const queueName = sinkQueueName(sink.name);
      workers.set(
        queueName,
        new QueueWorker({
          queue,
          queueName,
          handler,
          logger: contextLogger(logger, { sink: sink.name }),
          ...(options.functionTimeoutSeconds !== undefined
            ? { functionTimeoutSeconds: options.functionTimeoutSeconds }
            : {}),
          ...(options.storageBackoff ? { storageBackoff: options.storageBackoff } : {}),
          // One state transaction per delivered batch, committed before its messages are deleted.
          batchScope: () => state.beginBatch(),
        }),
      );
    }

    const enqueuer = new LocalEnqueuer(queue, { onSent: wake });
    // What makes ingest answer 503 now, for /healthz: its enqueues' storage, the token's secret.
    const faults = new IngestFaults(logger);
    const ingest = createIngestHandler({
      config,
      secrets: options.secrets,
      enqueuer: trackEnqueues(enqueuer, faults),
      telemetry,
      // Where the watchdog's heartbeats are recorded (with a `watchdog:` block).
      state,
    });
    const checkToken = createAuthenticator(config, options.secrets);
    const metricsEndpoint: MetricsEndpoint = {
      exposition: () => metrics.exposition(),
      ...(metricsTokenSecret
        ? { authenticate: metricsAuthenticator(options.secrets, metricsTokenSecret) }
        : {}),
    };
    // The server's own refusals (before ingest runs): logged and counted as ingest's are.
    const refusals = new RejectionLog(logger);
    const server = createLocalServer({
      ingest,
      // The token is checked on the headers before the body is read.
      authenticate: async (authorization) => {
        let verdict: string;
        try {
          verdict = await checkToken(authorization);
        } catch (error) {
          // Ingest answers 503 (and reports the error); /healthz says so until a check reads it.
          faults.failed(
            'token',
            'its secret cannot be read (the relay logged why)',
            (error as Error).message,
          );
          throw error;
        }
        // A missing or malformed header is refused before the secret is read: it tells nothing of it.
        if (verdict === 'ok' || authReason(verdict) === 'invalid-token') faults.succeeded('token');
        return verdict;
      },
      rejections: {
        record: (rejection, request) => {
          // As ingest counts: refused notifications, not a 503 (Alertmanager retries) nor a 405.
          if (rejection.status < 500 && rejection.status !== 405)
            telemetry.count('NotificationsRejected', {});
          return refusals.record(rejection, request);
        },
        tick: () => refusals.tick(),
      },
      stopping: () => stopping,
      health: () => health(queue, workers, usedSinks, counting, { faults, stopping }),
      answered: (status) => metrics.ingestAnswered(status),
      ...(metricsAddress ? {} : { metrics: metricsEndpoint }),
    });
    servers.push(server);
    await listen(server, options.port ?? 9099, options.host ?? '127.0.0.1', 'the relay');
    url = urlOf(server);
    metricsUrl = `${url}/metrics`;
    if (metricsAddress) {
      const metricsServer = createMetricsServer(metricsEndpoint);
      servers.push(metricsServer);
      await listen(metricsServer, metricsAddress.port, metricsAddress.host, 'metrics.listen');
      metricsUrl = `${urlOf(metricsServer)}/metrics`;
    }

    const watchdog = resolveWatchdog(config.watchdog);
    if (watchdog) {
      const check = createWatchdogRun({
        state,
        watchdog,
        destinations: config.destinations,
        enqueue: createWatchdogEnqueue({ destinations: config.destinations, enqueuer }),
        telemetry,
        // This relay's own downtime is not Alertmanager's silence.
        since: async () => startedAt,
        ...(options.watchdog?.now ? { now: options.watchdog.now } : {}),
        // One timer, one check at a time: a claim left in progress is a crashed predecessor's.
        retryClaimAfterSeconds: 0,
      });
      watchdogTimer = startWatchdogTimer({
        intervalSeconds: options.watchdog?.intervalSeconds ?? localCheckIntervalSeconds(watchdog),
        check,
        onError: (error) => telemetry.reportError(error, { stage: 'watchdog' }),
      });
    }
  } catch (error) {
    await shutdown();
    throw error;
  }
  for (const worker of workers.values()) worker.start();

  let closing: Promise<void> | undefined;
  return {
    url,
    metricsUrl,
    queue,
    telemetry: counting,
    metrics,
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
    close: (options) => {
      closing ??= shutdown(options?.drainMs);
      return closing;
    },
  };
}

/**
 * How long `npm start` lets in-flight requests and deliveries finish after SIGTERM or SIGINT
 * before it gives up on them and exits: under the 10 s a container runtime waits before SIGKILL
 * (systemd's unit allows 15), with time left to close the files.
 */
export const STOP_DRAIN_MS = 8_000;

/** Whether `work` settles within `ms`; the timer does not outlive it. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What GET /healthz answers: `ok`; `degraded` with the reason while ingest would answer 503 (the
 * last request found the queue's storage or the token's secret failing: IngestFaults) or a worker
 * finds the queue's storage failing (or the depths cannot be read), so a probe sees what the logs
 * say; `stopping` once the relay stops. Unauthenticated callers read it: the reason has SQLite's
 * words and codes, never a file path or a secret's name.
 */
function health(
  queue: SqliteQueue,
  workers: ReadonlyMap<string, QueueWorker>,
  usedSinks: ReadonlySet<string>,
  telemetry: CountingTelemetry,
  ingest: { faults: IngestFaults; stopping: boolean },
): Record<string, unknown> & { status: string } {
  const problems: string[] = [];
  let since: number | undefined;
  if (ingest.stopping) problems.push('the relay is stopping');
  for (const fault of ingest.faults.list()) since = Math.min(since ?? fault.since, fault.since);
  problems.push(...ingest.faults.describe());
  for (const worker of workers.values()) {
    const failure = worker.storageFailure;
    if (!failure) continue;
    problems.push(
      `the ${worker.queueName} queue cannot be read: ${failure.reason}; ${failure.failures} failed polls, next in ${Math.ceil(failure.retryInMs / 1000)} s`,
    );
    since = Math.min(since ?? failure.since, failure.since);
  }
  let queues: Record<string, unknown> | undefined;
  try {
    queues = Object.fromEntries(
      [...usedSinks].map((sink) => [
        sink,
        {
          ...queue.depth(sinkQueueName(sink)),
          deadLettered: queue.depth(deadLetterQueueName(sink)).visible,
        },
      ]),
    );
  } catch (error) {
    problems.push(`queue depths cannot be read: ${describeStorageError(error)}`);
  }
  return {
    status: ingest.stopping ? 'stopping' : problems.length === 0 ? 'ok' : 'degraded',
    ...(problems.length > 0 ? { reason: problems.join('; ') } : {}),
    ...(since !== undefined ? { since: new Date(since).toISOString() } : {}),
    ...(queues ? { queues } : {}),
    counters: telemetry.snapshot(),
  };
}

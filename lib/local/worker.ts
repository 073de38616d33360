/**
 * Runs a sink's Lambda handler over the embedded queue the way the Lambda SQS event source
 * mapping with ReportBatchItemFailures does: receive a batch, invoke, delete what succeeded.
 */

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { SinkLogger } from '../delivery/sink.ts';
import { INFRA } from '../infra/constants.ts';
import type { ReceivedMessage, SqliteQueue } from '../queue/sqlite-queue.ts';

/** What the worker passes as Lambda's context: only the part the record handler reads (its deadline). */
export interface LocalInvocationContext {
  getRemainingTimeInMillis(): number;
}

export type SqsHandler = (
  event: SQSEvent,
  context: LocalInvocationContext,
  // biome-ignore lint/suspicious/noConfusingVoidType: an async handler that returns nothing is a Promise<void>
) => Promise<SQSBatchResponse | void>;

export interface QueueWorkerOptions {
  queue: SqliteQueue;
  queueName: string;
  handler: SqsHandler;
  /** 1..10, as an SQS FIFO event source mapping allows. */
  batchSize?: number;
  /** Overrides the queue's visibility timeout for each receive. */
  visibilityTimeoutSeconds?: number;
  /**
   * The invocation's time, as the sink's Lambda has it (default INFRA.sink.timeoutSeconds): the
   * handler gets a context whose getRemainingTimeInMillis counts down from it on the queue's
   * clock, so it stops and hands work back before the deadline as it does on AWS.
   */
  functionTimeoutSeconds?: number;
  logger?: SinkLogger;
  /**
   * Longest wait between polls when nothing wakes the worker. Bounds how late messages sent by
   * another process (the redrive CLI) are noticed.
   */
  maxIdleMs?: number;
  /**
   * The wait after the queue's storage failed (a full disk, a corrupt page, a file gone): doubles
   * from `initialMs` with each consecutive failure up to `maxMs`. Default 100 ms to 30 s.
   */
  storageBackoff?: { initialMs: number; maxMs: number };
  /** While storage keeps failing, at most one log line per this many ms (default 30 s). */
  storageLogIntervalMs?: number;
  /** Epoch ms, for the log interval and `storageFailure.since`; default Date.now. */
  now?: () => number;
  /**
   * Begun before each invocation and committed after it, before anything is deleted (the local
   * runtime's state store: a batch's state writes in one transaction, SqliteStateStore.beginBatch).
   * A throw from commit leaves the whole batch in flight, as an invocation that crashed would.
   */
  batchScope?: () => { commit(): void };
}

/** The queue's storage failing, as the worker last saw it; no file paths (it is shown by /healthz). */
export interface StorageFailure {
  /** What SQLite (or the system) said, e.g. `database or disk is full (SQLite error 13)`. */
  reason: string;
  /** Epoch ms of the first failure of this run of failures. */
  since: number;
  /** Consecutive failed polls. */
  failures: number;
  /** The wait before the next poll. */
  retryInMs: number;
}

/** The storage backoff when none is given: 100 ms, doubling, at most 30 s. */
export const STORAGE_BACKOFF_DEFAULTS = { initialMs: 100, maxMs: 30_000, logIntervalMs: 30_000 } as const;

/** What one invocation did; emitted as `batch`. */
export interface BatchReport {
  queueName: string;
  messageIds: string[];
  /** Deleted after the handler returned. */
  deleted: string[];
  /** Left in flight: listed in batchItemFailures, or the whole batch when the handler threw. */
  failed: string[];
  /** Set when the handler threw or returned a response Lambda would reject. */
  error?: unknown;
}

export interface QueueWorkerEvents {
  batch: [BatchReport];
  /** The worker found nothing to receive and is waiting. */
  idle: [];
  /** Polling failed in the queue's storage; the worker waits `retryInMs` before trying again. */
  storageError: [StorageFailure & { error: unknown }];
  /** A poll succeeded after storage failures. */
  storageRecovered: [{ failures: number; since: number }];
}

export const LOCAL_REGION = 'local';
export const LOCAL_ACCOUNT_ID = '000000000000';

export function localQueueArn(queueName: string): string {
  return `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${queueName}.fifo`;
}

export class QueueWorker extends EventEmitter<QueueWorkerEvents> {
  readonly queueName: string;
  private readonly queue: SqliteQueue;
  private readonly handler: SqsHandler;
  private readonly batchSize: number;
  private readonly visibilityTimeoutSeconds?: number;
  private readonly functionTimeoutMs: number;
  private readonly logger?: SinkLogger;
  private readonly maxIdleMs: number;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wakePending = false;
  private wakeWaiter?: () => void;
  private timer?: NodeJS.Timeout;
  private readonly storageBackoff: { initialMs: number; maxMs: number };
  private readonly storageLogIntervalMs: number;
  private readonly now: () => number;
  private readonly batchScope?: () => { commit(): void };
  private failure?: StorageFailure;
  /** Queue-clock ms by which a stopping worker's batch must be done (stop's drainMs); no limit before. */
  private stopBy = Number.POSITIVE_INFINITY;
  /** Set by abandon(): the batch still running is left to the next start, and its errors are not the storage's. */
  private abandoned = false;
  /** Messages of the batch being handled, 0 between batches. */
  private handling = 0;
  private lastStorageLogAt = 0;
  private unloggedStorageErrors = 0;

  constructor(options: QueueWorkerOptions) {
    super();
    const batchSize = options.batchSize ?? 10;
    if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 10)) {
      throw new RangeError(`batchSize must be 1..10 for a FIFO queue: ${batchSize}`);
    }
    this.queue = options.queue;
    this.queueName = options.queueName;
    this.handler = options.handler;
    this.batchSize = batchSize;
    this.visibilityTimeoutSeconds = options.visibilityTimeoutSeconds;
    this.functionTimeoutMs = (options.functionTimeoutSeconds ?? INFRA.sink.timeoutSeconds) * 1000;
    this.logger = options.logger;
    this.maxIdleMs = options.maxIdleMs ?? 1_000;
    this.storageBackoff = options.storageBackoff ?? STORAGE_BACKOFF_DEFAULTS;
    if (!(this.storageBackoff.initialMs > 0 && this.storageBackoff.maxMs >= this.storageBackoff.initialMs)) {
      throw new RangeError('storageBackoff needs 0 < initialMs <= maxMs');
    }
    this.storageLogIntervalMs = options.storageLogIntervalMs ?? STORAGE_BACKOFF_DEFAULTS.logIntervalMs;
    this.now = options.now ?? Date.now;
    this.batchScope = options.batchScope;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Set while the queue's storage is failing (cleared by the next successful poll). */
  get storageFailure(): StorageFailure | undefined {
    return this.failure && { ...this.failure };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Polls at once instead of waiting for the timer (call it after sending to this queue). */
  wake(): void {
    this.wakePending = true;
    this.wakeWaiter?.();
  }

  /** Messages of the batch being handled now (0 between batches). */
  get inFlight(): number {
    return this.handling;
  }

  /**
   * Stops polling and resolves once the batch being handled (if any) has been settled. With
   * `drainMs`, that batch's deadline moves up to `drainMs` from now, as a Lambda's near its
   * timeout: the handler starts no delivery without the time to finish it, caps its vendor calls
   * at the time left, and hands back what it did not deliver (it stays in the queue). A vendor call
   * already under way keeps its own timeout: a caller that cannot wait for it calls abandon().
   */
  async stop(options: { drainMs?: number } = {}): Promise<void> {
    this.running = false;
    if (options.drainMs !== undefined)
      this.stopBy = Math.min(this.stopBy, this.queue.now() + options.drainMs);
    this.wake();
    await this.loopDone;
  }

  /**
   * Gives up on the batch still running after stop() (the process is about to exit): its messages
   * stay in flight and the next start releases them (lib/local/runtime.ts), so they are delivered
   * again, never lost. What it does from now on is not logged as a storage failure.
   */
  abandon(): void {
    this.running = false;
    this.abandoned = true;
    this.wake();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.wakePending = false;
      let handled = 0;
      let failed = false;
      try {
        const report = await this.pollOnce().finally(() => {
          this.handling = 0;
        });
        handled = report?.messageIds.length ?? 0;
        failed = report?.error !== undefined;
        if (this.failure) this.storageRecovered();
      } catch (error) {
        // Closed under an abandoned batch: nothing to report, nothing to retry.
        if (this.abandoned) break;
        // Only the queue itself can throw here (the handler's errors are caught per batch): its
        // storage is failing. Polling again at once would fail again at once, hundreds of times
        // a second, so back off, and retry on the timer alone (a wake must not cut it short).
        const backoffMs = this.storageFailed(error);
        if (!this.running) break;
        await this.waitForWork(backoffMs);
        continue;
      }
      if (!this.running) break;
      // After a successful batch there may be more; after a failure the batch stays in flight,
      // so wait for its visibility (or a wake) instead of spinning.
      if (handled > 0 && !failed) continue;
      await this.waitForWork();
    }
  }

  /** Waits for a wake, the next visible message or maxIdleMs; with `backoffMs`, for that long (or stop()). */
  private async waitForWork(backoffMs?: number): Promise<void> {
    let delay: number;
    if (backoffMs !== undefined) delay = backoffMs;
    else {
      if (this.wakePending) return;
      let next: number | undefined;
      try {
        next = this.queue.nextVisibleAt(this.queueName);
      } catch {
        // Storage failed since the poll: the next poll meets it and backs off.
        next = undefined;
      }
      const now = this.queue.now();
      delay = next === undefined ? this.maxIdleMs : Math.min(Math.max(next - now, 0), this.maxIdleMs);
      this.emit('idle');
      if (this.wakePending || !this.running) return;
    }
    if (!this.running) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.wakeWaiter = undefined;
        resolve();
      };
      // During a backoff only stop() ends the wait early; otherwise any wake does.
      this.wakeWaiter = backoffMs === undefined ? done : () => (this.running ? undefined : done());
      this.timer = setTimeout(done, delay);
    });
  }

  /** Records a storage failure, logs it (at most once per log interval) and returns the wait before the next poll. */
  private storageFailed(error: unknown): number {
    const now = this.now();
    const failures = (this.failure?.failures ?? 0) + 1;
    const retryInMs = Math.min(
      this.storageBackoff.initialMs * 2 ** Math.min(failures - 1, 30),
      this.storageBackoff.maxMs,
    );
    this.failure = {
      reason: describeStorageError(error),
      since: this.failure?.since ?? now,
      failures,
      retryInMs,
    };
    if (failures === 1 || now - this.lastStorageLogAt >= this.storageLogIntervalMs) {
      this.logger?.error('local queue storage is failing; polling backs off', {
        queue: this.queueName,
        error: error instanceof Error ? error.message : String(error),
        failures,
        suppressedSinceLastLine: this.unloggedStorageErrors,
        retryInMs,
      });
      this.lastStorageLogAt = now;
      this.unloggedStorageErrors = 0;
    } else this.unloggedStorageErrors++;
    this.emit('storageError', { ...this.failure, error });
    return retryInMs;
  }

  private storageRecovered(): void {
    const { failures, since } = this.failure as StorageFailure;
    this.failure = undefined;
    this.unloggedStorageErrors = 0;
    this.logger?.warn('local queue storage recovered', {
      queue: this.queueName,
      failures,
      failingForMs: this.now() - since,
    });
    this.emit('storageRecovered', { failures, since });
  }

  private async pollOnce(): Promise<BatchReport | undefined> {
    const messages = this.queue.receive(this.queueName, {
      maxMessages: this.batchSize,
      ...(this.visibilityTimeoutSeconds !== undefined
        ? { visibilityTimeoutSeconds: this.visibilityTimeoutSeconds }
        : {}),
    });
    if (messages.length === 0) return undefined;
    const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, this.queueName)) };
    const messageIds = messages.map((m) => m.messageId);
    let failedIds: Set<string>;
    let error: unknown;
    const deadline = this.queue.now() + this.functionTimeoutMs;
    const context: LocalInvocationContext = {
      getRemainingTimeInMillis: () => Math.max(0, Math.min(deadline, this.stopBy) - this.queue.now()),
    };
    this.handling = messages.length;
    const scope = this.batchScope?.();
    try {
      const response = await this.handler(event, context);
      failedIds = failuresOf(response as SQSBatchResponse | undefined, new Set(messageIds));
    } catch (thrown) {
      error = thrown;
      failedIds = new Set(messageIds);
      this.logger?.error('handler failed; the whole batch stays in flight', {
        queue: this.queueName,
        messages: messageIds.length,
        error: thrown instanceof Error ? thrown.message : String(thrown),
      });
    }
    try {
      // What the handler wrote is committed even when it threw: its vendor calls happened.
      scope?.commit();
    } catch (thrown) {
      error ??= thrown;
      failedIds = new Set(messageIds);
      this.logger?.error("the batch's state writes could not be committed; the whole batch stays in flight", {
        queue: this.queueName,
        messages: messageIds.length,
        error: thrown instanceof Error ? thrown.message : String(thrown),
      });
    }
    const toDelete = messages.filter((m) => !failedIds.has(m.messageId));
    const results = this.queue.deleteMany(
      this.queueName,
      toDelete.map((m) => m.receiptHandle),
    );
    const deleted: string[] = [];
    toDelete.forEach((m, i) => {
      if (results[i]) deleted.push(m.messageId);
      else {
        // Its visibility ran out while the handler ran and it was received again.
        this.logger?.warn('could not delete a handled message: its receipt handle is stale', {
          queue: this.queueName,
          messageId: m.messageId,
        });
      }
    });
    const report: BatchReport = {
      queueName: this.queueName,
      messageIds,
      deleted,
      failed: messageIds.filter((id) => failedIds.has(id)),
      ...(error !== undefined ? { error } : {}),
    };
    this.emit('batch', report);
    return report;
  }
}

/**
 * What a storage error says, without file paths: SQLite's own message and code (node:sqlite puts
 * them in `errstr` and `errcode`), else the system error code (EACCES, EIO), else the error's name.
 */
export function describeStorageError(error: unknown): string {
  const e = error as { errstr?: unknown; errcode?: unknown; code?: unknown; name?: unknown };
  if (typeof e?.errstr === 'string' && typeof e.errcode === 'number') {
    return `${e.errstr} (SQLite error ${e.errcode})`;
  }
  if (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code)) return `system error ${e.code}`;
  return typeof e?.name === 'string' ? e.name : 'unknown error';
}

/**
 * Lambda treats a response naming an unknown (or empty) itemIdentifier as a failure of the
 * whole batch; mirror that so a handler bug shows up locally.
 */
function failuresOf(response: SQSBatchResponse | undefined, ids: Set<string>): Set<string> {
  const failures = response?.batchItemFailures ?? [];
  const failed = new Set<string>();
  for (const failure of failures) {
    if (!failure?.itemIdentifier || !ids.has(failure.itemIdentifier)) return new Set(ids);
    failed.add(failure.itemIdentifier);
  }
  return failed;
}

export function toSqsRecord(message: ReceivedMessage, queueName: string): SQSRecord {
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.attributes)) {
    messageAttributes[name] = {
      stringValue: value,
      stringListValues: [],
      binaryListValues: [],
      dataType: 'String',
    };
  }
  const record: SQSRecord = {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentTimestamp),
      SequenceNumber: message.sequenceNumber,
      MessageGroupId: message.groupId,
      SenderId: 'local',
      MessageDeduplicationId: message.deduplicationId,
      ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp),
    },
    messageAttributes,
    md5OfBody: createHash('md5').update(message.body, 'utf8').digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: localQueueArn(queueName),
    awsRegion: LOCAL_REGION,
  };
  if (Object.keys(message.attributes).length > 0) {
    record.md5OfMessageAttributes = md5OfMessageAttributes(message.attributes);
  }
  return record;
}

/** The MD5 SQS computes over string message attributes (names sorted; length-prefixed fields). */
export function md5OfMessageAttributes(attributes: Record<string, string>): string {
  const hash = createHash('md5');
  const field = (value: string) => {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    field(name);
    field('String');
    hash.update(Buffer.from([1]));
    field(attributes[name]);
  }
  return hash.digest('hex');
}

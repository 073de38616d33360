import { REJECTION_INTERVAL_MS } from '../ingest/rejections.ts';
import { QueueError } from '../queue/sqlite-queue.ts';
import type { Enqueuer } from '../queue/types.ts';
import { describeStorageFailure } from './data-files.ts';

/** What keeps ingest answering 503 to every notification: the queue's storage, or the token. */
export type IngestFaultName = 'queue' | 'token';

/** A fault as /healthz shows it: never a file path or a secret. */
export interface IngestFault {
  name: IngestFaultName;
  /** `disk full: database or disk is full (SQLite error 13)` */
  reason: string;
  /** Epoch ms of the first failure of this run of failures. */
  since: number;
  /** Failed requests since. */
  failures: number;
}

const WHAT: Record<IngestFaultName, string> = {
  queue: 'the queue cannot take messages',
  token: 'the ingest token cannot be read',
};

/** What one failure is, for the count /healthz gives. */
const FAILURE: Record<IngestFaultName, [one: string, many: string]> = {
  queue: ['failed send', 'failed sends'],
  token: ['failed token check', 'failed token checks'],
};

/** Where the fault lines go: the relay's logger. */
export interface FaultLogger {
  error(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
}

interface Tracked extends IngestFault {
  loggedAt: number;
  unlogged: number;
}

/**
 * What would make ingest answer 503 to the next notification, as the last request found it, so
 * /healthz tells the truth with an empty queue too (the workers only see a failing disk when
 * they have something to receive): a fault is set by a request that failed for it and cleared by
 * the next one that got past it. While it lasts, one ERROR line at its start and then at most
 * one a minute (REJECTION_INTERVAL_MS, as ingest's rejection log) with the failures in between;
 * a WARN line when it clears.
 */
export class IngestFaults {
  readonly #logger: FaultLogger;
  readonly #now: () => number;
  readonly #logIntervalMs: number;
  readonly #faults = new Map<IngestFaultName, Tracked>();

  constructor(logger: FaultLogger, options: { now?: () => number; logIntervalMs?: number } = {}) {
    this.#logger = logger;
    this.#now = options.now ?? Date.now;
    this.#logIntervalMs = options.logIntervalMs ?? REJECTION_INTERVAL_MS;
  }

  /**
   * A request failed for `name`, for `reason` (no path, no secret's name: /healthz shows it);
   * `detail` goes to the log line only.
   */
  failed(name: IngestFaultName, reason: string, detail?: string): void {
    const now = this.#now();
    const previous = this.#faults.get(name);
    const fault: Tracked = previous
      ? { ...previous, reason, failures: previous.failures + 1 }
      : { name, reason, since: now, failures: 1, loggedAt: now, unlogged: 0 };
    if (!previous || now - previous.loggedAt >= this.#logIntervalMs) {
      this.#logger.error(`ingest answers 503: ${WHAT[name]}`, {
        reason,
        ...(detail === undefined ? {} : { detail }),
        failures: fault.failures,
        since: new Date(fault.since).toISOString(),
        ...(previous ? { unloggedSinceLastLine: previous.unlogged } : {}),
      });
      fault.loggedAt = now;
      fault.unlogged = 0;
    } else fault.unlogged++;
    this.#faults.set(name, fault);
  }

  /** A request got past `name`: the fault, if any, is over. */
  succeeded(name: IngestFaultName): void {
    const fault = this.#faults.get(name);
    if (!fault) return;
    this.#faults.delete(name);
    this.#logger.warn(`ingest recovered: ${WHAT[name]} no longer`, {
      failures: fault.failures,
      failingForMs: this.#now() - fault.since,
    });
  }

  /** The faults now, oldest first. */
  list(): IngestFault[] {
    return [...this.#faults.values()]
      .sort((a, b) => a.since - b.since)
      .map(({ name, reason, since, failures }) => ({ name, reason, since, failures }));
  }

  /** One line per fault for /healthz's `reason`. */
  describe(): string[] {
    return this.list().map(
      (fault) =>
        `ingest answers 503: ${WHAT[fault.name]}: ${fault.reason} (${fault.failures} ${FAILURE[fault.name][fault.failures === 1 ? 0 : 1]})`,
    );
  }
}

/**
 * The embedded queue could not store a send. Ingest names an enqueue failure by the error's
 * `name`, in its 503 body and its log line (on AWS that is SQS's error code, which carries no URL
 * and no secret); here it is the failure in a few words and SQLite's, without a file path:
 * `disk full: database or disk is full (SQLite error 13)`.
 */
export class QueueStorageError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = reason;
  }
}

/**
 * The enqueuer ingest gets locally: `enqueuer`, reporting its storage failures to `faults` (and
 * to ingest as a QueueStorageError) and clearing them with the next send it stores. A send the
 * queue refuses as a whole (a QueueError: an unknown queue, too many entries) is the caller's
 * fault, not the storage's, and passes through unchanged.
 */
export function trackEnqueues(enqueuer: Enqueuer, faults: IngestFaults): Enqueuer {
  return {
    async sendBatch(sink, entries) {
      let result: Awaited<ReturnType<Enqueuer['sendBatch']>>;
      try {
        result = await enqueuer.sendBatch(sink, entries);
      } catch (error) {
        if (error instanceof QueueError) throw error;
        const reason = describeStorageFailure(error);
        faults.failed('queue', reason);
        throw new QueueStorageError(reason, { cause: error });
      }
      faults.succeeded('queue');
      return result;
    },
  };
}

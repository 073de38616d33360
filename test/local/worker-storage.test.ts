import { on } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeStorageError, QueueWorker, type StorageFailure } from '../../lib/local/worker.ts';
import { ensureSinkQueues, LocalEnqueuer } from '../../lib/queue/local.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';

/** What node:sqlite throws on a full disk. */
function diskFull(): Error {
  return Object.assign(new Error('database or disk is full'), {
    code: 'ERR_SQLITE_ERROR',
    errcode: 13,
    errstr: 'database or disk is full',
  });
}

interface LogLine {
  level: 'error' | 'warn';
  message: string;
  fields: Record<string, unknown>;
}

describe('Class: QueueWorker (storage failures)', () => {
  let queue: SqliteQueue;
  let worker: QueueWorker | undefined;
  let lines: LogLine[];
  let clock: number;

  const logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string, fields: Record<string, unknown>) =>
      lines.push({ level: 'warn', message, fields }),
    error: (message: string, fields: Record<string, unknown>) =>
      lines.push({ level: 'error', message, fields }),
  };

  const startWorker = (options: { initialMs: number; maxMs: number; logIntervalMs: number }) => {
    worker = new QueueWorker({
      queue,
      queueName: 'slack',
      handler: async () => ({ batchItemFailures: [] }),
      logger,
      maxIdleMs: 3_600_000,
      storageBackoff: { initialMs: options.initialMs, maxMs: options.maxMs },
      storageLogIntervalMs: options.logIntervalMs,
      now: () => clock,
    });
    worker.start();
    return worker;
  };

  /** The next `count` storageError events of the worker. */
  async function failures(w: QueueWorker, count: number): Promise<StorageFailure[]> {
    const seen: StorageFailure[] = [];
    for await (const [failure] of on(w, 'storageError')) {
      seen.push(failure as StorageFailure);
      if (seen.length === count) break;
    }
    return seen;
  }

  beforeEach(() => {
    clock = Date.UTC(2026, 0, 1);
    lines = [];
    queue = new SqliteQueue({ path: ':memory:' });
    ensureSinkQueues(queue, ['slack'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
  });

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    vi.restoreAllMocks();
    queue.close();
  });

  it('should wait longer after each consecutive failure, doubling up to the cap', async () => {
    // Prepare
    vi.spyOn(queue, 'receive').mockImplementation(() => {
      throw diskFull();
    });

    // Act
    const seen = await failures(startWorker({ initialMs: 1, maxMs: 16, logIntervalMs: 0 }), 8);

    // Assess
    expect(seen.map((f) => f.retryInMs)).toEqual([1, 2, 4, 8, 16, 16, 16, 16]);
    expect(seen.map((f) => f.failures)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(seen[7].reason).toBe('database or disk is full (SQLite error 13)');
  });

  it('should not poll again when woken during a backoff', async () => {
    // Prepare
    const receive = vi.spyOn(queue, 'receive').mockImplementation(() => {
      throw diskFull();
    });
    const w = startWorker({ initialMs: 3_600_000, maxMs: 3_600_000, logIntervalMs: 0 });
    await failures(w, 1);

    // Act
    for (let i = 0; i < 100; i++) w.wake();
    await new Promise<void>((resolve) => setImmediate(resolve));

    // Assess
    expect(receive).toHaveBeenCalledTimes(1);
    expect(w.storageFailure?.failures).toBe(1);
  });

  it('should stop at once while backing off', async () => {
    // Prepare
    vi.spyOn(queue, 'receive').mockImplementation(() => {
      throw diskFull();
    });
    const w = startWorker({ initialMs: 3_600_000, maxMs: 3_600_000, logIntervalMs: 0 });
    await failures(w, 1);

    // Act
    await w.stop();

    // Assess
    expect(w.isRunning).toBe(false);
  });

  it('should log the first failure, then at most one line per interval with the count of those not logged', async () => {
    // Prepare
    vi.spyOn(queue, 'receive').mockImplementation(() => {
      throw diskFull();
    });
    const w = startWorker({ initialMs: 1, maxMs: 1, logIntervalMs: 60_000 });
    // The 49th failure moves the clock past the interval, so the 50th is the first one after it.
    w.on('storageError', (failure) => {
      if (failure.failures === 49) clock += 60_000;
    });

    // Act
    await failures(w, 50);

    // Assess
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({
      message: 'local queue storage is failing; polling backs off',
      fields: { queue: 'slack', failures: 1, suppressedSinceLastLine: 0, error: 'database or disk is full' },
    });
    expect(errors[1].fields).toMatchObject({ failures: 50, suppressedSinceLastLine: 48 });
  });

  it('should recover by itself once storage works again, clear the failure and deliver what waited', async () => {
    // Prepare
    let broken = true;
    const realReceive = queue.receive.bind(queue);
    vi.spyOn(queue, 'receive').mockImplementation((...args) => {
      if (broken) throw diskFull();
      return realReceive(...args);
    });
    await new LocalEnqueuer(queue).sendBatch('slack', [
      { id: 'e1', body: 'b', groupId: 'g', deduplicationId: 'd1' },
    ]);
    const w = startWorker({ initialMs: 1, maxMs: 1, logIntervalMs: 0 });
    await failures(w, 3);
    const recovered = new Promise((resolve) => w.once('storageRecovered', resolve));
    const batch = new Promise((resolve) => w.once('batch', resolve));

    // Act
    broken = false;
    const [info] = await Promise.all([recovered, batch]);

    // Assess
    expect(info).toMatchObject({ failures: expect.any(Number) });
    expect(w.storageFailure).toBeUndefined();
    expect(queue.depth('slack')).toEqual({ visible: 0, inFlight: 0 });
    expect(lines.at(-1)).toMatchObject({ level: 'warn', message: 'local queue storage recovered' });
  });
});

describe('Function: describeStorageError', () => {
  it.each([
    [diskFull(), 'database or disk is full (SQLite error 13)'],
    [
      Object.assign(new Error("EACCES: permission denied, open '/srv/relay/relay.db'"), { code: 'EACCES' }),
      'system error EACCES',
    ],
    [new TypeError('/srv/relay/relay.db is odd'), 'TypeError'],
    ['a string', 'unknown error'],
  ])('should describe %s without a path', (error, expected) => {
    // Act
    const described = describeStorageError(error);

    // Assess
    expect(described).toBe(expected);
  });
});

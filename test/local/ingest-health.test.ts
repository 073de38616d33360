import { describe, expect, it } from 'vitest';
import { IngestFaults, QueueStorageError, trackEnqueues } from '../../lib/local/ingest-health.ts';
import { QueueError } from '../../lib/queue/sqlite-queue.ts';
import type { Enqueuer } from '../../lib/queue/types.ts';

/** What node:sqlite throws when the disk is full. */
function diskFull(): Error {
  return Object.assign(new Error('database or disk is full'), {
    code: 'ERR_SQLITE_ERROR',
    errcode: 13,
    errstr: 'database or disk is full',
  });
}

function recordingLogger() {
  const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
  return {
    lines,
    error: (message: string, extra: Record<string, unknown>) =>
      lines.push({ level: 'error', message, extra }),
    warn: (message: string, extra: Record<string, unknown>) => lines.push({ level: 'warn', message, extra }),
  };
}

describe('Class: IngestFaults', () => {
  it('should log a fault at its start, then at most once an interval with the failures left out, and its end', () => {
    // Prepare
    let now = 1_000;
    const logger = recordingLogger();
    const faults = new IngestFaults(logger, { now: () => now, logIntervalMs: 60_000 });

    // Act
    faults.failed('queue', 'disk full: x');
    now += 1_000;
    faults.failed('queue', 'disk full: x');
    faults.failed('queue', 'disk full: x');
    now += 60_000;
    faults.failed('queue', 'disk full: y');
    const during = faults.describe();
    now += 500;
    faults.succeeded('queue');

    // Assess
    expect(logger.lines).toEqual([
      {
        level: 'error',
        message: 'ingest answers 503: the queue cannot take messages',
        extra: { reason: 'disk full: x', failures: 1, since: new Date(1_000).toISOString() },
      },
      {
        level: 'error',
        message: 'ingest answers 503: the queue cannot take messages',
        extra: {
          reason: 'disk full: y',
          failures: 4,
          since: new Date(1_000).toISOString(),
          unloggedSinceLastLine: 2,
        },
      },
      {
        level: 'warn',
        message: 'ingest recovered: the queue cannot take messages no longer',
        extra: { failures: 4, failingForMs: 61_500 },
      },
    ]);
    expect(during).toEqual([
      'ingest answers 503: the queue cannot take messages: disk full: y (4 failed sends)',
    ]);
    expect(faults.list()).toEqual([]);
  });

  it('should keep a detail for the log only, and list faults oldest first', () => {
    // Prepare
    let now = 0;
    const logger = recordingLogger();
    const faults = new IngestFaults(logger, { now: () => now });

    // Act
    faults.failed('token', 'its secret cannot be read', 'secret "INGEST_TOKEN" is not set');
    now = 5;
    faults.failed('queue', 'disk full: x');

    // Assess
    expect(logger.lines[0].extra).toMatchObject({ detail: 'secret "INGEST_TOKEN" is not set' });
    expect(faults.list().map((f) => [f.name, f.since])).toEqual([
      ['token', 0],
      ['queue', 5],
    ]);
    expect(faults.describe()[0]).not.toContain('INGEST_TOKEN');
  });

  it('should log nothing when a success ends no fault', () => {
    // Prepare
    const logger = recordingLogger();
    const faults = new IngestFaults(logger);

    // Act
    faults.succeeded('queue');

    // Assess
    expect(logger.lines).toEqual([]);
  });
});

describe('Function: trackEnqueues', () => {
  const entries = [{ id: 'e1', body: 'b', groupId: 'g', deduplicationId: 'd' }];

  it('should name a storage failure in the error ingest reports, and set the queue fault until a send is stored', async () => {
    // Prepare
    let broken = true;
    const inner: Enqueuer = {
      sendBatch: async () => {
        if (broken) throw diskFull();
        return { failed: [] };
      },
    };
    const faults = new IngestFaults(recordingLogger());
    const enqueuer = trackEnqueues(inner, faults);

    // Act
    const error = await enqueuer.sendBatch('webhook', entries).catch((e: unknown) => e);
    const during = faults.list().map((f) => f.reason);
    broken = false;
    const result = await enqueuer.sendBatch('webhook', entries);

    // Assess
    expect(error).toBeInstanceOf(QueueStorageError);
    expect((error as Error).name).toBe('disk full: database or disk is full (SQLite error 13)');
    expect(during).toEqual(['disk full: database or disk is full (SQLite error 13)']);
    expect(result).toEqual({ failed: [] });
    expect(faults.list()).toEqual([]);
  });

  it('should pass a send the queue refuses as a whole through unchanged, as no storage fault', async () => {
    // Prepare
    const refusal = new QueueError('QueueDoesNotExist', 'no such queue: nope');
    const faults = new IngestFaults(recordingLogger());
    const enqueuer = trackEnqueues(
      {
        sendBatch: async () => {
          throw refusal;
        },
      },
      faults,
    );

    // Act
    const error = await enqueuer.sendBatch('nope', entries).catch((e: unknown) => e);

    // Assess
    expect(error).toBe(refusal);
    expect(faults.list()).toEqual([]);
  });
});

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { DeferredError } from '../../lib/delivery/errors.ts';
import { createRecordHandler } from '../../lib/delivery/record-handler.ts';
import type { Sink } from '../../lib/delivery/sink.ts';
import { type BatchReport, QueueWorker, type SqsHandler } from '../../lib/local/worker.ts';
import { messageGroupId } from '../../lib/queue/idempotency.ts';
import { ensureSinkQueues, LocalEnqueuer, LocalRecordQueue } from '../../lib/queue/local.ts';
import { buildMessage, serializeMessage } from '../../lib/queue/message.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import type { OutgoingMessage } from '../../lib/queue/types.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { CountingTelemetry } from '../../lib/telemetry.ts';
import { makeNotification } from '../support/notifications.ts';

const START = Date.UTC(2026, 0, 1);
/** Long enough that a test only passes if the worker was woken, never by its idle timer. */
const NEVER_MS = 3_600_000;

function entry(n: number, groupId = 'g1', attributes?: Record<string, string>): OutgoingMessage {
  return {
    id: `e${n}`,
    body: `body-${n}`,
    groupId,
    deduplicationId: `dedup-${n}`,
    ...(attributes && { attributes }),
  };
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function nextBatch(worker: QueueWorker): Promise<BatchReport> {
  const [report] = await once(worker, 'batch');
  return report as BatchReport;
}

describe('Class: QueueWorker', () => {
  let clock: number;
  let queue: SqliteQueue;
  let worker: QueueWorker | undefined;
  let enqueuer: LocalEnqueuer;

  const startWorker = (handler: SqsHandler, options: { batchSize?: number } = {}) => {
    worker = new QueueWorker({ queue, queueName: 'slack', handler, maxIdleMs: NEVER_MS, ...options });
    enqueuer = new LocalEnqueuer(queue, { onSent: () => worker?.wake() });
    worker.start();
    return worker;
  };

  beforeEach(() => {
    clock = START;
    queue = new SqliteQueue({ path: ':memory:', now: () => clock });
    ensureSinkQueues(queue, ['slack'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
  });

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    queue.close();
  });

  describe('Method: start', () => {
    it('should deliver a batch as a Lambda SQS event', async () => {
      // Prepare
      const handler = vi.fn<SqsHandler>(async () => ({ batchItemFailures: [] }));
      const w = startWorker(handler);
      const batch = nextBatch(w);

      // Act
      await enqueuer.sendBatch('slack', [entry(1, 'g1', { reason: 'x' }), entry(2)]);
      await batch;

      // Assess
      const event = handler.mock.calls[0][0] as SQSEvent;
      expect(event.Records).toHaveLength(2);
      const [record] = event.Records;
      expect(record).toEqual({
        messageId: expect.any(String),
        receiptHandle: expect.any(String),
        body: 'body-1',
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(START),
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: String(START),
          SequenceNumber: expect.stringMatching(/^\d{20}$/),
          MessageGroupId: 'g1',
          MessageDeduplicationId: 'dedup-1',
        },
        messageAttributes: {
          reason: { stringValue: 'x', stringListValues: [], binaryListValues: [], dataType: 'String' },
        },
        md5OfBody: createHash('md5').update('body-1').digest('hex'),
        md5OfMessageAttributes: expect.stringMatching(/^[0-9a-f]{32}$/),
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:local:000000000000:slack.fifo',
        awsRegion: 'local',
      });
      expect(event.Records[1].md5OfMessageAttributes).toBeUndefined();
    });

    it('should delete the records that succeeded and keep those in batchItemFailures', async () => {
      // Prepare
      const w = startWorker(
        async (event): Promise<SQSBatchResponse> => ({
          batchItemFailures: event.Records.slice(1).map((r) => ({ itemIdentifier: r.messageId })),
        }),
      );
      const batch = nextBatch(w);

      // Act
      await enqueuer.sendBatch('slack', [entry(1), entry(2), entry(3)]);
      const report = await batch;

      // Assess
      expect(report.deleted).toHaveLength(1);
      expect(report.failed).toHaveLength(2);
      expect(queue.depth('slack')).toEqual({ visible: 0, inFlight: 2 });
      expect(queue.peek('slack', 10).map((m) => m.body)).toEqual(['body-2', 'body-3']);
    });

    it('should leave the whole batch in flight when the handler throws', async () => {
      // Prepare
      const w = startWorker(async () => {
        throw new Error('boom');
      });
      const batch = nextBatch(w);

      // Act
      await enqueuer.sendBatch('slack', [entry(1), entry(2, 'g2')]);
      const report = await batch;

      // Assess
      expect(report.error).toBeInstanceOf(Error);
      expect(report.deleted).toEqual([]);
      expect(queue.depth('slack')).toEqual({ visible: 0, inFlight: 2 });
    });

    it('should fail the whole batch when batchItemFailures names an unknown record, as Lambda does', async () => {
      // Prepare
      const w = startWorker(async () => ({ batchItemFailures: [{ itemIdentifier: 'not-in-the-batch' }] }));
      const batch = nextBatch(w);

      // Act
      await enqueuer.sendBatch('slack', [entry(1)]);
      const report = await batch;

      // Assess
      expect(report.deleted).toEqual([]);
      expect(queue.depth('slack').inFlight).toBe(1);
    });

    it('should deliver a failed record again once its visibility timeout has passed', async () => {
      // Prepare
      const counts: string[] = [];
      const w = startWorker(async (event) => {
        counts.push(...event.Records.map((r) => r.attributes.ApproximateReceiveCount));
        return counts.length === 1
          ? { batchItemFailures: [{ itemIdentifier: event.Records[0].messageId }] }
          : {
              batchItemFailures: [],
            };
      });
      // Registered inside the batch listener so the idle that follows that batch cannot be missed.
      const idleAfterFirstBatch = new Promise<void>((resolve) =>
        w.once('batch', () => w.once('idle', () => resolve())),
      );
      await enqueuer.sendBatch('slack', [entry(1)]);
      await idleAfterFirstBatch;

      // Act
      clock += 30_000;
      const second = nextBatch(w);
      w.wake();
      const report = await second;

      // Assess
      expect(counts).toEqual(['1', '2']);
      expect(report.deleted).toHaveLength(1);
      expect(queue.depth('slack')).toEqual({ visible: 0, inFlight: 0 });
    });

    it('should honour a visibility change the handler made through LocalRecordQueue', async () => {
      // Prepare
      const records = new LocalRecordQueue(queue, 'slack');
      const w = startWorker(async (event) => {
        await records.changeVisibility(event.Records[0].receiptHandle, 120);
        return { batchItemFailures: [{ itemIdentifier: event.Records[0].messageId }] };
      });
      const batch = nextBatch(w);

      // Act
      await enqueuer.sendBatch('slack', [entry(1)]);
      await batch;

      // Assess
      expect(queue.nextVisibleAt('slack')).toBe(START + 120_000);
    });

    it('should hand at most batchSize records to one invocation', async () => {
      // Prepare
      const sizes: number[] = [];
      const w = startWorker(
        async (event) => {
          sizes.push(event.Records.length);
        },
        { batchSize: 2 },
      );
      const done = deferred();
      w.on('batch', () => {
        if (queue.depth('slack').visible === 0) done.resolve();
      });

      // Act
      await enqueuer.sendBatch('slack', [entry(1), entry(2), entry(3)]);
      await done.promise;

      // Assess
      expect(sizes).toEqual([2, 1]);
      expect(queue.depth('slack')).toEqual({ visible: 0, inFlight: 0 });
    });
  });

  describe('Method: wake', () => {
    it('should pick up a message sent while idle without waiting for the idle timer', async () => {
      // Prepare
      const handler = vi.fn<SqsHandler>(async () => undefined);
      const idle = deferred();
      worker = new QueueWorker({ queue, queueName: 'slack', handler, maxIdleMs: NEVER_MS });
      worker.once('idle', () => idle.resolve());
      const w = worker;
      enqueuer = new LocalEnqueuer(queue, { onSent: () => w.wake() });
      w.start();
      await idle.promise;
      const batch = nextBatch(w);

      // Act
      await enqueuer.sendBatch('slack', [entry(1)]);
      const report = await batch;

      // Assess
      expect(handler).toHaveBeenCalledTimes(1);
      expect(report.deleted).toHaveLength(1);
    });
  });

  describe('Method: stop', () => {
    it('should wait for the batch in flight and still settle it', async () => {
      // Prepare
      const started = deferred();
      const release = deferred();
      const handler = vi.fn<SqsHandler>(async () => {
        started.resolve();
        await release.promise;
      });
      const w = startWorker(handler);
      await enqueuer.sendBatch('slack', [entry(1)]);
      await started.promise;

      // Act
      let stopped = false;
      const stopping = w.stop().then(() => {
        stopped = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      const stoppedBeforeRelease = stopped;
      release.resolve();
      await stopping;

      // Assess
      expect(stoppedBeforeRelease).toBe(false);
      expect(w.isRunning).toBe(false);
      expect(handler).toHaveBeenCalledTimes(1);
      expect(queue.depth('slack')).toEqual({ visible: 0, inFlight: 0 });
    });

    it('should not receive anything after it resolved', async () => {
      // Prepare
      const handler = vi.fn<SqsHandler>(async () => undefined);
      const w = startWorker(handler);
      await w.stop();

      // Act
      await enqueuer.sendBatch('slack', [entry(1)]);

      // Assess
      expect(handler).not.toHaveBeenCalled();
      expect(queue.depth('slack')).toEqual({ visible: 1, inFlight: 0 });
    });

    it('should move the deadline of the batch in flight up to drainMs from the stop', async () => {
      // Prepare
      const started = deferred<{ getRemainingTimeInMillis(): number }>();
      const release = deferred();
      const w = startWorker(async (_event, context) => {
        started.resolve(context);
        await release.promise;
      });
      await enqueuer.sendBatch('slack', [entry(1)]);
      const context = await started.promise;
      const before = context.getRemainingTimeInMillis();
      const inFlight = w.inFlight;

      // Act
      const stopping = w.stop({ drainMs: 2_000 });
      const atStop = context.getRemainingTimeInMillis();
      clock += 500;
      const later = context.getRemainingTimeInMillis();
      release.resolve();
      await stopping;

      // Assess
      expect(before).toBeGreaterThan(2_000);
      expect(atStop).toBe(2_000);
      expect(later).toBe(1_500);
      expect(inFlight).toBe(1);
      expect(w.inFlight).toBe(0);
    });

    it('should end without a storage error once abandoned, when the files close under its batch', async () => {
      // Prepare
      const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
      const started = deferred();
      const release = deferred();
      worker = new QueueWorker({
        queue,
        queueName: 'slack',
        maxIdleMs: NEVER_MS,
        logger,
        handler: async () => {
          started.resolve();
          await release.promise;
        },
      });
      enqueuer = new LocalEnqueuer(queue, { onSent: () => worker?.wake() });
      worker.start();
      await enqueuer.sendBatch('slack', [entry(1)]);
      await started.promise;
      const stopping = worker.stop({ drainMs: 0 });

      // Act
      worker.abandon();
      queue.close();
      release.resolve();
      await stopping;

      // Assess
      expect(worker.isRunning).toBe(false);
      expect(logger.error).not.toHaveBeenCalled();
    });
  });
});

describe('Class: LocalRecordQueue', () => {
  describe('Method: sendToDlq', () => {
    it("should send to the sink's dead-letter queue with attributes", async () => {
      // Prepare
      const queue = new SqliteQueue({ path: ':memory:' });
      ensureSinkQueues(queue, ['slack'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
      const sent: string[] = [];
      const records = new LocalRecordQueue(queue, 'slack', { onSent: (name) => sent.push(name) });

      // Act
      await records.sendToDlq(entry(1, 'g1', { reason: 'channel_not_found' }));

      // Assess
      expect(queue.peek('slack-dlq', 10)).toEqual([
        expect.objectContaining({ body: 'body-1', attributes: { reason: 'channel_not_found' } }),
      ]);
      expect(sent).toEqual(['slack-dlq']);
      queue.close();
    });
  });

  describe('Method: requeue', () => {
    it("should put the entries on the sink's queue in group order, wake its worker and not queue a seen deduplication id twice", async () => {
      // Prepare
      const queue = new SqliteQueue({ path: ':memory:', now: () => START });
      ensureSinkQueues(queue, ['slack'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
      const seen: { body: string; groupId: string }[][] = [];
      const handler = vi.fn<SqsHandler>(async (event) => {
        seen.push(
          event.Records.map((r) => ({ body: r.body, groupId: r.attributes.MessageGroupId as string })),
        );
      });
      const worker = new QueueWorker({ queue, queueName: 'slack', handler, maxIdleMs: NEVER_MS });
      onTestFinished(async () => {
        await worker.stop();
        queue.close();
      });
      const idle = once(worker, 'idle');
      worker.start();
      await idle;
      const sent: string[] = [];
      const records = new LocalRecordQueue(queue, 'slack', {
        onSent: (name) => {
          sent.push(name);
          worker.wake();
        },
      });
      const bodiesOf = (batch: { body: string; groupId: string }[], groupId: string) =>
        batch.filter((r) => r.groupId === groupId).map((r) => r.body);

      // Act
      const firstBatch = nextBatch(worker);
      const first = await records.requeue([entry(1, 'g1'), entry(2, 'g2'), entry(3, 'g1')]);
      await firstBatch;
      const secondBatch = nextBatch(worker);
      const again = await records.requeue([
        { ...entry(1, 'g1'), id: 'again', body: 'body-1-again' },
        entry(4, 'g1'),
      ]);
      await secondBatch;

      // Assess
      expect(first).toEqual({ failed: [] });
      expect(again).toEqual({ failed: [] });
      expect(sent).toEqual(['slack', 'slack']);
      expect(seen).toHaveLength(2);
      expect(bodiesOf(seen[0], 'g1')).toEqual(['body-1', 'body-3']);
      expect(bodiesOf(seen[0], 'g2')).toEqual(['body-2']);
      expect(seen[1]).toEqual([{ body: 'body-4', groupId: 'g1' }]);
      expect(queue.depth('slack')).toEqual({ visible: 0, inFlight: 0 });
      expect(queue.depth('slack-dlq')).toEqual({ visible: 0, inFlight: 0 });
    });
  });
});

describe('Class: LocalEnqueuer', () => {
  describe('Method: sendBatch', () => {
    it('should report failed entries and not wake anyone for a duplicate only', async () => {
      // Prepare
      const queue = new SqliteQueue({ path: ':memory:' });
      ensureSinkQueues(queue, ['slack'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
      const sent: string[] = [];
      const enqueuer = new LocalEnqueuer(queue, { onSent: (name) => sent.push(name) });
      await enqueuer.sendBatch('slack', [entry(1)]);

      // Act
      const duplicate = await enqueuer.sendBatch('slack', [entry(1)]);
      const invalid = await enqueuer.sendBatch('slack', [{ ...entry(2), body: '' }]);

      // Assess
      expect(duplicate.failed).toEqual([]);
      expect(invalid.failed).toEqual([{ id: 'e2', reason: expect.stringMatching(/empty body/) }]);
      expect(sent).toEqual(['slack']);
      queue.close();
    });

    it('should commit concurrent sends together, failing only the one that throws', async () => {
      // Prepare
      const queue = new SqliteQueue({ path: ':memory:' });
      ensureSinkQueues(queue, ['slack'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
      const sent: string[] = [];
      const enqueuer = new LocalEnqueuer(queue, { onSent: (name) => sent.push(name) });
      const commits = vi.spyOn(queue, 'atomically');

      // Act
      const [first, unknown, second] = await Promise.allSettled([
        enqueuer.sendBatch('slack', [entry(1, 'g1')]),
        enqueuer.sendBatch('nope', [entry(2, 'g2')]),
        enqueuer.sendBatch('slack', [entry(3, 'g3')]),
      ]);

      // Assess
      expect(first).toEqual({ status: 'fulfilled', value: { failed: [] } });
      expect(second).toEqual({ status: 'fulfilled', value: { failed: [] } });
      expect(unknown.status).toBe('rejected');
      expect(commits).toHaveBeenCalledTimes(1);
      expect(queue.peek('slack', 10).map((m) => m.body)).toEqual(['body-1', 'body-3']);
      expect(sent).toEqual(['slack']);
      queue.close();
    });

    it('should reject an unknown sink', async () => {
      // Prepare
      const queue = new SqliteQueue({ path: ':memory:' });
      const enqueuer = new LocalEnqueuer(queue);

      // Act & Assess
      await expect(enqueuer.sendBatch('nope', [entry(1)])).rejects.toThrow(/does not exist/);
      queue.close();
    });
  });
});

describe('Class: QueueWorker with the record handler: waits and crashes', () => {
  let clock: number;
  let queue: SqliteQueue;
  let worker: QueueWorker | undefined;

  beforeEach(() => {
    clock = START;
    queue = new SqliteQueue({ path: ':memory:', now: () => clock });
    // The queue moves a message received 3 times to the DLQ on its next receive.
    ensureSinkQueues(queue, ['console'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
  });

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    queue.close();
  });

  /** The console sink's record handler over the embedded queue; `deliver` stands in for the sink. */
  function recordHandler(deliver: Sink['deliver']) {
    const telemetry = new CountingTelemetry({ logger: new Logger({ logLevel: 'SILENT' }) });
    const handler = createRecordHandler({
      sink: { name: 'console', kind: 'event-log', configSchema: {}, deliver },
      config: { ingest: {}, destinations: [{ name: 'stdout', sink: 'console' }] },
      secrets: { get: async () => '' },
      state: new SqliteStateStore(':memory:', { now: () => clock }),
      queue: new LocalRecordQueue(queue, 'console', { onSent: () => worker?.wake() }),
      telemetry,
      maxReceiveCount: 3,
      now: () => clock,
    });
    return { handler, telemetry };
  }

  async function send(): Promise<void> {
    const notification = makeNotification({});
    const message = buildMessage('stdout', 'console', notification, new Date(START).toISOString(), {
      index: 1,
      count: 1,
    });
    const enqueuer = new LocalEnqueuer(queue, { onSent: () => worker?.wake() });
    const result = await enqueuer.sendBatch('console', [
      {
        id: 'm1',
        body: serializeMessage(message),
        groupId: messageGroupId('stdout', notification.groupKey),
        deduplicationId: 'ingest-1',
      },
    ]);
    expect(result.failed).toEqual([]);
  }

  it('should renew a message that keeps waiting past the queue’s receive limit, and deliver it', async () => {
    // Prepare: the sink defers the first 10 deliveries (come back at once), then delivers.
    let calls = 0;
    const delivered = deferred();
    const { handler, telemetry } = recordHandler(async () => {
      if (++calls <= 10) throw new DeferredError('pacing: now', { retryAfterSeconds: 0 });
      delivered.resolve();
    });
    worker = new QueueWorker({ queue, queueName: 'console', handler, maxIdleMs: NEVER_MS });
    worker.start();

    // Act
    await send();
    await delivered.promise;
    await once(worker, 'idle');

    // Assess: 10 waits under a limit of 3 receives: renewed 3 times, nothing dead-lettered.
    expect(calls).toBe(11);
    expect(telemetry.get('Delivered', 'stdout')).toBe(1);
    expect(telemetry.get('DeadLettered')).toBe(0);
    expect(queue.depth('console-dlq')).toEqual({ visible: 0, inFlight: 0 });
    expect(queue.depth('console')).toEqual({ visible: 0, inFlight: 0 });
  });

  it('should leave a function that keeps dying to the queue’s own redrive: the DLQ after 3 receives, nothing renewed', async () => {
    // Prepare: the function dies before the record handler decides anything (a crash loop).
    let invocations = 0;
    worker = new QueueWorker({
      queue,
      queueName: 'console',
      handler: async () => {
        invocations++;
        throw new Error('Runtime exited with error: signal: killed');
      },
      maxIdleMs: NEVER_MS,
    });
    worker.start();
    const firstBatch = nextBatch(worker);
    await send();
    await firstBatch;

    // Act: each time the visibility timeout passes, the message comes back; the 4th receive
    // moves it to the DLQ instead.
    for (let receive = 2; receive <= 4; receive++) {
      const idle = once(worker, 'idle');
      clock += 30_000;
      worker.wake();
      await idle;
    }

    // Assess
    expect(invocations).toBe(3);
    expect(queue.depth('console')).toEqual({ visible: 0, inFlight: 0 });
    expect(queue.peek('console-dlq', 10)).toHaveLength(1);
    expect(queue.peek('console-dlq', 10)[0].attributes).toEqual({});
  });
});

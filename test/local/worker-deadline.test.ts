import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INFRA } from '../../lib/infra/constants.ts';
import { type BatchReport, type LocalInvocationContext, QueueWorker } from '../../lib/local/worker.ts';
import { ensureSinkQueues, LocalEnqueuer } from '../../lib/queue/local.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';

const START = Date.UTC(2026, 10, 21, 12, 0, 0);

describe('Class: QueueWorker', () => {
  let clock: number;
  let queue: SqliteQueue;
  let worker: QueueWorker | undefined;

  beforeEach(() => {
    clock = START;
    queue = new SqliteQueue({ path: ':memory:', now: () => clock });
    ensureSinkQueues(queue, ['pagerduty'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 50 });
  });

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    queue.close();
  });

  async function invokeOnce(options: { functionTimeoutSeconds?: number }, spendMs: number) {
    const seen: number[] = [];
    worker = new QueueWorker({
      queue,
      queueName: 'pagerduty',
      maxIdleMs: 60_000,
      ...options,
      handler: async (_event, context: LocalInvocationContext) => {
        seen.push(context.getRemainingTimeInMillis());
        clock += spendMs;
        seen.push(context.getRemainingTimeInMillis());
        return { batchItemFailures: [] };
      },
    });
    const batch = once(worker, 'batch') as Promise<[BatchReport]>;
    worker.start();
    await new LocalEnqueuer(queue, { onSent: () => worker?.wake() }).sendBatch('pagerduty', [
      { id: '1', body: '{}', groupId: 'g', deduplicationId: 'd1' },
    ]);
    await batch;
    return seen;
  }

  describe('Method: start (the invocation context)', () => {
    it('should give the handler the sink Lambda’s time, counting down on the queue’s clock', async () => {
      // Act
      const seen = await invokeOnce({}, 12_000);

      // Assess
      expect(seen).toEqual([INFRA.sink.timeoutSeconds * 1000, INFRA.sink.timeoutSeconds * 1000 - 12_000]);
    });

    it('should use a configured function timeout, and never report less than nothing left', async () => {
      // Act
      const seen = await invokeOnce({ functionTimeoutSeconds: 5 }, 9_000);

      // Assess
      expect(seen).toEqual([5_000, 0]);
    });
  });
});

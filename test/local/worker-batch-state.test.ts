import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BatchReport, QueueWorker } from '../../lib/local/worker.ts';
import { ensureSinkQueues } from '../../lib/queue/local.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';

const entry = (n: number) => ({ id: `e${n}`, body: `body-${n}`, groupId: `g${n}`, deduplicationId: `d${n}` });

describe('Class: QueueWorker with a state batch per invocation', () => {
  let dir: string;
  let queue: SqliteQueue;
  let state: SqliteStateStore;
  let worker: QueueWorker | undefined;
  /** Another connection to state.db: what was committed. */
  let reader: DatabaseSync;
  const committed = () =>
    (reader.prepare('SELECT key FROM state_items ORDER BY key').all() as { key: string }[]).map((r) => r.key);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'worker-batch-state-'));
    queue = new SqliteQueue({ path: join(dir, 'relay.db') });
    ensureSinkQueues(queue, ['webhook'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
    state = new SqliteStateStore(join(dir, 'state.db'));
    reader = new DatabaseSync(join(dir, 'state.db'));
  });

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    reader.close();
    state.close();
    queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("should commit a batch's state writes in one transaction after the handler, before deleting its messages", async () => {
    // Prepare
    queue.send('webhook', [entry(1), entry(2), entry(3)]);
    const seenDuringHandler: string[][] = [];
    const onDiskAtDelete: { keys: string[]; depth: number }[] = [];
    const deleteMany = queue.deleteMany.bind(queue);
    queue.deleteMany = (name, handles) => {
      onDiskAtDelete.push({ keys: committed(), depth: queue.depth(name).inFlight });
      return deleteMany(name, handles);
    };
    worker = new QueueWorker({
      queue,
      queueName: 'webhook',
      batchScope: () => state.beginBatch(),
      handler: async (event) => {
        for (const record of event.Records) {
          await state.put(`group#${record.body}`, { applied: true });
          seenDuringHandler.push(committed());
        }
        return { batchItemFailures: [] };
      },
    });
    const batch = once(worker, 'batch');

    // Act
    worker.start();
    const [report] = (await batch) as [BatchReport];

    // Assess
    expect(seenDuringHandler).toEqual([[], [], []]);
    expect(onDiskAtDelete).toEqual([{ keys: ['group#body-1', 'group#body-2', 'group#body-3'], depth: 3 }]);
    expect(report.deleted).toHaveLength(3);
  });

  it('should delete nothing of a batch whose state writes the storage lost', async () => {
    // Prepare
    reader.exec(
      `CREATE TRIGGER refuse BEFORE INSERT ON state_items WHEN NEW.key = 'group#body-2' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`,
    );
    queue.send('webhook', [entry(1), entry(2)]);
    worker = new QueueWorker({
      queue,
      queueName: 'webhook',
      batchScope: () => state.beginBatch(),
      handler: async (event) => {
        // A handler that reports a failed state write as a failure of its record only (as the
        // record handler does for a state error after delivery): the batch looks fine to it.
        const failures: { itemIdentifier: string }[] = [];
        for (const record of event.Records) {
          await state.put(`group#${record.body}`, { applied: true }).catch(() => {
            failures.push({ itemIdentifier: record.messageId });
          });
        }
        return { batchItemFailures: failures };
      },
    });
    const batch = once(worker, 'batch');

    // Act
    worker.start();
    const [report] = (await batch) as [BatchReport];

    // Assess: body-1's write was rolled back with the batch, so body-1 is not deleted either.
    expect(report.deleted).toEqual([]);
    expect(report.failed).toHaveLength(2);
    expect(String(report.error)).toMatch(/state writes of this batch were lost/);
    expect(committed()).toEqual([]);
    expect(queue.depth('webhook')).toEqual({ visible: 0, inFlight: 2 });
  });

  it('should leave the messages of a batch on the queue when the process is killed before its state commit', async () => {
    // Prepare: a relay process whose handler writes the state of the first record, then dies.
    queue.send('webhook', [entry(1), entry(2)]);
    queue.close();
    state.close();
    const lib = (file: string) => JSON.stringify(new URL(`../../lib/${file}`, import.meta.url).href);
    const script = `
      const { SqliteQueue } = await import(${lib('queue/sqlite-queue.ts')});
      const { SqliteStateStore } = await import(${lib('state/sqlite.ts')});
      const { QueueWorker } = await import(${lib('local/worker.ts')});
      const queue = new SqliteQueue({ path: ${JSON.stringify(join(dir, 'relay.db'))} });
      const state = new SqliteStateStore(${JSON.stringify(join(dir, 'state.db'))});
      await state.put('before-the-batch', { n: 0 });
      new QueueWorker({
        queue,
        queueName: 'webhook',
        batchScope: () => state.beginBatch(),
        handler: async (event) => {
          await state.put('group#' + event.Records[0].body, { applied: true });
          process.kill(process.pid, 'SIGKILL');
          return { batchItemFailures: [] };
        },
      }).start();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
    const [, signal] = await once(child, 'exit');

    // Act
    queue = new SqliteQueue({ path: join(dir, 'relay.db') });
    state = new SqliteStateStore(join(dir, 'state.db'));
    const released = queue.releaseInFlight('webhook');
    const again = queue.receive('webhook');

    // Assess: the batch's write is gone with it, and both messages are received again.
    expect(signal).toBe('SIGKILL');
    expect(committed()).toEqual(['before-the-batch']);
    expect(released).toBe(2);
    expect(again.map((m) => [m.body, m.receiveCount])).toEqual([
      ['body-1', 2],
      ['body-2', 2],
    ]);
  });
});

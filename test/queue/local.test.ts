import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QueueWorker } from '../../lib/local/worker.ts';
import { ensureSinkQueues, LocalEnqueuer } from '../../lib/queue/local.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import type { OutgoingMessage } from '../../lib/queue/types.ts';

const message = (body: string, groupId: string): OutgoingMessage => ({
  id: 'e1',
  body,
  groupId,
  deduplicationId: body.replace(/[^\w-]/g, '-'),
});

describe('Class: LocalEnqueuer (group commit)', () => {
  let dir: string;
  let path: string;
  let queue: SqliteQueue;
  /** A second connection to the file: what it reads is what was committed. */
  let reader: DatabaseSync;
  const onDisk = () =>
    (
      reader.prepare("SELECT body FROM sq_messages WHERE queue = 'webhook' ORDER BY seq").all() as {
        body: string;
      }[]
    ).map((row) => row.body);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'local-enqueuer-'));
    path = join(dir, 'relay.db');
    queue = new SqliteQueue({ path });
    ensureSinkQueues(queue, ['webhook'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
    reader = new DatabaseSync(path);
  });

  afterEach(() => {
    vi.restoreAllMocks();
    reader.close();
    queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should write N concurrent sends in one transaction and answer each only after its commit', async () => {
    // Prepare
    const enqueuer = new LocalEnqueuer(queue);
    const statements: string[] = [];
    const exec = queue.database.exec.bind(queue.database);
    vi.spyOn(queue.database, 'exec').mockImplementation((sql: string) => {
      statements.push(sql);
      return exec(sql);
    });
    const answered: string[] = [];
    const seenAtAnswer: string[][] = [];

    // Act
    const sends = Array.from({ length: 25 }, (_, i) =>
      enqueuer.sendBatch('webhook', [message(`n${i}`, `g${i % 4}`)]).then(() => {
        answered.push(`n${i}`);
        seenAtAnswer.push(onDisk());
      }),
    );
    await Promise.resolve();
    const answeredBeforeTheTurnEnded = [...answered];
    const onDiskBeforeTheTurnEnded = onDisk();
    await Promise.all(sends);

    // Assess
    expect(answeredBeforeTheTurnEnded).toEqual([]);
    expect(onDiskBeforeTheTurnEnded).toEqual([]);
    expect(statements.filter((s) => /^(BEGIN|COMMIT)/.test(s))).toEqual(['BEGIN IMMEDIATE', 'COMMIT']);
    expect(answered).toHaveLength(25);
    for (const seen of seenAtAnswer) expect(seen).toHaveLength(25);
  });

  it('should fail every send of a commit the storage refuses, answering none of them 2xx and writing none', async () => {
    // Prepare
    const enqueuer = new LocalEnqueuer(queue);
    queue.database.exec(
      `CREATE TRIGGER fail BEFORE INSERT ON sq_messages WHEN NEW.body = 'fails' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`,
    );

    // Act
    const outcomes = await Promise.allSettled([
      enqueuer.sendBatch('webhook', [message('before', 'g1')]),
      enqueuer.sendBatch('webhook', [message('fails', 'g2')]),
      enqueuer.sendBatch('webhook', [message('after', 'g3')]),
    ]);
    const next = await enqueuer.sendBatch('webhook', [message('next turn', 'g1')]);

    // Assess
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(next.failed).toEqual([]);
    expect(onDisk()).toEqual(['next turn']);
    expect(queue.depth('webhook')).toEqual({ visible: 1, inFlight: 0 });
  });

  it('should lose nothing it answered when the process is killed between the commit and the answers', async () => {
    // Prepare: a process that is killed right after the commit, before any caller hears of it.
    queue.close();
    const moduleUrl = (file: string) => new URL(`../../lib/queue/${file}`, import.meta.url).href;
    const script = `
      const { SqliteQueue } = await import(${JSON.stringify(moduleUrl('sqlite-queue.ts'))});
      const { LocalEnqueuer } = await import(${JSON.stringify(moduleUrl('local.ts'))});
      const queue = new SqliteQueue({ path: ${JSON.stringify(path)} });
      const enqueuer = new LocalEnqueuer(queue, { onSent: () => process.kill(process.pid, 'SIGKILL') });
      for (let i = 0; i < 10; i++) {
        const body = 'committed-' + i;
        enqueuer.sendBatch('webhook', [{ id: 'e', body, groupId: 'g' + (i % 3), deduplicationId: body }])
          .then(() => process.stdout.write('answered ' + body + '\\n'));
      }
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    const [, signal] = await once(child, 'exit');

    // Act
    queue = new SqliteQueue({ path });
    const received = queue.receive('webhook').map((m) => m.body);

    // Assess
    expect(signal).toBe('SIGKILL');
    expect(stdout).toBe('');
    expect(received.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `committed-${i}`).sort());
  });

  it('should keep each group in send order while many clients send and a worker delivers at the same time', async () => {
    // Prepare
    let worker: QueueWorker | undefined;
    const enqueuer = new LocalEnqueuer(queue, { onSent: () => worker?.wake() });
    const delivered = new Map<string, number[]>();
    const GROUPS = 12;
    const PER_GROUP = 40;
    worker = new QueueWorker({
      queue,
      queueName: 'webhook',
      handler: async (event) => {
        for (const record of event.Records) {
          const [group, n] = record.body.split(':');
          delivered.set(group, [...(delivered.get(group) ?? []), Number(n)]);
          // A delivery takes a turn of the event loop or two, as an HTTP call would.
          await new Promise((resolve) => setImmediate(resolve));
        }
        return { batchItemFailures: [] };
      },
    });
    worker.start();
    const total = () => [...delivered.values()].reduce((sum, list) => sum + list.length, 0);
    const allDelivered = new Promise<void>((done) => {
      worker?.on('batch', () => {
        if (total() === GROUPS * PER_GROUP) done();
      });
    });

    // Act: each group has one client sending its notifications one after another, as
    // Alertmanager does per group; the groups' clients run concurrently.
    await Promise.all(
      Array.from({ length: GROUPS }, async (_, g) => {
        for (let n = 0; n < PER_GROUP; n++) {
          await enqueuer.sendBatch('webhook', [message(`g${g}:${n}`, `g${g}`)]);
        }
      }),
    );
    await allDelivered;
    await worker.stop();

    // Assess
    expect(delivered.size).toBe(GROUPS);
    for (const list of delivered.values())
      expect(list).toEqual(Array.from({ length: PER_GROUP }, (_, n) => n));
    expect(queue.depth('webhook')).toEqual({ visible: 0, inFlight: 0 });
  });
});

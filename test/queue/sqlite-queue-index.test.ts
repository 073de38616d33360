import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ReceivedMessage, SqliteQueue } from '../../lib/queue/sqlite-queue.ts';

const START = Date.UTC(2026, 0, 1);
const QUEUES = ['sink', 'sink-dlq'] as const;

type Op =
  | { kind: 'send'; group: number; count: number }
  | { kind: 'receive'; max: number; visibility?: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'change'; pick: number; seconds: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'release' }
  | { kind: 'redrive' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      group: fc.nat(4),
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        kind: fc.constant('receive' as const),
        max: fc.integer({ min: 1, max: 10 }),
        visibility: fc.integer({ min: 0, max: 60 }),
      },
      { requiredKeys: ['kind', 'max'] },
    ),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('change' as const),
      pick: fc.nat(),
      seconds: fc.integer({ min: 0, max: 60 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'release' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'redrive' as const }) },
);

/** What can be seen of a queue without changing it. */
function observe(queue: SqliteQueue) {
  return Object.fromEntries(
    QUEUES.map((name) => [
      name,
      {
        depth: queue.depth(name),
        nextVisibleAt: queue.nextVisibleAt(name),
        messages: queue
          .peek(name, 10_000)
          .map((m) => [m.sequenceNumber, m.body, m.groupId, m.receiveCount, m.inFlight, m.visibleAt]),
      },
    ]),
  );
}

const received = (messages: ReceivedMessage[]) =>
  messages.map((m) => [m.sequenceNumber, m.body, m.groupId, m.receiveCount]);

describe('SqliteQueue: the in-memory index against the table', () => {
  let dir: string;
  let clock: number;
  const opened: SqliteQueue[] = [];

  const open = (path: string) => {
    const queue = new SqliteQueue({ path, now: () => clock });
    opened.push(queue);
    return queue;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sqlite-queue-index-'));
  });

  afterEach(() => {
    for (const queue of opened.splice(0)) queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should rebuild from the file exactly the index the running instance holds, after any operations', () => {
    let run = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        // Prepare
        run++;
        clock = START;
        const path = join(dir, `live-${run}.db`);
        const live = open(path);
        live.createQueue('sink-dlq', { visibilityTimeoutSeconds: 30 });
        live.createQueue('sink', {
          visibilityTimeoutSeconds: 30,
          maxReceiveCount: 2,
          deadLetterQueue: 'sink-dlq',
        });
        let sent = 0;
        let handles: string[] = [];

        // Act
        for (const step of ops) {
          switch (step.kind) {
            case 'send':
              live.send(
                'sink',
                Array.from({ length: step.count }, (_, i) => {
                  sent++;
                  return {
                    id: `e${i}`,
                    body: `m${sent}`,
                    groupId: `g${step.group}`,
                    deduplicationId: `d${sent}`,
                  };
                }),
              );
              break;
            case 'receive':
              handles.push(
                ...live
                  .receive('sink', {
                    maxMessages: step.max,
                    ...(step.visibility !== undefined ? { visibilityTimeoutSeconds: step.visibility } : {}),
                  })
                  .map((m) => m.receiptHandle),
              );
              break;
            case 'delete':
              if (handles.length > 0) live.delete('sink', handles.splice(step.pick % handles.length, 1)[0]);
              break;
            case 'change': {
              if (handles.length === 0) break;
              const handle = handles[step.pick % handles.length];
              try {
                live.changeVisibility('sink', handle, step.seconds);
              } catch {
                // Stale or no longer in flight: refused, as SQS does.
                handles = handles.filter((h) => h !== handle);
              }
              break;
            }
            case 'advance':
              clock += step.ms;
              break;
            case 'release':
              live.releaseInFlight('sink');
              break;
            case 'redrive':
              live.moveMessages('sink-dlq', 'sink');
              break;
          }
        }
        const copyPath = join(dir, `copy-${run}.db`);
        live.database.exec(`VACUUM INTO '${copyPath}'`);
        const reopened = open(path);
        const copy = open(copyPath);

        // Assess: the same state from a reopen, and the same next receive from a copy of the file.
        expect(observe(reopened)).toEqual(observe(live));
        expect(received(copy.receive('sink'))).toEqual(received(live.receive('sink')));
        live.close();
        reopened.close();
        copy.close();
      }),
      { numRuns: 60 },
    );
  });

  it("should see what another connection committed (a redrive while a group is in flight), keeping the group's order", () => {
    // Prepare
    clock = START;
    const path = join(dir, 'relay.db');
    const relay = open(path);
    relay.createQueue('sink-dlq', { visibilityTimeoutSeconds: 30 });
    relay.createQueue('sink', {
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 3,
      deadLetterQueue: 'sink-dlq',
    });
    relay.send('sink', [{ id: 'a', body: 'first of g', groupId: 'g', deduplicationId: 'a' }]);
    const inFlight = relay.receive('sink');
    const cli = open(path);
    cli.send('sink-dlq', [
      { id: 'b', body: 'dead of g', groupId: 'g', deduplicationId: 'b' },
      { id: 'c', body: 'dead of h', groupId: 'h', deduplicationId: 'c' },
    ]);

    // Act
    const moved = cli.moveMessages('sink-dlq', 'sink');
    const whileBlocked = relay.receive('sink');
    relay.delete('sink', inFlight[0].receiptHandle);
    const afterDelete = relay.receive('sink');

    // Assess
    expect(moved).toBe(2);
    expect(relay.depth('sink-dlq')).toEqual({ visible: 0, inFlight: 0 });
    expect(whileBlocked.map((m) => m.body)).toEqual(['dead of h']);
    expect(afterDelete.map((m) => m.body)).toEqual(['dead of g']);
  });

  it('should open a file written before the index, keeping its messages, receive counts and what is in flight', () => {
    // Prepare: the layout of that version (receive state in sq_messages, five indexes, sq_dedup).
    clock = START;
    const path = join(dir, 'relay.db');
    const old = new DatabaseSync(path);
    old.exec(`
      CREATE TABLE sq_queues (name TEXT PRIMARY KEY, visibility_timeout_ms INTEGER NOT NULL, max_receive_count INTEGER,
        dead_letter_queue TEXT, dedup_window_ms INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE sq_messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, message_id TEXT NOT NULL,
        group_id TEXT NOT NULL, dedup_id TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT, sent_at INTEGER NOT NULL,
        first_receive_at INTEGER, receive_count INTEGER NOT NULL DEFAULT 0, visible_at INTEGER NOT NULL, receipt_handle TEXT);
      CREATE INDEX sq_messages_queue_seq ON sq_messages (queue, seq);
      CREATE INDEX sq_messages_group ON sq_messages (queue, group_id, seq);
      CREATE INDEX sq_messages_group_visible ON sq_messages (queue, group_id, visible_at);
      CREATE INDEX sq_messages_visible ON sq_messages (queue, visible_at);
      CREATE UNIQUE INDEX sq_messages_receipt ON sq_messages (receipt_handle);
      CREATE TABLE sq_dedup (queue TEXT NOT NULL, dedup_id TEXT NOT NULL, message_id TEXT NOT NULL, seq INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, PRIMARY KEY (queue, dedup_id)) WITHOUT ROWID;
      INSERT INTO sq_queues VALUES ('sink-dlq', 30000, NULL, NULL, 300000), ('sink', 30000, 3, 'sink-dlq', 300000);
      INSERT INTO sq_messages (queue, message_id, group_id, dedup_id, body, sent_at, first_receive_at, receive_count, visible_at, receipt_handle)
      VALUES ('sink', 'm1', 'g', 'd1', 'in flight', ${START - 5_000}, ${START - 4_000}, 2, ${START + 20_000}, 'h1'),
             ('sink', 'm2', 'g', 'd2', 'behind it', ${START - 5_000}, NULL, 0, 0, NULL),
             ('sink', 'm3', 'h', 'd3', 'other group', ${START - 5_000}, ${START - 4_000}, 1, ${START - 1_000}, 'h3'),
             ('sink-dlq', 'm4', 'k', 'd4', 'dead', ${START - 5_000}, NULL, 3, 0, NULL);
    `);
    old.close();

    // Act
    const queue = open(path);
    const before = observe(queue);
    const now = queue.receive('sink');
    clock += 20_000;
    const later = queue.receive('sink');
    const indexes = (
      queue.database
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('index', 'table') ORDER BY name")
        .all() as {
        name: string;
      }[]
    ).map((row) => row.name);

    // Assess
    expect(before.sink.depth).toEqual({ visible: 2, inFlight: 1 });
    expect(before['sink-dlq'].messages.map((m) => m[1])).toEqual(['dead']);
    expect(now.map((m) => [m.body, m.receiveCount])).toEqual([['other group', 2]]);
    expect(later.map((m) => [m.body, m.receiveCount, m.firstReceiveTimestamp])).toEqual([
      ['in flight', 3, START - 4_000],
      ['behind it', 1, START + 20_000],
    ]);
    expect(queue.changeVisibility('sink', later[0].receiptHandle, 0)).toBeUndefined();
    expect(indexes).toEqual(['sq_messages', 'sq_queues', 'sq_receipts', 'sqlite_sequence']);
  });

  it('should keep nothing of a transaction that failed in the storage', () => {
    // Prepare
    clock = START;
    const queue = open(join(dir, 'relay.db'));
    queue.createQueue('sink', { visibilityTimeoutSeconds: 30 });
    queue.send('sink', [{ id: 'a', body: 'kept', groupId: 'g', deduplicationId: 'a' }]);
    // A storage failure in the middle of a batch: the second insert fails after the first was written.
    queue.database.exec(
      `CREATE TRIGGER fail BEFORE INSERT ON sq_messages WHEN NEW.body = 'fails' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`,
    );

    // Act
    const failed = (() => {
      try {
        queue.send('sink', [
          { id: 'b', body: 'rolled back', groupId: 'h', deduplicationId: 'b' },
          { id: 'c', body: 'fails', groupId: 'h', deduplicationId: 'c' },
        ]);
        return undefined;
      } catch (error) {
        return error as Error;
      }
    })();
    const retried = queue.send('sink', [
      { id: 'b', body: 'rolled back', groupId: 'h', deduplicationId: 'b' },
    ]);

    // Assess: the dedup id of the rolled-back send is free again, and only what the table holds is received.
    expect(failed?.message).toMatch(/disk I\/O error/);
    expect(retried.successful.map((s) => s.duplicate)).toEqual([false]);
    expect(queue.depth('sink')).toEqual({ visible: 2, inFlight: 0 });
    expect(queue.receive('sink').map((m) => m.body)).toEqual(['kept', 'rolled back']);
  });
});

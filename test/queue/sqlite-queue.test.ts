import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase, QueueError, SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import type { OutgoingMessage } from '../../lib/queue/types.ts';

const START = Date.UTC(2026, 0, 1);

function entry(n: number, groupId = 'g1', extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { id: `e${n}`, body: `body-${n}`, groupId, deduplicationId: `dedup-${n}`, ...extra };
}

describe('Class: SqliteQueue', () => {
  let clock: number;
  let queue: SqliteQueue;

  const advance = (ms: number) => {
    clock += ms;
  };

  beforeEach(() => {
    clock = START;
    queue = new SqliteQueue({ path: ':memory:', now: () => clock });
    queue.createQueue('sink-dlq', { visibilityTimeoutSeconds: 30 });
    queue.createQueue('sink', {
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 3,
      deadLetterQueue: 'sink-dlq',
    });
  });

  afterEach(() => {
    queue.close();
  });

  describe('Method: createQueue', () => {
    it('should be idempotent and apply changed attributes', () => {
      // Prepare
      queue.send('sink', [entry(1)]);

      // Act
      queue.createQueue('sink', {
        visibilityTimeoutSeconds: 5,
        maxReceiveCount: 3,
        deadLetterQueue: 'sink-dlq',
      });
      const [message] = queue.receive('sink');

      // Assess
      expect(message.body).toBe('body-1');
      expect(queue.nextVisibleAt('sink')).toBe(START + 5_000);
    });

    it('should refuse a dead-letter queue that does not exist', () => {
      // Act & Assess
      expect(() =>
        queue.createQueue('other', {
          visibilityTimeoutSeconds: 30,
          maxReceiveCount: 1,
          deadLetterQueue: 'nope',
        }),
      ).toThrow(QueueError);
    });
  });

  describe('Method: send', () => {
    it('should refuse more than 10 entries', () => {
      // Prepare
      const entries = Array.from({ length: 11 }, (_, i) => entry(i));

      // Act & Assess
      expect(() => queue.send('sink', entries)).toThrow(/at most 10/);
      expect(queue.depth('sink')).toEqual({ visible: 0, inFlight: 0 });
    });

    it('should throw for a queue that does not exist', () => {
      // Act & Assess
      expect(() => queue.send('missing', [entry(1)])).toThrow(
        expect.objectContaining({ code: 'QueueDoesNotExist' }),
      );
    });

    it('should report an invalid entry as failed and enqueue the others', () => {
      // Prepare
      const entries = [entry(1), entry(2, ''), entry(3)];

      // Act
      const result = queue.send('sink', entries);

      // Assess
      expect(result.failed).toEqual([{ id: 'e2', reason: expect.stringMatching(/MessageGroupId/) }]);
      expect(result.successful.map((s) => s.id)).toEqual(['e1', 'e3']);
      expect(queue.depth('sink').visible).toBe(2);
    });

    it.each([
      ['U+FFFF', 'a\uFFFFb'],
      ['U+FFFE', 'a\uFFFEb'],
      ['a lone high surrogate', 'a\uD800b'],
      ['a lone low surrogate', 'a\uDC00b'],
      ['a NUL', 'a\u0000b'],
      ['a C0 control other than tab, LF and CR', 'a\u001Bb'],
    ])('should refuse a body with %s as SQS does (InvalidMessageContents)', (_name, body) => {
      // Act
      const result = queue.send('sink', [entry(1, 'g1', { body }), entry(2)]);

      // Assess
      expect(result.failed).toEqual([{ id: 'e1', reason: expect.stringMatching(/^InvalidMessageContents/) }]);
      expect(queue.peek('sink').map((m) => m.body)).toEqual(['body-2']);
    });

    it('should refuse a string attribute with a character SQS refuses (InvalidMessageContents)', () => {
      // Act
      const result = queue.send('sink', [
        entry(1, 'g1', { attributes: { reason: 'boom \uFFFF' } }),
        entry(2, 'g1', { attributes: { reason: 'cut \uD83D' } }),
        entry(3, 'g1', { attributes: { reason: 'fine\ttab \u{1F600} \uFFFD' } }),
      ]);

      // Assess
      expect(result.failed.map((f) => [f.id, f.reason.split(':')[0]])).toEqual([
        ['e1', 'InvalidMessageContents'],
        ['e2', 'InvalidMessageContents'],
      ]);
      expect(queue.peek('sink').map((m) => m.attributes)).toEqual([{ reason: 'fine\ttab \u{1F600} \uFFFD' }]);
    });

    it.each([
      ['a space', 'bad name'],
      ['a leading period', '.reason'],
      ['a trailing period', 'reason.'],
      ['two periods in a row', 'a..b'],
      ['the AWS. prefix', 'AWS.reason'],
      ['the amazon. prefix in any case', 'amazon.reason'],
      ['over 256 characters', 'a'.repeat(257)],
    ])('should refuse an attribute name with %s', (_name, name) => {
      // Act
      const result = queue.send('sink', [entry(1, 'g1', { attributes: { [name]: 'v' } })]);

      // Assess
      expect(result.failed).toEqual([{ id: 'e1', reason: expect.stringMatching(/^InvalidParameterValue/) }]);
    });

    it('should accept tab, LF, CR and characters beyond the BMP in a body', () => {
      // Act
      const result = queue.send('sink', [entry(1, 'g1', { body: 'a\tb\nc\rd\u{1F600}\uE000\uFFFD' })]);

      // Assess
      expect(result.failed).toEqual([]);
    });

    it('should accept a duplicate within the dedup window without enqueueing it again', () => {
      // Prepare
      const first = queue.send('sink', [entry(1)]);
      advance(299_000);

      // Act
      const second = queue.send('sink', [{ ...entry(1), id: 'again', body: 'other body' }]);

      // Assess
      expect(second.failed).toEqual([]);
      expect(second.successful).toEqual([
        expect.objectContaining({ id: 'again', messageId: first.successful[0].messageId, duplicate: true }),
      ]);
      expect(queue.peek('sink', 10).map((m) => m.body)).toEqual(['body-1']);
    });

    it('should deduplicate within one batch', () => {
      // Act
      queue.send('sink', [entry(1), { ...entry(1), id: 'twin' }]);

      // Assess
      expect(queue.depth('sink').visible).toBe(1);
    });

    it('should enqueue the same deduplication id again once the window has passed', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      const [received] = queue.receive('sink');
      queue.delete('sink', received.receiptHandle);
      advance(300_000);

      // Act
      const result = queue.send('sink', [entry(1)]);

      // Assess
      expect(result.successful[0].duplicate).toBe(false);
      expect(queue.receive('sink').map((m) => m.body)).toEqual(['body-1']);
    });

    it('should keep deduplicating after the message was deleted', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      const [received] = queue.receive('sink');
      queue.delete('sink', received.receiptHandle);

      // Act
      queue.send('sink', [entry(1)]);

      // Assess
      expect(queue.depth('sink')).toEqual({ visible: 0, inFlight: 0 });
    });

    it('should deduplicate per queue', () => {
      // Act
      queue.send('sink', [entry(1)]);
      queue.send('sink-dlq', [entry(1)]);

      // Assess
      expect(queue.depth('sink').visible).toBe(1);
      expect(queue.depth('sink-dlq').visible).toBe(1);
    });
  });

  describe('Method: receive', () => {
    it('should return the messages of a group in send order with their metadata', () => {
      // Prepare
      queue.send('sink', [entry(1, 'g1', { attributes: { reason: 'x' } }), entry(2), entry(3)]);
      advance(1_000);

      // Act
      const messages = queue.receive('sink');

      // Assess
      expect(messages.map((m) => m.body)).toEqual(['body-1', 'body-2', 'body-3']);
      expect(messages[0]).toEqual({
        messageId: expect.any(String),
        receiptHandle: expect.any(String),
        body: 'body-1',
        groupId: 'g1',
        deduplicationId: 'dedup-1',
        attributes: { reason: 'x' },
        receiveCount: 1,
        sentTimestamp: START,
        firstReceiveTimestamp: START + 1_000,
        sequenceNumber: expect.stringMatching(/^\d{20}$/),
      });
      expect(messages[1].sequenceNumber > messages[0].sequenceNumber).toBe(true);
    });

    it('should return nothing more from a group while one of its messages is in flight', () => {
      // Prepare
      queue.send('sink', [entry(1), entry(2)]);
      const first = queue.receive('sink', { maxMessages: 1 });

      // Act
      const second = queue.receive('sink');

      // Assess
      expect(first.map((m) => m.body)).toEqual(['body-1']);
      expect(second).toEqual([]);
    });

    it('should release the next message of a group once the in-flight one is deleted', () => {
      // Prepare
      queue.send('sink', [entry(1), entry(2)]);
      const [first] = queue.receive('sink', { maxMessages: 1 });

      // Act
      queue.delete('sink', first.receiptHandle);
      const next = queue.receive('sink');

      // Assess
      expect(next.map((m) => m.body)).toEqual(['body-2']);
    });

    it('should serve other groups while one group is blocked', () => {
      // Prepare
      queue.send('sink', [entry(1, 'a'), entry(2, 'a'), entry(3, 'b'), entry(4, 'c')]);
      queue.receive('sink', { maxMessages: 1 });

      // Act
      const messages = queue.receive('sink');

      // Assess
      expect(messages.map((m) => m.body)).toEqual(['body-3', 'body-4']);
    });

    it('should keep the messages of a group together, groups ordered by their oldest message', () => {
      // Prepare
      queue.send('sink', [entry(1, 'a'), entry(2, 'b'), entry(3, 'a'), entry(4, 'b'), entry(5, 'a')]);

      // Act
      const messages = queue.receive('sink', { maxMessages: 4 });

      // Assess
      expect(messages.map((m) => `${m.groupId}:${m.body}`)).toEqual([
        'a:body-1',
        'a:body-3',
        'a:body-5',
        'b:body-2',
      ]);
    });

    it('should make a message receivable again when its visibility timeout expires', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      const [first] = queue.receive('sink');
      advance(29_999);
      const early = queue.receive('sink');
      advance(1);

      // Act
      const [again] = queue.receive('sink');

      // Assess
      expect(early).toEqual([]);
      expect(again.messageId).toBe(first.messageId);
      expect(again.receiveCount).toBe(2);
      expect(again.firstReceiveTimestamp).toBe(START);
      expect(again.receiptHandle).not.toBe(first.receiptHandle);
    });

    it('should use a visibility timeout given to the receive', () => {
      // Prepare
      queue.send('sink', [entry(1)]);

      // Act
      queue.receive('sink', { visibilityTimeoutSeconds: 2 });

      // Assess
      expect(queue.nextVisibleAt('sink')).toBe(START + 2_000);
    });

    it('should move a message that reached maxReceiveCount to the DLQ, keeping its content', () => {
      // Prepare
      queue.send('sink', [
        entry(1, 'g1', { attributes: { reason: 'timeout', destination: 'ops' } }),
        entry(2),
      ]);
      for (let i = 0; i < 3; i++) {
        queue.receive('sink', { maxMessages: 1 });
        advance(30_000);
      }

      // Act
      const messages = queue.receive('sink');

      // Assess
      expect(messages.map((m) => m.body)).toEqual(['body-2']);
      const [dead] = queue.peek('sink-dlq', 10);
      expect(dead).toEqual(
        expect.objectContaining({
          body: 'body-1',
          groupId: 'g1',
          deduplicationId: 'dedup-1',
          attributes: { reason: 'timeout', destination: 'ops' },
          receiveCount: 3,
          sentTimestamp: START,
        }),
      );
      expect(queue.depth('sink-dlq')).toEqual({ visible: 1, inFlight: 0 });
    });

    it('should give a message moved to the DLQ a new messageId', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      let original = '';
      for (let i = 0; i < 3; i++) {
        original = queue.receive('sink')[0].messageId;
        advance(30_000);
      }

      // Act
      queue.receive('sink');

      // Assess
      const [dead] = queue.receive('sink-dlq');
      expect(dead.messageId).not.toBe(original);
      expect(dead.body).toBe('body-1');
    });
  });

  describe('Method: delete', () => {
    it('should refuse a receipt handle made stale by a later receive', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      const [first] = queue.receive('sink');
      advance(30_000);
      const [second] = queue.receive('sink');

      // Act
      const staleDeleted = queue.delete('sink', first.receiptHandle);

      // Assess
      expect(staleDeleted).toBe(false);
      expect(queue.depth('sink').inFlight).toBe(1);
      expect(queue.delete('sink', second.receiptHandle)).toBe(true);
      expect(queue.depth('sink')).toEqual({ visible: 0, inFlight: 0 });
    });

    it('should delete several messages at once and report each', () => {
      // Prepare
      queue.send('sink', [entry(1), entry(2)]);
      const messages = queue.receive('sink');

      // Act
      const results = queue.deleteMany('sink', [
        messages[0].receiptHandle,
        'unknown',
        messages[1].receiptHandle,
      ]);

      // Assess
      expect(results).toEqual([true, false, true]);
      expect(queue.depth('sink')).toEqual({ visible: 0, inFlight: 0 });
    });
  });

  describe('Method: changeVisibility', () => {
    it('should count the new timeout from now', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      const [message] = queue.receive('sink');
      advance(10_000);

      // Act
      queue.changeVisibility('sink', message.receiptHandle, 60);

      // Assess
      expect(queue.nextVisibleAt('sink')).toBe(START + 70_000);
      advance(59_999);
      expect(queue.receive('sink')).toEqual([]);
      advance(1);
      expect(queue.receive('sink').map((m) => m.body)).toEqual(['body-1']);
    });

    it('should make a message receivable at once with 0 seconds', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      const [message] = queue.receive('sink');

      // Act
      queue.changeVisibility('sink', message.receiptHandle, 0);

      // Assess
      expect(queue.receive('sink')[0].receiveCount).toBe(2);
    });

    it('should throw on a stale receipt handle', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      const [first] = queue.receive('sink');
      advance(30_000);
      queue.receive('sink');

      // Act & Assess
      expect(() => queue.changeVisibility('sink', first.receiptHandle, 10)).toThrow(
        expect.objectContaining({ code: 'ReceiptHandleIsInvalid' }),
      );
    });

    it('should throw when the message is no longer in flight', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      const [message] = queue.receive('sink');
      advance(30_000);

      // Act & Assess
      expect(() => queue.changeVisibility('sink', message.receiptHandle, 10)).toThrow(
        expect.objectContaining({ code: 'MessageNotInflight' }),
      );
    });

    it('should refuse a timeout above 12 hours', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      const [message] = queue.receive('sink');

      // Act & Assess
      expect(() => queue.changeVisibility('sink', message.receiptHandle, 43_201)).toThrow(/0\.\.43200/);
    });
  });

  describe('Method: nextVisibleAt', () => {
    it('should be undefined for an empty queue and now when a message is receivable', () => {
      // Prepare
      const empty = queue.nextVisibleAt('sink');
      queue.send('sink', [entry(1)]);

      // Act
      const ready = queue.nextVisibleAt('sink');

      // Assess
      expect(empty).toBeUndefined();
      expect(ready).toBe(START);
    });

    it('should wait for the last in-flight message of a blocked group', () => {
      // Prepare
      queue.send('sink', [entry(1), entry(2)]);
      const [first] = queue.receive('sink');
      queue.changeVisibility('sink', first.receiptHandle, 5);

      // Act
      const next = queue.nextVisibleAt('sink');

      // Assess
      expect(next).toBe(START + 30_000);
    });
  });

  describe('Method: peek', () => {
    it('should list messages in order without receiving them', () => {
      // Prepare
      queue.send('sink', [entry(1, 'a'), entry(2, 'b')]);
      queue.receive('sink', { maxMessages: 1 });

      // Act
      const listed = queue.peek('sink', 10);

      // Assess
      expect(listed.map((m) => [m.body, m.inFlight, m.receiveCount])).toEqual([
        ['body-1', true, 1],
        ['body-2', false, 0],
      ]);
      expect(queue.peek('sink', 1)).toHaveLength(1);
      expect(queue.receive('sink').map((m) => m.body)).toEqual(['body-2']);
    });
  });

  describe('Method: moveMessages', () => {
    it('should redrive messages in order with new ids and a reset receive count', () => {
      // Prepare
      queue.send('sink-dlq', [entry(1, 'a'), entry(2, 'b'), entry(3, 'a')]);
      const before = queue.peek('sink-dlq', 10);
      const [received] = queue.receive('sink-dlq', { maxMessages: 1 });
      queue.changeVisibility('sink-dlq', received.receiptHandle, 0);

      // Act
      const moved = queue.moveMessages('sink-dlq', 'sink');

      // Assess
      expect(moved).toBe(3);
      expect(queue.depth('sink-dlq')).toEqual({ visible: 0, inFlight: 0 });
      const redriven = queue.receive('sink');
      expect(redriven.map((m) => `${m.groupId}:${m.body}:${m.receiveCount}`)).toEqual([
        'a:body-1:1',
        'a:body-3:1',
        'b:body-2:1',
      ]);
      const oldIds = new Set(before.map((m) => m.messageId));
      expect(redriven.some((m) => oldIds.has(m.messageId))).toBe(false);
    });

    it('should not be swallowed by the destination dedup window', () => {
      // Prepare
      queue.send('sink', [entry(1)]);
      for (let i = 0; i < 3; i++) {
        queue.receive('sink');
        advance(30_000);
      }
      queue.receive('sink');

      // Act
      const moved = queue.moveMessages('sink-dlq', 'sink');

      // Assess
      expect(moved).toBe(1);
      expect(queue.receive('sink').map((m) => m.body)).toEqual(['body-1']);
    });

    it('should move at most maxMessages and leave in-flight messages', () => {
      // Prepare
      queue.send('sink-dlq', [entry(1, 'a'), entry(2, 'b'), entry(3, 'c')]);
      queue.receive('sink-dlq', { maxMessages: 1 });

      // Act
      const moved = queue.moveMessages('sink-dlq', 'sink', { maxMessages: 1 });

      // Assess
      expect(moved).toBe(1);
      expect(queue.peek('sink', 10).map((m) => m.body)).toEqual(['body-2']);
      expect(queue.depth('sink-dlq')).toEqual({ visible: 1, inFlight: 1 });
    });
  });

  describe('Method: releaseInFlight', () => {
    it('should make in-flight messages receivable at once, keeping their receive count', () => {
      // Prepare
      queue.send('sink', [entry(1), entry(2, 'b')]);
      queue.receive('sink');

      // Act
      const released = queue.releaseInFlight('sink');

      // Assess
      expect(released).toBe(2);
      expect(queue.receive('sink').map((m) => [m.body, m.receiveCount])).toEqual([
        ['body-1', 2],
        ['body-2', 2],
      ]);
    });
  });

  describe('Method: purge', () => {
    it('should delete every message of the queue only', () => {
      // Prepare
      queue.send('sink', [entry(1), entry(2, 'b')]);
      queue.send('sink-dlq', [entry(3)]);
      queue.receive('sink', { maxMessages: 1 });

      // Act
      const purged = queue.purge('sink');

      // Assess
      expect(purged).toBe(2);
      expect(queue.depth('sink')).toEqual({ visible: 0, inFlight: 0 });
      expect(queue.depth('sink-dlq').visible).toBe(1);
    });
  });

  describe('Durability', () => {
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'sqlite-queue-'));
    });

    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('should keep sent and in-flight messages across a reopen of the file', () => {
      // Prepare
      const path = join(dir, 'relay.db');
      const writer = new SqliteQueue({ path, now: () => clock });
      writer.createQueue('sink', { visibilityTimeoutSeconds: 30 });
      writer.send('sink', [entry(1), entry(2), entry(3, 'b')]);
      writer.receive('sink', { maxMessages: 1 });
      writer.close();

      // Act
      const reader = new SqliteQueue({ path, now: () => clock });
      const visibleNow = reader.receive('sink');
      reader.deleteMany(
        'sink',
        visibleNow.map((m) => m.receiptHandle),
      );
      advance(30_000);
      const afterTimeout = reader.receive('sink');
      reader.close();

      // Assess
      expect(visibleNow.map((m) => m.body)).toEqual(['body-3']);
      expect(afterTimeout.map((m) => [m.body, m.receiveCount])).toEqual([
        ['body-1', 2],
        ['body-2', 1],
      ]);
    });

    it('should keep committed sends when the writing process is killed with SIGKILL', async () => {
      // Prepare
      const path = join(dir, 'relay.db');
      const moduleUrl = new URL('../../lib/queue/sqlite-queue.ts', import.meta.url).href;
      const script = `
        const { SqliteQueue } = await import(${JSON.stringify(moduleUrl)});
        const queue = new SqliteQueue({ path: ${JSON.stringify(path)} });
        queue.createQueue('sink', { visibilityTimeoutSeconds: 30 });
        queue.send('sink', [{ id: 'a', body: 'survives', groupId: 'g', deduplicationId: 'd' }]);
        process.kill(process.pid, 'SIGKILL');
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
      const [, signal] = await once(child, 'exit');

      // Act
      const reader = new SqliteQueue({ path });
      const received = reader.receive('sink');
      reader.close();

      // Assess
      expect(signal).toBe('SIGKILL');
      expect(received.map((m) => m.body)).toEqual(['survives']);
    });

    it('should open the file in WAL mode with synchronous=NORMAL, whatever else is tuned for speed', () => {
      // Prepare
      const path = join(dir, 'relay.db');

      // Act
      const db = openSqliteDatabase(path);
      const pragma = (name: string) => Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0];
      const settings = {
        journalMode: pragma('journal_mode'),
        synchronous: pragma('synchronous'),
        tempStore: pragma('temp_store'),
      };
      db.close();

      // Assess: 1 is NORMAL (a commit survives a kill -9 of the process), 2 is MEMORY.
      expect(settings).toEqual({ journalMode: 'wal', synchronous: 1, tempStore: 2 });
    });

    it('should share one file between two open instances', () => {
      // Prepare
      const path = join(dir, 'relay.db');
      const a = new SqliteQueue({ path, now: () => clock });
      const b = new SqliteQueue({ path, now: () => clock });
      a.createQueue('sink', { visibilityTimeoutSeconds: 30 });

      // Act
      a.send('sink', [entry(1)]);
      const received = b.receive('sink');
      a.close();
      b.close();

      // Assess
      expect(received.map((m) => m.body)).toEqual(['body-1']);
    });
  });

  describe('Volume', () => {
    it('should deliver 10,000 messages across groups exactly once, each group in order', () => {
      // Prepare
      for (let batch = 0; batch < 1_000; batch++) {
        queue.send(
          'sink',
          Array.from({ length: 10 }, (_, i) => {
            const n = batch * 10 + i;
            return { id: `e${i}`, body: String(n), groupId: `g${n % 7}`, deduplicationId: `d${n}` };
          }),
        );
      }

      // Act
      const seen: number[] = [];
      for (let messages = queue.receive('sink'); messages.length > 0; messages = queue.receive('sink')) {
        seen.push(...messages.map((m) => Number(m.body)));
        queue.deleteMany(
          'sink',
          messages.map((m) => m.receiptHandle),
        );
      }

      // Assess
      expect(seen).toHaveLength(10_000);
      expect(new Set(seen).size).toBe(10_000);
      for (let g = 0; g < 7; g++) {
        const group = seen.filter((n) => n % 7 === g);
        expect(group).toEqual([...group].sort((x, y) => x - y));
      }
    });
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { updateVersioned } from '../../lib/state/store.ts';

describe('Class: SqliteStateStore', () => {
  let clock: number;
  let store: SqliteStateStore;

  beforeEach(() => {
    clock = Date.UTC(2026, 0, 1);
    store = new SqliteStateStore(':memory:', { now: () => clock });
  });

  afterEach(() => {
    store.close();
  });

  describe('Method: get', () => {
    it('should return undefined for a key never written', async () => {
      // Act
      const value = await store.get('group#ops#{}:{}');

      // Assess
      expect(value).toBeUndefined();
    });

    it('should not return an item whose ttl has passed, even before it is swept', async () => {
      // Prepare
      await store.put('idem#ops#k', { done: true }, { ttlSeconds: 60 });
      clock += 59_999;
      const before = await store.get('idem#ops#k');
      clock += 1;

      // Act
      const after = await store.get('idem#ops#k');

      // Assess
      expect(before).toEqual({ done: true });
      expect(after).toBeUndefined();
    });
  });

  describe('Method: putIfVersion', () => {
    it('should write a new key only when it is absent, as version 1', async () => {
      // Act
      const first = await store.putIfVersion('storm#ops', { n: 1 }, undefined);
      const second = await store.putIfVersion('storm#ops', { n: 2 }, undefined);

      // Assess
      expect([first, second]).toEqual([true, false]);
      expect(await store.getVersioned('storm#ops')).toEqual({ value: { n: 1 }, version: 1 });
    });

    it('should refuse a write from a stale version and accept the current one', async () => {
      // Prepare
      await store.putIfVersion('storm#ops', { n: 1 }, undefined);
      await store.putIfVersion('storm#ops', { n: 2 }, 1);

      // Act
      const stale = await store.putIfVersion('storm#ops', { n: 99 }, 1);
      const current = await store.putIfVersion('storm#ops', { n: 3 }, 2);

      // Assess
      expect([stale, current]).toEqual([false, true]);
      expect(await store.getVersioned('storm#ops')).toEqual({ value: { n: 3 }, version: 3 });
    });

    it('should treat an expired item as absent', async () => {
      // Prepare
      await store.putIfVersion('storm#ops', { n: 1 }, undefined, { ttlSeconds: 10 });
      clock += 10_000;

      // Act
      const stale = await store.putIfVersion('storm#ops', { n: 2 }, 1);
      const fresh = await store.putIfVersion('storm#ops', { n: 3 }, undefined);

      // Assess
      expect([stale, fresh]).toEqual([false, true]);
      expect(await store.get('storm#ops')).toEqual({ n: 3 });
    });

    it('should give an item written by put version 0', async () => {
      // Prepare
      await store.put('k', { n: 1 });

      // Act
      const written = await store.putIfVersion('k', { n: 2 }, 0);

      // Assess
      expect(written).toBe(true);
      expect(await store.getVersioned('k')).toEqual({ value: { n: 2 }, version: 1 });
    });
  });

  describe('Function: updateVersioned', () => {
    it('should lose no increment when many writers interleave their reads and writes', async () => {
      // Prepare: every writer reads before any of them writes, so all but one conflict at first.
      const writers = 25;

      // Act
      await Promise.all(
        Array.from({ length: writers }, () =>
          updateVersioned<{ n: number }>(store, 'storm#ops', (current) => ({ n: (current?.n ?? 0) + 1 })),
        ),
      );

      // Assess
      expect(await store.get('storm#ops')).toEqual({ n: writers });
    });
  });

  describe('Method: put', () => {
    it('should store a JSON object and overwrite it', async () => {
      // Prepare
      await store.put('group#ops#k', { channel: 'C1', ts: '1.2', nested: { n: 1 } });

      // Act
      await store.put('group#ops#k', { channel: 'C2' });

      // Assess
      expect(await store.get('group#ops#k')).toEqual({ channel: 'C2' });
    });

    it('should clear an earlier ttl when written without one', async () => {
      // Prepare
      await store.put('k', { v: 1 }, { ttlSeconds: 1 });
      await store.put('k', { v: 2 });
      clock += 10_000;

      // Act
      const value = await store.get('k');

      // Assess
      expect(value).toEqual({ v: 2 });
    });

    it('should delete expired items on a later write', async () => {
      // Prepare
      await store.put('old', { v: 1 }, { ttlSeconds: 1 });
      clock += 120_000;

      // Act
      await store.put('new', { v: 2 });

      // Assess
      const rows = store.database.prepare('SELECT key FROM state_items ORDER BY key').all();
      expect(rows).toEqual([{ key: 'new' }]);
    });
  });

  describe('Method: delete', () => {
    it('should remove an item and ignore a missing one', async () => {
      // Prepare
      await store.put('k', { v: 1 });

      // Act
      await store.delete('k');
      await store.delete('missing');

      // Assess
      expect(await store.get('k')).toBeUndefined();
    });
  });

  describe('Method: beginBatch', () => {
    let dir: string;
    let path: string;
    let batched: SqliteStateStore;
    /** Another connection: it sees what was committed and nothing else. */
    let reader: DatabaseSync;
    const committed = () =>
      (reader.prepare('SELECT key FROM state_items ORDER BY key').all() as { key: string }[]).map(
        (r) => r.key,
      );

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'sqlite-state-batch-'));
      path = join(dir, 'state.db');
      batched = new SqliteStateStore(path, { now: () => clock });
      reader = new DatabaseSync(path);
    });

    afterEach(() => {
      reader.close();
      batched.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("should commit a batch's writes together when it commits, each readable by the store before", async () => {
      // Prepare
      await batched.put('before', { n: 0 });
      const batch = batched.beginBatch();

      // Act
      await batched.put('group#a', { n: 1 });
      await batched.putIfVersion('channel#c', { n: 2 }, undefined);
      const ownRead = await batched.get('group#a');
      const seenBeforeCommit = committed();
      batch.commit();
      const seenAfterCommit = committed();
      await batched.put('after', { n: 3 });

      // Assess: outside a batch a write is committed at once, as before.
      expect(ownRead).toEqual({ n: 1 });
      expect(seenBeforeCommit).toEqual(['before']);
      expect(seenAfterCommit).toEqual(['before', 'channel#c', 'group#a']);
      expect(committed()).toEqual(['after', 'before', 'channel#c', 'group#a']);
    });

    it("should commit every open batch's writes with the first batch that commits", async () => {
      // Prepare
      const first = batched.beginBatch();
      const second = batched.beginBatch();
      await batched.put('of-first', { n: 1 });
      await batched.put('of-second', { n: 2 });

      // Act
      first.commit();
      const afterFirst = committed();
      await batched.put('of-second-later', { n: 3 });
      const beforeSecond = committed();
      second.commit();

      // Assess
      expect(afterFirst).toEqual(['of-first', 'of-second']);
      expect(beforeSecond).toEqual(['of-first', 'of-second']);
      expect(committed()).toEqual(['of-first', 'of-second', 'of-second-later']);
    });

    it('should tell a batch that the storage lost its writes, and not the batches after it', async () => {
      // Prepare: a write the storage refuses in the middle of a batch.
      reader.exec(
        `CREATE TRIGGER refuse BEFORE INSERT ON state_items WHEN NEW.key = 'refused' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`,
      );
      const batch = batched.beginBatch();
      await batched.put('written-first', { n: 1 });

      // Act
      const refused = await batched.put('refused', { n: 2 }).catch((error: Error) => error.message);
      const commit = (() => {
        try {
          batch.commit();
          return 'committed';
        } catch (error) {
          return (error as Error).message;
        }
      })();
      const next = batched.beginBatch();
      await batched.put('next-batch', { n: 3 });
      next.commit();

      // Assess
      expect(refused).toMatch(/disk I\/O error/);
      expect(commit).toMatch(/state writes of this batch were lost/);
      expect(committed()).toEqual(['next-batch']);
    });

    it('should commit nothing itself on a connection it shares with the queue: every write is committed as made', async () => {
      // Prepare
      const queue = new SqliteQueue({ path: join(dir, 'relay.db') });
      const shared = new SqliteStateStore(queue.database);
      const other = new DatabaseSync(join(dir, 'relay.db'));
      const batch = shared.beginBatch();

      // Act
      await shared.put('k', { v: 1 });
      const seen = other.prepare('SELECT count(*) AS n FROM state_items').get() as { n: number };
      batch.commit();

      // Assess
      expect(seen.n).toBe(1);
      other.close();
      queue.close();
    });
  });

  describe('Sharing a database', () => {
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'sqlite-state-'));
    });

    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('should live beside the queue in one connection and leave it open', async () => {
      // Prepare
      const queue = new SqliteQueue({ path: join(dir, 'relay.db') });
      queue.createQueue('sink', { visibilityTimeoutSeconds: 30 });
      const shared = new SqliteStateStore(queue.database);

      // Act
      await shared.put('k', { v: 1 });
      shared.close();
      queue.send('sink', [{ id: '1', body: 'b', groupId: 'g', deduplicationId: 'd' }]);

      // Assess
      expect(await shared.get('k')).toEqual({ v: 1 });
      expect(queue.depth('sink').visible).toBe(1);
      queue.close();
    });

    it('should let two connections to one file compare-and-set without losing a write', async () => {
      // Prepare: two stores as two processes would open the file.
      const path = join(dir, 'state.db');
      const one = new SqliteStateStore(path);
      const two = new SqliteStateStore(path);
      await one.putIfVersion('storm#ops', { n: 0 }, undefined);
      const seenByOne = await one.getVersioned('storm#ops');
      const seenByTwo = await two.getVersioned('storm#ops');

      // Act
      const first = await two.putIfVersion('storm#ops', { n: 1, by: 'two' }, seenByTwo?.version);
      const second = await one.putIfVersion('storm#ops', { n: 1, by: 'one' }, seenByOne?.version);

      // Assess
      expect([first, second]).toEqual([true, false]);
      expect(await one.get('storm#ops')).toEqual({ n: 1, by: 'two' });
      one.close();
      two.close();
    });

    it('should add the version column to a state.db made before it existed', async () => {
      // Prepare
      const path = join(dir, 'state.db');
      const old = new DatabaseSync(path);
      old.exec(
        'CREATE TABLE state_items (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID',
      );
      old.prepare('INSERT INTO state_items (key, value, expires_at) VALUES (?, ?, NULL)').run('k', '{"v":1}');
      old.close();

      // Act
      const upgraded = new SqliteStateStore(path);

      // Assess
      expect(await upgraded.getVersioned('k')).toEqual({ value: { v: 1 }, version: 0 });
      expect(await upgraded.putIfVersion('k', { v: 2 }, 0)).toBe(true);
      upgraded.close();
    });

    it('should keep items across a reopen of the file', async () => {
      // Prepare
      const path = join(dir, 'state.db');
      const writer = new SqliteStateStore(path);
      await writer.put('k', { v: 1 });
      writer.close();

      // Act
      const reader = new SqliteStateStore(new DatabaseSync(path));
      const value = await reader.get('k');
      reader.database.close();

      // Assess
      expect(value).toEqual({ v: 1 });
    });
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';

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

/**
 * The state store for the local runtime: one table in a node:sqlite database, which may be the
 * same file (and the same connection) as the embedded queue.
 *
 * A write is committed as it is made (a resolved write is on disk), except inside a batch
 * (`beginBatch`): the local worker opens one around each invocation of a record handler, so the
 * writes of a delivered batch are one transaction, committed before the batch's messages are
 * deleted from the queue. A kill -9 in the middle of a batch loses its state writes and leaves
 * its messages on the queue: they are received again, as after a function that crashed on AWS
 * between a vendor call and its DynamoDB write (the record handler's crash windows).
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { StateStore, Versioned } from './store.ts';

export interface SqliteStateStoreOptions {
  /** Epoch ms; inject to test expiry. */
  now?: () => number;
}

/** The writes of one delivered batch (see SqliteStateStore.beginBatch). */
export interface StateBatch {
  /**
   * Commits every write made since the batch began (with whatever other batches wrote so far).
   * Throws when any of them was lost: this commit or an earlier one failed, and the storage
   * rolled the writes back.
   */
  commit(): void;
}

/** How often (in store-clock ms) expired items are deleted, piggybacking on writes. */
const SWEEP_INTERVAL_MS = 60_000;

export class SqliteStateStore implements StateStore {
  readonly database: DatabaseSync;
  private readonly ownsDatabase: boolean;
  private readonly now: () => number;
  private nextSweepAt = 0;
  /** Batches begun and not committed: while any is, writes go into one open transaction. */
  private openBatches = 0;
  /** Commits (or writes inside a batch) that failed: a batch that saw this change lost writes. */
  private lostCommits = 0;
  private readonly stmt: Record<
    'get' | 'getVersioned' | 'put' | 'putIfAbsent' | 'putIfVersion' | 'delete' | 'sweep',
    StatementSync
  >;

  /** `source`: a path (':memory:' allowed) to open, or an open database to share (not closed by `close`). */
  constructor(source: DatabaseSync | string, options: SqliteStateStoreOptions = {}) {
    if (typeof source === 'string') {
      // WAL + synchronous=NORMAL survives a kill -9 of the process; busy_timeout lets another
      // process share the file. A 16 MiB page cache (2 MiB by default) keeps the pages a write
      // walks in memory once the store holds a few thousand groups, instead of reading them back.
      this.database = new DatabaseSync(source, { timeout: 5_000 });
      this.database.exec('PRAGMA journal_mode = WAL');
      this.database.exec('PRAGMA synchronous = NORMAL');
      this.database.exec('PRAGMA busy_timeout = 5000');
      this.database.exec('PRAGMA cache_size = -16384');
      this.ownsDatabase = true;
    } else {
      this.database = source;
      this.ownsDatabase = false;
    }
    this.now = options.now ?? Date.now;
    this.database.exec(`
      CREATE TABLE IF NOT EXISTS state_items (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS state_items_expires ON state_items (expires_at) WHERE expires_at IS NOT NULL;
    `);
    // The compare-and-set version, added to a state.db made before it existed.
    const columns = this.database.prepare('PRAGMA table_info(state_items)').all() as { name: string }[];
    if (!columns.some((column) => column.name === 'version'))
      this.database.exec('ALTER TABLE state_items ADD COLUMN version INTEGER NOT NULL DEFAULT 0');
    this.stmt = {
      get: this.database.prepare(
        'SELECT value FROM state_items WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
      ),
      getVersioned: this.database.prepare(
        'SELECT value, version FROM state_items WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
      ),
      put: this.database.prepare(
        `INSERT INTO state_items (key, value, expires_at, version) VALUES (?, ?, ?, 0)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, version = 0`,
      ),
      // Absent, or expired and not swept yet: either way there is no item to conflict with.
      putIfAbsent: this.database.prepare(
        `INSERT INTO state_items (key, value, expires_at, version) VALUES ($key, $value, $expiresAt, 1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, version = 1
         WHERE state_items.expires_at IS NOT NULL AND state_items.expires_at <= $now`,
      ),
      putIfVersion: this.database.prepare(
        `UPDATE state_items SET value = $value, expires_at = $expiresAt, version = $version + 1
         WHERE key = $key AND version = $version AND (expires_at IS NULL OR expires_at > $now)`,
      ),
      delete: this.database.prepare('DELETE FROM state_items WHERE key = ?'),
      sweep: this.database.prepare(
        'DELETE FROM state_items WHERE expires_at IS NOT NULL AND expires_at <= ?',
      ),
    };
  }

  async get<T extends object = Record<string, unknown>>(key: string): Promise<T | undefined> {
    const row = this.stmt.get.get(key, this.now()) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async put(key: string, value: object, options: { ttlSeconds?: number } = {}): Promise<void> {
    const now = this.now();
    const json = JSON.stringify(value);
    this.write(() => {
      this.stmt.put.run(key, json, this.expiresAt(now, options.ttlSeconds));
      this.sweepIfDue(now);
    });
  }

  async getVersioned<T extends object = Record<string, unknown>>(
    key: string,
  ): Promise<Versioned<T> | undefined> {
    const row = this.stmt.getVersioned.get(key, this.now()) as { value: string; version: number } | undefined;
    return row ? { value: JSON.parse(row.value) as T, version: Number(row.version) } : undefined;
  }

  /** One statement per write, so the check and the write are one step even with other processes on the file. */
  async putIfVersion(
    key: string,
    value: object,
    expectedVersion: number | undefined,
    options: { ttlSeconds?: number } = {},
  ): Promise<boolean> {
    const now = this.now();
    const parameters = {
      key,
      value: JSON.stringify(value),
      expiresAt: this.expiresAt(now, options.ttlSeconds),
      now,
    };
    return this.write(() => {
      const { changes } =
        expectedVersion === undefined
          ? this.stmt.putIfAbsent.run(parameters)
          : this.stmt.putIfVersion.run({ ...parameters, version: expectedVersion });
      this.sweepIfDue(now);
      return Number(changes) === 1;
    });
  }

  /**
   * Begins a batch: until it is committed, writes are not committed one by one but together
   * (one transaction for all open batches; the first batch to commit commits what the others
   * wrote so far too). Only a store that opened its own database batches; on a shared connection
   * (the queue's) a batch commits nothing, and every write is committed as it is made.
   */
  beginBatch(): StateBatch {
    if (!this.ownsDatabase) return { commit: () => undefined };
    this.openBatches++;
    const lostBefore = this.lostCommits;
    let done = false;
    return {
      commit: () => {
        if (done) return;
        done = true;
        this.openBatches--;
        this.commitOpen();
        if (this.lostCommits !== lostBefore) {
          throw new Error('state writes of this batch were lost: the storage refused a commit');
        }
      },
    };
  }

  /** Runs a write: as its own transaction, or inside the open one while a batch is open. */
  private write<T>(run: () => T): T {
    if (this.openBatches === 0 || !this.database.isOpen) return run();
    if (!this.database.isTransaction) this.database.exec('BEGIN IMMEDIATE');
    try {
      return run();
    } catch (error) {
      // The storage may have rolled the transaction back already; either way its writes are gone.
      if (this.database.isTransaction) this.database.exec('ROLLBACK');
      this.lostCommits++;
      throw error;
    }
  }

  private commitOpen(): void {
    if (!this.database.isOpen || !this.database.isTransaction) return;
    try {
      this.database.exec('COMMIT');
    } catch (error) {
      if (this.database.isTransaction) this.database.exec('ROLLBACK');
      this.lostCommits++;
      throw error;
    }
  }

  private expiresAt(now: number, ttlSeconds: number | undefined): number | null {
    return ttlSeconds !== undefined ? now + Math.round(ttlSeconds * 1000) : null;
  }

  private sweepIfDue(now: number): void {
    if (now < this.nextSweepAt) return;
    this.stmt.sweep.run(now);
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
  }

  async delete(key: string): Promise<void> {
    this.write(() => this.stmt.delete.run(key));
  }

  /** Closes the database if this store opened it, committing what an unfinished batch wrote. */
  close(): void {
    if (!this.ownsDatabase || !this.database.isOpen) return;
    try {
      this.commitOpen();
    } finally {
      this.database.close();
    }
  }
}

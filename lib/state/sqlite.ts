/**
 * The state store for the local runtime: one table in a node:sqlite database, which may be the
 * same file (and the same connection) as the embedded queue.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { StateStore, Versioned } from './store.ts';

export interface SqliteStateStoreOptions {
  /** Epoch ms; inject to test expiry. */
  now?: () => number;
}

/** How often (in store-clock ms) expired items are deleted, piggybacking on writes. */
const SWEEP_INTERVAL_MS = 60_000;

export class SqliteStateStore implements StateStore {
  readonly database: DatabaseSync;
  private readonly ownsDatabase: boolean;
  private readonly now: () => number;
  private nextSweepAt = 0;
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
    this.stmt.put.run(key, JSON.stringify(value), this.expiresAt(now, options.ttlSeconds));
    this.sweepIfDue(now);
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
    const { changes } =
      expectedVersion === undefined
        ? this.stmt.putIfAbsent.run(parameters)
        : this.stmt.putIfVersion.run({ ...parameters, version: expectedVersion });
    this.sweepIfDue(now);
    return Number(changes) === 1;
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
    this.stmt.delete.run(key);
  }

  /** Closes the database if this store opened it. */
  close(): void {
    if (this.ownsDatabase && this.database.isOpen) this.database.close();
  }
}

/**
 * The state store for the local runtime: one table in a node:sqlite database, which may be the
 * same file (and the same connection) as the embedded queue.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { StateStore } from './store.ts';

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
  private readonly stmt: Record<'get' | 'put' | 'delete' | 'sweep', StatementSync>;

  /** `source`: a path (':memory:' allowed) to open, or an open database to share (not closed by `close`). */
  constructor(source: DatabaseSync | string, options: SqliteStateStoreOptions = {}) {
    if (typeof source === 'string') {
      // WAL + synchronous=NORMAL survives a kill -9 of the process; busy_timeout lets another
      // process share the file.
      this.database = new DatabaseSync(source, { timeout: 5_000 });
      this.database.exec('PRAGMA journal_mode = WAL');
      this.database.exec('PRAGMA synchronous = NORMAL');
      this.database.exec('PRAGMA busy_timeout = 5000');
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
    this.stmt = {
      get: this.database.prepare(
        'SELECT value FROM state_items WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
      ),
      put: this.database.prepare(
        `INSERT INTO state_items (key, value, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
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
    const expiresAt = options.ttlSeconds !== undefined ? now + Math.round(options.ttlSeconds * 1000) : null;
    this.stmt.put.run(key, JSON.stringify(value), expiresAt);
    if (now >= this.nextSweepAt) {
      this.stmt.sweep.run(now);
      this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    }
  }

  async delete(key: string): Promise<void> {
    this.stmt.delete.run(key);
  }

  /** Closes the database if this store opened it. */
  close(): void {
    if (this.ownsDatabase && this.database.isOpen) this.database.close();
  }
}

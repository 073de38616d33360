import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { dataFileError, SQLITE_CORRUPT } from './data-files.ts';

/** The lock's file in the data directory: a small SQLite database that only this lock uses. */
export const LOCK_FILE = 'relay.lock';

// SQLite's result codes (https://www.sqlite.org/rescode.html) that the lock tells apart.
const SQLITE_BUSY = 5;
const SQLITE_NOTADB = 26;

/** Another relay process already uses this data directory. */
export class DataDirLockedError extends Error {
  constructor(dataDir: string) {
    const path = join(dataDir, LOCK_FILE);
    super(
      `${dataDir} is in use by another running relay (it holds ${path}; \`fuser ${path}\` names it): stop it, or set RELAY_DATA_DIR to another directory`,
    );
    this.name = 'DataDirLockedError';
  }
}

/**
 * One relay per data directory: the embedded queue's in-flight messages are released at start,
 * which is only right if no other process is delivering them.
 *
 * The lock is held by the operating system, not written down: a connection to `relay.lock` in
 * SQLite's exclusive locking mode takes an exclusive lock on the file with its first write and
 * keeps it until the connection closes (https://www.sqlite.org/pragma.html#pragma_locking_mode).
 * The kernel drops it when the process ends, however it ends (kill -9 included), so nothing a
 * dead process left behind, and no pid that now belongs to another process (after a reboot, in
 * a container) or to a zombie, can block a start. SQLite also refuses a second connection in the
 * same process, so two relays in one test process are refused as well.
 *
 * Any other failure (a full disk, a directory the relay's user cannot write) is a DataFileError
 * that names relay.lock and what to do, not SQLite's bare words.
 *
 * Returns the release function; call it once, after the queue and state databases are closed.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  let db: DatabaseSync;
  try {
    try {
      db = lock(path);
    } catch (error) {
      const code = (error as { errcode?: number }).errcode;
      if (code === SQLITE_BUSY) throw new DataDirLockedError(dataDir);
      if (code !== SQLITE_NOTADB && code !== SQLITE_CORRUPT) throw error;
      // Not a database (truncated, or a stray file by that name): it holds nothing, so start afresh.
      rmSync(path, { force: true });
      db = lock(path);
    }
  } catch (error) {
    if (error instanceof DataDirLockedError) throw error;
    throw dataFileError('lock', path, error);
  }
  // The pid file of earlier versions was the lock; it means nothing now and would only mislead.
  rmSync(join(dataDir, 'relay.pid'), { force: true });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    db.close();
  };
}

function lock(path: string): DatabaseSync {
  // timeout 0: a held lock is an answer, not something to wait for.
  const db = new DatabaseSync(path, { timeout: 0 });
  try {
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    // The write takes the exclusive lock, which exclusive mode then keeps after the commit.
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, started_at TEXT NOT NULL)');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('DELETE FROM holder');
    db.prepare('INSERT INTO holder (pid, started_at) VALUES (?, ?)').run(
      process.pid,
      new Date().toISOString(),
    );
    db.exec('COMMIT');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

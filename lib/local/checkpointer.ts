/**
 * Checkpoints the local runtime's databases on a thread of their own. In WAL mode a commit only
 * appends to the -wal file; a checkpoint copies those pages into the database file and fsyncs
 * it. Left to SQLite, a checkpoint runs inside whichever commit crosses wal_autocheckpoint, on
 * the event loop: copying 16 MiB stalled every request in flight for tens of milliseconds (most
 * of the local runtime's p99) and cost as much CPU again as the commits themselves.
 *
 * Here a worker thread with its own connection runs a PASSIVE checkpoint (it never blocks a
 * writer) every `intervalMs`, and the event loop's connections stop checkpointing. Each pass
 * copies what was committed since the last one, with two fsyncs; passes back to back would
 * fsync for every few commits. When the WAL passes `maxWalPages` anyway (a long burst of
 * commits leaves no gap for the WAL to start over), the thread runs one RESTART checkpoint: it
 * waits for the writer to finish, copies what the passive ones left (one interval's commits),
 * and lets the next commit start the WAL over.
 *
 * Nothing of what a commit guarantees changes: commits are as durable as before (WAL,
 * synchronous=NORMAL); only who copies them into the database file, and when, does.
 */

import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';

/** The checkpoint a connection runs itself without the thread (openSqliteDatabase's setting). */
const FALLBACK_AUTOCHECKPOINT_PAGES = 4_000;

export interface CheckpointerOptions {
  /** The time between passes (default 100 ms). */
  intervalMs?: number;
  /** WAL pages past which a RESTART checkpoint bounds the file (default 16,384: 64 MiB of 4 KiB pages). */
  maxWalPages?: number;
  /** Told what each pass that copied something found, per path: pages in the WAL, pages copied (for tests). */
  onPass?: (files: { log: number; checkpointed: number }[]) => void;
}

export interface Checkpointer {
  /** Runs a last pass and stops the thread; the connections checkpoint on their own again. */
  stop(): Promise<void>;
}

// Plain JavaScript, run with `eval`: nothing to resolve or strip, wherever this module is loaded from.
const THREAD = `
const { DatabaseSync } = require('node:sqlite');
const { workerData, parentPort } = require('node:worker_threads');
const { paths, intervalMs, maxWalPages, report } = workerData;
const files = paths.map((path) => {
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA wal_autocheckpoint = 0');
  return {
    db,
    passive: db.prepare('PRAGMA wal_checkpoint(PASSIVE)'),
    restart: db.prepare('PRAGMA wal_checkpoint(RESTART)'),
    copied: 0,
  };
});
let stopping = false;
let timer;
function pass() {
  let copied = false;
  const results = [];
  for (const file of files) {
    let result = file.passive.get();
    if (result.log >= maxWalPages) result = file.restart.get();
    // checkpointed counts from the start of the WAL, which starts over after a full checkpoint.
    if (result.checkpointed !== file.copied) copied = true;
    file.copied = result.checkpointed;
    results.push({ log: result.log, checkpointed: result.checkpointed });
  }
  if (report && copied) parentPort.postMessage({ pass: results });
}
function loop() {
  if (stopping) return;
  try {
    pass();
  } catch (error) {
    parentPort.postMessage({ failed: String(error && error.message || error) });
    return;
  }
  timer = setTimeout(loop, intervalMs);
}
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  stopping = true;
  clearTimeout(timer);
  // One last pass, so what was committed before stop() is in the database files.
  try {
    pass();
  } catch {}
  for (const file of files) file.db.close();
  parentPort.close();
});
loop();
`;

/**
 * Starts the thread for the databases at `paths`, and turns off checkpointing on `connections`
 * (the event loop's connections to those files) while it runs. If the thread fails, the
 * connections checkpoint on their own again, and `onFailure` is told why.
 */
export function startCheckpointer(
  paths: string[],
  connections: DatabaseSync[],
  options: CheckpointerOptions & { onFailure?: (reason: string) => void } = {},
): Checkpointer {
  const worker = new Worker(THREAD, {
    eval: true,
    workerData: {
      paths,
      intervalMs: options.intervalMs ?? 100,
      maxWalPages: options.maxWalPages ?? 16_384,
      report: options.onPass !== undefined,
    },
  });
  worker.unref();
  const setAutocheckpoint = (pages: number) => {
    for (const db of connections) if (db.isOpen) db.exec(`PRAGMA wal_autocheckpoint = ${pages}`);
  };
  setAutocheckpoint(0);
  let stopped = false;
  const fallBack = (reason: string) => {
    if (stopped) return;
    stopped = true;
    setAutocheckpoint(FALLBACK_AUTOCHECKPOINT_PAGES);
    options.onFailure?.(reason);
  };
  worker.on('message', (message: { failed?: string; pass?: { log: number; checkpointed: number }[] }) => {
    if (message.failed) fallBack(message.failed);
    if (message.pass) options.onPass?.(message.pass);
  });
  worker.on('error', (error) => fallBack(error.message));
  const exited = new Promise<void>((done) => worker.once('exit', () => done()));
  return {
    stop: async () => {
      if (!stopped) {
        stopped = true;
        setAutocheckpoint(FALLBACK_AUTOCHECKPOINT_PAGES);
      }
      // Held until it has exited: its last pass is worth waiting for.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}

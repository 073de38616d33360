import { dirname } from 'node:path';
import { describeStorageError } from './worker.ts';

/**
 * The data directory, or one of its files, cannot be used at start. The message names the file
 * and what to do: it goes to the operator's terminal, never to an HTTP caller.
 */
export class DataFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataFileError';
  }
}

/** The data directory itself, or one of the files the relay keeps in it. */
export type DataFile = 'queue' | 'state' | 'lock' | 'directory';

// SQLite's primary result codes (https://www.sqlite.org/rescode.html) that call for different advice.
export const SQLITE_CORRUPT = 11;
const SQLITE_PERM = 3;
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_NOMEM = 7;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

/** What kind of storage failure an error is, whoever raised it (node:sqlite, or node:fs for the directory). */
export type StorageFailureKind =
  | 'disk full'
  | 'database corrupt'
  | 'not writable'
  | 'I/O error'
  | 'database busy'
  | 'out of memory'
  | 'database error';

export function storageFailureKind(error: unknown): StorageFailureKind {
  const { errcode, code } = (error ?? {}) as { errcode?: unknown; code?: unknown };
  if (typeof errcode === 'number') {
    // Extended codes carry the primary code in their low byte (SQLITE_IOERR_WRITE is 778).
    switch (errcode & 0xff) {
      case SQLITE_FULL:
        return 'disk full';
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB:
        return 'database corrupt';
      case SQLITE_READONLY:
      case SQLITE_CANTOPEN:
      case SQLITE_PERM:
        return 'not writable';
      case SQLITE_IOERR:
        return 'I/O error';
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return 'database busy';
      case SQLITE_NOMEM:
        return 'out of memory';
    }
  }
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'disk full';
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
    case 'ENOTDIR':
    case 'EEXIST':
    case 'EISDIR':
      return 'not writable';
    case 'EIO':
      return 'I/O error';
  }
  return 'database error';
}

/**
 * A storage failure in a few words and SQLite's (or the system's) own, never a file path:
 * `disk full: database or disk is full (SQLite error 13)`. What /healthz and ingest's 503 say.
 */
export function describeStorageFailure(error: unknown): string {
  return `${storageFailureKind(error)}: ${describeStorageError(error)}`;
}

const NAMES: Record<DataFile, string> = {
  queue: 'the queue database',
  state: 'the state database',
  lock: 'the lock file',
  directory: 'the data directory',
};

const ELSEWHERE = 'or set RELAY_DATA_DIR to a directory the relay can write';

/**
 * The start-up error for `path` (one of the data directory's files, or the directory): the file,
 * what is wrong in the operator's terms, SQLite's (or the system's) words, and what to do.
 */
export function dataFileError(what: DataFile, path: string, error: unknown): DataFileError {
  const said = describeStorageError(error);
  const thing = `${NAMES[what]} ${path}`;
  const directory = what === 'directory' ? path : dirname(path);
  let advice: string;
  switch (storageFailureKind(error)) {
    case 'database corrupt':
      advice =
        what === 'queue' || what === 'state'
          ? `${thing} is corrupt (${said}): move it aside or restore it from a backup; the relay will create a new one (${kept(what)})`
          : `${thing} is corrupt (${said}): remove it (it holds nothing) and start the relay again`;
      break;
    case 'disk full':
      advice = `the disk holding ${thing} is full (${said}): free some space (\`df -h ${directory}\`) and start the relay again, ${ELSEWHERE} on another disk`;
      break;
    case 'not writable':
      advice =
        what === 'directory'
          ? `cannot create or use ${thing} (${said}): create it as a directory the relay's user can read and write, ${ELSEWHERE}`
          : `cannot open ${thing} for writing (${said}): check that ${directory} exists and the relay's user can read and write it and the files in it, ${ELSEWHERE}`;
      break;
    case 'I/O error':
      advice = `${thing} could not be read or written (${said}): check the disk and the file system (\`dmesg\`), ${ELSEWHERE}`;
      break;
    case 'database busy':
      advice = `${thing} is locked by another program (${said}): stop whatever else opened it (\`fuser ${path}\` names it) and start the relay again`;
      break;
    default:
      advice = `cannot use ${thing} (${error instanceof Error ? error.message : String(error)}): check the file and the disk it is on, ${ELSEWHERE}`;
  }
  return new DataFileError(advice, { cause: error });
}

function kept(what: 'queue' | 'state'): string {
  return what === 'queue'
    ? 'the messages queued and dead-lettered in it stay in the moved file'
    : 'what it remembers (delivered notifications, message ids) stays in the moved file, so some notifications may be delivered again';
}

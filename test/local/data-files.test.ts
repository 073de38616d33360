import { describe, expect, it } from 'vitest';
import { DataFileError, dataFileError, describeStorageFailure } from '../../lib/local/data-files.ts';

/** An error as node:sqlite throws it. */
function sqliteError(errcode: number, errstr: string): Error {
  return Object.assign(new Error(errstr), { code: 'ERR_SQLITE_ERROR', errcode, errstr });
}

/** An error as node:fs throws it (the path is in its message, never in what we print of it). */
function systemError(code: string): Error {
  return Object.assign(new Error(`${code}: failed, mkdir '/secret/place'`), { code });
}

describe('Function: dataFileError', () => {
  it.each([
    [
      'a full disk under the lock',
      'lock',
      '/var/lib/relay/relay.lock',
      sqliteError(13, 'database or disk is full'),
      'the disk holding the lock file /var/lib/relay/relay.lock is full (database or disk is full (SQLite error 13)): free some space (`df -h /var/lib/relay`) and start the relay again, or set RELAY_DATA_DIR to a directory the relay can write on another disk',
    ],
    [
      'a full disk when creating the directory',
      'directory',
      '/var/lib/relay',
      systemError('ENOSPC'),
      'the disk holding the data directory /var/lib/relay is full (system error ENOSPC): free some space (`df -h /var/lib/relay`) and start the relay again, or set RELAY_DATA_DIR to a directory the relay can write on another disk',
    ],
    [
      'a directory the user may not write',
      'directory',
      '/var/lib/relay',
      systemError('EACCES'),
      "cannot create or use the data directory /var/lib/relay (system error EACCES): create it as a directory the relay's user can read and write, or set RELAY_DATA_DIR to a directory the relay can write",
    ],
    [
      'a read-only state database',
      'state',
      '/var/lib/relay/state.db',
      sqliteError(8, 'attempt to write a readonly database'),
      "cannot open the state database /var/lib/relay/state.db for writing (attempt to write a readonly database (SQLite error 8)): check that /var/lib/relay exists and the relay's user can read and write it and the files in it, or set RELAY_DATA_DIR to a directory the relay can write",
    ],
    [
      'a write error (an extended code)',
      'queue',
      '/var/lib/relay/relay.db',
      sqliteError(778, 'disk I/O error'),
      'the queue database /var/lib/relay/relay.db could not be read or written (disk I/O error (SQLite error 778)): check the disk and the file system (`dmesg`), or set RELAY_DATA_DIR to a directory the relay can write',
    ],
    [
      'a database another program holds',
      'queue',
      '/var/lib/relay/relay.db',
      sqliteError(5, 'database is locked'),
      'the queue database /var/lib/relay/relay.db is locked by another program (database is locked (SQLite error 5)): stop whatever else opened it (`fuser /var/lib/relay/relay.db` names it) and start the relay again',
    ],
    [
      'anything else',
      'state',
      '/var/lib/relay/state.db',
      sqliteError(1, 'SQL logic error'),
      'cannot use the state database /var/lib/relay/state.db (SQL logic error): check the file and the disk it is on, or set RELAY_DATA_DIR to a directory the relay can write',
    ],
  ] as const)('should name the file and what to do for %s', (_case, what, path, error, message) => {
    // Act
    const result = dataFileError(what, path, error);

    // Assess
    expect(result).toBeInstanceOf(DataFileError);
    expect(result.message).toBe(message);
    expect(result.cause).toBe(error);
  });
});

describe('Function: describeStorageFailure', () => {
  it.each([
    [sqliteError(13, 'database or disk is full'), 'disk full: database or disk is full (SQLite error 13)'],
    [
      sqliteError(11, 'database disk image is malformed'),
      'database corrupt: database disk image is malformed (SQLite error 11)',
    ],
    [systemError('EIO'), 'I/O error: system error EIO'],
    [new TypeError('x is not a function'), 'database error: TypeError'],
  ])('should say what kind of failure %s is, without a path', (error, expected) => {
    // Act
    const described = describeStorageFailure(error);

    // Assess
    expect(described).toBe(expected);
  });
});

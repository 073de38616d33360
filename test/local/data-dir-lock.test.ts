import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock, DataDirLockedError, LOCK_FILE } from '../../lib/local/data-dir-lock.ts';

describe('Function: acquireDataDirLock', () => {
  let dir: string;
  const releases: (() => void)[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-lock-'));
  });

  afterEach(() => {
    for (const release of releases.splice(0)) release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should refuse a second holder while the first holds the lock, naming the directory and what to do', () => {
    // Prepare
    releases.push(acquireDataDirLock(dir));

    // Act
    const act = () => releases.push(acquireDataDirLock(dir));

    // Assess
    expect(act).toThrow(DataDirLockedError);
    expect(act).toThrow(`${dir} is in use by another running relay`);
    expect(act).toThrow(/stop it, or set RELAY_DATA_DIR to another directory$/);
  });

  it('should be taken again once released', () => {
    // Prepare
    acquireDataDirLock(dir)();

    // Act
    const release = acquireDataDirLock(dir);
    releases.push(release);

    // Assess
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
  });

  it('should not be blocked by a relay.pid naming a live process, and should remove it', () => {
    // Prepare: the parent of this test process is alive and is not a relay.
    writeFileSync(join(dir, 'relay.pid'), String(process.ppid));

    // Act
    releases.push(acquireDataDirLock(dir));

    // Assess
    expect(existsSync(join(dir, 'relay.pid'))).toBe(false);
  });

  it('should replace a lock file that is not a database', () => {
    // Prepare
    writeFileSync(join(dir, LOCK_FILE), 'not a database, just a stray file of that name');

    // Act
    releases.push(acquireDataDirLock(dir));

    // Assess
    expect(() => acquireDataDirLock(dir)).toThrow(DataDirLockedError);
  });

  it('should ignore a second call of the release function', () => {
    // Prepare
    const release = acquireDataDirLock(dir);
    release();

    // Act
    const act = () => release();

    // Assess
    expect(act).not.toThrow();
  });
});

import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RelayConfig } from '../../lib/config/types.ts';
import { DataFileError, type RelayOptions, startRelay } from '../../lib/local/runtime.ts';
import { LocalSecrets } from '../../lib/secrets.ts';
import { runScript } from '../support/run-script.ts';

const CONFIG: RelayConfig = { ingest: {}, destinations: [{ name: 'stdout', sink: 'console' }] };

/**
 * A damaged data directory at start: the relay refuses to run, and says which file, what is
 * wrong with it and what to do, instead of a bare SQLite message (or a busy loop later).
 */
describe('Local runtime: damaged data files at start', () => {
  let dir: string;
  let dataDir: string;

  const options = (): RelayOptions => ({
    config: CONFIG,
    secrets: new LocalSecrets({ env: {} }),
    dataDir,
    port: 0,
  });

  /** Starts and closes a relay, so dataDir holds real databases, with 20 messages of 3 KB queued. */
  async function populate(): Promise<void> {
    const relay = await startRelay(options());
    for (const batch of [0, 10]) {
      relay.queue.send(
        'webhook',
        Array.from({ length: 10 }, (_, i) => ({
          id: `e${batch + i}`,
          body: 'x'.repeat(3_000),
          groupId: `g${batch + i}`,
          deduplicationId: `d${batch + i}`,
        })),
      );
    }
    await relay.close();
  }

  /** Overwrites one page (4 KiB) in the middle of a database file with garbage. */
  function corruptPage(file: string, page: number): void {
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(4_096, 0xa5), 0, 4_096, 4_096 * page);
    closeSync(fd);
  }

  async function startError(): Promise<Error> {
    try {
      const relay = await startRelay(options());
      await relay.close();
    } catch (error) {
      return error as Error;
    }
    throw new Error('expected the relay to refuse to start');
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-data-files-'));
    dataDir = join(dir, 'data');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('should name a relay.db that is not a database and say what to do', async () => {
    // Prepare
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'relay.db'), 'x'.repeat(8_192));

    // Act
    const error = await startError();

    // Assess
    expect(error).toBeInstanceOf(DataFileError);
    expect(error.message).toBe(
      `the queue database ${join(dataDir, 'relay.db')} is corrupt (file is not a database (SQLite error 26)): move it aside or restore it from a backup; the relay will create a new one (the messages queued and dead-lettered in it stay in the moved file)`,
    );
  });

  it('should find a corrupt page inside relay.db at start', async () => {
    // Prepare
    await populate();
    corruptPage(join(dataDir, 'relay.db'), 3);

    // Act
    const error = await startError();

    // Assess
    expect(error).toBeInstanceOf(DataFileError);
    expect(error.message).toMatch(
      new RegExp(
        `^the queue database ${join(dataDir, 'relay.db')} is corrupt \\(.*page.*\\): move it aside or restore it`,
      ),
    );
    expect(error.message).not.toContain('\n');
  });

  it('should name a corrupt state.db', async () => {
    // Prepare
    await populate();
    await writeFile(join(dataDir, 'state.db'), 'x'.repeat(8_192));

    // Act
    const error = await startError();

    // Assess
    expect(error).toBeInstanceOf(DataFileError);
    expect(error.message).toMatch(
      new RegExp(`^the state database ${join(dataDir, 'state.db')} is corrupt \\(file is not a database`),
    );
  });

  it('should release the data-dir lock when it refuses, so the next start (after the fix) runs', async () => {
    // Prepare
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'relay.db'), 'x'.repeat(8_192));
    await startError();
    await rm(join(dataDir, 'relay.db'));

    // Act
    const relay = await startRelay(options());
    await relay.close();

    // Assess
    expect(relay.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('should exit 1 from npm start with the file and the remedy on stderr', async () => {
    // Prepare
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'relay.db'), 'x'.repeat(8_192));

    // Act
    const result = await runScript('lib/local/main.ts', [], {
      cwd: dir,
      env: { RELAY_DATA_DIR: dataDir, PORT: '0' },
    });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the queue database ${join(dataDir, 'relay.db')} is corrupt`);
    expect(result.stderr).toContain('move it aside or restore it from a backup');
  });

  it('should name the lock file and what to do when it cannot be opened for writing, not SQLite alone', async () => {
    // Prepare: a directory where the lock file goes (what an unwritable directory gives a non-root user).
    await mkdir(join(dataDir, 'relay.lock'), { recursive: true });

    // Act
    const error = await startError();

    // Assess
    expect(error).toBeInstanceOf(DataFileError);
    expect(error.message).toBe(
      `cannot open the lock file ${join(dataDir, 'relay.lock')} for writing (unable to open database file (SQLite error 14)): check that ${dataDir} exists and the relay's user can read and write it and the files in it, or set RELAY_DATA_DIR to a directory the relay can write`,
    );
  });

  it('should name a data directory that cannot be created and what to do', async () => {
    // Prepare: a file where a directory of the path should be.
    await writeFile(join(dir, 'file'), 'not a directory');
    dataDir = join(dir, 'file', 'data');

    // Act
    const error = await startError();

    // Assess
    expect(error).toBeInstanceOf(DataFileError);
    expect(error.message).toBe(
      `cannot create or use the data directory ${dataDir} (system error ENOTDIR): create it as a directory the relay's user can read and write, or set RELAY_DATA_DIR to a directory the relay can write`,
    );
  });

  it('should exit 1 from npm start naming the lock file and the fix when the directory is not writable', async () => {
    // Prepare
    await mkdir(join(dataDir, 'relay.lock'), { recursive: true });

    // Act
    const result = await runScript('lib/local/main.ts', [], {
      cwd: dir,
      env: { RELAY_DATA_DIR: dataDir, PORT: '0' },
    });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot open the lock file ${join(dataDir, 'relay.lock')} for writing`);
    expect(result.stderr).toContain("the relay's user can read and write it");
  });
});

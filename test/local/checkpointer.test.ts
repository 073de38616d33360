import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { DatabaseSync as Database } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Checkpointer, startCheckpointer } from '../../lib/local/checkpointer.ts';
import { openSqliteDatabase } from '../../lib/queue/sqlite-queue.ts';

const autocheckpoint = (db: DatabaseSync) =>
  Number(Object.values(db.prepare('PRAGMA wal_autocheckpoint').get() ?? {})[0]);

describe('Function: startCheckpointer', () => {
  let dir: string;
  let db: DatabaseSync;
  let checkpointer: Checkpointer | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'checkpointer-'));
    db = openSqliteDatabase(join(dir, 'relay.db'));
    db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  });

  afterEach(async () => {
    await checkpointer?.stop();
    checkpointer = undefined;
    if (db.isOpen) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should copy what was committed into the database file while the connection does no checkpoint of its own', async () => {
    // Prepare
    let copying: () => void = () => undefined;
    const copiedWhileRunning = new Promise<void>((done) => {
      copying = done;
    });
    checkpointer = startCheckpointer([join(dir, 'relay.db')], [db], {
      onPass: ([file]) => {
        if (file.checkpointed > 0) copying();
      },
    });
    const duringRun = autocheckpoint(db);

    // Act
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    for (let i = 0; i < 200; i++) insert.run('x'.repeat(2_000));
    insert.run('last');
    await copiedWhileRunning;
    await checkpointer.stop();
    const afterStop = autocheckpoint(db);
    // The database file alone, without its -wal: what a checkpoint copied and nothing else.
    mkdirSync(join(dir, 'copy'));
    copyFileSync(join(dir, 'relay.db'), join(dir, 'copy', 'relay.db'));
    const copy = new Database(join(dir, 'copy', 'relay.db'));
    const rows = Number(Object.values(copy.prepare('SELECT count(*) FROM t').get() ?? {})[0]);
    copy.close();

    // Assess
    expect(duringRun).toBe(0);
    expect(afterStop).toBe(4_000);
    expect(rows).toBe(201);
  });

  it('should hand checkpoints back to the connections when the thread cannot open a file', async () => {
    // Prepare
    mkdirSync(join(dir, 'not-a-database'));
    let failed: (reason: string) => void = () => undefined;
    const failure = new Promise<string>((done) => {
      failed = done;
    });

    // Act
    checkpointer = startCheckpointer([join(dir, 'not-a-database')], [db], { onFailure: failed });
    const reason = await failure;

    // Assess
    expect(reason).toMatch(/unable to open/i);
    expect(autocheckpoint(db)).toBe(4_000);
  });
});

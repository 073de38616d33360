import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RelayConfig } from '../../lib/config/types.ts';
import { type Relay, startRelay } from '../../lib/local/runtime.ts';
import { LocalSecrets } from '../../lib/secrets.ts';
import { createLogger } from '../../lib/telemetry.ts';
import { makeNotification, postNotification } from '../support/notifications.ts';

/** What node:sqlite throws when the disk is full. */
function diskFull(): Error {
  return Object.assign(new Error('database or disk is full'), {
    code: 'ERR_SQLITE_ERROR',
    errcode: 13,
    errstr: 'database or disk is full',
  });
}

/**
 * The queue's storage failing under the running relay (a full disk, here injected into the
 * queue the relay runs on): workers back off instead of spinning, /healthz says degraded with
 * the reason and no path, ingest answers 503 so Alertmanager keeps the notification, and all
 * of it returns to normal by itself once storage works again.
 */
describe('Local runtime: storage failures', () => {
  let dir: string;
  let relay: Relay | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-storage-'));
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await relay?.close();
    relay = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function start(
    options: { config?: RelayConfig; secrets?: LocalSecrets; logger?: Logger } = {},
  ): Promise<Relay> {
    relay = await startRelay({
      config: options.config ?? { ingest: {}, destinations: [{ name: 'stdout', sink: 'console' }] },
      secrets: options.secrets ?? new LocalSecrets({ env: {} }),
      dataDir: join(dir, 'data'),
      port: 0,
      storageBackoff: { initialMs: 1, maxMs: 5 },
      ...(options.logger ? { logger: options.logger } : {}),
    });
    return relay;
  }

  /** The relay's logger, silent, with its error and warn lines kept. */
  function recordingLogger() {
    const logger = createLogger('storage-health-test', 'SILENT');
    const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
    for (const level of ['error', 'warn'] as const) {
      vi.spyOn(logger, level).mockImplementation((message: unknown, ...extra: unknown[]) => {
        lines.push({ level, message: String(message), extra: Object.assign({}, ...(extra as object[])) });
      });
    }
    return { logger, lines };
  }

  /** The queue database refuses to grow past its size now: SQLite answers SQLITE_FULL, as on a full disk. */
  function fillDisk(r: Relay): () => void {
    const { page_count: pages } = r.queue.database.prepare('PRAGMA page_count').get() as {
      page_count: number;
    };
    r.queue.database.exec(`PRAGMA max_page_count = ${pages}`);
    return () => r.queue.database.exec('PRAGMA max_page_count = 1073741823');
  }

  async function healthz(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${url}/healthz`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('should answer /healthz 503 degraded with the reason and no path while polling fails, and ok once it works again', async () => {
    // Prepare
    const r = await start();
    const worker = r.workers.get('console');
    if (!worker) throw new Error('no console worker');
    let broken = true;
    const receive = r.queue.receive.bind(r.queue);
    vi.spyOn(r.queue, 'receive').mockImplementation((...args) => {
      if (broken) throw diskFull();
      return receive(...args);
    });
    worker.wake();
    await new Promise((resolve) => worker.once('storageError', resolve));

    // Act
    const during = await healthz(r.url);
    const recovered = new Promise((resolve) => worker.once('storageRecovered', resolve));
    broken = false;
    await recovered;
    const after = await healthz(r.url);

    // Assess
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({
      status: 'degraded',
      reason: expect.stringMatching(
        /^the console queue cannot be read: database or disk is full \(SQLite error 13\); \d+ failed polls, next in \d+ s$/,
      ),
      since: expect.any(String),
    });
    expect(JSON.stringify(during.body)).not.toContain(dir);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ status: 'ok' });
    expect(after.body).not.toHaveProperty('reason');
  });

  it('should answer /healthz 503 when the queue depths cannot be read', async () => {
    // Prepare
    const r = await start();
    vi.spyOn(r.queue, 'depth').mockImplementation(() => {
      throw diskFull();
    });

    // Act
    const { status, body } = await healthz(r.url);

    // Assess
    expect(status).toBe(503);
    expect(body).toMatchObject({
      status: 'degraded',
      reason: 'queue depths cannot be read: database or disk is full (SQLite error 13)',
    });
  });

  it('should answer ingest 503 with Retry-After when the queue cannot take the message', async () => {
    // Prepare
    const r = await start();
    vi.spyOn(r.queue, 'send').mockImplementation(() => {
      throw diskFull();
    });

    // Act
    const response = await postNotification(r.url, makeNotification({}));

    // Assess
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(response.body).toMatchObject({ error: 'queue unavailable' });
    expect(JSON.stringify(response.body)).not.toContain(dir);
  });

  it('should answer /healthz 503 degraded with the disk-full reason while ingest answers 503 naming it, with an empty queue, and ok once a POST is accepted again', async () => {
    // Prepare
    const { logger, lines } = recordingLogger();
    const r = await start({ logger });
    const healthyBefore = await healthz(r.url);
    const freeSpace = fillDisk(r);
    // 40 alerts: a message larger than the free room left in the file's pages.
    const notification = makeNotification({ count: 40 });

    // Act
    const refused = await postNotification(r.url, notification);
    const during = await healthz(r.url);
    const refusedAgain = await postNotification(r.url, notification);
    freeSpace();
    const accepted = await postNotification(r.url, notification);
    const after = await healthz(r.url);

    // Assess
    const reason = 'disk full: database or disk is full (SQLite error 13)';
    expect(healthyBefore.status).toBe(200);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toEqual({ error: 'queue unavailable', details: [{ sink: 'console', reason }] });
    expect(refusedAgain.status).toBe(503);
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({
      status: 'degraded',
      reason: `ingest answers 503: the queue cannot take messages: ${reason} (2 failed sends)`,
      since: expect.any(String),
    });
    expect(JSON.stringify([refused.body, during.body])).not.toContain(dir);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toEqual([
      {
        level: 'error',
        message: 'ingest answers 503: the queue cannot take messages',
        extra: expect.objectContaining({ reason, failures: 1 }),
      },
    ]);
    expect(accepted.status).toBe(202);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ status: 'ok' });
    expect(lines.at(-1)).toMatchObject({
      level: 'warn',
      message: 'ingest recovered: the queue cannot take messages no longer',
      extra: { failures: 4 },
    });
  });

  it('should answer /healthz 503 degraded while the ingest token cannot be read, without the secret or its file, and ok once it can', async () => {
    // Prepare
    const token = 'storage-health-token-5e1f';
    const secretsFile = join(dir, 'secrets.json');
    await writeFile(secretsFile, JSON.stringify({ INGEST_TOKEN: token }));
    const r = await start({
      config: {
        ingest: { tokenSecret: 'INGEST_TOKEN' },
        destinations: [{ name: 'stdout', sink: 'console' }],
      },
      secrets: new LocalSecrets({ env: {}, file: secretsFile }),
      logger: recordingLogger().logger,
    });
    await rm(secretsFile);

    // Act
    const refused = await postNotification(r.url, makeNotification({}), { token });
    const during = await healthz(r.url);
    await writeFile(secretsFile, JSON.stringify({ INGEST_TOKEN: token }));
    const accepted = await postNotification(r.url, makeNotification({}), { token });
    const after = await healthz(r.url);

    // Assess
    expect(refused.status).toBe(503);
    expect(during.status).toBe(503);
    expect(during.body).toMatchObject({
      status: 'degraded',
      reason:
        'ingest answers 503: the ingest token cannot be read: its secret cannot be read (the relay logged why) (1 failed token check)',
    });
    expect(JSON.stringify(during.body)).not.toContain('INGEST_TOKEN');
    expect(JSON.stringify(during.body)).not.toContain(dir);
    expect(accepted.status).toBe(202);
    expect(after.status).toBe(200);
  });
});

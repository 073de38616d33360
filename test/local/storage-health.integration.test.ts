import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Relay, startRelay } from '../../lib/local/runtime.ts';
import { LocalSecrets } from '../../lib/secrets.ts';
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

  async function start(): Promise<Relay> {
    relay = await startRelay({
      config: { ingest: {}, destinations: [{ name: 'stdout', sink: 'console' }] },
      secrets: new LocalSecrets({ env: {} }),
      dataDir: join(dir, 'data'),
      port: 0,
      storageBackoff: { initialMs: 1, maxMs: 5 },
    });
    return relay;
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
});

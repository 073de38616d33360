import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RelayConfig } from '../../lib/config/types.ts';
import { authReason, createAuthenticator, type IngestHandler } from '../../lib/ingest/ingest.ts';
import { REJECTED_MESSAGE, RejectionLog, SUPPRESSED_MESSAGE } from '../../lib/ingest/rejections.ts';
import { createLocalServer, type LocalServerOptions } from '../../lib/local/server.ts';
import { LocalSecrets } from '../../lib/secrets.ts';

const TOKEN = 'server-refusals-token-41c9e';

/**
 * What the local server refuses itself, before the ingest handler runs (a token refused on the
 * headers, a method, a declared body over the limit, the 64 MiB budget, a relay stopping): each
 * gets a line of the rejection log, as ingest's own refusals do, within its rate limit.
 */
describe('Local server: its own refusals', () => {
  let server: Server | undefined;

  afterEach(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server?.close(() => resolve()));
    }
    server = undefined;
  });

  async function start(options: Partial<LocalServerOptions> = {}) {
    const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
    const rejections = new RejectionLog({
      warn: (message, extra) => lines.push({ level: 'warn', message, extra }),
    });
    const ingest = vi.fn<IngestHandler>(async () => ({ statusCode: 202, body: '{}' }));
    server = createLocalServer({ ingest, health: () => ({ status: 'ok' }), rejections, ...options });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, lines, ingest };
  }

  const post = (url: string, body = '{}', headers: Record<string, string> = {}) =>
    fetch(`${url}/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Alertmanager/0.28.1', ...headers },
      body,
    });

  it('should log a token refused on the headers with the reason of each verdict', async () => {
    // Prepare
    const config: RelayConfig = { ingest: { tokenSecret: 'INGEST_TOKEN' }, destinations: [] };
    const check = createAuthenticator(config, new LocalSecrets({ env: { INGEST_TOKEN: TOKEN } }));
    const { url, lines, ingest } = await start({ authenticate: check });

    // Act
    const statuses = [
      (await post(url)).status,
      (await post(url, '{}', { authorization: 'Basic abc' })).status,
      (await post(url, '{}', { authorization: 'Bearer wrong' })).status,
    ];

    // Assess
    expect(statuses).toEqual([401, 401, 401]);
    expect(ingest).not.toHaveBeenCalled();
    expect(lines.map((l) => [l.message, l.extra.status, l.extra.reason])).toEqual([
      [REJECTED_MESSAGE, 401, 'missing-token'],
      [REJECTED_MESSAGE, 401, 'malformed-authorization'],
      [REJECTED_MESSAGE, 401, 'invalid-token'],
    ]);
    expect(lines[0].extra).toMatchObject({
      sourceIp: '127.0.0.1',
      userAgent: 'Alertmanager/0.28.1',
      bodyBytes: 2,
    });
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
    expect(JSON.stringify(lines)).not.toContain('wrong');
  });

  it('should log a method other than POST', async () => {
    // Prepare
    const { url, lines } = await start();

    // Act
    const response = await fetch(`${url}/alertmanager`, { method: 'PUT', body: '{}' });

    // Assess
    expect(response.status).toBe(405);
    expect(lines.map((l) => l.extra)).toEqual([
      expect.objectContaining({ status: 405, reason: 'method-not-allowed', detail: 'method PUT' }),
    ]);
  });

  it('should log a body declared over the limit, refused before it is read', async () => {
    // Prepare
    const { url, lines, ingest } = await start({ maxBodyBytes: 100 });

    // Act
    const response = await post(url, 'x'.repeat(500));

    // Assess
    expect(response.status).toBe(413);
    expect(ingest).not.toHaveBeenCalled();
    expect(lines.map((l) => l.extra)).toEqual([
      expect.objectContaining({
        status: 413,
        reason: 'body-too-large',
        detail: 'over 100 bytes (500 bytes declared)',
        bodyBytes: 500,
      }),
    ]);
  });

  it('should log a request refused because the bodies being read use the whole budget', async () => {
    // Prepare
    const { url, lines, ingest } = await start({ maxInFlightBodyBytes: 10 });

    // Act
    const response = await post(url, 'x'.repeat(50));

    // Assess
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(ingest).not.toHaveBeenCalled();
    expect(lines.map((l) => l.extra)).toEqual([
      expect.objectContaining({ status: 503, reason: 'server-busy', bodyBytes: 50 }),
    ]);
  });

  it('should answer 503 while the relay stops, so Alertmanager sends the notification again, and log it', async () => {
    // Prepare
    const { url, lines, ingest } = await start({ stopping: () => true });

    // Act
    const response = await post(url);
    const body = await response.json();

    // Assess
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(response.headers.get('connection')).toBe('close');
    expect(body).toEqual({
      error: 'shutting down',
      details: ['the relay is stopping; send the notification again'],
    });
    expect(ingest).not.toHaveBeenCalled();
    expect(lines.map((l) => l.extra)).toEqual([
      expect.objectContaining({ status: 503, reason: 'shutting-down' }),
    ]);
  });

  it('should keep to the rejection log budget: 10 lines, then one summary of the rest', async () => {
    // Prepare
    let now = 0;
    const lines: { message: string; extra: Record<string, unknown> }[] = [];
    const { url } = await start({
      rejections: new RejectionLog(
        { warn: (message, extra) => lines.push({ message, extra }) },
        { now: () => now },
      ),
    });

    // Act
    for (let i = 0; i < 15; i++) await fetch(`${url}/alertmanager`, { method: 'GET' });
    now = 60_000;
    await fetch(`${url}/alertmanager`, { method: 'GET' });

    // Assess
    expect(lines.filter((l) => l.message === REJECTED_MESSAGE)).toHaveLength(11);
    expect(lines.filter((l) => l.message === SUPPRESSED_MESSAGE)).toEqual([
      expect.objectContaining({
        extra: expect.objectContaining({ suppressed: 5, reasons: { 'method-not-allowed': 5 } }),
      }),
    ]);
  });
});

describe('Function: authReason', () => {
  it("should name each of ingest's token verdicts as ingest's rejection log does", async () => {
    // Prepare
    const config: RelayConfig = { ingest: { tokenSecret: 'INGEST_TOKEN' }, destinations: [] };
    const check = createAuthenticator(config, new LocalSecrets({ env: { INGEST_TOKEN: TOKEN } }));

    // Act
    const reasons = [
      authReason(await check(undefined)),
      authReason(await check('Token abc')),
      authReason(await check('Bearer nope')),
    ];

    // Assess
    expect(reasons).toEqual(['missing-token', 'malformed-authorization', 'invalid-token']);
  });
});

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../lib/telemetry.ts';
import { type FakeServer, startFakeServer } from '../support/fake-server.ts';
import { type LocalRelay, useLocalRelay } from '../support/local-relay.ts';
import { makeNotification } from '../support/notifications.ts';

// Recognisable values: if any of them shows up in a log line, a response or the DLQ, it leaked.
const INGEST_TOKEN = 'LEAKCHECK-ingest-token-8e1f4a';
const SIGNING_KEY = 'LEAKCHECK-signing-key-5b3c9d';
const SIGNING_SECRET = `whsec_${Buffer.from(SIGNING_KEY).toString('base64')}`;
const PATH_TOKEN = 'LEAKCHECK-path-token-2d7e6f';
const QUERY_TOKEN = 'LEAKCHECK-query-token-9a4b1c';
const HEADER_TOKEN = 'LEAKCHECK-header-token-3f8a0e';
const SECRETS = [
  INGEST_TOKEN,
  SIGNING_KEY,
  SIGNING_SECRET,
  SIGNING_SECRET.slice('whsec_'.length),
  PATH_TOKEN,
  QUERY_TOKEN,
  HEADER_TOKEN,
];

/**
 * A full run through the local runtime at DEBUG log level with secrets in every place a sink
 * takes them (ingest token, signing secret, a token in the URL path and query, a header), and a
 * vendor that echoes all of it back in its error pages. None may appear in the captured logs,
 * in any response the relay gives, or in a DLQ message's attributes or body.
 */
describe('Secrets: nothing leaks into logs, responses or the DLQ', () => {
  const local = useLocalRelay('leak', { scope: 'file' });
  let vendor: FakeServer;
  let relay: LocalRelay;
  const captured: string[] = [];
  const responses: string[] = [];

  beforeAll(async () => {
    // Echoes everything it got (URL, headers, body), as careless error pages do.
    const statuses = [500, 200, 401, 400];
    vendor = await startFakeServer({
      handle: (request) => {
        const status = statuses.shift() ?? 200;
        const echo = `${request.url} auth=${request.headers.authorization} ${request.text.slice(0, 200)}`;
        return { status, body: status === 200 ? 'ok' : `error: ${echo}` };
      },
    });
    local.own(vendor);
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
        captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        // The console sink waits for the write callback.
        const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
        callback?.();
        return true;
      });
    }
    relay = await local.start({
      token: INGEST_TOKEN,
      destinations: [
        {
          name: 'vendor',
          sink: 'webhook',
          url: `${vendor.url}/hooks/${PATH_TOKEN}?token=${QUERY_TOKEN}`,
          signingSecret: 'SIGNING_SECRET',
          headers: { authorization: `Bearer ${HEADER_TOKEN}` },
        },
        { name: 'stdout', sink: 'console', format: 'json' },
      ],
      secrets: { SIGNING_SECRET },
      // The relay's own logger, to stdout, which is captured above.
      logger: createLogger('alertmanager-relay', 'DEBUG'),
      maxAttempts: 2,
    });
  });

  afterAll(() => {
    vi.restoreAllMocks();
  });

  it('should keep every secret out of logs, responses and the DLQ through retries, refusals and dead letters', async () => {
    // Act
    for (let i = 0; i < 3; i++) {
      const response = await relay.post(makeNotification({ groupKey: `{}:{n="${i}"}` }));
      responses.push(JSON.stringify(response.body));
    }
    for (const authorization of [
      `Bearer ${INGEST_TOKEN}x`,
      `Basic ${INGEST_TOKEN}`,
      `Bearer ${INGEST_TOKEN.slice(0, 10)}`,
    ]) {
      const response = await relay.post(makeNotification({}), { headers: { authorization } });
      responses.push(JSON.stringify(response.body));
    }
    responses.push(await (await fetch(`${relay.url}/healthz`)).text());
    await relay.until(
      () => relay.telemetry.get('Delivered', 'vendor') + relay.telemetry.get('DeadLettered', 'vendor') === 3,
    );
    responses.push(await (await fetch(`${relay.url}/healthz`)).text());
    const dead = relay.deadLetters('webhook', 100);
    const logs = captured.join('');

    // Assess
    // The vendor did get the secrets (so they were in play), and its answers quoted them.
    expect(vendor.requests.map((r) => r.outcome)).toEqual([500, 200, 401, 400]);
    expect(vendor.requests[0].url).toContain(PATH_TOKEN);
    expect(vendor.requests[0].headers.authorization).toBe(`Bearer ${HEADER_TOKEN}`);
    expect(dead).toHaveLength(2);
    expect(logs).toMatch(/dead-lettered/);
    expect(logs).toMatch(/delivery failed; will retry/);
    const places = {
      logs,
      responses: responses.join('\n'),
      dlq: JSON.stringify(dead.map((d) => ({ attributes: d.attributes, body: d.body }))),
    };
    for (const [place, text] of Object.entries(places)) {
      for (const secret of SECRETS) expect(text.includes(secret), `${place} contains ${secret}`).toBe(false);
    }
  });
});

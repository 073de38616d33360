import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import type { RelayConfig } from '../../lib/config/types.ts';
import type { SecretReader } from '../../lib/delivery/sink.ts';
import { createIngestHandler, MAX_BODY_BYTES, MAX_JSON_DEPTH } from '../../lib/ingest/ingest.ts';
import {
  DETAIL_CHARS,
  REJECTED_MESSAGE,
  REJECTION_INTERVAL_MS,
  REJECTION_LINES_PER_INTERVAL,
  RejectionLog,
  SUPPRESSED_MESSAGE,
} from '../../lib/ingest/rejections.ts';
import type { Enqueuer, OutgoingMessage, SendBatchResult } from '../../lib/queue/types.ts';
import { CountingTelemetry, createLogger } from '../../lib/telemetry.ts';
import { payloadText } from '../support/notifications.ts';

const TOKEN = 'rejections-token-7d2e9f0a1b3c';

/** A logger that keeps what it was asked to warn. */
function recordingLogger() {
  const lines: { message: string; extra: Record<string, unknown> }[] = [];
  return { lines, warn: (message: string, extra: Record<string, unknown>) => lines.push({ message, extra }) };
}

describe('Class: RejectionLog', () => {
  it('should log the first perInterval rejections with their reason and request, then count the rest', () => {
    // Prepare
    const logger = recordingLogger();
    const log = new RejectionLog(logger, { perInterval: 2, intervalMs: 1000, now: () => 0 });

    // Act
    const logged = [
      log.record({ status: 401, reason: 'invalid-token', detail: 'invalid token' }, { sourceIp: '10.0.0.9' }),
      log.record({ status: 415, reason: 'unsupported-media-type' }, { requestId: 'r2', bodyBytes: 12 }),
      log.record({ status: 401, reason: 'invalid-token' }),
    ];

    // Assess
    expect(logged).toEqual([true, true, false]);
    expect(logger.lines).toEqual([
      {
        message: REJECTED_MESSAGE,
        extra: { status: 401, reason: 'invalid-token', detail: 'invalid token', sourceIp: '10.0.0.9' },
      },
      {
        message: REJECTED_MESSAGE,
        extra: { status: 415, reason: 'unsupported-media-type', requestId: 'r2', bodyBytes: 12 },
      },
    ]);
  });

  it('should write one summary with the counts by reason when the interval is over, then log again', () => {
    // Prepare
    let now = 5_000;
    const logger = recordingLogger();
    const log = new RejectionLog(logger, { perInterval: 1, intervalMs: 1000, now: () => now });
    log.record({ status: 401, reason: 'missing-token' });
    for (let i = 0; i < 4; i++) log.record({ status: 401, reason: 'invalid-token' });
    log.record({ status: 400, reason: 'malformed-json' });
    now = 5_999;
    log.tick();
    const beforeTheEnd = logger.lines.length;

    // Act
    now = 6_000;
    log.tick();
    const afterTick = logger.lines.length;
    const loggedAgain = log.record({ status: 413, reason: 'body-too-large' });

    // Assess
    expect(beforeTheEnd).toBe(1);
    expect(afterTick).toBe(2);
    expect(logger.lines[1]).toEqual({
      message: SUPPRESSED_MESSAGE,
      extra: {
        suppressed: 5,
        reasons: { 'invalid-token': 4, 'malformed-json': 1 },
        intervalStart: new Date(5_000).toISOString(),
        intervalSeconds: 1,
        loggedInInterval: 1,
      },
    });
    expect(loggedAgain).toBe(true);
    expect(logger.lines[2].extra.reason).toBe('body-too-large');
  });

  it('should write no summary for an interval that suppressed nothing', () => {
    // Prepare
    let now = 0;
    const logger = recordingLogger();
    const log = new RejectionLog(logger, { perInterval: 5, intervalMs: 1000, now: () => now });
    log.record({ status: 401, reason: 'missing-token' });

    // Act
    now = 10_000;
    log.tick();

    // Assess
    expect(logger.lines.map((l) => l.message)).toEqual([REJECTED_MESSAGE]);
  });

  it('should keep a flood to perInterval lines plus one summary per interval (lines bounded by time, not by requests)', () => {
    // Prepare
    let now = 0;
    const logger = recordingLogger();
    const log = new RejectionLog(logger, { now: () => now });

    // Act: 100,000 rejections over 10 minutes.
    for (let i = 0; i < 100_000; i++) {
      now = Math.floor((i * 10 * REJECTION_INTERVAL_MS) / 100_000);
      log.record({ status: 401, reason: 'invalid-token' });
    }
    now += REJECTION_INTERVAL_MS;
    log.tick();

    // Assess
    const summaries = logger.lines.filter((l) => l.message === SUPPRESSED_MESSAGE);
    expect(logger.lines.length).toBe(10 * (REJECTION_LINES_PER_INTERVAL + 1));
    expect(summaries).toHaveLength(10);
    const suppressed = summaries.reduce((sum, l) => sum + Number(l.extra.suppressed), 0);
    expect(suppressed + 10 * REJECTION_LINES_PER_INTERVAL).toBe(100_000);
  });

  it('should cut a long detail and user agent', () => {
    // Prepare
    const logger = recordingLogger();
    const log = new RejectionLog(logger);

    // Act
    log.record(
      { status: 400, reason: 'invalid-notification', detail: 'd'.repeat(5000) },
      { userAgent: 'u'.repeat(5000) },
    );

    // Assess
    const { extra } = logger.lines[0];
    expect(String(extra.detail).length).toBe(DETAIL_CHARS);
    expect(String(extra.userAgent).length).toBeLessThanOrEqual(120);
  });
});

class FailingSecrets implements SecretReader {
  failing = false;
  async get(): Promise<string> {
    if (this.failing)
      throw new Error('cannot read secret arn:aws:secretsmanager:eu-west-1:1:secret:relay: AccessDenied');
    return TOKEN;
  }
}

class ScriptedEnqueuer implements Enqueuer {
  refuse = false;
  async sendBatch(_sink: string, entries: OutgoingMessage[]): Promise<SendBatchResult> {
    return { failed: this.refuse ? entries.map((e) => ({ id: e.id, reason: 'ServiceUnavailable' })) : [] };
  }
}

function setup(options: { perInterval?: number } = {}) {
  const config: RelayConfig = {
    ingest: { tokenSecret: 'TOKEN' },
    destinations: [{ name: 'all', sink: 'console' }],
  };
  let now = Date.parse('2026-11-21T12:00:00.000Z');
  const telemetry = new CountingTelemetry({ logger: createLogger('test', 'SILENT') });
  const warn = vi.spyOn(telemetry.logger, 'warn');
  const reportError = vi.spyOn(telemetry, 'reportError');
  const secrets = new FailingSecrets();
  const enqueuer = new ScriptedEnqueuer();
  const handler = createIngestHandler({
    config,
    secrets,
    enqueuer,
    telemetry,
    now: () => new Date(now),
    rejectionLog: { perInterval: options.perInterval ?? 100 },
  });
  /** The rejection log's lines so far (message and fields). */
  const lines = () =>
    warn.mock.calls
      .filter(([message]) => message === REJECTED_MESSAGE || message === SUPPRESSED_MESSAGE)
      .map(([message, extra]) => ({ message, extra: extra as Record<string, unknown> }));
  return {
    handler,
    secrets,
    enqueuer,
    telemetry,
    warn,
    reportError,
    lines,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function apiEvent(
  options: { body?: string; headers?: Record<string, string | undefined>; method?: string } = {},
) {
  const headers: Record<string, string> = {};
  const given = {
    'content-type': 'application/json',
    authorization: `Bearer ${TOKEN}`,
    ...options.headers,
  };
  for (const [key, value] of Object.entries(given)) if (value !== undefined) headers[key] = value;
  const method = options.method ?? 'POST';
  return {
    version: '2.0',
    routeKey: `${method} /alertmanager`,
    rawPath: '/alertmanager',
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method,
        path: '/alertmanager',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'curl/8.5.0',
      },
      requestId: 'req-42',
      routeKey: `${method} /alertmanager`,
      stage: '$default',
      time: '21/Nov/2026:12:00:00 +0000',
      timeEpoch: 0,
    },
    body: options.body ?? payloadText('am-0.25-prom-group-firing-3alerts.json'),
    isBase64Encoded: false,
  } satisfies APIGatewayProxyEventV2;
}

const SECRET_LOOKING = 'hunter2-sk-live-0123456789';
const deep = `${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`;

describe('Function: createIngestHandler (rejection log)', () => {
  it.each([
    [405, 'method-not-allowed', 'a GET', { method: 'GET' }],
    [401, 'missing-token', 'no Authorization header', { headers: { authorization: undefined } }],
    [401, 'malformed-authorization', 'Basic auth', { headers: { authorization: `Basic ${SECRET_LOOKING}` } }],
    [401, 'invalid-token', 'a wrong token', { headers: { authorization: `Bearer ${SECRET_LOOKING}` } }],
    [415, 'unsupported-media-type', 'text/plain', { headers: { 'content-type': 'text/plain' } }],
    [413, 'body-too-large', 'a body over the limit', { body: `"${'x'.repeat(MAX_BODY_BYTES)}"` }],
    [400, 'malformed-json', 'malformed JSON', { body: `{"alerts": ${SECRET_LOOKING}` }],
    [400, 'nested-too-deep', 'JSON nested too deep', { body: deep }],
    [
      400,
      'invalid-notification',
      'an invalid notification',
      { body: `{"version":"4","alerts":[],"note":"${SECRET_LOOKING}"}` },
    ],
  ] as const)(
    'should log one %d %s line (%s) with the request, no secret and no body',
    async (status, reason, _name, options) => {
      // Prepare
      const { handler, lines, telemetry } = setup();

      // Act
      const result = await handler(apiEvent(options));

      // Assess
      expect(result.statusCode).toBe(status);
      expect(lines()).toEqual([
        {
          message: REJECTED_MESSAGE,
          extra: expect.objectContaining({
            status,
            reason,
            requestId: 'req-42',
            sourceIp: '203.0.113.7',
            userAgent: 'curl/8.5.0',
          }),
        },
      ]);
      const text = JSON.stringify(lines());
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(SECRET_LOOKING);
      expect(text.length).toBeLessThan(1000);
      expect(telemetry.get('NotificationsRejected')).toBe(status === 405 ? 0 : 1);
    },
  );

  it('should name the first problem of an invalid notification and how many more', async () => {
    // Prepare
    const { handler, lines } = setup();

    // Act
    await handler(apiEvent({ body: '{"alerts":[{},{}]}' }));

    // Assess
    expect(lines()[0].extra.detail).toBe('$.version is required (and 21 more listed)');
  });

  it('should log a 503 for a queue that refused, naming the sink and the reason', async () => {
    // Prepare
    const { handler, lines, enqueuer, telemetry } = setup();
    enqueuer.refuse = true;

    // Act
    const result = await handler(apiEvent());

    // Assess
    expect(result.statusCode).toBe(503);
    expect(lines()).toEqual([
      {
        message: REJECTED_MESSAGE,
        extra: expect.objectContaining({
          status: 503,
          reason: 'queue-unavailable',
          detail: '1 message(s) not accepted (console: ServiceUnavailable)',
        }),
      },
    ]);
    expect(telemetry.get('NotificationsRejected')).toBe(0);
  });

  it('should log a 503 for an unreadable token secret, and keep its error reports to the same budget', async () => {
    // Prepare
    const { handler, lines, secrets, reportError } = setup({ perInterval: 2 });
    secrets.failing = true;

    // Act
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await handler(apiEvent()));

    // Assess
    expect(results.map((r) => r.statusCode)).toEqual([503, 503, 503, 503, 503]);
    expect(lines()).toHaveLength(2);
    expect(lines()[0].extra).toEqual(
      expect.objectContaining({
        status: 503,
        reason: 'token-unreadable',
        detail: 'the ingest token secret could not be read (Error)',
      }),
    );
    expect(JSON.stringify(lines())).not.toContain('arn:aws');
    expect(reportError).toHaveBeenCalledTimes(2);
  });

  it('should log nothing for an accepted notification', async () => {
    // Prepare
    const { handler, lines } = setup();

    // Act
    const result = await handler(apiEvent());

    // Assess
    expect(result.statusCode).toBe(202);
    expect(lines()).toEqual([]);
  });

  it('should rate-limit a flood and write the summary at the first request after the interval, even an accepted one', async () => {
    // Prepare
    const { handler, lines, advance } = setup({ perInterval: 3 });
    for (let i = 0; i < 7; i++) await handler(apiEvent({ headers: { authorization: 'Bearer wrong' } }));
    await handler(apiEvent({ headers: { 'content-type': 'text/xml' } }));
    const duringTheFlood = lines().length;

    // Act
    advance(REJECTION_INTERVAL_MS);
    const accepted = await handler(apiEvent());

    // Assess
    expect(duringTheFlood).toBe(3);
    expect(accepted.statusCode).toBe(202);
    expect(lines()).toHaveLength(4);
    expect(lines()[3]).toEqual({
      message: SUPPRESSED_MESSAGE,
      extra: expect.objectContaining({
        suppressed: 5,
        reasons: { 'invalid-token': 4, 'unsupported-media-type': 1 },
        intervalSeconds: REJECTION_INTERVAL_MS / 1000,
      }),
    });
  });
});

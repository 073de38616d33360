import { timingSafeEqual } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Notification } from '../../lib/alertmanager/types.ts';
import type { DestinationConfig, RelayConfig } from '../../lib/config/types.ts';
import { PermanentError } from '../../lib/delivery/errors.ts';
import type { SecretReader } from '../../lib/delivery/sink.ts';
import { createIngestHandler, MAX_BODY_BYTES, safeEqual } from '../../lib/ingest/ingest.ts';
import { idempotencyKey, messageGroupId, queueDeduplicationId } from '../../lib/queue/idempotency.ts';
import { LocalEnqueuer } from '../../lib/queue/local.ts';
import { parseMessage, type QueueMessage } from '../../lib/queue/message.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import type { Enqueuer, OutgoingMessage, SendBatchResult } from '../../lib/queue/types.ts';
import { CountingTelemetry, createLogger } from '../../lib/telemetry.ts';
import { payloadText as capturedText } from '../support/notifications.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests change parsed JSON in ways the Notification type forbids
type Json = Record<string, any>;

// Wraps the real timingSafeEqual so a test can see that token comparison goes through it.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const TOKEN = 'current-token-4f1c2a9b7e3d8c6a';
const PREVIOUS_TOKEN = 'previous-token-0b9a8c7d6e5f4a3b';
const SQS_LIMIT = 1_048_576;
/** What SQS refuses in a body: anything but the XML 1.0 characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are the point
const REFUSED_BY_SQS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function payloadText(name = 'am-0.25-prom-group-some-resolved.json'): string {
  return capturedText(name);
}

function payload(name?: string): Notification {
  return JSON.parse(payloadText(name)) as Notification;
}

/** An API Gateway HTTP API (payload 2.0) event for POST /alertmanager, as Alertmanager sends it. */
function apiEvent(
  options: {
    body?: string;
    headers?: Record<string, string | undefined>;
    method?: string;
    isBase64Encoded?: boolean;
    requestId?: string;
  } = {},
): APIGatewayProxyEventV2 {
  const method = options.method ?? 'POST';
  const headers: Record<string, string | undefined> = {
    'content-type': 'application/json',
    'user-agent': 'Alertmanager/0.25.0',
    authorization: `Bearer ${TOKEN}`,
    ...options.headers,
  };
  for (const key of Object.keys(headers)) if (headers[key] === undefined) delete headers[key];
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
        sourceIp: '10.0.0.1',
        userAgent: 'Alertmanager/0.25.0',
      },
      requestId: options.requestId ?? 'request-1',
      routeKey: `${method} /alertmanager`,
      stage: '$default',
      time: '21/Nov/2026:12:00:00 +0000',
      timeEpoch: 1_795_262_400_000,
    },
    body: options.body ?? payloadText(),
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}

/** Secrets by name; a name in `failing` cannot be read (an outage), a missing one does not exist. */
class FakeSecrets implements SecretReader {
  readonly values: Map<string, string>;
  readonly failing = new Set<string>();
  constructor(values: Record<string, string>) {
    this.values = new Map(Object.entries(values));
  }
  async get(name: string): Promise<string> {
    if (this.failing.has(name)) throw new Error(`cannot read secret ${name}: AccessDeniedException`);
    const value = this.values.get(name);
    if (value === undefined) throw new PermanentError(`secret ${name} does not exist`);
    return value;
  }
}

type Script = (
  sink: string,
  entries: OutgoingMessage[],
  call: number,
) => SendBatchResult | Promise<SendBatchResult>;

/** An in-memory queue per sink; `script` decides what each sendBatch call answers (default: accept all). */
class FakeEnqueuer implements Enqueuer {
  readonly calls: { sink: string; entries: OutgoingMessage[] }[] = [];
  readonly accepted: { sink: string; message: OutgoingMessage }[] = [];
  script: Script | undefined;
  async sendBatch(sink: string, entries: OutgoingMessage[]): Promise<SendBatchResult> {
    this.calls.push({ sink, entries: [...entries] });
    const result = this.script ? await this.script(sink, entries, this.calls.length) : { failed: [] };
    const failed = new Set(result.failed.map((f) => f.id));
    for (const message of entries) if (!failed.has(message.id)) this.accepted.push({ sink, message });
    return result;
  }
  bodies(sink?: string): QueueMessage[] {
    return this.accepted
      .filter((a) => !sink || a.sink === sink)
      .map((a) => JSON.parse(a.message.body) as QueueMessage);
  }
}

const DESTINATIONS: DestinationConfig[] = [
  { name: 'ops', sink: 'console' },
  { name: 'pager', sink: 'webhook', url: 'https://pager.example.com/hook', matchers: ['pod="web-3"'] },
  { name: 'critical', sink: 'console', matchers: ['severity="critical"', 'pod=~"web-[12]"'] },
];

function setup(options: { config?: Partial<RelayConfig>; secrets?: Record<string, string> } = {}) {
  const config: RelayConfig = {
    ingest: { tokenSecret: 'RELAY_TOKEN', previousTokenSecret: 'RELAY_TOKEN_PREVIOUS' },
    destinations: DESTINATIONS,
    ...options.config,
  };
  const secrets = new FakeSecrets(
    options.secrets ?? { RELAY_TOKEN: TOKEN, RELAY_TOKEN_PREVIOUS: PREVIOUS_TOKEN },
  );
  const enqueuer = new FakeEnqueuer();
  const telemetry = new CountingTelemetry({ logger: createLogger('test', 'SILENT') });
  const handler = createIngestHandler({
    config,
    secrets,
    enqueuer,
    telemetry,
    now: () => new Date('2026-11-21T12:00:00.000Z'),
  });
  return { handler, secrets, enqueuer, telemetry };
}

function json(result: APIGatewayProxyStructuredResultV2): Json {
  expect(result.headers?.['content-type']).toBe('application/json');
  return JSON.parse(result.body ?? '');
}

/** A 4xx/5xx answer: a JSON `{error, details}` a person reading Alertmanager's log can act on. */
function expectErrorBody(result: APIGatewayProxyStructuredResultV2) {
  const body = json(result);
  expect(body).toEqual({ error: expect.any(String), details: expect.any(Array) });
  expect(body.error.length).toBeGreaterThan(0);
  return body as { error: string; details: unknown[] };
}

describe('Function: createIngestHandler', () => {
  beforeEach(() => {
    vi.mocked(timingSafeEqual).mockClear();
  });

  describe('authentication', () => {
    it('should accept the current token', async () => {
      // Prepare
      const { handler, enqueuer } = setup();

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(202);
      expect(enqueuer.accepted.length).toBeGreaterThan(0);
    });

    it('should accept the previous token during a rotation', async () => {
      // Prepare
      const { handler } = setup();

      // Act
      const result = await handler(apiEvent({ headers: { authorization: `Bearer ${PREVIOUS_TOKEN}` } }));

      // Assess
      expect(result.statusCode).toBe(202);
    });

    it('should accept the current token when the previous token secret does not exist', async () => {
      // Prepare
      const { handler } = setup({ secrets: { RELAY_TOKEN: TOKEN } });

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(202);
    });

    it('should read the Authorization and Content-Type headers whatever their case', async () => {
      // Prepare
      const { handler } = setup();
      const event = apiEvent({
        headers: {
          authorization: undefined,
          'content-type': undefined,
          Authorization: `Bearer ${TOKEN}`,
          'Content-Type': 'application/json',
        },
      });

      // Act
      const result = await handler(event);

      // Assess
      expect(result.statusCode).toBe(202);
    });

    it('should answer 401 with WWW-Authenticate: Bearer when the header is missing', async () => {
      // Prepare
      const { handler, enqueuer, telemetry } = setup();

      // Act
      const result = await handler(apiEvent({ headers: { authorization: undefined } }));

      // Assess
      expect(result.statusCode).toBe(401);
      expect(result.headers?.['www-authenticate']).toMatch(/^Bearer( |$)/);
      expectErrorBody(result);
      expect(enqueuer.calls).toEqual([]);
      expect(telemetry.get('NotificationsRejected')).toBe(1);
    });

    it.each([
      ['a wrong token', 'Bearer wrong-token'],
      ['a truncated token', `Bearer ${TOKEN.slice(0, -1)}`],
      ['a token with a suffix', `Bearer ${TOKEN}x`],
      ['a token with a trailing space', `Bearer ${TOKEN} `],
      ['a token with a space inside', `Bearer ${TOKEN.slice(0, 5)} ${TOKEN.slice(5)}`],
      ['two spaces after Bearer', `Bearer  ${TOKEN}`],
      ['a token with a newline', `Bearer ${TOKEN}\n`],
      ['Basic instead of Bearer', `Basic ${Buffer.from(`alertmanager:${TOKEN}`).toString('base64')}`],
      ['the token without a scheme', TOKEN],
      ['Bearer without a token', 'Bearer'],
      ['Bearer and a space', 'Bearer '],
      ['an empty header', ''],
    ])('should answer 401 with WWW-Authenticate: Bearer for %s', async (_name, authorization) => {
      // Prepare
      const { handler, enqueuer } = setup();

      // Act
      const result = await handler(apiEvent({ headers: { authorization } }));

      // Assess
      expect(result.statusCode).toBe(401);
      expect(result.headers?.['www-authenticate']).toMatch(/^Bearer( |$)/);
      const body = expectErrorBody(result);
      expect(result.body).not.toContain(TOKEN);
      expect(body.details.length).toBeGreaterThan(0);
      expect(enqueuer.calls).toEqual([]);
    });

    it.each([
      ['the right token', TOKEN],
      ['a wrong token', 'wrong-token'],
    ])('should answer 503, never 401, when the token secret cannot be read (%s)', async (_name, token) => {
      // Prepare
      const { handler, secrets, enqueuer } = setup();
      secrets.failing.add('RELAY_TOKEN');

      // Act
      const result = await handler(apiEvent({ headers: { authorization: `Bearer ${token}` } }));

      // Assess
      expect(result.statusCode).toBe(503);
      expectErrorBody(result);
      expect(enqueuer.calls).toEqual([]);
    });

    it('should answer 503 when the token secret does not exist', async () => {
      // Prepare
      const { handler } = setup({ secrets: { RELAY_TOKEN_PREVIOUS: PREVIOUS_TOKEN } });

      // Act
      const result = await handler(apiEvent({ headers: { authorization: `Bearer ${PREVIOUS_TOKEN}` } }));

      // Assess
      expect(result.statusCode).toBe(503);
      // The caller is unauthenticated: the body names neither the secret nor why it failed.
      expect(result.body).not.toContain('RELAY_TOKEN');
      expect(JSON.parse(result.body as string).details).toEqual([
        'the ingest token secret could not be read; the relay logged why',
      ]);
    });

    it('should accept any request when no token secret is configured (the local default)', async () => {
      // Prepare
      const { handler } = setup({ config: { ingest: {} }, secrets: {} });

      // Act
      const result = await handler(apiEvent({ headers: { authorization: undefined } }));

      // Assess
      expect(result.statusCode).toBe(202);
    });

    it('should compare the token with timingSafeEqual against both the current and the previous token', async () => {
      // Prepare
      const { handler } = setup();

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(202);
      expect(timingSafeEqual).toHaveBeenCalledTimes(2);
      for (const [a, b] of vi.mocked(timingSafeEqual).mock.calls) {
        expect((a as Buffer).length).toBe((b as Buffer).length);
      }
    });
  });

  describe('request body', () => {
    it.each([
      ['text/plain', 'text/plain'],
      ['form data', 'application/x-www-form-urlencoded'],
      ['a JSON-like type', 'application/jsonx'],
      ['no Content-Type', undefined],
    ])('should answer 415 for %s', async (_name, contentType) => {
      // Prepare
      const { handler, enqueuer } = setup();

      // Act
      const result = await handler(apiEvent({ headers: { 'content-type': contentType } }));

      // Assess
      expect(result.statusCode).toBe(415);
      expectErrorBody(result);
      expect(enqueuer.calls).toEqual([]);
    });

    it.each(['application/json; charset=utf-8', 'Application/JSON'])(
      'should accept Content-Type %s',
      async (type) => {
        // Prepare
        const { handler } = setup();

        // Act
        const result = await handler(apiEvent({ headers: { 'content-type': type } }));

        // Assess
        expect(result.statusCode).toBe(202);
      },
    );

    it('should accept a body of exactly MAX_BODY_BYTES and answer 413 for one byte more', async () => {
      // Prepare
      const { handler } = setup();
      const text = payloadText();
      const exact = text + ' '.repeat(MAX_BODY_BYTES - Buffer.byteLength(text));
      expect(MAX_BODY_BYTES).toBeGreaterThan(2 * SQS_LIMIT);

      // Act
      const atLimit = await handler(apiEvent({ body: exact }));
      const over = await handler(apiEvent({ body: `${exact} ` }));

      // Assess
      expect(atLimit.statusCode).toBe(202);
      expect(over.statusCode).toBe(413);
      expectErrorBody(over);
    });

    it('should measure a base64-encoded body by its decoded size', async () => {
      // Prepare
      const { handler } = setup();
      const text = payloadText();
      const exact = text + ' '.repeat(MAX_BODY_BYTES - Buffer.byteLength(text));
      const encode = (s: string) => Buffer.from(s).toString('base64');

      // Act
      const small = await handler(apiEvent({ body: encode(text), isBase64Encoded: true }));
      const atLimit = await handler(apiEvent({ body: encode(exact), isBase64Encoded: true }));
      const over = await handler(apiEvent({ body: encode(`${exact} `), isBase64Encoded: true }));

      // Assess
      expect(small.statusCode).toBe(202);
      expect(atLimit.statusCode).toBe(202);
      expect(over.statusCode).toBe(413);
    });

    it.each([
      ['malformed JSON', '{"version": "4",'],
      ['an empty body', ''],
      ['a JSON string', '"firing"'],
      ['null', 'null'],
    ])('should answer 400 for %s', async (_name, body) => {
      // Prepare
      const { handler, enqueuer, telemetry } = setup();

      // Act
      const result = await handler(apiEvent({ body }));

      // Assess
      expect(result.statusCode).toBe(400);
      const details = expectErrorBody(result).details;
      expect(details.length).toBeGreaterThan(0);
      expect(enqueuer.calls).toEqual([]);
      expect(telemetry.get('NotificationsRejected')).toBe(1);
    });

    it('should answer 400 listing each schema problem with its JSON path', async () => {
      // Prepare
      const { handler, enqueuer } = setup();
      const body = payload() as Json;
      delete body.alerts[0].status;
      body.alerts[1].status = 'pending';
      body.groupKey = 7;

      // Act
      const result = await handler(apiEvent({ body: JSON.stringify(body) }));

      // Assess
      expect(result.statusCode).toBe(400);
      const { details } = expectErrorBody(result);
      expect(details).toEqual(
        expect.arrayContaining([
          { path: '$.alerts[0].status', message: 'is required' },
          { path: '$.alerts[1].status', message: expect.stringContaining('firing') },
          { path: '$.groupKey', message: expect.any(String) },
        ]),
      );
      expect(details).toHaveLength(3);
      expect(enqueuer.calls).toEqual([]);
    });

    it('should accept unknown extra fields and pass them on', async () => {
      // Prepare
      const { handler, enqueuer } = setup();
      const body = {
        ...payload(),
        notification_reason: 'some alerts resolved',
        routeLabels: { team: 'web' },
      };

      // Act
      const result = await handler(apiEvent({ body: JSON.stringify(body) }));

      // Assess
      expect(result.statusCode).toBe(202);
      expect(enqueuer.bodies()[0].notification.notification_reason).toBe('some alerts resolved');
    });

    it('should answer 405 to anything but POST', async () => {
      // Prepare
      const { handler } = setup();

      // Act
      const result = await handler(apiEvent({ method: 'GET' }));

      // Assess
      expect(result.statusCode).toBe(405);
      expectErrorBody(result);
    });

    it('should accept, never 413, an alert whose labels alone are over a queue message, the long value cut with a mark', async () => {
      // Prepare
      const { handler, enqueuer } = setup();
      const body = payload();
      body.alerts[0].labels.huge = 'x'.repeat(SQS_LIMIT + 10);

      // Act
      const result = await handler(apiEvent({ body: JSON.stringify(body) }));

      // Assess
      expect(result.statusCode).toBe(202);
      const sent = enqueuer.bodies().flatMap((b) => b.notification.alerts);
      expect(sent.find((a) => a.fingerprint === body.alerts[0].fingerprint)?.labels.huge).toMatch(
        /^x+ \[truncated \d+ bytes\]$/,
      );
    });
  });

  describe('never a 5xx for what a client sends', () => {
    const keys = fc.oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'prototype',
        'toString',
        'hasOwnProperty',
        'version',
        'status',
        'alerts',
        'labels',
        'annotations',
        'fingerprint',
        'startsAt',
        'endsAt',
        'groupKey',
        'severity',
        'pod',
      ),
      fc.string(),
    );
    const mutation = fc.record({
      target: fc.constantFrom('root', 'alert', 'labels', 'annotations', 'alerts'),
      index: fc.nat({ max: 3 }),
      key: keys,
      value: fc.oneof(fc.jsonValue(), fc.constantFrom('firing', 'resolved', '4', { polluted: 'yes' }, [])),
      remove: fc.boolean(),
    });

    type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

    function mutate(body: Json, m: Mutation): void {
      const alerts = Array.isArray(body.alerts) ? body.alerts : [];
      const alert = alerts[m.index % Math.max(1, alerts.length)];
      const target =
        m.target === 'root'
          ? body
          : m.target === 'alerts'
            ? alerts
            : m.target === 'alert'
              ? alert
              : alert && typeof alert === 'object'
                ? alert[m.target]
                : undefined;
      if (!target || typeof target !== 'object') return;
      const key = Array.isArray(target) ? String(m.index % Math.max(1, target.length)) : m.key;
      if (m.remove) delete target[key];
      // defineProperty: `target.__proto__ = x` would set the prototype instead of an own "__proto__" key.
      // structuredClone: a generated value is shared between runs and must not be mutated in place.
      else
        Object.defineProperty(target, key, {
          value: structuredClone(m.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }

    function expectClientAnswer(result: APIGatewayProxyStructuredResultV2) {
      expect(result.statusCode).toBeGreaterThanOrEqual(200);
      expect(result.statusCode).toBeLessThan(500);
      if (result.statusCode === 202) {
        expect(json(result)).toEqual({ notification: expect.any(String), destinations: expect.any(Array) });
      } else {
        expect(result.statusCode).toBeGreaterThanOrEqual(400);
        expectErrorBody(result);
      }
    }

    const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
    function expectPrototypeUnchanged() {
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNames);
      const probe = {} as Record<string, unknown>;
      expect(probe.polluted).toBeUndefined();
      expect(probe.status).toBeUndefined();
      expect(Object.getPrototypeOf(probe)).toBe(Object.prototype);
    }

    it('should answer 4xx with {error, details} for any JSON value (property)', async () => {
      // Prepare
      const { handler } = setup();

      // Act & Assess
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), async (value) => {
          const result = await handler(apiEvent({ body: JSON.stringify(value) }));
          expectClientAnswer(result);
          expect(result.statusCode).toBe(400);
        }),
      );
      expectPrototypeUnchanged();
    });

    it('should answer 4xx with {error, details} for any text (property)', async () => {
      // Prepare
      const { handler } = setup();

      // Act & Assess
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: 'binary' }), async (text) => {
          expectClientAnswer(await handler(apiEvent({ body: text })));
        }),
      );
      expectPrototypeUnchanged();
    });

    it('should answer 2xx or 4xx, never 5xx, for mutated real payloads, and leave Object.prototype alone (property)', async () => {
      // Prepare
      const { handler } = setup();
      const files = [
        'am-0.25-prom-group-some-resolved.json',
        'am-0.25-prom-group-all-resolved.json',
        'am-0.25-firing-1alert.json',
      ];
      const texts = files.map((file) => payloadText(file));
      const statuses = new Set<number>();

      // Act & Assess
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: files.length - 1 }),
          fc.array(mutation, { minLength: 1, maxLength: 4 }),
          async (file, mutations) => {
            const body = JSON.parse(texts[file]);
            for (const m of mutations) mutate(body, m);
            const result = await handler(apiEvent({ body: JSON.stringify(body) }));
            statuses.add(result.statusCode ?? 0);
            expectClientAnswer(result);
          },
        ),
        { numRuns: 300 },
      );
      expectPrototypeUnchanged();
      expect(statuses).toContain(202);
      expect(statuses).toContain(400);
    });

    it('should route a payload with __proto__ keys as plain data, without polluting any prototype', async () => {
      // Prepare
      const { handler, enqueuer } = setup({
        config: { destinations: [{ name: 'proto', sink: 'console', matchers: ['__proto__="critical"'] }] },
      });
      const text = payloadText()
        .replace(
          '"receiver": "rec",',
          '"receiver": "rec", "__proto__": {"polluted": "yes", "status": "firing"},',
        )
        .replace('"labels": {', '"labels": {"__proto__": "critical", "constructor": "x",')
        .replace('"annotations": {', '"annotations": {"__proto__": "text",');

      // Act
      const result = await handler(apiEvent({ body: text }));

      // Assess
      expect(text).toContain('"__proto__": {"polluted"');
      expect(result.statusCode).toBe(202);
      expect(json(result).destinations).toEqual([{ name: 'proto', alerts: 1 }]);
      expectPrototypeUnchanged();
      const [message] = enqueuer.bodies();
      expect(Object.getPrototypeOf(message.notification)).toBe(Object.prototype);
      expect(message.notification.alerts.map((a) => a.labels.pod)).toEqual(['web-1']);
      expect(Object.getOwnPropertyDescriptor(message.notification.alerts[0].labels, '__proto__')?.value).toBe(
        'critical',
      );
    });

    it('should answer 400 for a __proto__ annotation that is not a string, without polluting', async () => {
      // Prepare
      const { handler, enqueuer } = setup();
      const text = payloadText().replace(
        '"annotations": {',
        '"annotations": {"__proto__": {"polluted": "yes"},',
      );

      // Act
      const result = await handler(apiEvent({ body: text }));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(expectErrorBody(result).details).toEqual([
        { path: '$.alerts[0].annotations.__proto__', message: expect.any(String) },
      ]);
      expectPrototypeUnchanged();
      expect(enqueuer.calls).toEqual([]);
    });
  });

  describe('routing', () => {
    it('should give each destination only its matching alerts, with the status recomputed', async () => {
      // Prepare
      const { handler, enqueuer } = setup();

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(202);
      const byDestination = Object.fromEntries(enqueuer.bodies().map((m) => [m.destination, m.notification]));
      expect(Object.keys(byDestination).sort()).toEqual(['critical', 'ops', 'pager']);
      expect(byDestination.ops.alerts.map((a) => a.labels.pod)).toEqual(['web-1', 'web-2', 'web-3']);
      expect(byDestination.ops.status).toBe('firing');
      expect(byDestination.pager.alerts.map((a) => a.labels.pod)).toEqual(['web-3']);
      expect(byDestination.pager.status).toBe('resolved');
      expect(byDestination.critical.alerts.map((a) => a.labels.pod)).toEqual(['web-1', 'web-2']);
      expect(byDestination.critical.status).toBe('firing');
    });

    it('should answer 202 with no destination and count NotificationsUnrouted when nothing matches', async () => {
      // Prepare
      const { handler, enqueuer, telemetry } = setup({
        config: { destinations: [{ name: 'db', sink: 'console', matchers: ['service="db"'] }] },
      });

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(202);
      expect(json(result)).toEqual({ notification: payload().groupKey, destinations: [] });
      expect(telemetry.get('NotificationsUnrouted')).toBe(1);
      expect(enqueuer.calls).toEqual([]);
    });
  });

  describe('fan-out', () => {
    it("should put one message per destination on its sink's queue and answer with what was accepted", async () => {
      // Prepare
      const { handler, enqueuer, telemetry } = setup();
      const notification = payload();

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(202);
      expect(json(result)).toEqual({
        notification: notification.groupKey,
        destinations: [
          { name: 'ops', alerts: 3 },
          { name: 'pager', alerts: 1 },
          { name: 'critical', alerts: 2 },
        ],
      });
      expect(enqueuer.accepted.map((a) => [a.sink, JSON.parse(a.message.body).destination]).sort()).toEqual([
        ['console', 'critical'],
        ['console', 'ops'],
        ['webhook', 'pager'],
      ]);
      for (const { message } of enqueuer.accepted) {
        const body = JSON.parse(message.body) as QueueMessage;
        expect(message.groupId).toBe(messageGroupId(body.destination, notification.groupKey));
        expect(message.groupId.length).toBeLessThanOrEqual(128);
        expect(body.idempotencyKey).toBe(idempotencyKey(body.destination, body.notification));
        expect(message.deduplicationId).toBe(queueDeduplicationId(body.idempotencyKey, 'request-1'));
        expect(body.part).toEqual({ index: 1, count: 1 });
      }
      expect(telemetry.get('NotificationsReceived')).toBe(1);
      expect(telemetry.get('MessagesEnqueued', 'ops')).toBe(1);
      expect(telemetry.get('MessagesEnqueued', 'pager')).toBe(1);
    });

    it('should give the same notification posted twice (an HA pair) the same content keys but its own deduplication ids', async () => {
      // Prepare
      const { handler, enqueuer } = setup();
      const reordered = payload();
      reordered.alerts.reverse();

      // Act
      await handler(apiEvent({ requestId: 'from-am-1' }));
      await handler(apiEvent({ body: JSON.stringify(reordered), requestId: 'from-am-2' }));

      // Assess
      const ids = enqueuer.accepted.map((a) => a.message.deduplicationId);
      const keys = enqueuer.bodies().map((b) => b.idempotencyKey);
      expect(ids).toHaveLength(6);
      expect(new Set(ids).size).toBe(6);
      expect(new Set(keys).size).toBe(3);
    });

    it('should put both of two identical posts on the embedded queue, and a resend within one request only once', async () => {
      // Prepare
      const queue = new SqliteQueue({ path: ':memory:' });
      for (const sink of ['console', 'webhook']) queue.createQueue(sink, { visibilityTimeoutSeconds: 30 });
      const local = new LocalEnqueuer(queue);
      const { handler, enqueuer } = setup();
      // Every entry reported failed once after the queue took it (a lost answer): ingest resends it.
      enqueuer.script = async (sink, entries, call) => {
        await local.sendBatch(sink, entries);
        return call <= 2
          ? { failed: entries.map((e) => ({ id: e.id, reason: 'InternalError' })) }
          : { failed: [] };
      };

      // Act
      const first = await handler(apiEvent({ requestId: 'from-am-1' }));
      const second = await handler(apiEvent({ requestId: 'from-am-2' }));

      // Assess
      expect([first.statusCode, second.statusCode]).toEqual([202, 202]);
      expect(enqueuer.calls.length).toBeGreaterThan(4);
      const queued = [...queue.peek('console', 100), ...queue.peek('webhook', 100)];
      expect(queued).toHaveLength(6);
      const keys = queued.map((m) => parseMessage(m.body).idempotencyKey);
      expect(new Set(keys).size).toBe(3);
      queue.close();
    });

    it('should accept a label with U+FFFF, U+FFFE and a lone surrogate, enqueue a body SQS accepts, and keep the text', async () => {
      // Prepare
      const { handler, enqueuer } = setup({ config: { destinations: [{ name: 'ops', sink: 'console' }] } });
      const hostile = 'a\uFFFFb\uFFFEc\uD800d';
      const body = payload();
      body.alerts[0].labels.hostile = hostile;

      // Act
      const result = await handler(apiEvent({ body: JSON.stringify(body) }));

      // Assess
      expect(result.statusCode).toBe(202);
      const [message] = enqueuer.accepted.map((a) => a.message);
      expect(message.body).not.toMatch(REFUSED_BY_SQS);
      expect(parseMessage(message.body).notification.alerts[0].labels.hostile).toBe(hostile);
    });

    it('should accept one alert with a 1.1 MB description repeated in commonAnnotations, cut with a mark', async () => {
      // Prepare
      const { handler, enqueuer } = setup({ config: { destinations: [{ name: 'ops', sink: 'console' }] } });
      const body = payload();
      body.alerts = [{ ...body.alerts[0], annotations: { description: 'd'.repeat(1_100_000) } }];
      body.commonAnnotations = { description: 'd'.repeat(1_100_000) };

      // Act
      const result = await handler(apiEvent({ body: JSON.stringify(body) }));

      // Assess
      expect(result.statusCode).toBe(202);
      const [sent] = enqueuer.bodies();
      expect(sent.notification.alerts[0].annotations.description).toMatch(/^d+ \[truncated \d+ bytes\]$/);
      expect(sent.notification.commonAnnotations).toEqual(sent.notification.alerts[0].annotations);
    });

    it('should split a notification over 1 MiB into parts, losing no alert, in calls of at most 10 and 1 MiB', async () => {
      // Prepare
      const { handler, enqueuer } = setup({ config: { destinations: [{ name: 'ops', sink: 'console' }] } });
      const body = payload();
      const template = body.alerts[0];
      body.alerts = Array.from({ length: 40 }, (_, i) => ({
        ...template,
        labels: { ...template.labels, pod: `web-${i}` },
        annotations: { description: 'd'.repeat(60_000) },
        fingerprint: `fp${i}`,
      }));

      // Act
      const result = await handler(apiEvent({ body: JSON.stringify(body) }));

      // Assess
      expect(result.statusCode).toBe(202);
      const answer = json(result);
      const parts = enqueuer.bodies();
      expect(parts.length).toBeGreaterThan(1);
      expect(answer.destinations).toEqual([{ name: 'ops', alerts: 40, parts: parts.length }]);
      expect(parts.map((p) => p.part.index).sort((a, b) => a - b)).toEqual(parts.map((_, i) => i + 1));
      for (const p of parts) expect(p.part.count).toBe(parts.length);
      expect(parts.flatMap((p) => p.notification.alerts.map((a) => a.fingerprint)).sort()).toEqual(
        body.alerts.map((a) => a.fingerprint).sort(),
      );
      for (const call of enqueuer.calls) {
        expect(call.entries.length).toBeLessThanOrEqual(10);
        expect(call.entries.reduce((sum, e) => sum + Buffer.byteLength(e.body), 0)).toBeLessThanOrEqual(
          SQS_LIMIT,
        );
      }
    });

    it('should send more than 10 messages for one sink in several calls', async () => {
      // Prepare
      const destinations = Array.from({ length: 12 }, (_, i) => ({ name: `d${i}`, sink: 'console' }));
      const { handler, enqueuer } = setup({ config: { destinations } });

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(202);
      expect(enqueuer.calls.map((c) => c.entries.length).sort((a, b) => a - b)).toEqual([2, 10]);
      expect(new Set(enqueuer.accepted.map((a) => JSON.parse(a.message.body).destination)).size).toBe(12);
    });
  });

  describe('enqueue', () => {
    it('should retry the entries reported in Failed once, and only those', async () => {
      // Prepare
      const { handler, enqueuer } = setup();
      let failedId = '';
      enqueuer.script = (sink, entries, call) => {
        if (call === 1 && sink === 'console') {
          failedId = entries[0].id;
          return { failed: [{ id: failedId, reason: 'InternalError' }] };
        }
        return { failed: [] };
      };

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(202);
      const retries = enqueuer.calls.filter((c) => c.sink === 'console');
      expect(retries).toHaveLength(2);
      expect(retries[1].entries.map((e) => e.id)).toEqual([failedId]);
      expect(enqueuer.accepted).toHaveLength(3);
    });

    it('should answer 503, never 429, when an entry is still not accepted after the retry', async () => {
      // Prepare
      const { handler, enqueuer } = setup();
      enqueuer.script = (sink, entries) =>
        sink === 'webhook'
          ? { failed: entries.map((e) => ({ id: e.id, reason: 'ThrottlingException' })) }
          : { failed: [] };

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(503);
      const { details } = expectErrorBody(result);
      expect(details).toEqual([{ sink: 'webhook', reason: 'ThrottlingException' }]);
      expect(enqueuer.calls.filter((c) => c.sink === 'webhook')).toHaveLength(2);
    });

    it('should answer 503 when the enqueuer throws every time', async () => {
      // Prepare
      const { handler, enqueuer } = setup();
      enqueuer.script = () => {
        throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });
      };

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(503);
      expectErrorBody(result);
      expect(enqueuer.accepted).toEqual([]);
    });

    it('should answer 202 when a throwing call succeeds on the retry', async () => {
      // Prepare
      const { handler, enqueuer } = setup();
      enqueuer.script = (sink, _entries, call) => {
        if (sink === 'console' && call <= 2) throw new Error('socket hang up');
        return { failed: [] };
      };

      // Act
      const result = await handler(apiEvent());

      // Assess
      expect(result.statusCode).toBe(202);
      expect(new Set(enqueuer.accepted.map((a) => JSON.parse(a.message.body).destination))).toEqual(
        new Set(['ops', 'pager', 'critical']),
      );
    });

    it('should answer only after every queue accepted every message', async () => {
      // Prepare
      const { handler, enqueuer } = setup();
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      enqueuer.script = async (sink) => {
        if (sink === 'webhook') await released;
        return { failed: [] };
      };

      // Act
      const pending = handler(apiEvent());
      const early = await Promise.race([
        pending.then(() => 'answered'),
        new Promise((resolve) => setImmediate(() => resolve('waiting'))),
      ]);
      release();
      const result = await pending;

      // Assess
      expect(early).toBe('waiting');
      expect(enqueuer.calls.map((c) => c.sink).sort()).toEqual(['console', 'webhook']);
      expect(result.statusCode).toBe(202);
    });
  });
});

describe('Function: safeEqual', () => {
  beforeEach(() => {
    vi.mocked(timingSafeEqual).mockClear();
  });

  it('should compare equal-length buffers with crypto.timingSafeEqual', () => {
    // Prepare
    const a = Buffer.from('0123456789abcdef');
    const b = Buffer.from('0123456789abcdef');
    const c = Buffer.from('0123456789abcdeF');

    // Act
    const same = safeEqual(a, b);
    const different = safeEqual(a, c);

    // Assess
    expect(same).toBe(true);
    expect(different).toBe(false);
    expect(vi.mocked(timingSafeEqual).mock.calls).toEqual([
      [a, b],
      [a, c],
    ]);
  });

  it('should answer false for buffers of different lengths instead of throwing', () => {
    // Prepare
    const a = Buffer.from('short');
    const b = Buffer.from('longer value');

    // Act
    const result = safeEqual(a, b);

    // Assess
    expect(result).toBe(false);
  });
});

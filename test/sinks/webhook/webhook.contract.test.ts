import { randomBytes } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert, Notification } from '../../../lib/alertmanager/types.ts';
import { PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import type { Delivery, SinkLogger } from '../../../lib/delivery/sink.ts';
import {
  createWebhookSink,
  decodeSigningSecret,
  signStandardWebhook,
  type WebhookDestination,
  webhookId,
  webhookSink,
} from '../../../lib/sinks/webhook/webhook.ts';
import {
  describeSinkConformance,
  hostileNotification,
  plainTextViolations,
} from '../../support/conformance.ts';
import { capturingLogger, failure, memoryState } from '../../support/vendor-delivery.ts';
import {
  startWebhookReceiver,
  type WebhookReceiver,
  type WebhookReceiverOptions,
} from '../../support/webhook-receiver.ts';

// Webhook URLs often carry their credential in the path or query: these must never show up
// in an error message or a log line.
const PATH_TOKEN = 'PATHTOKEN-7f3a9c21e';
const QUERY_TOKEN = 'QUERYTOKEN-b41d88a0';
const TOKEN_PATH = `/hooks/${PATH_TOKEN}?token=${QUERY_TOKEN}`;

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const SECRET_NAME = 'WEBHOOK_SIGNING_KEY';
const RECEIVED_AT = '2026-11-21T12:00:00.000Z';
/** The webhook-id of the test's notification occurrence. */
const ID = webhookId('idem-0d4c2a1f9b7e', RECEIVED_AT);

function alert(fingerprint: string): Alert {
  return {
    status: 'firing',
    labels: { alertname: 'HighLatency', severity: 'critical', instance: 'a:9100' },
    annotations: { summary: 'Latency above 2 s — p99 ✓' },
    startsAt: '2026-11-21T11:41:47.157482837Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prom:9090/graph?g0.expr=up&g0.tab=1',
    fingerprint,
  };
}

const NOTIFICATION: Notification = {
  version: '4',
  groupKey: '{}:{alertname="HighLatency"}',
  truncatedAlerts: 0,
  status: 'firing',
  receiver: 'relay',
  groupLabels: { alertname: 'HighLatency' },
  commonLabels: { alertname: 'HighLatency', severity: 'critical' },
  commonAnnotations: {},
  externalURL: 'http://am:9093',
  alerts: [alert('af01d46df1d1cb21'), alert('058728c2d0b47fbe')],
  notification_reason: 'first notification',
};

function delivery(
  destination: Partial<WebhookDestination> & { url: string },
  options: {
    secrets?: Record<string, string>;
    attempt?: number;
    logger?: SinkLogger;
    receivedAt?: string;
  } = {},
): Delivery<WebhookDestination> {
  const secrets = options.secrets ?? { [SECRET_NAME]: SECRET };
  return {
    destination: { name: 'receiver', sink: 'webhook', ...destination },
    notification: NOTIFICATION,
    idempotencyKey: 'idem-0d4c2a1f9b7e',
    part: { index: 1, count: 1 },
    receivedAt: options.receivedAt ?? RECEIVED_AT,
    attempt: options.attempt ?? 1,
    secrets: {
      async get(name) {
        const value = secrets[name];
        if (value === undefined) throw new PermanentError(`secret ${name} does not exist`);
        return value;
      },
    },
    state: memoryState(),
    logger: options.logger ?? capturingLogger().logger,
  };
}

function expectNoLeak(text: string): void {
  expect(text).not.toContain(PATH_TOKEN);
  expect(text).not.toContain(QUERY_TOKEN);
  expect(text).not.toContain('/hooks/');
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(SECRET.slice('whsec_'.length));
}

describeSinkConformance<WebhookDestination>({
  name: 'webhook',
  sink: ({ now }) => createWebhookSink({ now }),
  destination: (vendor) => ({
    name: 'receiver',
    sink: 'webhook',
    url: `${vendor.url}${TOKEN_PATH}`,
    signingSecret: SECRET_NAME,
    timeoutSeconds: vendor.timeoutSeconds,
  }),
  secrets: () => ({ [SECRET_NAME]: SECRET }),
  leaks: () => [PATH_TOKEN, QUERY_TOKEN, SECRET.slice('whsec_'.length)],
  hidden: ['/hooks/'],
  http: { label: (vendor) => `webhook ${vendor.host}` },
  hostile: ({ outcome, requests }) => {
    // An event log: the receiver gets the data exactly as it came, JSON-escaped, signed. Every
    // character a terminal or viewer would act on is a \u escape in the bytes, not raw.
    expect(outcome).toEqual({ delivered: true });
    const [request] = requests;
    const sent = hostileNotification();
    expect(JSON.parse(request.text)).toEqual(sent);
    expect(plainTextViolations(request.text)).toEqual([]);
    expect(request.text).not.toMatch(/[\u2028\u2029]/);
    const headers = {
      'webhook-id': request.headers['webhook-id'],
      'webhook-timestamp': request.headers['webhook-timestamp'],
      'webhook-signature': request.headers['webhook-signature'],
    };
    expect(new Webhook(SECRET).verify(request.text, headers)).toEqual(sent);
  },
});

describe('Sink: webhook', () => {
  const receivers: WebhookReceiver[] = [];

  async function receiver(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
    const started = await startWebhookReceiver({ secret: SECRET, path: TOKEN_PATH, ...options });
    receivers.push(started);
    return started;
  }

  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });

  describe('delivery', () => {
    it('should POST the notification as JSON with a Standard Webhooks signature', async () => {
      // Prepare
      const hook = await receiver();

      // Act
      await webhookSink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME }));

      // Assess
      const [request] = await hook.waitFor(1);
      expect(request.method).toBe('POST');
      expect(request.url).toBe(TOKEN_PATH);
      expect(request.verified).toBe(true);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['user-agent']).toBe('alertmanager-relay');
      expect(request.webhookId).toBe(ID);
      expect(request.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
      expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      const verified = new Webhook(SECRET).verify(request.rawBody, request.headers);
      expect(verified).toEqual(NOTIFICATION);
      expect(request.body).toEqual(NOTIFICATION);
      expect(request.rawBody).toBe(JSON.stringify(NOTIFICATION));
    });

    it('should match the standardwebhooks reference signature byte for byte', () => {
      // Prepare
      const body = JSON.stringify(NOTIFICATION);
      const timestamp = 1_763_726_400;

      // Act
      const ours = signStandardWebhook('msg_1', timestamp, body, decodeSigningSecret(SECRET));

      // Assess
      expect(ours).toBe(new Webhook(SECRET).sign('msg_1', new Date(timestamp * 1000), body));
    });

    it('should send webhook-id and webhook-timestamp but no signature when no secret is configured', async () => {
      // Prepare
      const hook = await receiver({ secret: undefined });

      // Act
      await webhookSink.deliver(delivery({ url: hook.url }));

      // Assess
      const [request] = await hook.waitFor(1);
      expect(request.verified).toBeUndefined();
      expect(request.webhookId).toBe(ID);
      expect(request.headers['webhook-timestamp']).toMatch(/^\d+$/);
      expect(request.headers).not.toHaveProperty('webhook-signature');
      expect(webhookSink.describe?.({ name: 'receiver', sink: 'webhook', url: hook.url })).toEqual([
        'requests are not signed: the receiver cannot tell them from forged ones',
      ]);
    });

    it('should send static headers without letting them replace the relay’s own', async () => {
      // Prepare
      const hook = await receiver();
      const headers = { 'X-Team': 'sre', 'Content-Type': 'text/plain', 'webhook-id': 'forged' };

      // Act
      await webhookSink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME, headers }));

      // Assess
      const [request] = await hook.waitFor(1);
      expect(request.headers['x-team']).toBe('sre');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.webhookId).toBe(ID);
      expect(request.verified).toBe(true);
      expect(
        webhookSink.describe?.({ name: 'r', sink: 'webhook', url: hook.url, signingSecret: 'S', headers }),
      ).toEqual(['headers set by the relay itself are ignored: Content-Type, webhook-id']);
    });

    it('should sign with every key of a space-separated whsec_ list so receivers can rotate', async () => {
      // Prepare
      const next = `whsec_${randomBytes(24).toString('base64')}`;
      const oldHook = await receiver({ secret: SECRET });
      const newHook = await receiver({ secret: next });
      const secrets = { [SECRET_NAME]: `${next} ${SECRET}\n` };

      // Act
      await webhookSink.deliver(delivery({ url: oldHook.url, signingSecret: SECRET_NAME }, { secrets }));
      await webhookSink.deliver(delivery({ url: newHook.url, signingSecret: SECRET_NAME }, { secrets }));

      // Assess
      const [[oldRequest], [newRequest]] = await Promise.all([oldHook.waitFor(1), newHook.waitFor(1)]);
      expect(oldRequest.verified).toBe(true);
      expect(newRequest.verified).toBe(true);
      expect(oldRequest.headers['webhook-signature'].split(' ')).toHaveLength(2);
    });

    it('should use a secret without the whsec_ prefix as its raw UTF-8 bytes', async () => {
      // Prepare
      const raw = 'correct-horse-battery-staple';
      const hook = await receiver({ secret: raw, secretFormat: 'raw' });

      // Act
      await webhookSink.deliver(
        delivery({ url: hook.url, signingSecret: SECRET_NAME }, { secrets: { [SECRET_NAME]: raw } }),
      );

      // Assess
      const [request] = await hook.waitFor(1);
      expect(request.verified).toBe(true);
    });

    it('should sign with a non-ASCII raw secret exactly as the standardwebhooks library derives its key', async () => {
      // Prepare
      const raw = 'pässwörd-€-東京-🔑';
      const hook = await receiver({ secret: raw, secretFormat: 'raw' });

      // Act
      await webhookSink.deliver(
        delivery({ url: hook.url, signingSecret: SECRET_NAME }, { secrets: { [SECRET_NAME]: raw } }),
      );

      // Assess
      const [request] = await hook.waitFor(1);
      expect(request.verified, request.verifyError).toBe(true);
    });

    it('should accept a whsec_ secret without its base64 padding', async () => {
      // Prepare
      const padded = `whsec_${Buffer.from('sixteen-byte-key!').toString('base64')}`;
      expect(padded.endsWith('=')).toBe(true);
      const hook = await receiver({ secret: padded });

      // Act
      await webhookSink.deliver(
        delivery(
          { url: hook.url, signingSecret: SECRET_NAME },
          { secrets: { [SECRET_NAME]: padded.replace(/=+$/, '') } },
        ),
      );

      // Assess
      const [request] = await hook.waitFor(1);
      expect(request.verified, request.verifyError).toBe(true);
    });

    it('should give a repeat_interval reminder a new webhook-id and keep it for its own retries', async () => {
      // Prepare
      const hook = await receiver();
      const reminderAt = '2026-11-21T16:00:00.000Z';

      // Act
      await webhookSink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME }));
      await webhookSink.deliver(
        delivery({ url: hook.url, signingSecret: SECRET_NAME }, { receivedAt: reminderAt }),
      );
      await webhookSink.deliver(
        delivery({ url: hook.url, signingSecret: SECRET_NAME }, { receivedAt: reminderAt, attempt: 2 }),
      );

      // Assess
      const requests = await hook.waitFor(3);
      const reminderId = webhookId('idem-0d4c2a1f9b7e', reminderAt);
      expect(reminderId).not.toBe(ID);
      expect(requests.map((r) => r.webhookId)).toEqual([ID, reminderId, reminderId]);
      expect(requests.every((r) => r.verified)).toBe(true);
    });

    it('should keep webhook-id across retries so the receiver can count one delivery', async () => {
      // Prepare
      const hook = await receiver();
      hook.respondWith([{ status: 500 }, { status: 429, headers: { 'retry-after': '1' } }]);
      const sink = createWebhookSink();

      // Act
      const first = await failure(
        sink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME }, { attempt: 1 })),
      );
      const second = await failure(
        sink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME }, { attempt: 2 })),
      );
      await sink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME }, { attempt: 3 }));

      // Assess
      expect(first).toBeInstanceOf(RetryableError);
      expect(second).toMatchObject({ name: 'RateLimitedError', statusCode: 429, retryAfterSeconds: 1 });
      expect(hook.requests.map((r) => r.outcome)).toEqual([500, 429, 200]);
      expect(hook.attemptsById()).toEqual(new Map([[ID, 3]]));
      expect(hook.deliveriesById()).toEqual(new Map([[ID, 1]]));
      expect(hook.duplicates()).toEqual([]);
    });

    it('should leave a duplicate post visible to the receiver under the same webhook-id', async () => {
      // Prepare
      const hook = await receiver();
      const same = delivery({ url: hook.url, signingSecret: SECRET_NAME });

      // Act
      // What an Alertmanager HA pair or an SQS redelivery after a lost ack produces.
      await Promise.all([webhookSink.deliver(same), webhookSink.deliver(same)]);

      // Assess
      const requests = await hook.waitFor((list) => list.filter((r) => r.verified).length === 2);
      expect(requests.map((r) => r.webhookId)).toEqual([ID, ID]);
      expect(hook.duplicates()).toEqual([ID]);
      expect(hook.deliveriesById().get(ID)).toBe(2);
    });

    it('should log a delivery by host only', async () => {
      // Prepare
      const hook = await receiver();
      const { logger, lines } = capturingLogger();

      // Act
      await webhookSink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME }, { logger }));

      // Assess
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`"host":"127.0.0.1:${hook.port}"`);
      expectNoLeak(lines[0]);
    });
  });

  describe('errors', () => {
    it('should say that a 410 receiver wants no more deliveries', async () => {
      // Prepare
      const hook = await receiver();
      hook.respondWith([{ status: 410 }]);

      // Act
      const error = await failure(
        webhookSink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME })),
      );

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toMatch(/410 Gone: the receiver asked for no more deliveries/);
    });

    it('should not follow a redirect, even to its own host', async () => {
      // Prepare
      const hook = await receiver();
      const elsewhere = new URL('/elsewhere', hook.url).toString();
      hook.respondWith([{ status: 301, headers: { location: elsewhere } }]);

      // Act
      const error = await failure(
        webhookSink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME })),
      );

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ statusCode: 301 });
      expect(error.message).toContain('redirects are not followed');
      expect(hook.requests.map((r) => r.url)).toEqual([TOKEN_PATH]);
    });

    it('should fail permanently when the receiver rejects our signature', async () => {
      // Prepare
      const hook = await receiver({ secret: `whsec_${randomBytes(32).toString('base64')}` });

      // Act
      const error = await failure(
        webhookSink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME })),
      );

      // Assess
      expect(hook.requests[0].verified).toBe(false);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ statusCode: 401 });
    });

    it('should retry when the host name does not resolve', async () => {
      // Prepare
      const dnsFailure = Object.assign(new Error('getaddrinfo ENOTFOUND hooks.example.invalid'), {
        code: 'ENOTFOUND',
      });
      const sink = createWebhookSink({
        fetch: async () => {
          throw new TypeError('fetch failed', { cause: dnsFailure });
        },
      });

      // Act
      const error = await failure(
        sink.deliver(delivery({ url: `https://hooks.example.invalid${TOKEN_PATH}` })),
      );

      // Assess
      expect(error).toBeInstanceOf(RetryableError);
      expect(error.message).toBe('webhook hooks.example.invalid could not be reached (ENOTFOUND)');
    });

    it('should fail permanently, before sending, when the signing secret is missing or malformed', async () => {
      // Prepare
      const hook = await receiver();
      const malformed = 'whsec_not base64!';

      // Act
      const missing = await failure(
        webhookSink.deliver(delivery({ url: hook.url, signingSecret: 'NOPE' }, { secrets: {} })),
      );
      const invalid = await failure(
        webhookSink.deliver(
          delivery({ url: hook.url, signingSecret: SECRET_NAME }, { secrets: { [SECRET_NAME]: malformed } }),
        ),
      );

      // Assess
      expect(missing).toBeInstanceOf(PermanentError);
      expect(invalid).toBeInstanceOf(PermanentError);
      expect(invalid.message).toContain(SECRET_NAME);
      expect(invalid.message).not.toContain('not base64!');
      expect(hook.requests).toEqual([]);
    });

    it('should quote at most 200 clean characters of the response body', async () => {
      // Prepare
      const hook = await receiver();
      const body = `\u001b[31mboom\u001b[0m\r\n\u0000${'x'.repeat(10_000)}`;
      hook.respondWith([{ status: 500, body }]);

      // Act
      const error = await failure(
        webhookSink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME })),
      );

      // Assess
      const quoted = error.message.slice(error.message.indexOf(': ') + 2);
      expect(quoted.startsWith('boom x')).toBe(true);
      expect(Array.from(quoted).length).toBeLessThanOrEqual(200);
      const controls = [...error.message].filter((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
      expect(controls).toEqual([]);
    });

    it('should redact the start of a token cut off where the body stops being read', async () => {
      // Prepare
      const hook = await receiver();
      // Whitespace collapses, so the cut token would land inside the quoted 200 characters.
      hook.respondWith([{ status: 500, body: `a${' '.repeat(4090)}${PATH_TOKEN}${' '.repeat(100)}` }]);

      // Act
      const error = await failure(
        webhookSink.deliver(delivery({ url: hook.url, signingSecret: SECRET_NAME })),
      );

      // Assess
      expect(error.message).toMatch(/: a \[redacted\]$/);
      expect(error.message).not.toContain(PATH_TOKEN.slice(0, 4));
    });

    it('should fail permanently on a URL that is not http(s) or carries credentials, without quoting it', async () => {
      // Act
      const ftp = await failure(webhookSink.deliver(delivery({ url: `ftp://files.example${TOKEN_PATH}` })));
      const credentials = await failure(
        webhookSink.deliver(delivery({ url: `https://user:${QUERY_TOKEN}@hooks.example${TOKEN_PATH}` })),
      );
      const garbage = await failure(webhookSink.deliver(delivery({ url: `not a url ${PATH_TOKEN}` })));

      // Assess
      for (const error of [ftp, credentials, garbage]) {
        expect(error).toBeInstanceOf(PermanentError);
        expectNoLeak(error.message);
      }
    });
  });

  describe('config schema', () => {
    // The same ajv settings and common fields as lib/config/load.ts.
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile({
      ...webhookSink.configSchema,
      properties: {
        ...(webhookSink.configSchema.properties as Record<string, unknown>),
        name: true,
        sink: true,
        matchers: true,
      },
    });
    const base = { name: 'receiver', sink: 'webhook' };

    it('should accept a full destination', () => {
      // Prepare
      const destination = {
        ...base,
        url: `https://hooks.example${TOKEN_PATH}`,
        signingSecret: SECRET_NAME,
        timeoutSeconds: 30,
        headers: { 'X-Team': 'sre' },
      };

      // Act
      const valid = validate(destination);

      // Assess
      expect(validate.errors ?? []).toEqual([]);
      expect(valid).toBe(true);
    });

    it.each([
      ['no url', {}],
      ['an ftp url', { url: 'ftp://hooks.example/x' }],
      ['credentials in the url', { url: 'https://user:pw@hooks.example/x' }],
      ['a timeout of 0', { url: 'https://hooks.example', timeoutSeconds: 0 }],
      ['a timeout above 120', { url: 'https://hooks.example', timeoutSeconds: 121 }],
      ['a header value with a newline', { url: 'https://hooks.example', headers: { 'X-A': 'a\r\nX-B: b' } }],
      ['a header name with a space', { url: 'https://hooks.example', headers: { 'X A': 'a' } }],
      ['a misspelt field', { url: 'https://hooks.example', signingSecert: SECRET_NAME }],
    ])('should reject %s', (_, fields) => {
      // Act
      const valid = validate({ ...base, ...fields });

      // Assess
      expect(valid).toBe(false);
    });
  });
});

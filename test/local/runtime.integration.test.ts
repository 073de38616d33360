import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { type LocalRelay, useLocalRelay } from '../support/local-relay.ts';
import { makeNotification, referencePayload } from '../support/notifications.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const TOKEN = 'ingest-token-7f3a9c';
const SIGNING_SECRET = `whsec_${Buffer.from('integration-signing-key-0123456789').toString('base64')}`;

describe('Local runtime: POST /alertmanager -> queue -> sink', () => {
  const local = useLocalRelay('int');
  let receiver: WebhookReceiver;

  beforeEach(async () => {
    receiver = local.own(await startWebhookReceiver({ secret: SIGNING_SECRET }));
  });

  function start(options: { maxAttempts?: number } = {}): Promise<LocalRelay> {
    return local.start({
      token: TOKEN,
      destinations: [
        { name: 'stdout', sink: 'console', file: join(local.dir, 'alerts.jsonl'), format: 'json' },
        {
          name: 'audit',
          sink: 'webhook',
          url: receiver.url,
          signingSecret: 'AUDIT_HOOK_SECRET',
          matchers: ['severity=~"critical|page"'],
        },
      ],
      secrets: { AUDIT_HOOK_SECRET: SIGNING_SECRET },
      maxAttempts: options.maxAttempts,
    });
  }

  it('should deliver a real Alertmanager notification to the console and the signed webhook', async () => {
    // Prepare
    const r = await start();
    const notification = referencePayload('am-0.25-prom-group-firing-3alerts.json');

    // Act
    const response = await r.post(notification);
    const [request] = await receiver.waitFor(1);
    await r.until(() => r.telemetry.get('Delivered', 'stdout') === 1);

    // Assess
    expect(response.status).toBe(202);
    expect(response.body.notification).toBe(notification.groupKey);
    expect(request.verified).toBe(true);
    expect((request.body as { alerts: unknown[] }).alerts).toHaveLength(notification.alerts.length);
    const lines = (await readFile(join(local.dir, 'alerts.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(notification.alerts.length);
  });

  it('should send a destination only the alerts its matchers select', async () => {
    // Prepare
    const r = await start();
    const notification = makeNotification({
      count: 3,
      labels: (i) => ({ severity: i === 1 ? 'warning' : 'critical' }),
    });

    // Act
    const response = await r.post(notification);
    const [request] = await receiver.waitFor(1);

    // Assess
    expect(response.body.destinations).toEqual([
      { name: 'stdout', alerts: 3 },
      { name: 'audit', alerts: 2 },
    ]);
    const labels = (request.body as { alerts: { labels: Record<string, string> }[] }).alerts.map(
      (a) => a.labels.severity,
    );
    expect(labels).toEqual(['critical', 'critical']);
  });

  it('should deliver a notification posted twice (an Alertmanager HA pair) once', async () => {
    // Prepare
    const r = await start();
    const notification = makeNotification({ count: 2 });

    // Act
    const first = await r.post(notification);
    const second = await r.post(notification);
    await r.settled('webhook', () => r.telemetry.get('Delivered', 'audit') >= 1);

    // Assess
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(receiver.delivered()).toHaveLength(1);
    expect(receiver.duplicates()).toEqual([]);
  });

  it('should retry a retryable failure and then deliver, honouring Retry-After', async () => {
    // Prepare
    const r = await start();
    receiver.respondWith([{ status: 503 }, { status: 429, headers: { 'retry-after': '1' } }]);

    // Act
    await r.post(makeNotification({}));
    const requests = await receiver.waitFor((all) => all.some((q) => q.outcome === 200));
    await r.until(() => r.telemetry.get('Delivered', 'audit') === 1);

    // Assess
    expect(requests.map((q) => q.outcome)).toEqual([503, 429, 200]);
    expect(new Set(requests.map((q) => q.webhookId)).size).toBe(1);
    // The 503 is a failed attempt; the 429 is a wait.
    expect(r.telemetry.get('Retried', 'audit')).toBe(1);
    expect(r.telemetry.get('Delivered', 'audit')).toBe(1);
  });

  it('should dead-letter a permanent failure at once, with its reason', async () => {
    // Prepare
    const r = await start();
    receiver.respondWith([{ status: 400, body: 'unknown field' }]);

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('DeadLettered', 'audit') === 1);

    // Assess
    const [dead] = r.deadLetters('webhook');
    expect(receiver.requests).toHaveLength(1);
    expect(dead.attributes.statusCode).toBe('400');
    expect(dead.attributes.destination).toBe('audit');
    expect(dead.attributes.reason).toMatch(/400/);
    expect(dead.attributes.errorType).toBe('permanent');
  });

  it('should dead-letter after maxAttempts retryable failures', async () => {
    // Prepare
    const r = await start({ maxAttempts: 3 });
    receiver.respondWith([{ status: 500 }, { status: 502 }, { status: 504 }]);

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('DeadLettered', 'audit') === 1);

    // Assess
    const [dead] = r.deadLetters('webhook');
    expect(receiver.requests.map((q) => q.outcome)).toEqual([500, 502, 504]);
    expect(dead.attributes.reason).toMatch(/^gave up after 3 attempts/);
    expect(dead.attributes.attempts).toBe('3');
  });

  it('should answer 401 with WWW-Authenticate and enqueue nothing without the token', async () => {
    // Prepare
    const r = await start();

    // Act
    const response = await r.post(makeNotification({}), { token: 'wrong' });

    // Assess
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(r.queue.depth('webhook')).toEqual({ visible: 0, inFlight: 0 });
  });

  it('should refuse a body over 5 MiB with 413 before reading it', async () => {
    // Prepare
    const r = await start();
    const huge = 'x'.repeat(5 * 1024 * 1024 + 1);

    // Act
    const response = await r.post(huge);

    // Assess
    expect(response.status).toBe(413);
    expect(response.body.error).toBe('payload too large');
  });

  it('should answer GET /healthz with queue depths and counters', async () => {
    // Prepare
    const r = await start();
    await r.post(makeNotification({}));
    await receiver.waitFor(1);

    // Act
    const health = (await (await fetch(`${r.url}/healthz`)).json()) as Record<string, unknown>;

    // Assess
    expect(health.status).toBe('ok');
    expect(Object.keys(health.queues as object).sort()).toEqual(['console', 'webhook']);
  });
});

import { beforeEach, describe, expect, it } from 'vitest';
import { type FakeSysdig, startFakeSysdig } from '../../support/fake-sysdig.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';

const INGEST_TOKEN = 'ingest-token-3b9d1f';
const SYSDIG_TOKEN = 'sysdig-api-token-8e2c4a61';

describe('Sink: sysdig through the local runtime', () => {
  const local = useLocalRelay('sysdig');
  let fake: FakeSysdig;

  beforeEach(async () => {
    fake = local.own(await startFakeSysdig({ token: SYSDIG_TOKEN }));
  });

  // Retries come back at once unless Sysdig says otherwise: these tests await outcomes.
  function start(options: { token?: string; maxAttempts?: number } = {}): Promise<LocalRelay> {
    return local.start({
      token: INGEST_TOKEN,
      destinations: [{ name: 'monitor', sink: 'sysdig', tokenSecret: 'SYSDIG_TOKEN', baseUrl: fake.url }],
      secrets: { SYSDIG_TOKEN: options.token ?? SYSDIG_TOKEN },
      maxAttempts: options.maxAttempts,
    });
  }

  it('should create a firing event and then a resolved event with the same fingerprint', async () => {
    // Prepare
    const r = await start();
    const firing = makeNotification({ count: 1, labels: () => ({ container_name: 'checkout' }) });
    const resolved = makeNotification({
      count: 1,
      status: 'resolved',
      labels: () => ({ container_name: 'checkout' }),
    });

    // Act
    const accepted = await r.post(firing);
    await fake.waitForEvents(1);
    await r.post(resolved);
    const events = await fake.waitForEvents(2);
    await r.until(() => r.telemetry.get('Delivered', 'monitor') === 2);

    // Assess
    expect(accepted.status).toBe(202);
    expect(events.map((e) => [e.tags.status, e.tags.fingerprint, e.scope])).toEqual([
      ['firing', firing.alerts[0].fingerprint, 'container.name = "checkout"'],
      ['resolved', firing.alerts[0].fingerprint, 'container.name = "checkout"'],
    ]);
  });

  it('should create each event once when two Alertmanagers post the same notification', async () => {
    // Prepare
    const r = await start();
    const notification = makeNotification({ count: 3 });

    // Act
    await r.post(notification);
    await r.post(notification);
    await r.settled('sysdig', () => r.telemetry.get('Delivered', 'monitor') >= 1);

    // Assess
    expect(fake.events.map((e) => e.tags.fingerprint)).toEqual(notification.alerts.map((a) => a.fingerprint));
  });

  it('should wait out a 429 and resume a group at the alert that failed, creating nothing twice', async () => {
    // Prepare
    const r = await start();
    const notification = makeNotification({ count: 3 });
    fake.respondWith([
      { status: 429, headers: { 'retry-after': '1' }, body: { message: 'rate limited' } },
      { status: 201, body: {} },
      { status: 503, body: 'busy' },
    ]);

    // Act
    await r.post(notification);
    await r.until(() => r.telemetry.get('Delivered', 'monitor') === 1);

    // Assess
    expect(fake.requests.map((q) => q.outcome)).toEqual([429, 201, 503, 201, 201]);
    const created = fake.requests
      .filter((q) => q.outcome === 201)
      .map((q) => (q.body as { event: { tags: { fingerprint: string } } }).event.tags.fingerprint);
    expect(created).toEqual(notification.alerts.map((a) => a.fingerprint));
    // The 503 is a failed attempt; the 429 is a wait.
    expect(r.telemetry.get('Retried', 'monitor')).toBe(1);
  });

  it('should dead-letter at once, without the token, when Sysdig refuses the token', async () => {
    // Prepare
    const wrong = 'revoked-token-77aa1c3d';
    const r = await start({ token: wrong });

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('DeadLettered', 'monitor') === 1);

    // Assess
    const [dead] = r.deadLetters('sysdig');
    expect(fake.requests.map((q) => q.outcome)).toEqual([401]);
    expect(dead.attributes).toMatchObject({
      statusCode: '401',
      destination: 'monitor',
      errorType: 'permanent',
    });
    expect(dead.attributes.reason).toMatch(/sysdig 127\.0\.0\.1:\d+ answered 401/);
    expect(dead.attributes.reason).not.toContain(wrong);
  });

  it('should dead-letter after maxAttempts 5xx answers', async () => {
    // Prepare
    const r = await start({ maxAttempts: 3 });
    fake.respondWith([{ status: 500 }, { status: 502 }, { status: 504 }]);

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('DeadLettered', 'monitor') === 1);

    // Assess
    const [dead] = r.deadLetters('sysdig');
    expect(fake.events).toHaveLength(0);
    expect(dead.attributes.reason).toMatch(/^gave up after 3 attempts: RetryableError: sysdig .* 504/);
  });
});

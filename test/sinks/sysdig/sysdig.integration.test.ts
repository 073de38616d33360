import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Relay, startRelay } from '../../../lib/local/runtime.ts';
import { deadLetterQueueName } from '../../../lib/queue/local.ts';
import { LocalSecrets } from '../../../lib/secrets.ts';
import { type FakeSysdig, startFakeSysdig } from '../../support/fake-sysdig.ts';
import { makeNotification, postNotification } from '../../support/notifications.ts';

const INGEST_TOKEN = 'ingest-token-3b9d1f';
const SYSDIG_TOKEN = 'sysdig-api-token-8e2c4a61';

describe('Sink: sysdig through the local runtime', () => {
  let dir: string;
  let fake: FakeSysdig;
  let relay: Relay | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-sysdig-'));
    fake = await startFakeSysdig({ token: SYSDIG_TOKEN });
  });

  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(options: { token?: string; maxReceiveCount?: number } = {}): Promise<Relay> {
    relay = await startRelay({
      config: {
        ingest: { tokenSecret: 'INGEST_TOKEN' },
        destinations: [{ name: 'monitor', sink: 'sysdig', tokenSecret: 'SYSDIG_TOKEN', baseUrl: fake.url }],
      },
      secrets: new LocalSecrets({
        env: { INGEST_TOKEN: INGEST_TOKEN, SYSDIG_TOKEN: options.token ?? SYSDIG_TOKEN },
      }),
      dataDir: join(dir, 'data'),
      port: 0,
      logger: new Logger({ logLevel: 'SILENT' }),
      maxReceiveCount: options.maxReceiveCount,
      // Retries come back at once unless Sysdig says otherwise: these tests await outcomes.
      backoff: { baseSeconds: 0, factor: 1, maxSeconds: 0 },
    });
    return relay;
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
    const accepted = await postNotification(r.url, firing, { token: INGEST_TOKEN });
    await fake.waitForEvents(1);
    await postNotification(r.url, resolved, { token: INGEST_TOKEN });
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
    await postNotification(r.url, notification, { token: INGEST_TOKEN });
    await postNotification(r.url, notification, { token: INGEST_TOKEN });
    await r.until(
      () => r.telemetry.get('Delivered', 'monitor') >= 1 && r.queue.depth('sysdig').visible === 0,
    );
    await r.until(() => r.queue.depth('sysdig').inFlight === 0);

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
    await postNotification(r.url, notification, { token: INGEST_TOKEN });
    await r.until(() => r.telemetry.get('Delivered', 'monitor') === 1);

    // Assess
    expect(fake.requests.map((q) => q.outcome)).toEqual([429, 201, 503, 201, 201]);
    const created = fake.requests
      .filter((q) => q.outcome === 201)
      .map((q) => (q.body as { event: { tags: { fingerprint: string } } }).event.tags.fingerprint);
    expect(created).toEqual(notification.alerts.map((a) => a.fingerprint));
    expect(r.telemetry.get('Retried', 'monitor')).toBe(2);
  });

  it('should dead-letter at once, without the token, when Sysdig refuses the token', async () => {
    // Prepare
    const wrong = 'revoked-token-77aa1c3d';
    const r = await start({ token: wrong });

    // Act
    await postNotification(r.url, makeNotification({}), { token: INGEST_TOKEN });
    await r.until(() => r.telemetry.get('DeadLettered', 'monitor') === 1);

    // Assess
    const [dead] = r.queue.peek(deadLetterQueueName('sysdig'));
    expect(fake.requests.map((q) => q.outcome)).toEqual([401]);
    expect(dead.attributes).toMatchObject({
      statusCode: '401',
      destination: 'monitor',
      errorType: 'permanent',
    });
    expect(dead.attributes.reason).toMatch(/sysdig 127\.0\.0\.1:\d+ answered 401/);
    expect(dead.attributes.reason).not.toContain(wrong);
  });

  it('should dead-letter after maxReceiveCount 5xx answers', async () => {
    // Prepare
    const r = await start({ maxReceiveCount: 3 });
    fake.respondWith([{ status: 500 }, { status: 502 }, { status: 504 }]);

    // Act
    await postNotification(r.url, makeNotification({}), { token: INGEST_TOKEN });
    await r.until(() => r.telemetry.get('DeadLettered', 'monitor') === 1);

    // Assess
    const [dead] = r.queue.peek(deadLetterQueueName('sysdig'));
    expect(fake.events).toHaveLength(0);
    expect(dead.attributes.reason).toMatch(/^gave up after 3 attempts: RetryableError: sysdig .* 504/);
  });
});

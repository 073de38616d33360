import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DestinationConfig } from '../../../lib/config/types.ts';
import { type Relay, startRelay } from '../../../lib/local/runtime.ts';
import { deadLetterQueueName } from '../../../lib/queue/local.ts';
import { LocalSecrets } from '../../../lib/secrets.ts';
import { type FakeIlert, startFakeIlert } from '../../support/fake-ilert.ts';
import { makeNotification, postNotification } from '../../support/notifications.ts';

const TOKEN = 'ingest-token-ilert-77c1';
const KEY = 'il1prom0integration0key0123456789abcdef';

describe('Local runtime: POST /alertmanager -> ilert sink -> fake ilert', () => {
  let dir: string;
  let ilert: FakeIlert;
  let relay: Relay | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-ilert-'));
    ilert = await startFakeIlert({ integrationKeys: [KEY] });
  });

  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    await ilert.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(destination: Partial<DestinationConfig> = {}, key = KEY): Promise<Relay> {
    relay = await startRelay({
      config: {
        ingest: { tokenSecret: 'INGEST_TOKEN' },
        destinations: [
          { name: 'oncall', sink: 'ilert', keySecret: 'ILERT_KEY', baseUrl: ilert.url, ...destination },
        ],
      },
      secrets: new LocalSecrets({ env: { INGEST_TOKEN: TOKEN, ILERT_KEY: key } }),
      dataDir: join(dir, 'data'),
      port: 0,
      logger: new Logger({ logLevel: 'SILENT' }),
      backoff: { baseSeconds: 0, factor: 1, maxSeconds: 0 },
    });
    return relay;
  }

  it('should forward firing and resolved notifications to the Prometheus endpoint (mode alertmanager)', async () => {
    // Prepare
    const r = await start();
    const firing = makeNotification({ count: 2 });

    // Act
    await postNotification(r.url, firing, { token: TOKEN });
    await ilert.waitFor(() => ilert.alert(firing.groupKey)?.status === 'pending');
    await postNotification(r.url, makeNotification({ count: 2, status: 'resolved' }), { token: TOKEN });
    await ilert.waitFor(() => ilert.alert(firing.groupKey)?.status === 'resolved');

    // Assess
    expect(ilert.alerts).toHaveLength(1);
    expect(ilert.alerts[0].events).toEqual(['firing', 'resolved']);
  });

  it('should open and resolve one ilert alert per Alertmanager alert (mode events)', async () => {
    // Prepare
    const r = await start({ mode: 'events' });
    const firing = makeNotification({ count: 2 });

    // Act
    await postNotification(r.url, firing, { token: TOKEN });
    await postNotification(r.url, makeNotification({ count: 2, status: 'resolved' }), { token: TOKEN });
    await ilert.waitFor(
      () => ilert.alerts.length === 2 && ilert.alerts.every((a) => a.status === 'resolved'),
    );
    await r.until(() => r.telemetry.get('Delivered', 'oncall') === 2);

    // Assess
    expect(ilert.alerts.map((a) => a.alertKey)).toEqual(firing.alerts.map((a) => `oncall/${a.fingerprint}`));
    expect(ilert.requests).toHaveLength(4);
  });

  it('should deliver a notification posted twice (an Alertmanager HA pair) once', async () => {
    // Prepare
    const r = await start({ mode: 'events' });
    const notification = makeNotification({ count: 2 });

    // Act
    await postNotification(r.url, notification, { token: TOKEN });
    await postNotification(r.url, notification, { token: TOKEN });
    await r.until(() => r.telemetry.get('Delivered', 'oncall') === 1 && r.queue.depth('ilert').visible === 0);
    await r.until(() => r.queue.depth('ilert').inFlight === 0);

    // Assess
    expect(ilert.requests).toHaveLength(2);
    expect(ilert.alerts.map((a) => a.events)).toEqual([['ALERT'], ['ALERT']]);
  });

  it('should retry a 5xx and then deliver', async () => {
    // Prepare
    const r = await start();
    ilert.respondWith([{ status: 503 }]);

    // Act
    await postNotification(r.url, makeNotification({}), { token: TOKEN });
    await r.until(() => r.telemetry.get('Delivered', 'oncall') === 1);

    // Assess
    expect(ilert.requests.map((q) => q.outcome)).toEqual([503, 202]);
    expect(r.telemetry.get('Retried', 'oncall')).toBe(1);
  });

  it('should dead-letter an unknown alert source key at once, without quoting it', async () => {
    // Prepare
    const r = await start({}, 'il1prom-not-a-known-key-42');

    // Act
    await postNotification(r.url, makeNotification({}), { token: TOKEN });
    await r.until(() => r.telemetry.get('DeadLettered', 'oncall') === 1);

    // Assess
    const [dead] = r.queue.peek(deadLetterQueueName('ilert'));
    expect(dead.attributes).toMatchObject({
      statusCode: '404',
      destination: 'oncall',
      errorType: 'permanent',
    });
    expect(dead.attributes.reason).not.toContain('il1prom-not-a-known-key-42');
  });
});

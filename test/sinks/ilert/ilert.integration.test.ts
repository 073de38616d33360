import { beforeEach, describe, expect, it } from 'vitest';
import type { DestinationConfig } from '../../../lib/config/types.ts';
import { type FakeIlert, startFakeIlert } from '../../support/fake-ilert.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';

const TOKEN = 'ingest-token-ilert-77c1';
const KEY = 'il1prom0integration0key0123456789abcdef';

describe('Local runtime: POST /alertmanager -> ilert sink -> fake ilert', () => {
  const local = useLocalRelay('ilert');
  let ilert: FakeIlert;

  beforeEach(async () => {
    ilert = local.own(await startFakeIlert({ integrationKeys: [KEY] }));
  });

  function start(destination: Partial<DestinationConfig> = {}, key = KEY): Promise<LocalRelay> {
    return local.start({
      token: TOKEN,
      destinations: [
        { name: 'oncall', sink: 'ilert', keySecret: 'ILERT_KEY', baseUrl: ilert.url, ...destination },
      ],
      secrets: { ILERT_KEY: key },
    });
  }

  it('should forward firing and resolved notifications to the Prometheus endpoint (mode alertmanager)', async () => {
    // Prepare
    const r = await start();
    const firing = makeNotification({ count: 2 });

    // Act
    await r.post(firing);
    await ilert.waitFor(() => ilert.alert(firing.groupKey)?.status === 'pending');
    await r.post(makeNotification({ count: 2, status: 'resolved' }));
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
    await r.post(firing);
    await r.post(makeNotification({ count: 2, status: 'resolved' }));
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
    await r.post(notification);
    await r.post(notification);
    await r.settled('ilert', () => r.telemetry.get('Delivered', 'oncall') === 1);

    // Assess
    expect(ilert.requests).toHaveLength(2);
    expect(ilert.alerts.map((a) => a.events)).toEqual([['ALERT'], ['ALERT']]);
  });

  it('should retry a 5xx and then deliver', async () => {
    // Prepare
    const r = await start();
    ilert.respondWith([{ status: 503 }]);

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('Delivered', 'oncall') === 1);

    // Assess
    expect(ilert.requests.map((q) => q.outcome)).toEqual([503, 202]);
    expect(r.telemetry.get('Retried', 'oncall')).toBe(1);
  });

  it('should dead-letter an unknown alert source key at once, without quoting it', async () => {
    // Prepare
    const r = await start({}, 'il1prom-not-a-known-key-42');

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('DeadLettered', 'oncall') === 1);

    // Assess
    const [dead] = r.deadLetters('ilert');
    expect(dead.attributes).toMatchObject({
      statusCode: '404',
      destination: 'oncall',
      errorType: 'permanent',
    });
    expect(dead.attributes.reason).not.toContain('il1prom-not-a-known-key-42');
  });
});

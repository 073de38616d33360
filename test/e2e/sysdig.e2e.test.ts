import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { type FakeSysdig, type StoredSysdigEvent, startFakeSysdig } from '../support/fake-sysdig.ts';
import { postAlerts, resolveAlerts } from './support/alerts.ts';
import { type Started, useE2EStack } from './support/stack.ts';

/**
 * The Sysdig sink end to end: the real Alertmanager 0.25 posts a firing and then a resolved
 * notification (Bearer token) to the relay (`node lib/local/main.ts`), which turns each into a
 * custom event on the fake Sysdig events API.
 */

const ingestToken = `e2e-${randomUUID()}`;
const sysdigToken = `sysdig-${randomUUID()}`;
const ALERT = 'RelayE2ESysdig';

const stack = useE2EStack('sysdig');
let fake: FakeSysdig;
let alertmanager: Started;

beforeAll(async () => {
  fake = stack.own(await startFakeSysdig({ token: sysdigToken }));
  const relay = await stack.startRelay({
    config: {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [{ name: 'monitor', sink: 'sysdig', tokenSecret: 'SYSDIG_TOKEN', baseUrl: fake.url }],
    },
    env: { INGEST_TOKEN: ingestToken, SYSDIG_TOKEN: sysdigToken },
  });
  alertmanager = await stack.startAlertmanager({
    webhooks: [{ url: `${relay.url}/alertmanager`, bearerToken: ingestToken }],
  });
});

const ofAlert = (events: readonly StoredSysdigEvent[]) => events.filter((e) => e.tags.alertname === ALERT);

describe('Alertmanager -> relay -> Sysdig Monitor events', () => {
  test('a firing and a resolved notification become two events with the same fingerprint tag', async () => {
    // Prepare
    const [alert] = await postAlerts(alertmanager.url, [
      {
        labels: { alertname: ALERT, severity: 'critical', container_name: 'checkout', team: 'payments' },
        annotations: { summary: 'checkout is down' },
      },
    ]);

    // Act
    const [firing] = ofAlert(await fake.waitForEvents((events) => ofAlert(events).length >= 1));
    await resolveAlerts(alertmanager.url, [alert]);
    const events = ofAlert(
      await fake.waitForEvents((all) => ofAlert(all).some((e) => e.tags.status === 'resolved')),
    );

    // Assess
    expect(firing).toMatchObject({
      name: `[FIRING] ${ALERT}`,
      severity: 2,
      scope: 'container.name = "checkout"',
      tags: { status: 'firing', team: 'payments' },
    });
    expect(firing.tags.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(firing.description).toContain('checkout is down');
    expect(events.map((e) => [e.name, e.tags.status, e.tags.fingerprint])).toEqual([
      [`[FIRING] ${ALERT}`, 'firing', firing.tags.fingerprint],
      [`[RESOLVED] ${ALERT}`, 'resolved', firing.tags.fingerprint],
    ]);
    expect(fake.requests.every((q) => q.headers.authorization === `Bearer ${sysdigToken}`)).toBe(true);
    expect(stack.logs(400)).not.toContain(sysdigToken);
  });
});

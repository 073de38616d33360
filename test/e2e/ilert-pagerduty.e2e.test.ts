import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { groupDedupKey } from '../../lib/sinks/pagerduty/event.ts';
import { type FakeIlert, startFakeIlert } from '../support/fake-ilert.ts';
import { type FakePagerDuty, startFakePagerDuty } from '../support/fake-pagerduty.ts';
import { postAlerts, resolveAlerts } from './support/alerts.ts';
import { useE2EStack } from './support/stack.ts';

/**
 * ilert and PagerDuty end to end: the real Alertmanager 0.25 posts its webhook to the relay
 * (twice per notification: two webhook_configs with the same URL stand in for an HA pair),
 * the relay delivers to fake ilert and PagerDuty servers, and the test reads the vendor-side
 * effect from their records: an ilert alert and a PagerDuty incident opened, then resolved.
 */

const ingestToken = `e2e-${randomUUID()}`;
const ILERT_KEY = 'il1prom0e2e0key00000000000000000000000';
const ILERT_EVENTS_KEY = 'il1api0e2e0events0key000000000000000000';
const PD_KEY = 'R0UT1NGKEYe2e0000000000000000000';
const ALERT = 'RelayE2EVendors';

const stack = useE2EStack('vendors');
let ilert: FakeIlert;
let pagerduty: FakePagerDuty;
let alertmanagerUrl: string;
let relayUrl: string;

// The bound only turns a hang into a failure that lists what did arrive.
const WAIT = { timeoutMs: 60_000 };

beforeAll(async () => {
  ilert = stack.own(await startFakeIlert({ integrationKeys: [ILERT_KEY, ILERT_EVENTS_KEY] }));
  pagerduty = stack.own(await startFakePagerDuty({ routingKeys: [PD_KEY] }));
  const relay = await stack.startRelay({
    config: {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [
        { name: 'oncall', sink: 'ilert', mode: 'alertmanager', keySecret: 'ILERT_KEY', baseUrl: ilert.url },
        {
          name: 'oncall-events',
          sink: 'ilert',
          mode: 'events',
          keySecret: 'ILERT_EVENTS_KEY',
          baseUrl: ilert.url,
        },
        {
          name: 'pager',
          sink: 'pagerduty',
          mode: 'group',
          routingKeySecret: 'PD_ROUTING_KEY',
          baseUrl: pagerduty.url,
        },
        {
          name: 'pager-alerts',
          sink: 'pagerduty',
          mode: 'alert',
          routingKeySecret: 'PD_ROUTING_KEY',
          baseUrl: pagerduty.url,
        },
      ],
    },
    env: {
      INGEST_TOKEN: ingestToken,
      ILERT_KEY,
      ILERT_EVENTS_KEY,
      PD_ROUTING_KEY: PD_KEY,
    },
  });
  relayUrl = relay.url;
  const webhook = { url: `${relay.url}/alertmanager`, bearerToken: ingestToken };
  const alertmanager = await stack.startAlertmanager({ webhooks: [webhook, webhook] });
  alertmanagerUrl = alertmanager.url;
});

describe('Alertmanager -> relay -> ilert and PagerDuty', () => {
  test('a firing group opens one ilert alert and one PagerDuty incident each, and the resolve closes them', async () => {
    // Prepare
    const alerts = await postAlerts(alertmanagerUrl, [
      {
        labels: { alertname: ALERT, severity: 'critical', instance: 'e2e-a' },
        annotations: { summary: 'vendors e2e', runbook_url: 'https://runbooks.example/vendors' },
      },
      {
        labels: { alertname: ALERT, severity: 'critical', instance: 'e2e-b' },
        annotations: { summary: 'vendors e2e' },
      },
    ]);
    const prometheusAlert = () => ilert.alerts.find((a) => a.via === 'prometheus');
    const eventAlerts = () => ilert.alerts.filter((a) => a.via === 'events');
    const groupIncident = () => pagerduty.incidents.find((i) => i.dedupKey.length === 64);
    const alertIncidents = () => pagerduty.incidents.filter((i) => i.dedupKey.startsWith('pager-alerts/'));
    // Alertmanager may flush between the two inserts: wait for the states with both alerts firing.
    const bothFiring = () =>
      (prometheusAlert()?.last as { alerts?: unknown[] } | undefined)?.alerts?.length === 2 &&
      eventAlerts().length === 2;

    // Act: firing
    await ilert.waitFor(bothFiring, WAIT);
    await pagerduty.waitFor(
      () =>
        (groupIncident()?.payload.custom_details as { num_firing?: number })?.num_firing === 2 &&
        alertIncidents().length === 2,
      WAIT,
    );

    // Assess: the vendor-side effect of the firing notification
    const groupKey = (prometheusAlert()?.last as { groupKey?: string } | undefined)?.groupKey ?? '';
    expect(prometheusAlert()?.status).toBe('pending');
    expect(groupIncident()?.dedupKey).toBe(groupDedupKey(groupKey));
    expect(groupIncident()?.status).toBe('triggered');
    expect(groupIncident()?.severity).toBe('critical');
    expect(groupIncident()?.links).toContainEqual({
      href: 'https://runbooks.example/vendors',
      text: 'Runbook',
    });
    expect(eventAlerts().map((a) => [a.status, a.priority])).toEqual([
      ['pending', 'HIGH'],
      ['pending', 'HIGH'],
    ]);
    expect(alertIncidents().map((i) => i.status)).toEqual(['triggered', 'triggered']);

    // Act: resolved
    await resolveAlerts(alertmanagerUrl, alerts);
    await ilert.waitFor(
      () => prometheusAlert()?.status === 'resolved' && eventAlerts().every((a) => a.status === 'resolved'),
      WAIT,
    );
    await pagerduty.waitFor(
      () => groupIncident()?.status === 'resolved' && alertIncidents().every((i) => i.status === 'resolved'),
      WAIT,
    );

    // Assess: resolved, and nothing created twice although every notification came twice
    expect(ilert.alerts.filter((a) => a.via === 'prometheus')).toHaveLength(1);
    expect(eventAlerts()).toHaveLength(2);
    expect(pagerduty.incidents.filter((i) => i.dedupKey.length === 64)).toHaveLength(1);
    expect(alertIncidents()).toHaveLength(2);
    expect(alertIncidents().map((i) => i.log)).toEqual([
      ['trigger', 'resolve'],
      ['trigger', 'resolve'],
    ]);
    expect(pagerduty.requests.filter((r) => r.outcome !== 202)).toEqual([]);
    expect(ilert.requests.filter((r) => r.outcome !== 202)).toEqual([]);
    const health = (await (await fetch(`${relayUrl}/healthz`)).json()) as {
      counters: Record<string, number>;
    };
    expect(health.counters.NotificationsReceived).toBeGreaterThanOrEqual(4);
    expect(health.counters.NotificationsReceived % 2).toBe(0);
  });
});

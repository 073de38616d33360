import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF } from '../../lib/delivery/policy.ts';
import { type PostableAlert, postAlerts, resolveAlerts } from '../e2e/support/alerts.ts';
import { type Started, useE2EStack } from '../e2e/support/stack.ts';
import { type FaultServer, startFaultServer } from '../support/fault-server.ts';
import { type LocalRelay, useLocalRelay } from '../support/local-relay.ts';

const TOKEN = 'ha-pair-token-2b7d';
const GROUPS = ['HaDisk', 'HaCpu', 'HaMemory', 'HaNetwork'];
const INSTANCES = 5;

/**
 * An Alertmanager HA pair without gossip: two real Alertmanager 0.25 processes, each given the
 * same alerts and each posting every notification to the relay (the worst case: a clustered
 * pair usually sends once, but sends twice whenever gossip lags). The relay must deliver each
 * alert once per destination, firing and resolved.
 */
describe('Reliability: an Alertmanager HA pair posting the same notifications', () => {
  const local = useLocalRelay('ha', { scope: 'file' });
  const stack = useE2EStack('ha');
  let relay: LocalRelay;
  let alertmanagers: Started[];
  const sinks: Record<string, FaultServer> = {};

  beforeAll(async () => {
    sinks.everything = local.own(await startFaultServer());
    sinks.critical = local.own(await startFaultServer());
    relay = await local.start({
      token: TOKEN,
      destinations: [
        { name: 'everything', sink: 'webhook', url: sinks.everything.url },
        { name: 'critical', sink: 'webhook', url: sinks.critical.url, matchers: ['severity="critical"'] },
      ],
      // The backoff `npm start` runs with: nothing here fails, so nothing waits for it.
      backoff: DEFAULT_BACKOFF,
    });
    const webhook = { url: `${relay.url}/alertmanager`, bearerToken: TOKEN };
    // group_wait 1s: each Alertmanager flushes a group once with all its alerts, so both send
    // the same notification (with 0s a flush could catch a group half-filled).
    alertmanagers = await Promise.all(
      [1, 2].map(() =>
        stack.startAlertmanager({ webhooks: [webhook], groupWait: '1s', groupInterval: '1s' }),
      ),
    );
  });

  /** Resolves once `condition` holds, checked after every worker batch and every idle poll of the relay. */
  function settled(condition: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const workers = [...relay.workers.values()];
      const check = () => {
        if (!condition()) return;
        for (const worker of workers) {
          worker.off('batch', check);
          worker.off('idle', check);
        }
        resolve();
      };
      for (const worker of workers) {
        worker.on('batch', check);
        worker.on('idle', check);
      }
      check();
    });
  }

  const alertsOf = (sink: FaultServer) =>
    [...sink.server.requests]
      .filter((r) => r.outcome === 200)
      .flatMap((r) => (r.body as { alerts: { labels: Record<string, string>; status: string }[] }).alerts)
      .map((a) => `${a.labels.alertname}/${a.labels.instance}/${a.status}`)
      .sort();

  it('should deliver each alert once per destination when both Alertmanagers send it, firing and resolved', async () => {
    // Prepare
    const alerts: PostableAlert[] = GROUPS.flatMap((alertname, g) =>
      Array.from({ length: INSTANCES }, (_, i) => ({
        labels: {
          alertname,
          instance: `node-${i}:9100`,
          severity: (g + i) % 2 === 0 ? 'critical' : 'warning',
        },
        annotations: { summary: `${alertname} on node-${i}` },
      })),
    );
    const critical = alerts.filter((a) => a.labels.severity === 'critical');
    const groupsWithCritical = new Set(critical.map((a) => a.labels.alertname)).size;
    const id = (a: PostableAlert, status: string) => `${a.labels.alertname}/${a.labels.instance}/${status}`;
    const received = () => relay.telemetry.get('NotificationsReceived');

    // Act
    // The same alerts (same startsAt) to both, as Prometheus sends every alert to every Alertmanager.
    const firing = await postAlerts(alertmanagers[0].url, alerts);
    await postAlerts(alertmanagers[1].url, firing);
    await settled(
      () =>
        received() >= 2 * GROUPS.length &&
        relay.telemetry.get('Delivered', 'everything') === GROUPS.length &&
        relay.telemetry.get('Delivered', 'critical') === groupsWithCritical,
    );
    const resolved = await resolveAlerts(alertmanagers[0].url, firing);
    await resolveAlertsSame(alertmanagers[1].url, resolved);
    await settled(
      () =>
        received() >= 4 * GROUPS.length &&
        relay.telemetry.get('Delivered', 'everything') === 2 * GROUPS.length &&
        relay.telemetry.get('Delivered', 'critical') === 2 * groupsWithCritical &&
        relay.queue.depth('webhook').visible + relay.queue.depth('webhook').inFlight === 0,
    );

    // Assess
    expect(received()).toBe(4 * GROUPS.length);
    expect(alertsOf(sinks.everything)).toEqual(
      [...alerts.map((a) => id(a, 'firing')), ...alerts.map((a) => id(a, 'resolved'))].sort(),
    );
    expect(alertsOf(sinks.critical)).toEqual(
      [...critical.map((a) => id(a, 'firing')), ...critical.map((a) => id(a, 'resolved'))].sort(),
    );
    for (const sink of Object.values(sinks)) {
      expect(sink.absorbed()).toBe(0);
      expect(sink.attempts).toHaveLength(sink.effects.size);
    }
    // Both copies were accepted (202 to each Alertmanager); the FIFO deduplication id (the
    // idempotency key) absorbed the second, so the sinks saw each message once.
    expect(relay.telemetry.get('MessagesEnqueued')).toBe(2 * 2 * (GROUPS.length + groupsWithCritical));
    expect(relay.telemetry.get('Delivered')).toBe(2 * (GROUPS.length + groupsWithCritical));
  });
});

/** Sends the second Alertmanager the very same resolved alerts (same startsAt and endsAt) as the first. */
async function resolveAlertsSame(alertmanagerUrl: string, resolved: PostableAlert[]): Promise<void> {
  const response = await fetch(`${alertmanagerUrl}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(resolved),
  });
  if (!response.ok) throw new Error(`Alertmanager refused the alerts: HTTP ${response.status}`);
}

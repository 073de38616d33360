import type { Alert, Notification } from '../../../lib/alertmanager/types.ts';
import type { DestinationConfig } from '../../../lib/config/types.ts';
import type { QueueMessage } from '../../../lib/queue/message.ts';
import type { PeekedMessage } from '../../../lib/queue/sqlite-queue.ts';
import {
  type FaultAnswer,
  type FaultServer,
  faults,
  seededDraw,
  startFaultServer,
} from '../../support/fault-server.ts';
import { postToIngest } from '../../support/notifications.ts';

/**
 * An alert storm: `groups` notifications of `alertsPerGroup` alerts each (a DNS outage fires
 * hundreds of alerts at once), posted by `clients` concurrent clients. Labels are drawn from a
 * seed, so every run routes the same alerts to the same destinations.
 */
export const STORM = { groups: 500, alertsPerGroup: 20, clients: 32, seed: 20_261_121 } as const;

export function stormNotifications(
  options: { groups?: number; alertsPerGroup?: number; seed?: number } = {},
): Notification[] {
  const groups = options.groups ?? STORM.groups;
  const perGroup = options.alertsPerGroup ?? STORM.alertsPerGroup;
  const seed = options.seed ?? STORM.seed;
  const startsAt = '2026-11-21T11:00:00.000Z';
  return Array.from({ length: groups }, (_, g) => {
    const alertname = `Storm${g}`;
    const alerts: Alert[] = Array.from({ length: perGroup }, (_, i) => {
      const n = g * perGroup + i;
      return {
        status: 'firing',
        labels: {
          alertname,
          instance: `host-${n}:9100`,
          severity: seededDraw(seed, `severity-${n}`) < 0.4 ? 'critical' : 'warning',
          team: ['a', 'b', 'c'][Math.floor(seededDraw(seed, `team-${n}`) * 3)],
        },
        annotations: { summary: `storm alert ${n}` },
        startsAt,
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: n.toString(16).padStart(16, '0'),
      };
    });
    return {
      version: '4',
      groupKey: `{}:{alertname="${alertname}"}`,
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'relay',
      groupLabels: { alertname },
      commonLabels: { alertname },
      commonAnnotations: {},
      externalURL: 'http://alertmanager:9093',
      alerts,
    };
  });
}

/** The storm's three destinations: everything, the critical alerts, and teams a and b (the failing one). */
export function stormDestinations(urls: {
  all: string;
  critical: string;
  flaky: string;
}): DestinationConfig[] {
  return [
    { name: 'all', sink: 'webhook', url: urls.all },
    { name: 'critical', sink: 'webhook', url: urls.critical, matchers: ['severity="critical"'] },
    { name: 'flaky', sink: 'webhook', url: urls.flaky, matchers: ['team=~"a|b"'] },
  ];
}

/**
 * The storm's three fake sinks, counting effects by `alertId`, and the destinations that point
 * at them; `flaky` fails 30% of the attempts (seeded) with `flakyAnswer` (a 503 by default).
 */
export async function startStormSinks(
  flakyAnswer?: FaultAnswer,
): Promise<{ sinks: Record<string, FaultServer>; destinations: DestinationConfig[] }> {
  const all = await startFaultServer({ alertId });
  const critical = await startFaultServer({ alertId });
  const flaky = await startFaultServer({ alertId, fault: faults.random(0.3, STORM.seed, flakyAnswer) });
  return {
    sinks: { all, critical, flaky },
    destinations: stormDestinations({ all: all.url, critical: critical.url, flaky: flaky.url }),
  };
}

/** Which alerts each storm destination must get, by the fault server's alert id, written out by hand. */
export const STORM_SELECTS: Record<string, (alert: Alert) => boolean> = {
  all: () => true,
  critical: (alert) => alert.labels.severity === 'critical',
  flaky: (alert) => alert.labels.team === 'a' || alert.labels.team === 'b',
};

export const alertId = (alert: Record<string, unknown>): string =>
  `${alert.fingerprint}/${alert.status}/${alert.startsAt}`;

/** Per destination: the alert ids it must get and how many queue messages (one per group with a match). */
export function expectedDeliveries(
  notifications: Notification[],
): Map<string, { alerts: Set<string>; messages: number; groupKeys: Map<string, string[]> }> {
  const out = new Map<string, { alerts: Set<string>; messages: number; groupKeys: Map<string, string[]> }>();
  for (const [name, selects] of Object.entries(STORM_SELECTS)) {
    const entry = { alerts: new Set<string>(), messages: 0, groupKeys: new Map<string, string[]>() };
    for (const notification of notifications) {
      const selected = notification.alerts.filter(selects).map(alertId);
      if (selected.length === 0) continue;
      entry.messages++;
      entry.groupKeys.set(notification.groupKey, selected);
      for (const id of selected) entry.alerts.add(id);
    }
    out.set(name, entry);
  }
  return out;
}

/**
 * What one storm destination ended with: its messages in the DLQ, the alerts those carry, and
 * the alerts its sink acted on (with how many effects carried each).
 */
export function destinationOutcome(
  name: string,
  sink: FaultServer,
  dead: readonly PeekedMessage[],
): { deadHere: PeekedMessage[]; deadAlerts: Set<string>; got: Map<string, number> } {
  const deadHere = dead.filter((m) => m.attributes.destination === name);
  const deadAlerts = new Set(
    deadHere.flatMap((m) => (JSON.parse(m.body) as QueueMessage).notification.alerts.map(alertId)),
  );
  return { deadHere, deadAlerts, got: sink.alertEffects() };
}

export interface PostReport {
  /** Notifications answered 202. */
  accepted: number;
  /** Attempts that failed (transport error or 5xx) and were sent again, as Alertmanager does. */
  retried: number;
  /** Every answer's status, counted. */
  statuses: Map<number | 'error', number>;
}

/**
 * Posts every notification with `clients` concurrent clients, each retrying a transport error
 * or a 5xx the way Alertmanager's webhook notifier does. `target()` gives the relay's URL and
 * may wait (a test that kills the relay hands out the restarted one); a failed attempt asks
 * again. Bounded: a notification is given up after `maxAttempts`, which fails the storm.
 */
export async function postStorm(
  notifications: Notification[],
  options: {
    target: () => string | Promise<string>;
    clients?: number;
    token?: string;
    maxAttempts?: number;
    /** The status that means accepted: the relay's 202 (a fake sink posted to directly says 200). */
    acceptedStatus?: number;
    onAccepted?: (accepted: number) => void;
  },
): Promise<PostReport> {
  const report: PostReport = { accepted: 0, retried: 0, statuses: new Map() };
  const bodies = notifications.map((n) => JSON.stringify(n));
  const maxAttempts = options.maxAttempts ?? 50;
  let next = 0;
  const count = (status: number | 'error') =>
    report.statuses.set(status, (report.statuses.get(status) ?? 0) + 1);

  async function client(): Promise<void> {
    for (let index = next++; index < bodies.length; index = next++) {
      for (let attempt = 1; ; attempt++) {
        const url = await options.target();
        let status: number | 'error';
        try {
          const response = await postToIngest(url, bodies[index], { token: options.token });
          await response.arrayBuffer();
          status = response.status;
        } catch {
          status = 'error';
        }
        count(status);
        if (status !== 'error' && status < 500) {
          if (status !== (options.acceptedStatus ?? 202)) {
            throw new Error(`notification ${index} refused with ${status}`);
          }
          report.accepted++;
          options.onAccepted?.(report.accepted);
          break;
        }
        if (attempt >= maxAttempts)
          throw new Error(`notification ${index} not accepted after ${attempt} attempts`);
        report.retried++;
      }
    }
  }

  await Promise.all(Array.from({ length: options.clients ?? STORM.clients }, () => client()));
  return report;
}

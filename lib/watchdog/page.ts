import { hash } from 'node:crypto';
import type { Alert, Notification } from '../alertmanager/types.ts';
import { SILENT_ALERTNAME } from './config.ts';
import type { WatchdogSilence, WatchdogTransition } from './record.ts';

/**
 * The synthetic notification the watchdog puts through the destinations' pipelines: an
 * Alertmanager webhook v4 body, so every sink handles it like any other. Its groupKey and
 * fingerprint never change, so a vendor that groups by them (PagerDuty's dedup_key, Opsgenie's
 * alias, ilert's alert key, a Slack message edited in place) opens one incident per silence
 * and resolves that one. Each silence has its own `startsAt` (its last heartbeat), so its
 * content, idempotency key and queue deduplication ids are its own.
 */

/**
 * The page's groupKey, in Alertmanager's `<route matchers>/<...>:<group labels>` form; the
 * same for every silence of every relay.
 */
export const WATCHDOG_GROUP_KEY = `{}/{watchdog="alertmanager-relay"}:{alertname="${SILENT_ALERTNAME}"}`;

/** The receiver a page names when the relay never saw one (an empty receiver in every heartbeat). */
const FALLBACK_RECEIVER = 'alertmanager-relay';

/** Alertmanager's endsAt of an alert still firing. */
const STILL_FIRING = '0001-01-01T00:00:00Z';

/** The page's labels: its alert group is the relay's, not any Prometheus rule's. */
export const WATCHDOG_LABELS: Readonly<Record<string, string>> = Object.freeze({
  alertname: SILENT_ALERTNAME,
  severity: 'critical',
  watchdog: 'alertmanager-relay',
});

/**
 * A stable fingerprint of the page's labels: 16 hex digits like Alertmanager's own (a hash of
 * the sorted label set), the same for every silence.
 */
export const WATCHDOG_FINGERPRINT = hash(
  'sha256',
  Object.entries(WATCHDOG_LABELS)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}\u0000${value}`)
    .join('\u0001'),
).slice(0, 16);

/**
 * The deduplication key of one transition of one silence: the same for every enqueue of it
 * (a retry after a crash or a failed send), different for every other transition. The queue
 * deduplication ids of the transition's messages are made from it.
 */
export function transitionKey(
  alertname: string,
  transition: WatchdogTransition,
  silence: WatchdogSilence,
): string {
  return hash('sha256', ['watchdog', alertname, transition, silence.startedAt].join('\u0000'));
}

/** `630` -> `10 min 30 s`, `600` -> `10 min`, `45` -> `45 s`. */
export function humanSeconds(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (minutes === 0) return `${rest} s`;
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}

/**
 * The notification of one transition of `silence`: the page (firing) or its resolve, built
 * from the silence alone, so every enqueue of a transition carries the same content.
 *
 * @example watchdogNotification('Watchdog', silence, 'page') // status firing, one AlertmanagerSilent alert
 */
export function watchdogNotification(
  alertname: string,
  silence: WatchdogSilence,
  transition: WatchdogTransition,
): Notification {
  const status = transition === 'page' ? 'firing' : 'resolved';
  const receiver = silence.receiver || FALLBACK_RECEIVER;
  const where = silence.externalURL ? `${receiver} at ${silence.externalURL}` : receiver;
  const annotations: Record<string, string> = {
    summary: `Alertmanager has sent no ${alertname} heartbeat for ${humanSeconds(silence.silentAfterSeconds)}`,
    description:
      `The relay has received no firing ${alertname} alert since ${silence.startedAt} (last from receiver ${where}). ` +
      `Alertmanager, the Prometheus rule that fires ${alertname}, or the path from Alertmanager to the relay is down: ` +
      'until it is back, no other alert may reach anyone.',
    last_heartbeat: silence.startedAt,
    receiver,
    external_url: silence.externalURL,
    silent_after: `${silence.silentAfterSeconds}s`,
  };
  const endsAt =
    status === 'firing'
      ? STILL_FIRING
      : latest(silence.startedAt, silence.returnedAt ?? silence.resolvedAt ?? silence.startedAt);
  const alert: Alert = {
    status,
    labels: { ...WATCHDOG_LABELS },
    annotations,
    startsAt: silence.startedAt,
    endsAt,
    generatorURL: '',
    fingerprint: WATCHDOG_FINGERPRINT,
  };
  return {
    version: '4',
    groupKey: WATCHDOG_GROUP_KEY,
    truncatedAlerts: 0,
    status,
    receiver,
    groupLabels: { alertname: SILENT_ALERTNAME },
    commonLabels: { ...WATCHDOG_LABELS },
    commonAnnotations: { ...annotations },
    externalURL: silence.externalURL,
    alerts: [alert],
  };
}

function latest(a: string, b: string): string {
  return Date.parse(b) > Date.parse(a) ? b : a;
}

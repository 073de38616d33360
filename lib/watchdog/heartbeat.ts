import type { Alert, Notification } from '../alertmanager/types.ts';
import { updateVersioned, type VersionedStateStore } from '../state/store.ts';
import type { Watchdog } from './config.ts';
import { type WatchdogRecord, watchdogStateKey } from './record.ts';

/**
 * Heartbeats: what ingest does with a notification that carries the watched alert.
 *
 * **What a heartbeat is.** A notification is a heartbeat when ANY of its alerts is firing and
 * has the label `alertname` equal to the watched one; `commonLabels` and the groupKey are not
 * consulted. The route `npm run alertmanager-config` prints groups the watched alert alone
 * (group_by: [alertname]), but an Alertmanager without that route may group it with other
 * alerts (a `group_by: [namespace]` default route, say), and then it is still Alertmanager
 * saying it works. A resolved watched alert is no heartbeat: Prometheus stopped firing it
 * (its rule is gone or Prometheus is down), which is exactly the silence to page about.
 *
 * **What is recorded** (recordHeartbeat): the relay's receive time (ingest's clock, not the
 * alert's startsAt, which stays the same for as long as the alert fires), the notification's
 * receiver, externalURL and groupKey, under `watchdog#<alertname>`. The first heartbeat
 * arms the watchdog.
 *
 * **What is delivered** (splitHeartbeat): with `forward: false` (the default) the watched
 * alerts, firing or resolved, are taken out of the notification and the rest goes on to
 * routing as a notification of its own (status recomputed, the envelope kept, as routing does
 * for a destination's share); a notification of only watched alerts is delivered nowhere.
 * Other alerts that happen to share the heartbeat's group are never dropped. With
 * `forward: true` the notification goes on whole, like any other.
 *
 * A heartbeat passes ingest's authentication like any notification: split and record only
 * after the token was checked and the body validated.
 */

/** What a heartbeat says about Alertmanager, as recorded. */
export interface Heartbeat {
  receiver: string;
  externalURL: string;
  groupKey: string;
}

/** A notification split into the heartbeat it carries and what goes on to routing. */
export interface HeartbeatSplit {
  /** Set when the notification carries a firing alert named `watchdog.alertname`. */
  heartbeat?: Heartbeat;
  /**
   * What ingest routes: the notification as it came (`forward: true`, or no watched alert in
   * it), or without its watched alerts; undefined when nothing is left to deliver.
   */
  deliver?: Notification;
}

/** Receiver names and groupKeys are short in practice; a hostile one is cut, not stored whole. */
const RECORDED_CHARS = { receiver: 256, externalURL: 2048, groupKey: 1024 } as const;

/** Whether `alert` is the watched one, whatever its status. */
function isWatched(alert: Alert, alertname: string): boolean {
  return alert.labels.alertname === alertname;
}

/**
 * Splits a validated notification into its heartbeat and what ingest delivers.
 *
 * @example
 * const { heartbeat, deliver } = splitHeartbeat(notification, watchdog);
 * if (heartbeat) await recordHeartbeat(state, watchdog, heartbeat, now());
 * const routed = deliver ? routeNotification(deliver, routes) : [];
 */
export function splitHeartbeat(notification: Notification, watchdog: Watchdog): HeartbeatSplit {
  const { alertname } = watchdog;
  const beats = notification.alerts.some((alert) => alert.status === 'firing' && isWatched(alert, alertname));
  const heartbeat: Heartbeat | undefined = beats
    ? {
        receiver: clip(notification.receiver, RECORDED_CHARS.receiver),
        externalURL: clip(notification.externalURL, RECORDED_CHARS.externalURL),
        groupKey: clip(notification.groupKey, RECORDED_CHARS.groupKey),
      }
    : undefined;
  if (watchdog.forward) return { heartbeat, deliver: notification };
  const others = notification.alerts.filter((alert) => !isWatched(alert, alertname));
  if (others.length === notification.alerts.length) return { heartbeat, deliver: notification };
  if (others.length === 0) return { heartbeat };
  return {
    heartbeat,
    deliver: {
      ...notification,
      alerts: others,
      status: others.some((alert) => alert.status === 'firing') ? 'firing' : 'resolved',
    },
  };
}

/**
 * The record after a heartbeat received at `receivedAt` (ISO 8601). The latest heartbeat
 * time only moves forward (two ingest functions may record out of order). A heartbeat during
 * an open silence (page claimed or enqueued) marks Alertmanager's return, once: the checker
 * resolves the page on its next run.
 */
export function withHeartbeat(
  record: WatchdogRecord | undefined,
  alertname: string,
  heartbeat: Heartbeat,
  receivedAt: string,
): WatchdogRecord {
  const later = !record || Date.parse(receivedAt) >= Date.parse(record.lastHeartbeatAt);
  const silence = record?.silence;
  const open = silence && (silence.phase === 'paging' || silence.phase === 'paged') && !silence.returnedAt;
  return {
    v: 1,
    alertname,
    armedAt: record?.armedAt ?? receivedAt,
    lastHeartbeatAt: later ? receivedAt : (record?.lastHeartbeatAt ?? receivedAt),
    receiver: later || !record ? heartbeat.receiver : record.receiver,
    externalURL: later || !record ? heartbeat.externalURL : record.externalURL,
    groupKey: later || !record ? heartbeat.groupKey : record.groupKey,
    ...(silence ? { silence: open ? { ...silence, returnedAt: receivedAt } : silence } : {}),
  };
}

/**
 * Records a heartbeat durably under `watchdog#<alertname>`, by compare-and-set (the checker
 * writes the same record). Ingest awaits it before answering 202, and answers 503 when it
 * fails, so Alertmanager sends the heartbeat again.
 */
export async function recordHeartbeat(
  state: VersionedStateStore,
  watchdog: Pick<Watchdog, 'alertname'>,
  heartbeat: Heartbeat,
  receivedAt: Date,
): Promise<WatchdogRecord> {
  const at = receivedAt.toISOString();
  const written = await updateVersioned<WatchdogRecord>(
    state,
    watchdogStateKey(watchdog.alertname),
    (record) => withHeartbeat(record, watchdog.alertname, heartbeat, at),
  );
  return written as WatchdogRecord;
}

/** `text` cut to at most `max` UTF-16 units, never inside a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text[max - 1]) ? max - 1 : max;
  return text.slice(0, end);
}

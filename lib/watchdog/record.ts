/**
 * The watchdog's one durable record per relay, `watchdog#<alertname>` in the state store
 * (DynamoDB on AWS, node:sqlite locally). Ingest writes the heartbeat fields
 * (lib/watchdog/heartbeat.ts), the checker the silence (lib/watchdog/checker.ts); both only
 * by compare-and-set (updateVersioned / putIfVersion), never by `put`, which would reset the
 * version and lose the other's change. It has no TTL: it is one item, and an open silence must
 * be remembered however long Alertmanager stays away.
 */

/** The state store key of the watchdog watching `alertname`. */
export function watchdogStateKey(alertname: string): string {
  return `watchdog#${alertname}`;
}

/** A transition of the page's alert group: open it (firing) or close it (resolved). */
export type WatchdogTransition = 'page' | 'resolve';

/**
 * The latest silence, open or closed. Its phase moves paging -> paged -> resolving ->
 * resolved, each step claimed by compare-and-set before anything is enqueued.
 */
export interface WatchdogSilence {
  /**
   * The last heartbeat before the silence (ISO 8601): the page's `startsAt` and the silence's
   * identity (the deduplication key of both of its transitions is made from it).
   */
  startedAt: string;
  /** What the relay last saw, copied when the page was claimed, so every enqueue builds the same page. */
  receiver: string;
  externalURL: string;
  silentAfterSeconds: number;
  /**
   * - `paging`: the page is claimed and may or may not be on the queues yet;
   * - `paged`: the page was enqueued;
   * - `resolving`: the resolve is claimed, maybe not enqueued yet;
   * - `resolved`: the resolve was enqueued; the silence is over.
   */
  phase: 'paging' | 'paged' | 'resolving' | 'resolved';
  /** When the page was claimed (ISO 8601): the page's queue messages' `receivedAt`, the same on every enqueue. */
  pagedAt: string;
  /**
   * The relay's receive time of the first heartbeat recorded while the silence was open
   * (paging or paged): Alertmanager is back. The resolve's `endsAt`.
   */
  returnedAt?: string;
  /** When the resolve was claimed (ISO 8601): the resolve's queue messages' `receivedAt`. */
  resolvedAt?: string;
  /**
   * When the transition in progress (paging, resolving) was last handed to the queues (ISO
   * 8601). A claim younger than the checker's retry delay belongs to a checker still at work;
   * an older one (its checker crashed) is enqueued again. Absent after an enqueue that failed,
   * so the next check retries at once.
   */
  attemptAt?: string;
  /** How many times the transition in progress, or the last one, was handed to the queues. */
  attempts: number;
}

/** The value under `watchdog#<alertname>`. */
export interface WatchdogRecord {
  v: 1;
  alertname: string;
  /** The relay's receive time of the first heartbeat it recorded (ISO 8601): armed since. */
  armedAt: string;
  /** The relay's receive time (not the alert's startsAt) of the latest heartbeat (ISO 8601). */
  lastHeartbeatAt: string;
  /** The Alertmanager receiver and externalURL of the latest heartbeat, cut to a bounded length. */
  receiver: string;
  externalURL: string;
  /** The groupKey of the latest heartbeat's notification. */
  groupKey: string;
  /** The latest silence; absent until the first one. */
  silence?: WatchdogSilence;
}

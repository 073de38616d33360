import type { Notification } from '../alertmanager/types.ts';
import { updateVersioned, type VersionedStateStore } from '../state/store.ts';
import type { Watchdog } from './config.ts';
import { transitionKey, watchdogNotification } from './page.ts';
import {
  type WatchdogRecord,
  type WatchdogSilence,
  type WatchdogTransition,
  watchdogStateKey,
} from './record.ts';

/**
 * The watchdog's checker: run every few seconds locally (a timer in the runtime) and every
 * minute on AWS (a scheduled function), it reads `watchdog#<alertname>` and pages when no
 * heartbeat came for `silentAfter`, then resolves the page when heartbeats come back.
 *
 * **Armed.** Nothing happens until ingest recorded a heartbeat: the record exists from the
 * first heartbeat after the watchdog was configured, and stays across restarts, so a silence
 * that spans a restart still pages, once. `since` (the local runtime passes its own start)
 * keeps a relay that was itself stopped from blaming its own downtime on Alertmanager: the
 * silence is counted from the later of the last heartbeat and `since`, while the page still
 * says when the last heartbeat came.
 *
 * **Exactly one page per silence, one resolve per return**, across restarts and concurrent
 * checkers (two scheduled invocations that overlap, a local timer and a restart):
 *
 * 1. *Claim before enqueueing.* A transition (page, resolve) is first written into the record
 *    by compare-and-set (`putIfVersion` on the version just read): phase `paging` (or
 *    `resolving`), `pagedAt` (or `resolvedAt`) and `attemptAt` = now. Of two checkers that read
 *    the same version only one write succeeds; the other reads again and finds the claim.
 * 2. *Enqueue idempotently.* The claimant builds the notification from the silence alone and
 *    hands it to `enqueue` with a deduplication key made from the silence's start and the
 *    transition (`transitionKey`) and `receivedAt` = the claim's time; both are stored, so
 *    every enqueue of one transition sends the same messages with the same queue
 *    deduplication ids (createWatchdogEnqueue).
 * 3. *Mark it done* (`paged`, `resolved`) by compare-and-set.
 *
 * A checker that crashes between 1 and 3 leaves the claim in progress. The next check that
 * finds it older than `retryClaimAfterSeconds` (default 60 s, longer than a check takes, so a
 * live claimant is not doubled) claims it again (a new `attemptAt`, by compare-and-set: one
 * retrier) and enqueues the same messages again. What the first attempt may already have sent
 * is absorbed twice over: the queue drops a message whose deduplication id it saw within 5
 * minutes (SQS FIFO, and the embedded queue), and past that the record handler judges the copy
 * a duplicate of its alert group's last applied notification (same content key, same
 * `receivedAt`: lib/delivery/group-state.ts) and skips it. An enqueue that fails clears
 * `attemptAt`, so the next check retries at once. A page still `paging` when Alertmanager is
 * back is completed before its resolve is claimed, so the vendor never sees a resolve for a
 * page that is still to come.
 */

/** One transition's notification, for `enqueue`. */
export interface WatchdogPage {
  transition: WatchdogTransition;
  /** The synthetic notification: one AlertmanagerSilent alert, firing (page) or resolved. */
  notification: Notification;
  /** Names of the destinations to put it through (the config's `watchdog.destinations`). */
  destinations: readonly string[];
  /** The same for every enqueue of this transition; the queue deduplication ids are made from it. */
  dedupKey: string;
  /** When the transition was claimed (ISO 8601): the queue messages' `receivedAt`, the same on every enqueue. */
  receivedAt: string;
}

/**
 * Puts a page through the named destinations' normal pipelines (their queues, retries and
 * DLQs); resolves once every queue accepted it, throws otherwise. Must be idempotent for a
 * given `dedupKey` (createWatchdogEnqueue is).
 */
export type WatchdogEnqueue = (page: WatchdogPage) => Promise<void>;

export interface CheckWatchdogOptions {
  state: VersionedStateStore;
  now: Date;
  config: Watchdog;
  enqueue: WatchdogEnqueue;
  /** Count a silence from no earlier than this (the local runtime's start). Default: the last heartbeat alone. */
  since?: Date;
  /**
   * A claimed transition not marked done after this long is enqueued again (its checker is
   * taken to have crashed). Default 60 s; a single checker that never overlaps itself (the local
   * timer) may pass 0.
   */
  retryClaimAfterSeconds?: number;
}

/** What one check found and did. */
export interface WatchdogCheck {
  /** Whether a heartbeat was ever recorded (nothing pages before). */
  armed: boolean;
  /** Seconds since the last heartbeat (the relay's receive time), when armed. */
  silentForSeconds?: number;
  /** The transitions this check handed to `enqueue`, in order; `attempt` > 1 is a retry. */
  enqueued: { transition: WatchdogTransition; dedupKey: string; attempt: number }[];
  /** A transition another checker claimed moments ago, left to it by this check. */
  waiting?: WatchdogTransition;
}

export const DEFAULT_RETRY_CLAIM_AFTER_SECONDS = 60;

/** Claims, enqueues and completions one check goes through at most (a retried page, its resolve, a new page, plus conflicts). */
const MAX_ROUNDS = 10;

/** What the record calls for, now. */
export type WatchdogStep =
  | { kind: 'none' }
  /** Another checker's claim is fresh: leave it. */
  | { kind: 'wait'; transition: WatchdogTransition }
  /** Write `record` (the claim) by compare-and-set, then enqueue the transition. */
  | { kind: 'claim'; transition: WatchdogTransition; record: WatchdogRecord };

/**
 * The step the record calls for at `now` (pure): finish a transition in progress (or leave it
 * to its fresh claimant), resolve a page Alertmanager came back from, or page a new silence.
 */
export function planWatchdog(
  record: WatchdogRecord,
  options: {
    now: Date;
    config: Pick<Watchdog, 'silentAfterSeconds'>;
    since?: Date;
    retryClaimAfterSeconds?: number;
  },
): WatchdogStep {
  const now = options.now.getTime();
  const at = options.now.toISOString();
  const retryMs = 1000 * (options.retryClaimAfterSeconds ?? DEFAULT_RETRY_CLAIM_AFTER_SECONDS);
  const silence = record.silence;
  if (silence && (silence.phase === 'paging' || silence.phase === 'resolving')) {
    const transition = silence.phase === 'paging' ? 'page' : 'resolve';
    if (silence.attemptAt !== undefined && now - Date.parse(silence.attemptAt) < retryMs)
      return { kind: 'wait', transition };
    return {
      kind: 'claim',
      transition,
      record: { ...record, silence: { ...silence, attemptAt: at, attempts: silence.attempts + 1 } },
    };
  }
  if (silence?.phase === 'paged') {
    if (silence.returnedAt === undefined) return { kind: 'none' };
    return {
      kind: 'claim',
      transition: 'resolve',
      record: {
        ...record,
        silence: { ...silence, phase: 'resolving', resolvedAt: at, attemptAt: at, attempts: 1 },
      },
    };
  }
  const last = Date.parse(record.lastHeartbeatAt);
  const from = Math.max(last, options.since?.getTime() ?? last);
  if (now - from < 1000 * options.config.silentAfterSeconds) return { kind: 'none' };
  // This silence was paged and resolved already (a heartbeat that came back had a receive time
  // no later than the silence's start): one page per silence.
  if (silence && Date.parse(silence.startedAt) >= last) return { kind: 'none' };
  return {
    kind: 'claim',
    transition: 'page',
    record: {
      ...record,
      silence: {
        startedAt: record.lastHeartbeatAt,
        receiver: record.receiver,
        externalURL: record.externalURL,
        silentAfterSeconds: options.config.silentAfterSeconds,
        phase: 'paging',
        pagedAt: at,
        attemptAt: at,
        attempts: 1,
      },
    },
  };
}

/** The page (or resolve) a claimed record stands for. */
export function watchdogPage(
  record: WatchdogRecord,
  transition: WatchdogTransition,
  config: Pick<Watchdog, 'destinations'>,
): WatchdogPage {
  const silence = record.silence as WatchdogSilence;
  return {
    transition,
    notification: watchdogNotification(record.alertname, silence, transition),
    destinations: config.destinations,
    dedupKey: transitionKey(record.alertname, transition, silence),
    receivedAt: (transition === 'page' ? silence.pagedAt : silence.resolvedAt) as string,
  };
}

/**
 * One check: reads the record, claims and enqueues what it calls for, marks it done; repeats
 * until nothing is left (a retried page is followed by its resolve when Alertmanager is back).
 * Rejects with the enqueue's error, the claim left for the next check to retry.
 *
 * @example
 * await checkWatchdog({ state, now: new Date(), config: watchdog, enqueue: createWatchdogEnqueue({ destinations: config.destinations, enqueuer }) });
 */
export async function checkWatchdog(options: CheckWatchdogOptions): Promise<WatchdogCheck> {
  const { state, now, config } = options;
  const key = watchdogStateKey(config.alertname);
  const check: WatchdogCheck = { armed: false, enqueued: [] };
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const current = await state.getVersioned<WatchdogRecord>(key);
    if (!current) return check;
    check.armed = true;
    check.silentForSeconds = Math.max(0, (now.getTime() - Date.parse(current.value.lastHeartbeatAt)) / 1000);
    const step = planWatchdog(current.value, options);
    if (step.kind === 'none') return check;
    if (step.kind === 'wait') return { ...check, waiting: step.transition };
    // 1. Claim: of the checkers that read this version, only one gets past this line.
    if (!(await state.putIfVersion(key, step.record, current.version))) continue;
    const silence = step.record.silence as WatchdogSilence;
    const page = watchdogPage(step.record, step.transition, config);
    // 2. Enqueue: idempotent for the transition.
    try {
      await options.enqueue(page);
    } catch (error) {
      // Released, the claim is retried at the next check; if even this write fails, the claim
      // ages past retryClaimAfterSeconds and is retried then. The enqueue's error is the one to report.
      await updateVersioned<WatchdogRecord>(state, key, (record) =>
        releaseClaim(record, step.transition, silence),
      ).catch(() => undefined);
      throw error;
    }
    check.enqueued.push({ transition: step.transition, dedupKey: page.dedupKey, attempt: silence.attempts });
    // 3. Done.
    await updateVersioned<WatchdogRecord>(state, key, (record) =>
      markEnqueued(record, step.transition, silence),
    );
  }
  return check;
}

/** The phase a transition is in while claimed, and once enqueued. */
const PHASES = {
  page: { claimed: 'paging', done: 'paged' },
  resolve: { claimed: 'resolving', done: 'resolved' },
} as const;

/** The record with `silence`'s transition marked enqueued; undefined when someone else already moved it on. */
export function markEnqueued(
  record: WatchdogRecord | undefined,
  transition: WatchdogTransition,
  silence: WatchdogSilence,
): WatchdogRecord | undefined {
  const current = record?.silence;
  if (!record || !current || current.startedAt !== silence.startedAt) return undefined;
  if (current.phase !== PHASES[transition].claimed) return undefined;
  const { attemptAt: _attemptAt, ...rest } = current;
  return { ...record, silence: { ...rest, phase: PHASES[transition].done } };
}

/**
 * The record with this checker's claim released after a failed enqueue (`attemptAt` cleared,
 * so the next check retries at once); undefined when the claim is no longer this checker's.
 */
export function releaseClaim(
  record: WatchdogRecord | undefined,
  transition: WatchdogTransition,
  silence: WatchdogSilence,
): WatchdogRecord | undefined {
  const current = record?.silence;
  if (!record || !current || current.startedAt !== silence.startedAt) return undefined;
  if (current.phase !== PHASES[transition].claimed || current.attemptAt !== silence.attemptAt)
    return undefined;
  const { attemptAt: _attemptAt, ...rest } = current;
  return { ...record, silence: rest };
}

import { once } from 'node:events';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import type { Notification } from '../../lib/alertmanager/types.ts';
import { sinkQueueName } from '../../lib/queue/local.ts';
import type { LocalRelay } from './local-relay.ts';
import { makeNotification } from './notifications.ts';

/**
 * A storm through the local runtime on a virtual clock, shared by every chat sink's storm test:
 * only Date is faked (vi.useFakeTimers({ toFake: ['Date'] })), so the workers and HTTP run as
 * usual while the queue, the state store and the storm's windows read the test's time.
 */

/** The virtual clock's start. */
export const STORM_T0 = Date.UTC(2026, 10, 21, 12, 0, 0);

/**
 * Puts each test of the calling describe on the virtual clock at STORM_T0 (only Date is faked),
 * and back on real time after it. Call it before the hooks that start the fakes.
 */
export function useStormClock(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(STORM_T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

/** Group `i` of a storm: one alert, NodeDown (critical) or DiskFull (warning) in turn. */
export function stormGroup(i: number): Notification {
  const [alertname, severity] = i % 2 === 0 ? ['NodeDown', 'critical'] : ['DiskFull', 'warning'];
  const n = makeNotification({ groupKey: `{}:{alertname="${alertname}", instance="host-${i}"}` });
  n.groupLabels = { alertname, instance: `host-${i}` };
  n.commonLabels = { alertname, instance: `host-${i}`, severity };
  n.alerts = n.alerts.map((a) => ({
    ...a,
    labels: { alertname, instance: `host-${i}`, severity },
    fingerprint: i.toString(16).padStart(16, '0'),
  }));
  return n;
}

/** Group `i` of a storm, resolved. */
export function resolvedGroup(i: number): Notification {
  const n = stormGroup(i);
  n.status = 'resolved';
  n.alerts = n.alerts.map((a) => ({ ...a, status: 'resolved', endsAt: new Date(Date.now()).toISOString() }));
  return n;
}

/** Posts groups 0..count-1 within 59 s of STORM_T0, each answered 202. */
export async function postStorm(relay: LocalRelay, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    expect((await relay.post(stormGroup(i))).status).toBe(202);
    vi.setSystemTime(STORM_T0 + Math.floor(((i + 1) * 59_000) / count));
  }
}

/** Lets `sink`'s worker take everything visible at the current virtual time, and waits until it is idle. */
export async function drainSink(relay: LocalRelay, sink: string): Promise<void> {
  const worker = relay.workers.get(sinkQueueName(sink));
  if (!worker) throw new Error(`no ${sink} worker`);
  const idle = once(worker, 'idle');
  worker.wake();
  await idle;
}

/** Moves the virtual clock to `until` (epoch ms) a second at a time, draining `sink` at each. */
export async function advanceClock(relay: LocalRelay, sink: string, until: number): Promise<void> {
  while (Date.now() < until) {
    vi.setSystemTime(Math.min(until, Date.now() + 1000));
    await drainSink(relay, sink);
  }
}

/**
 * The digest storm every chat sink's test runs: `count` new groups within a minute, group 0
 * resolving, the storm left to calm (the digest's final summary), then group `count` arriving
 * after it. `calls` reads how many calls the vendor got; resolves with that count when the storm
 * was over and with `before()`, read at the same moment (what the vendor showed then).
 */
export async function runDigestStorm<T>(
  relay: LocalRelay,
  sink: string,
  count: number,
  vendor: { calls: () => number; before: () => T },
): Promise<{ callsDuringStorm: number; before: T }> {
  await postStorm(relay, count);
  await relay.post(resolvedGroup(0));
  await drainSink(relay, sink);
  await advanceClock(relay, sink, STORM_T0 + 480_000);
  const callsDuringStorm = vendor.calls();
  const before = vendor.before();
  await relay.post(stormGroup(count));
  await drainSink(relay, sink);
  return { callsDuringStorm, before };
}

/**
 * The backfill storm every chat sink's test runs (`storm.afterwards: backfill`): 60 groups
 * within 60 s (0-9 get their own message, 10-59 are folded), 5 folded ones resolve during the
 * storm; after the calm the other 45 get a message each.
 */
export const BACKFILL_STORM = {
  count: 60,
  ownBeforeStorm: 10,
  resolvedDuringStorm: [12, 20, 33, 41, 59] as readonly number[],
  /** Folded groups still firing at the calm: what the backfill posts. */
  backfilled: 45,
  /** The final summary's totals line. */
  totals: '55 firing, 5 resolved alerts in 60 groups',
};

/** Messages the backfill storm's group `i` has of its own after the storm: 1 if folded and still firing. */
export function backfilledMessages(i: number): 0 | 1 {
  const { ownBeforeStorm, resolvedDuringStorm } = BACKFILL_STORM;
  return i < ownBeforeStorm || resolvedDuringStorm.includes(i) ? 0 : 1;
}

/** Whether `text` names group `i`'s instance (host-4, and not host-40). */
export function namesHost(i: number, text: string): boolean {
  return new RegExp(`host-${i}(?!\\d)`).test(text);
}

/**
 * Runs the backfill storm through `sink`'s worker: posts it, resolves the 5 groups, then moves
 * the virtual clock 15 minutes on (the calm comes about 7 minutes in; the backfill follows at
 * the vendor's pace). Resolves with `seen()` (the vendor's messages so far) as the storm was
 * posted, before the calm.
 */
export async function runBackfillStorm(relay: LocalRelay, sink: string, seen: () => number): Promise<number> {
  await postStorm(relay, BACKFILL_STORM.count);
  for (const i of BACKFILL_STORM.resolvedDuringStorm)
    expect((await relay.post(resolvedGroup(i))).status).toBe(202);
  await drainSink(relay, sink);
  const inStorm = seen();
  await advanceClock(relay, sink, STORM_T0 + 900_000);
  return inStorm;
}

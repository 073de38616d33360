import { once } from 'node:events';
import { expect, vi } from 'vitest';
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

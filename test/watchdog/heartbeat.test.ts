import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, Notification } from '../../lib/alertmanager/types.ts';
import { compileRoutes, routeNotification } from '../../lib/ingest/routing.ts';
import { checkWatchdog } from '../../lib/watchdog/checker.ts';
import { clip, recordHeartbeat, splitHeartbeat, withHeartbeat } from '../../lib/watchdog/heartbeat.ts';
import { type WatchdogRecord, watchdogStateKey } from '../../lib/watchdog/record.ts';
import { makeNotification } from '../support/notifications.ts';
import { BEAT, readTogether, START, WATCHDOG, type WatchdogBench, watchdogBench } from './bench.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** An alert named `alertname`, as Prometheus sends kube-prometheus's Watchdog. */
function watchdogAlert(status: Alert['status'] = 'firing', alertname = 'Watchdog'): Alert {
  return {
    status,
    labels: { alertname, severity: 'none', prometheus: 'monitoring/k8s' },
    annotations: {
      summary: 'An alert that should always be firing to certify that Alertmanager is working properly.',
    },
    startsAt: '2026-11-21T08:00:00.000Z',
    endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-11-21T12:00:00.000Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=vector%281%29',
    fingerprint: 'e2a7b4d5c6f70812',
  };
}

function heartbeatNotification(alerts: Alert[] = [watchdogAlert()]): Notification {
  return {
    ...makeNotification({ groupKey: '{}/{alertname="Watchdog"}:{alertname="Watchdog"}' }),
    groupLabels: { alertname: 'Watchdog' },
    commonLabels: { alertname: 'Watchdog' },
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts,
  };
}

describe('Function: splitHeartbeat', () => {
  it('should take a notification of the firing watched alert as a heartbeat and deliver nothing (forward: false)', () => {
    // Prepare
    const notification = heartbeatNotification();

    // Act
    const split = splitHeartbeat(notification, WATCHDOG);

    // Assess
    expect(split).toEqual({
      heartbeat: {
        receiver: 'relay',
        externalURL: 'http://alertmanager:9093',
        groupKey: '{}/{alertname="Watchdog"}:{alertname="Watchdog"}',
      },
    });
    const routed = split.deliver
      ? routeNotification(
          split.deliver,
          compileRoutes({ ingest: {}, destinations: [{ name: 'all', sink: 'console' }] }),
        )
      : [];
    expect(routed).toEqual([]);
  });

  it('should deliver the other alerts of a group the watched alert shares, without it, status recomputed', () => {
    // Prepare
    const resolvedOther = { ...makeNotification({ status: 'resolved' }).alerts[0] };
    const notification = heartbeatNotification([watchdogAlert(), resolvedOther]);

    // Act
    const split = splitHeartbeat(notification, WATCHDOG);

    // Assess
    expect(split.heartbeat).toBeDefined();
    expect(split.deliver?.alerts).toEqual([resolvedOther]);
    expect(split.deliver?.status).toBe('resolved');
    expect(split.deliver?.groupKey).toBe(notification.groupKey);
    expect(notification.alerts).toHaveLength(2);
  });

  it('should deliver the whole notification, heartbeat included, with forward: true', () => {
    // Prepare
    const notification = heartbeatNotification();

    // Act
    const split = splitHeartbeat(notification, { ...WATCHDOG, forward: true });

    // Assess
    expect(split.heartbeat).toBeDefined();
    expect(split.deliver).toBe(notification);
  });

  it('should take a resolved watched alert as no heartbeat, and still not deliver it (forward: false)', () => {
    // Prepare
    const notification = heartbeatNotification([watchdogAlert('resolved')]);

    // Act
    const split = splitHeartbeat(notification, WATCHDOG);

    // Assess
    expect(split).toEqual({});
  });

  it('should leave a notification without the watched alert as it came', () => {
    // Prepare
    const notification = makeNotification({ count: 2 });

    // Act
    const split = splitHeartbeat(notification, WATCHDOG);

    // Assess
    expect(split).toEqual({ deliver: notification });
    expect(split.deliver).toBe(notification);
  });

  it('should watch the configured alertname only, by the alert’s own label, not commonLabels', () => {
    // Prepare: a DeadMansSwitch watched; a Watchdog in a mixed group whose commonLabels lack it.
    const mixed = heartbeatNotification([
      watchdogAlert('firing', 'DeadMansSwitch'),
      makeNotification({}).alerts[0],
    ]);
    mixed.commonLabels = {};

    // Act
    const other = splitHeartbeat(heartbeatNotification(), { ...WATCHDOG, alertname: 'DeadMansSwitch' });
    const watched = splitHeartbeat(mixed, { ...WATCHDOG, alertname: 'DeadMansSwitch' });

    // Assess
    expect(other.heartbeat).toBeUndefined();
    expect(other.deliver?.alerts).toHaveLength(1);
    expect(watched.heartbeat).toBeDefined();
    expect(watched.deliver?.alerts.map((a) => a.labels.alertname)).toEqual(['HighLatency']);
  });

  it('should cut a hostile receiver, externalURL and groupKey to a bounded length', () => {
    // Prepare
    const notification = {
      ...heartbeatNotification(),
      receiver: 'r'.repeat(10_000),
      externalURL: `http://${'a'.repeat(10_000)}`,
      groupKey: `{}:{x="${'😀'.repeat(5_000)}"}`,
    };

    // Act
    const { heartbeat } = splitHeartbeat(notification, WATCHDOG);

    // Assess
    expect(heartbeat?.receiver).toHaveLength(256);
    expect(heartbeat?.externalURL).toHaveLength(2048);
    expect(heartbeat?.groupKey.length).toBeLessThanOrEqual(1024);
    expect(heartbeat?.groupKey).toBe(clip(notification.groupKey, 1024));
    expect(heartbeat?.groupKey.isWellFormed()).toBe(true);
  });
});

describe('Function: withHeartbeat', () => {
  it('should arm on the first heartbeat and keep the latest receive time when two arrive out of order', () => {
    // Act
    const first = withHeartbeat(undefined, 'Watchdog', BEAT, iso(START));
    const later = withHeartbeat(first, 'Watchdog', { ...BEAT, receiver: 'new' }, iso(START + 60_000));
    const stale = withHeartbeat(later, 'Watchdog', { ...BEAT, receiver: 'old' }, iso(START + 30_000));

    // Assess
    expect(first).toEqual({
      v: 1,
      alertname: 'Watchdog',
      armedAt: iso(START),
      lastHeartbeatAt: iso(START),
      ...BEAT,
    });
    expect(stale).toMatchObject({
      armedAt: iso(START),
      lastHeartbeatAt: iso(START + 60_000),
      receiver: 'new',
    });
  });
});

describe('Function: recordHeartbeat', () => {
  let bench: WatchdogBench;

  beforeEach(() => {
    bench = watchdogBench();
  });

  afterEach(() => {
    bench.close();
  });

  it('should lose neither the checker’s claim nor a heartbeat that lands on the record at the same moment', async () => {
    // Prepare: both read the same version; the checker's claim is written first.
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(600);
    const [forChecker, forIngest] = readTogether([state, state]);

    // Act
    const [check] = await Promise.all([
      checkWatchdog({
        state: forChecker,
        now: bench.date(),
        config: WATCHDOG,
        enqueue: (p) => bench.enqueue(p),
      }),
      recordHeartbeat(forIngest, WATCHDOG, BEAT, bench.date()),
    ]);
    const record = await state.get<WatchdogRecord>(watchdogStateKey('Watchdog'));

    // Assess: the heartbeat, read again after the claim, marks the return: the page is resolved at once.
    expect(check.enqueued.map((e) => e.transition)).toEqual(['page', 'resolve']);
    expect(record?.lastHeartbeatAt).toBe(iso(bench.now()));
    expect(record?.silence).toMatchObject({ phase: 'resolved', returnedAt: iso(bench.now()) });
  });

  it('should mark the return once, at the first heartbeat after a page', async () => {
    // Prepare
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(600);
    await checkWatchdog({ state, now: bench.date(), config: WATCHDOG, enqueue: (p) => bench.enqueue(p) });

    // Act
    bench.advance(10);
    await bench.heartbeat(state);
    bench.advance(10);
    await bench.heartbeat(state);
    const record = await state.get<WatchdogRecord>(watchdogStateKey('Watchdog'));

    // Assess
    expect(record?.silence).toMatchObject({ phase: 'paged', returnedAt: iso(START + 610_000) });
    expect(record?.lastHeartbeatAt).toBe(iso(START + 620_000));
  });
});

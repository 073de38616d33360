import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VersionedStateStore } from '../../lib/state/store.ts';
import {
  checkWatchdog,
  planWatchdog,
  type WatchdogEnqueue,
  type WatchdogPage,
} from '../../lib/watchdog/checker.ts';
import { WATCHDOG_FINGERPRINT, WATCHDOG_GROUP_KEY } from '../../lib/watchdog/page.ts';
import { type WatchdogRecord, watchdogStateKey } from '../../lib/watchdog/record.ts';
import { readTogether, START, WATCHDOG, type WatchdogBench, watchdogBench } from './bench.ts';

const iso = (ms: number) => new Date(ms).toISOString();

describe('Function: checkWatchdog', () => {
  let bench: WatchdogBench;

  beforeEach(() => {
    bench = watchdogBench();
  });

  afterEach(() => {
    bench.close();
  });

  const check = (
    state: VersionedStateStore,
    options: { enqueue?: WatchdogEnqueue; since?: Date; retryClaimAfterSeconds?: number } = {},
  ) =>
    checkWatchdog({
      state,
      now: bench.date(),
      config: WATCHDOG,
      enqueue: options.enqueue ?? ((page) => bench.enqueue(page)),
      ...(options.since ? { since: options.since } : {}),
      ...(options.retryClaimAfterSeconds !== undefined
        ? { retryClaimAfterSeconds: options.retryClaimAfterSeconds }
        : {}),
    });

  it('should not page before the first heartbeat, however long nothing came', async () => {
    // Prepare
    const state = bench.open();
    bench.advance(24 * 3600);

    // Act
    const result = await check(state);

    // Assess
    expect(result).toEqual({ armed: false, enqueued: [] });
    expect(bench.pages).toEqual([]);
  });

  it('should page once when no heartbeat came for silentAfter, and not again while the silence lasts', async () => {
    // Prepare
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(599);
    const early = await check(state);

    // Act
    bench.advance(1);
    const paged = await check(state);
    const later = [];
    for (const seconds of [60, 600, 3600]) {
      bench.advance(seconds);
      later.push(await check(state));
    }

    // Assess
    expect(early).toEqual({ armed: true, silentForSeconds: 599, enqueued: [] });
    expect(paged.enqueued).toEqual([{ transition: 'page', dedupKey: bench.pages[0].dedupKey, attempt: 1 }]);
    expect(later.flatMap((result) => result.enqueued)).toEqual([]);
    expect(bench.pages).toHaveLength(1);
    const [page] = bench.pages;
    expect(page.destinations).toEqual(['pager']);
    expect(page.receivedAt).toBe(iso(START + 600_000));
    expect(page.notification).toMatchObject({
      version: '4',
      status: 'firing',
      groupKey: WATCHDOG_GROUP_KEY,
      receiver: 'relay',
      externalURL: 'http://alertmanager:9093',
    });
    expect(page.notification.alerts).toEqual([
      expect.objectContaining({
        status: 'firing',
        labels: { alertname: 'AlertmanagerSilent', severity: 'critical', watchdog: 'alertmanager-relay' },
        startsAt: iso(START),
        endsAt: '0001-01-01T00:00:00Z',
        fingerprint: WATCHDOG_FINGERPRINT,
      }),
    ]);
    expect(page.notification.alerts[0].annotations).toMatchObject({
      last_heartbeat: iso(START),
      receiver: 'relay',
      external_url: 'http://alertmanager:9093',
    });
  });

  it('should resolve the same group once when heartbeats return, and page a later silence anew', async () => {
    // Prepare
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(700);
    await check(state);
    bench.advance(120);
    const returnedAt = bench.now();
    await bench.heartbeat(state);
    bench.advance(30);
    await bench.heartbeat(state);

    // Act
    const resolved = await check(state);
    bench.advance(60);
    await bench.heartbeat(state);
    const quiet = await check(state);
    bench.advance(600);
    const again = await check(state);

    // Assess
    expect(resolved.enqueued.map((e) => e.transition)).toEqual(['resolve']);
    expect(quiet.enqueued).toEqual([]);
    expect(again.enqueued.map((e) => e.transition)).toEqual(['page']);
    expect(bench.pages.map((p) => p.notification.status)).toEqual(['firing', 'resolved', 'firing']);
    const [page, resolve, second] = bench.pages;
    expect(resolve.notification.groupKey).toBe(page.notification.groupKey);
    expect(resolve.notification.alerts[0]).toMatchObject({
      status: 'resolved',
      fingerprint: page.notification.alerts[0].fingerprint,
      startsAt: page.notification.alerts[0].startsAt,
      endsAt: iso(returnedAt),
    });
    expect(resolve.receivedAt).toBe(iso(START + 850_000));
    expect(new Set(bench.pages.map((p) => p.dedupKey)).size).toBe(3);
    expect(second.notification.alerts[0].startsAt).toBe(iso(START + 910_000));
  });

  it('should not page a second time for a silence that spans a restart, and resolve it after', async () => {
    // Prepare
    const before = bench.open();
    await bench.heartbeat(before);
    bench.advance(600);
    await check(before);
    before.close();

    // Act: the relay starts again, with the same state file.
    bench.advance(300);
    const after = bench.open();
    const restarted = await check(after, { since: bench.date() });
    bench.advance(3600);
    const hourLater = await check(after, { since: new Date(START + 900_000) });
    await bench.heartbeat(after);
    const back = await check(after, { since: new Date(START + 900_000) });

    // Assess
    expect(restarted.enqueued).toEqual([]);
    expect(hourLater.enqueued).toEqual([]);
    expect(back.enqueued.map((e) => e.transition)).toEqual(['resolve']);
    expect(bench.pages.map((p) => p.notification.status)).toEqual(['firing', 'resolved']);
  });

  it('should count a silence from the relay’s own start when the relay was stopped longer than silentAfter', async () => {
    // Prepare: the last heartbeat an hour before this process started.
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(3600);
    const since = bench.date();

    // Act
    const atStart = await check(state, { since });
    bench.advance(599);
    const justBefore = await check(state, { since });
    bench.advance(1);
    const paged = await check(state, { since });

    // Assess
    expect(atStart.enqueued).toEqual([]);
    expect(justBefore.enqueued).toEqual([]);
    expect(paged.enqueued.map((e) => e.transition)).toEqual(['page']);
    expect(bench.pages[0].notification.alerts[0].startsAt).toBe(iso(START));
  });

  it('should page exactly once when two checkers read the record at the same moment', async () => {
    // Prepare
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(600);
    const [one, other] = readTogether([state, state]);

    // Act
    const results = await Promise.all([check(one), check(other)]);

    // Assess
    expect(bench.pages).toHaveLength(1);
    expect(results.map((r) => r.enqueued.length).sort()).toEqual([0, 1]);
    expect(results.find((r) => r.enqueued.length === 0)?.waiting).toBe('page');
  });

  it('should page exactly once with two checkers on two connections to one state file, then resolve once', async () => {
    // Prepare: two processes' connections (the local runtime and a second relay, or two Lambdas).
    const first = bench.open();
    const second = bench.open();
    await bench.heartbeat(first);
    bench.advance(600);

    // Act
    const [one, other] = readTogether([first, second]);
    const paging = await Promise.all([check(one), check(other)]);
    bench.advance(60);
    await bench.heartbeat(second);
    const resolving = await Promise.all([check(first), check(second)]);

    // Assess
    expect(paging.flatMap((r) => r.enqueued).map((e) => e.transition)).toEqual(['page']);
    expect(resolving.flatMap((r) => r.enqueued).map((e) => e.transition)).toEqual(['resolve']);
    expect(bench.pages.map((p) => p.notification.status)).toEqual(['firing', 'resolved']);
  });

  it('should enqueue the very same page again when a checker crashed between its claim and its enqueue', async () => {
    // Prepare: the first checker claims, then never gets further (its enqueue never returns).
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(600);
    const claimed: WatchdogPage[] = [];
    void check(state, {
      enqueue: (page) => {
        claimed.push(structuredClone(page));
        return new Promise<void>(() => {});
      },
    });
    await expect.poll(() => claimed.length).toBe(1);

    // Act
    bench.advance(30);
    const soon = await check(state);
    bench.advance(31);
    const retried = await check(state);
    bench.advance(60);
    const after = await check(state);

    // Assess
    expect(soon).toMatchObject({ enqueued: [], waiting: 'page' });
    expect(retried.enqueued).toEqual([{ transition: 'page', dedupKey: claimed[0].dedupKey, attempt: 2 }]);
    expect(after.enqueued).toEqual([]);
    expect(bench.pages).toEqual(claimed);
    const record = await state.get<WatchdogRecord>(watchdogStateKey('Watchdog'));
    expect(record?.silence).toMatchObject({ phase: 'paged', attempts: 2 });
  });

  it('should retry at the next check, with the same key, when the queues refused the page', async () => {
    // Prepare
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(600);
    const refused: WatchdogPage[] = [];
    const failing = check(state, {
      enqueue: async (page) => {
        refused.push(page);
        throw new Error('queue unavailable');
      },
    });
    await expect(failing).rejects.toThrow('queue unavailable');

    // Act
    bench.advance(5);
    const next = await check(state);

    // Assess
    expect(next.enqueued).toEqual([{ transition: 'page', dedupKey: refused[0].dedupKey, attempt: 2 }]);
    expect(bench.pages[0].notification).toEqual(refused[0].notification);
    expect(bench.pages[0].receivedAt).toBe(refused[0].receivedAt);
  });

  it('should finish a page left claimed before resolving it when Alertmanager is back by then', async () => {
    // Prepare: a crash after the claim, then heartbeats return before any check retries.
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(600);
    const claimed: WatchdogPage[] = [];
    void check(state, {
      enqueue: (page) => {
        claimed.push(structuredClone(page));
        return new Promise<void>(() => {});
      },
    });
    await expect.poll(() => claimed.length).toBe(1);
    bench.advance(20);
    await bench.heartbeat(state);

    // Act
    bench.advance(60);
    const result = await check(state);

    // Assess
    expect(result.enqueued.map((e) => [e.transition, e.attempt])).toEqual([
      ['page', 2],
      ['resolve', 1],
    ]);
    expect(bench.pages[0]).toEqual(claimed[0]);
    expect(bench.pages[1].notification.alerts[0].endsAt).toBe(iso(START + 620_000));
  });

  it('should retry a claim at once with retryClaimAfterSeconds 0 (a single checker that never overlaps itself)', async () => {
    // Prepare
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(600);
    void check(state, { enqueue: () => new Promise<void>(() => {}) });
    await expect
      .poll(async () => (await state.get<WatchdogRecord>(watchdogStateKey('Watchdog')))?.silence)
      .toBeDefined();

    // Act
    bench.advance(1);
    const result = await check(state, { retryClaimAfterSeconds: 0 });

    // Assess
    expect(result.enqueued.map((e) => e.attempt)).toEqual([2]);
  });
});

describe('Function: planWatchdog', () => {
  const record: WatchdogRecord = {
    v: 1,
    alertname: 'Watchdog',
    armedAt: iso(START),
    lastHeartbeatAt: iso(START),
    receiver: 'relay',
    externalURL: 'http://alertmanager:9093',
    groupKey: '{}:{alertname="Watchdog"}',
  };

  it('should not page again a silence that was paged and resolved without a later heartbeat time', () => {
    // Prepare: the returning heartbeat's receive time was no later than the silence's start.
    const closed: WatchdogRecord = {
      ...record,
      silence: {
        startedAt: iso(START),
        receiver: 'relay',
        externalURL: '',
        silentAfterSeconds: 600,
        phase: 'resolved',
        pagedAt: iso(START + 600_000),
        returnedAt: iso(START),
        resolvedAt: iso(START + 660_000),
        attempts: 1,
      },
    };

    // Act
    const step = planWatchdog(closed, { now: new Date(START + 7200_000), config: WATCHDOG });

    // Assess
    expect(step).toEqual({ kind: 'none' });
  });

  it('should page at exactly silentAfter, not a millisecond before', () => {
    // Act
    const before = planWatchdog(record, { now: new Date(START + 599_999), config: WATCHDOG });
    const at = planWatchdog(record, { now: new Date(START + 600_000), config: WATCHDOG });

    // Assess
    expect(before).toEqual({ kind: 'none' });
    expect(at).toMatchObject({ kind: 'claim', transition: 'page', record: { silence: { phase: 'paging' } } });
  });
});

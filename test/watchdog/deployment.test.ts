import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkWatchdog } from '../../lib/watchdog/checker.ts';
import { deploymentSince, watchdogDeploymentKey } from '../../lib/watchdog/deployment.ts';
import { readTogether, START, WATCHDOG, type WatchdogBench, watchdogBench } from './bench.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const BUILD_A = '2026-11-21T09:00:00.000Z';
const BUILD_B = '2026-11-21T11:58:00.000Z';

describe('Function: deploymentSince', () => {
  let bench: WatchdogBench;

  beforeEach(() => {
    bench = watchdogBench();
  });

  afterEach(() => {
    bench.close();
  });

  it("should write the first check's time for a build and keep it at every later check of that build", async () => {
    // Prepare
    const state = bench.open();

    // Act
    const first = await deploymentSince(state, 'Watchdog', BUILD_A, bench.date());
    bench.advance(600);
    const later = await deploymentSince(state, 'Watchdog', BUILD_A, bench.date());

    // Assess
    expect(first.toISOString()).toBe(iso(START));
    expect(later.toISOString()).toBe(iso(START));
    expect(await state.get(watchdogDeploymentKey('Watchdog'))).toEqual({
      v: 1,
      builtAt: BUILD_A,
      firstCheckAt: iso(START),
    });
    expect(watchdogDeploymentKey('Watchdog')).toBe('watchdog#Watchdog#deployment');
  });

  it('should start again at the first check of a newer build, and never go back for an older one', async () => {
    // Prepare
    const state = bench.open();
    await deploymentSince(state, 'Watchdog', BUILD_A, bench.date());
    bench.advance(3600);

    // Act
    const newer = await deploymentSince(state, 'Watchdog', BUILD_B, bench.date());
    bench.advance(60);
    const older = await deploymentSince(state, 'Watchdog', BUILD_A, bench.date());

    // Assess
    expect(newer.toISOString()).toBe(iso(START + 3_600_000));
    expect(older.toISOString()).toBe(iso(START + 3_600_000));
    expect(await state.get(watchdogDeploymentKey('Watchdog'))).toMatchObject({ builtAt: BUILD_B });
  });

  it('should give two first checks of one build that read together the same time', async () => {
    // Prepare
    const [one, two] = readTogether([bench.open(), bench.open()]);
    const early = bench.date();
    bench.advance(1);

    // Act
    const [a, b] = await Promise.all([
      deploymentSince(one, 'Watchdog', BUILD_A, early),
      deploymentSince(two, 'Watchdog', BUILD_A, bench.date()),
    ]);

    // Assess
    expect(a.toISOString()).toBe(b.toISOString());
  });

  it('should keep a record weeks old from paging at the first check after the block is added back', async () => {
    // Prepare: a heartbeat three weeks ago, then the block removed; added back now.
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(21 * 24 * 3600);
    const check = async () =>
      checkWatchdog({
        state,
        now: bench.date(),
        config: WATCHDOG,
        enqueue: (page) => bench.enqueue(page),
        since: await deploymentSince(state, WATCHDOG.alertname, BUILD_B, bench.date()),
      });

    // Act
    const first = await check();
    bench.advance(WATCHDOG.silentAfterSeconds - 60);
    const before = await check();
    bench.advance(60);
    const after = await check();

    // Assess: Alertmanager gets silentAfter from the first check; then the silence pages, once.
    expect(first.enqueued).toEqual([]);
    expect(before.enqueued).toEqual([]);
    expect(after.enqueued.map((e) => e.transition)).toEqual(['page']);
    expect(bench.pages[0].notification.alerts[0].startsAt).toBe(iso(START));
  });
});

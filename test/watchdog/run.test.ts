import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DestinationConfig } from '../../lib/config/types.ts';
import { CountingTelemetry, createLogger } from '../../lib/telemetry.ts';
import { createWatchdogRun } from '../../lib/watchdog/run.ts';
import { START, WATCHDOG, type WatchdogBench, watchdogBench } from './bench.ts';

const DESTINATIONS: DestinationConfig[] = [
  { name: 'pager', sink: 'pagerduty', routingKeySecret: 'PD_KEY' } as DestinationConfig,
  { name: 'ops', sink: 'console' },
];

describe('Function: createWatchdogRun', () => {
  let bench: WatchdogBench;
  let telemetry: CountingTelemetry;

  beforeEach(() => {
    bench = watchdogBench();
    telemetry = new CountingTelemetry({ logger: createLogger('test', 'SILENT') });
  });

  afterEach(() => {
    bench.close();
    vi.restoreAllMocks();
  });

  function run(options: { since?: Date } = {}) {
    return createWatchdogRun({
      state: bench.open(),
      watchdog: { ...WATCHDOG, destinations: ['pager', 'ops'] },
      destinations: DESTINATIONS,
      enqueue: (page) => bench.enqueue(page),
      telemetry,
      now: () => bench.date(),
      ...(options.since ? { since: async () => options.since } : {}),
    });
  }

  it('should page once after silentAfter, count a message per destination and warn', async () => {
    // Prepare
    const warn = vi.spyOn(telemetry.logger, 'warn');
    const check = run();
    await bench.heartbeat(bench.open());
    bench.advance(WATCHDOG.silentAfterSeconds);

    // Act
    const first = await check();
    const second = await check();

    // Assess
    expect(first.enqueued.map((e) => e.transition)).toEqual(['page']);
    expect(second.enqueued).toEqual([]);
    expect(telemetry.get('MessagesEnqueued', 'pager')).toBe(1);
    expect(telemetry.get('MessagesEnqueued', 'ops')).toBe(1);
    expect(warn).toHaveBeenCalledWith('no Watchdog heartbeat from Alertmanager: paged', {
      alertname: 'Watchdog',
      silentForSeconds: WATCHDOG.silentAfterSeconds,
      destinations: ['pager', 'ops'],
      attempt: 1,
    });
  });

  it('should count the silence from `since` when it is later than the last heartbeat', async () => {
    // Prepare
    await bench.heartbeat(bench.open());
    const check = run({ since: new Date(START + 300_000) });
    bench.advance(WATCHDOG.silentAfterSeconds);

    // Act
    const early = await check();
    bench.advance(300);
    const late = await check();

    // Assess
    expect(early.enqueued).toEqual([]);
    expect(late.enqueued.map((e) => e.transition)).toEqual(['page']);
  });

  it('should reject with the enqueue error and count nothing', async () => {
    // Prepare
    await bench.heartbeat(bench.open());
    bench.advance(WATCHDOG.silentAfterSeconds);
    const check = createWatchdogRun({
      state: bench.open(),
      watchdog: WATCHDOG,
      destinations: DESTINATIONS,
      enqueue: async () => {
        throw new Error('queue refused');
      },
      telemetry,
      now: () => bench.date(),
    });

    // Act
    const result = check();

    // Assess
    await expect(result).rejects.toThrow('queue refused');
    expect(telemetry.get('MessagesEnqueued')).toBe(0);
  });
});

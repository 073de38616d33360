import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { localCheckIntervalSeconds, startWatchdogTimer } from '../../lib/watchdog/timer.ts';

describe('Function: localCheckIntervalSeconds', () => {
  it('should check every tenth of silentAfter, between 1 and 15 s', () => {
    // Assess
    expect(
      [10, 25, 90, 150, 600, 86_400].map((s) => localCheckIntervalSeconds({ silentAfterSeconds: s })),
    ).toEqual([1, 2, 9, 15, 15, 15]);
  });
});

describe('Function: startWatchdogTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('should check at once, then the interval after each check finished, never two at a time', async () => {
    // Prepare
    const started: number[] = [];
    let finish: () => void = () => {};
    const check = () => {
      started.push(Date.now());
      return new Promise<void>((resolve) => {
        finish = resolve;
      });
    };

    // Act
    const timer = startWatchdogTimer({ intervalSeconds: 15, check, onError: () => {} });
    await vi.advanceTimersByTimeAsync(60_000);
    const whileRunning = started.length;
    finish();
    await vi.advanceTimersByTimeAsync(14_999);
    const beforeInterval = started.length;
    await vi.advanceTimersByTimeAsync(1);
    const afterInterval = started.length;
    finish();
    await timer.stop();
    await vi.advanceTimersByTimeAsync(60_000);

    // Assess
    expect([whileRunning, beforeInterval, afterInterval]).toEqual([1, 1, 2]);
    expect(started).toHaveLength(2);
    expect(started[1] - started[0]).toBe(75_000);
  });

  it('should report a failed check and keep checking', async () => {
    // Prepare
    const errors: unknown[] = [];
    let calls = 0;
    const check = async () => {
      calls += 1;
      if (calls === 1) throw new Error('state unavailable');
    };

    // Act
    const timer = startWatchdogTimer({ intervalSeconds: 1, check, onError: (e) => errors.push(e) });
    await vi.advanceTimersByTimeAsync(2_000);
    await timer.stop();

    // Assess
    expect(errors).toEqual([new Error('state unavailable')]);
    expect(calls).toBe(3);
  });

  it('should let stop wait for the check in progress', async () => {
    // Prepare
    let finish: () => void = () => {};
    const timer = startWatchdogTimer({
      intervalSeconds: 1,
      check: () => new Promise<void>((resolve) => (finish = resolve)),
      onError: () => {},
    });
    let stopped = false;

    // Act
    const stopping = timer.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    const beforeFinish = stopped;
    finish();
    await stopping;

    // Assess
    expect(beforeFinish).toBe(false);
    expect(stopped).toBe(true);
  });
});

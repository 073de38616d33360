import type { Watchdog } from './config.ts';

/**
 * The local runtime's watchdog timer: one check at a time, the next one `intervalSeconds` after
 * the previous one finished, so checks never overlap (the checker may then be given
 * `retryClaimAfterSeconds: 0`). On AWS a scheduled function runs the check every minute instead.
 */

/**
 * How often the local runtime checks: a tenth of silentAfter, between 1 and 15 s, so a page
 * is at most that late (600 s: every 15 s; the least silentAfter, 10 s: every second).
 */
export function localCheckIntervalSeconds(watchdog: Pick<Watchdog, 'silentAfterSeconds'>): number {
  return Math.min(15, Math.max(1, Math.floor(watchdog.silentAfterSeconds / 10)));
}

export interface WatchdogTimer {
  /** Stops scheduling; resolves once a check in progress has finished. */
  stop(): Promise<void>;
}

/**
 * Runs `check` every `intervalSeconds` (the first one at once: a silence that spans a restart
 * is found without waiting), reporting a rejection to `onError` and carrying on. The timer is
 * unref'd: it never keeps the process alive by itself.
 *
 * @example
 * const timer = startWatchdogTimer({ intervalSeconds: localCheckIntervalSeconds(watchdog), check, onError });
 * await timer.stop();
 */
export function startWatchdogTimer(options: {
  intervalSeconds: number;
  check: () => Promise<unknown>;
  onError: (error: unknown) => void;
}): WatchdogTimer {
  let stopped = false;
  let timeout: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    timeout = undefined;
    running = options
      .check()
      .then(
        () => undefined,
        (error: unknown) => options.onError(error),
      )
      .finally(() => {
        if (!stopped) timeout = setTimeout(run, options.intervalSeconds * 1000).unref();
      });
  };
  run();
  return {
    async stop() {
      stopped = true;
      if (timeout) clearTimeout(timeout);
      await running;
    },
  };
}

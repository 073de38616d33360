import type { DestinationConfig } from '../config/types.ts';
import type { VersionedStateStore } from '../state/store.ts';
import { checkWatchdog, type WatchdogCheck, type WatchdogEnqueue } from './checker.ts';
import type { Watchdog } from './config.ts';

/**
 * One check as a runtime runs it (the scheduled function on AWS; the local timer can use it
 * too): the checker, then a log line and a `MessagesEnqueued` count per destination for every
 * transition it put on the queues. A page is logged as a warning (it shows at the functions'
 * default WARN level), its resolve as info.
 */
/**
 * What a check reports to: the relay's Telemetry (lib/telemetry.ts) is one. Declared here, as
 * much of it as a check uses, because lib/watchdog sits below lib/telemetry.ts.
 */
export interface WatchdogRunTelemetry {
  readonly logger: {
    info(message: string, extra: Record<string, unknown>): void;
    warn(message: string, extra: Record<string, unknown>): void;
    debug(message: string, extra: Record<string, unknown>): void;
  };
  count(name: 'MessagesEnqueued', dimensions: { sink?: string; destination?: string }): void;
}

export interface WatchdogRunOptions {
  state: VersionedStateStore;
  watchdog: Watchdog;
  /** The config's destinations: the sink each named destination's messages went to. */
  destinations: readonly DestinationConfig[];
  enqueue: WatchdogEnqueue;
  telemetry: WatchdogRunTelemetry;
  /** Count a silence from no earlier than this (lib/watchdog/deployment.ts on AWS, the start locally). */
  since?: () => Promise<Date | undefined>;
  now?: () => Date;
  retryClaimAfterSeconds?: number;
}

/**
 * A function that runs one check; it rejects with the checker's error (the claim is left for
 * the next check), logged and reported by the caller.
 *
 * @example const run = createWatchdogRun({ state, watchdog, destinations: config.destinations, enqueue, telemetry });
 */
export function createWatchdogRun(options: WatchdogRunOptions): () => Promise<WatchdogCheck> {
  const now = options.now ?? (() => new Date());
  const { logger } = options.telemetry;
  return async () => {
    const since = await options.since?.();
    const check = await checkWatchdog({
      state: options.state,
      now: now(),
      config: options.watchdog,
      enqueue: options.enqueue,
      ...(since ? { since } : {}),
      ...(options.retryClaimAfterSeconds !== undefined
        ? { retryClaimAfterSeconds: options.retryClaimAfterSeconds }
        : {}),
    });
    for (const { transition, attempt } of check.enqueued) {
      for (const name of options.watchdog.destinations) {
        const sink = options.destinations.find((d) => d.name === name)?.sink;
        options.telemetry.count('MessagesEnqueued', { destination: name, ...(sink ? { sink } : {}) });
      }
      const facts = {
        alertname: options.watchdog.alertname,
        silentForSeconds: Math.round(check.silentForSeconds ?? 0),
        destinations: options.watchdog.destinations,
        attempt,
      };
      if (transition === 'page')
        logger.warn(`no ${options.watchdog.alertname} heartbeat from Alertmanager: paged`, facts);
      else logger.info(`${options.watchdog.alertname} heartbeats are back: the page is resolved`, facts);
    }
    if (check.waiting)
      logger.debug('watchdog transition claimed by another check', { waiting: check.waiting });
    return check;
  };
}

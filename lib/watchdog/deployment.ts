import { updateVersioned, type VersionedStateStore } from '../state/store.ts';
import { watchdogStateKey } from './record.ts';

/**
 * The AWS checker's `since`: when the checker of this deployment first ran.
 *
 * The watchdog's record (`watchdog#<alertname>`) has no TTL, so it outlives a `watchdog:` block
 * that is removed: added back weeks later, the first check would find a "last heartbeat" weeks
 * old and page before Alertmanager's first heartbeat had a chance to arrive. The local runtime
 * passes its own start as `since`; a scheduled Lambda has no start of its own (its containers
 * come and go), so each build carries its build time (`npm run build` bakes it into the bundle)
 * and the first check of a build writes `{ builtAt, firstCheckAt }` under
 * `watchdog#<alertname>#deployment`; every check of that build counts a silence from no earlier
 * than `firstCheckAt`. So after every deploy, like after a restart of `npm start`, Alertmanager
 * gets a full `silentAfter` from the first check before a page (the page still says when the
 * last heartbeat came), and a silence already paged is resolved as usual.
 *
 * The first check, not the build, because a deploy takes minutes and the new ingest may not
 * have recorded a heartbeat yet when the new checker first runs. An older build's checker still
 * running during a deploy never moves the marker back: the marker of the newest build wins.
 */

/** The value under `watchdog#<alertname>#deployment`. */
export interface WatchdogDeployment {
  v: 1;
  /** The build time baked into the checker's bundle (ISO 8601): which deployment this is. */
  builtAt: string;
  /** When a checker of that build first ran (ISO 8601). */
  firstCheckAt: string;
}

/** The key of the deployment marker; under `watchdog#`, where ingest's and the checker's IAM reach. */
export function watchdogDeploymentKey(alertname: string): string {
  return `${watchdogStateKey(alertname)}#deployment`;
}

/**
 * When the checker of the build `builtAt` first ran: read from the marker, or written now by
 * compare-and-set when this is the first check of a newer build. A checker of an older build
 * gets the newer build's time.
 *
 * @example const since = await deploymentSince(state, 'Watchdog', bundledBuildTime(), new Date());
 */
export async function deploymentSince(
  state: VersionedStateStore,
  alertname: string,
  builtAt: string,
  now: Date,
): Promise<Date> {
  const written = await updateVersioned<WatchdogDeployment>(
    state,
    watchdogDeploymentKey(alertname),
    (marker) =>
      marker && Date.parse(marker.builtAt) >= Date.parse(builtAt)
        ? undefined
        : { v: 1, builtAt, firstCheckAt: now.toISOString() },
  );
  return new Date((written as WatchdogDeployment).firstCheckAt);
}

/**
 * The Alertmanager route that sends the watched alert (kube-prometheus's always-firing
 * `Watchdog`) to the relay, as `npm run alertmanager-config` prints it for a relay whose
 * relay.yaml has a `watchdog:` block, and the timing the config check warns about.
 *
 * Alertmanager flushes an alert group every `group_interval`, and at a flush sends the group
 * again only when it changed or when `repeat_interval` has passed since the last notification
 * was sent (its notification log stamps the send slightly after the flush). So an unchanged
 * group is sent at the first flush after `repeat_interval` has passed: with repeat_interval
 * equal to group_interval that is every second flush (prometheus/alertmanager#676: 5m and 5m
 * give 10 minutes). The longest normal gap between two heartbeats is therefore
 * `repeat_interval + group_interval`. A repeat_interval below group_interval would send every
 * flush, but Alertmanager logs a warning for it (prometheus/alertmanager#3389), so the printed
 * route keeps repeat_interval above group_interval instead.
 */

/** The printed route's timing, in seconds. */
export const WATCHDOG_ROUTE = {
  /** The first notification of the group goes out at once. */
  groupWaitSeconds: 0,
  /** Alertmanager's flush clock for the group. */
  groupIntervalSeconds: 30,
  /** The heartbeat: the unchanged group is sent again at the first flush after this. */
  repeatIntervalSeconds: 60,
} as const;

/**
 * The longest time Alertmanager normally leaves between two notifications of the watched
 * alert on the printed route: repeat_interval plus one group_interval (90 s).
 */
export function longestHeartbeatGapSeconds(route: typeof WATCHDOG_ROUTE = WATCHDOG_ROUTE): number {
  return route.repeatIntervalSeconds + route.groupIntervalSeconds;
}

/** `90` -> `1m30s`, `30` -> `30s`, `0` -> `0s`: Alertmanager's duration syntax. */
export function alertmanagerDuration(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (minutes === 0) return `${rest}s`;
  return rest === 0 ? `${minutes}m` : `${minutes}m${rest}s`;
}

/**
 * The child route that sends the watched alert, alone in its group, to the relay's receiver,
 * as YAML lines to put under the top-level `route:` (two spaces in, starting with `routes:`).
 * It comes first among the child routes and has `continue: false`, so the heartbeat reaches
 * no other receiver. The alertname is quoted for a matcher (Alertmanager's double-quoted
 * matcher value) inside a YAML single-quoted string, whatever it contains.
 *
 * @example
 * ['route:', `  receiver: ${receiver}`, ...watchdogRouteLines({ receiver, alertname: 'Watchdog' })]
 */
export function watchdogRouteLines(options: { receiver: string; alertname: string }): string[] {
  const matcher = `alertname=${JSON.stringify(options.alertname)}`;
  const quoted = `'${matcher.replaceAll("'", "''")}'`;
  const gap = longestHeartbeatGapSeconds();
  return [
    '  routes:',
    `    # The relay's watchdog (watchdog: in relay.yaml): the always-firing ${JSON.stringify(options.alertname)} alert,`,
    `    # alone in its group, reaches the relay at least every ${alertmanagerDuration(gap)}; the relay pages when it stops.`,
    '    # Keep this route first, so no other route takes the alert.',
    `    - receiver: ${options.receiver}`,
    `      matchers: [${quoted}]`,
    '      group_by: [alertname]',
    `      group_wait: ${alertmanagerDuration(WATCHDOG_ROUTE.groupWaitSeconds)}`,
    `      group_interval: ${alertmanagerDuration(WATCHDOG_ROUTE.groupIntervalSeconds)}`,
    `      repeat_interval: ${alertmanagerDuration(WATCHDOG_ROUTE.repeatIntervalSeconds)}`,
    '      continue: false',
  ];
}

import type { FromSchema } from 'json-schema-to-ts';
import { alertmanagerDuration, longestHeartbeatGapSeconds, WATCHDOG_ROUTE } from './route.ts';

/**
 * The `watchdog:` block of relay.yaml: which always-firing alert is Alertmanager's heartbeat,
 * how long a silence pages, and where. lib/config/schema.ts puts the schema under `watchdog`;
 * lib/config/load.ts adds watchdogProblems to the config's problems. This module imports
 * nothing from lib/config, so the config's schema and types can import it.
 */

/** The alert the relay pages with when Alertmanager goes silent. */
export const SILENT_ALERTNAME = 'AlertmanagerSilent';

/** `silentAfter` below this is refused: the checker runs every few seconds at best. */
export const MIN_SILENT_AFTER_SECONDS = 10;

export const WATCHDOG_DEFAULTS = {
  alertname: 'Watchdog',
  silentAfterSeconds: 600,
  forward: false,
} as const;

/** The `watchdog:` block (draft 2020-12, written `as const` so the type below follows it). */
export const watchdogConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['destinations'],
  properties: {
    // The always-firing alert to watch (kube-prometheus ships `Watchdog`: `expr: vector(1)`).
    alertname: { type: 'string', minLength: 1, maxLength: 256, default: WATCHDOG_DEFAULTS.alertname },
    // Seconds without a heartbeat before paging.
    silentAfter: {
      type: 'integer',
      minimum: MIN_SILENT_AFTER_SECONDS,
      default: WATCHDOG_DEFAULTS.silentAfterSeconds,
    },
    // Names of destinations (of any sink) the page goes to, whatever their matchers.
    destinations: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string' } },
    // Deliver heartbeats to the destinations their labels route to, like any notification.
    forward: { type: 'boolean', default: WATCHDOG_DEFAULTS.forward },
  },
} as const;

/** The `watchdog:` block as written in relay.yaml (defaults not filled in). */
export type WatchdogConfig = FromSchema<
  typeof watchdogConfigSchema,
  { keepDefaultedPropertiesOptional: true }
>;

/** The watchdog with its defaults applied: what ingest and the checker use. */
export interface Watchdog {
  /** The watched alert's `alertname`. */
  alertname: string;
  silentAfterSeconds: number;
  /** Names of the destinations to page. */
  destinations: readonly string[];
  /** Whether heartbeats are also delivered (routed like any notification). */
  forward: boolean;
}

/** The block with its defaults; undefined when relay.yaml has no `watchdog:` (nothing is watched). */
export function resolveWatchdog(block: WatchdogConfig | undefined): Watchdog | undefined {
  if (!block) return undefined;
  return {
    alertname: block.alertname ?? WATCHDOG_DEFAULTS.alertname,
    silentAfterSeconds: block.silentAfter ?? WATCHDOG_DEFAULTS.silentAfterSeconds,
    destinations: [...block.destinations],
    forward: block.forward ?? WATCHDOG_DEFAULTS.forward,
  };
}

/**
 * What makes a schema-valid `watchdog:` block unusable, each naming its path: a destination
 * name that is not a configured destination, and the relay's own page's alertname as the
 * watched one (the page would then count as a heartbeat wherever it loops back).
 *
 * @example watchdogProblems(config.watchdog, config.destinations) // ['watchdog.destinations[0]: unknown destination "pagr" (known: pager, ops)']
 */
export function watchdogProblems(
  block: WatchdogConfig | undefined,
  destinations: readonly { name: string }[],
): string[] {
  if (!block) return [];
  const problems: string[] = [];
  const known = destinations.map((d) => d.name);
  block.destinations.forEach((name, i) => {
    if (!known.includes(name))
      problems.push(
        `watchdog.destinations[${i}]: unknown destination ${JSON.stringify(name)} (known: ${known.join(', ')})`,
      );
  });
  if (block.alertname === SILENT_ALERTNAME)
    problems.push(
      `watchdog.alertname: ${SILENT_ALERTNAME} is the alert the relay pages with; watch the always-firing alert instead (default ${WATCHDOG_DEFAULTS.alertname})`,
    );
  return problems;
}

/**
 * What in a valid `watchdog:` block will likely page while Alertmanager works: a `silentAfter`
 * shorter than two of the longest normal gaps between heartbeats on the route
 * `npm run alertmanager-config` prints (repeat_interval + group_interval: 90 s, so 180 s), so
 * that one heartbeat lost or late (a relay answer Alertmanager retries until its next flush)
 * does not page. A warning, not a problem: a test or a route of your own may want less.
 */
export function watchdogWarnings(block: WatchdogConfig | undefined): string[] {
  const watchdog = resolveWatchdog(block);
  if (!watchdog) return [];
  const gap = longestHeartbeatGapSeconds();
  if (watchdog.silentAfterSeconds >= 2 * gap) return [];
  return [
    `watchdog.silentAfter: ${watchdog.silentAfterSeconds} s is less than twice the longest gap between heartbeats ` +
      `on the Watchdog route \`npm run alertmanager-config\` prints (repeat_interval ${alertmanagerDuration(WATCHDOG_ROUTE.repeatIntervalSeconds)} ` +
      `+ group_interval ${alertmanagerDuration(WATCHDOG_ROUTE.groupIntervalSeconds)} = ${gap} s): one late heartbeat would page; ` +
      `use at least ${2 * gap} s`,
  ];
}

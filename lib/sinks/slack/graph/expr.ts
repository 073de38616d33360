import type { Alert, Notification } from '../../../alertmanager/types.ts';

/** PromQL longer than this is not something Prometheus wrote into a generatorURL: skip it. */
export const MAX_EXPR_LENGTH = 8192;

/**
 * The PromQL of an alert: the `g0.expr` query parameter of the generatorURL Prometheus writes
 * (`http://prom:9090/graph?g0.expr=<PromQL>&g0.tab=1`). Only that parameter is read; the URL's
 * scheme, host and path are ignored because the payload chose them, and we query the
 * destination's configured Prometheus instead.
 *
 * @example exprFromGeneratorUrl('http://prom:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1') // 'up == 0'
 */
export function exprFromGeneratorUrl(generatorURL: unknown): string | undefined {
  if (typeof generatorURL !== 'string' || generatorURL === '') return undefined;
  const query = queryOf(generatorURL);
  if (query === undefined) return undefined;
  let expr: string | null;
  try {
    // URLSearchParams decodes `+` as a space, as Go's url.Values encodes it.
    expr = new URLSearchParams(query).get('g0.expr');
  } catch {
    return undefined;
  }
  const trimmed = expr?.trim();
  if (!trimmed || trimmed.length > MAX_EXPR_LENGTH) return undefined;
  return trimmed;
}

// The query string between `?` and `#`, whatever comes before it: relative URLs, unknown
// schemes and hosts that the URL parser rejects still carry a readable expression.
function queryOf(url: string): string | undefined {
  const hash = url.indexOf('#');
  const beforeHash = hash === -1 ? url : url.slice(0, hash);
  const question = beforeHash.indexOf('?');
  return question === -1 ? undefined : beforeHash.slice(question + 1);
}

/** What a firing group is graphed from: its expression, the alerts that share it, and when the first started. */
export interface GraphSubject {
  expr: string;
  alerts: Alert[];
  /** The earliest valid startsAt of those alerts (ms since the epoch). */
  startsAt: number | undefined;
}

/**
 * The expression of the first firing alert that carries one, the firing alerts that share
 * it, and their earliest start. Undefined when no firing alert has an expression.
 */
export function graphSubject(notification: Notification): GraphSubject | undefined {
  const firing = notification.alerts.filter((alert) => alert.status === 'firing');
  for (const alert of firing) {
    const expr = exprFromGeneratorUrl(alert.generatorURL);
    if (expr === undefined) continue;
    const alerts = firing.filter((other) => exprFromGeneratorUrl(other.generatorURL) === expr);
    const starts = alerts
      .map((other) => Date.parse(other.startsAt))
      .filter((ms) => Number.isFinite(ms) && ms > 0);
    return { expr, alerts, startsAt: starts.length > 0 ? Math.min(...starts) : undefined };
  }
  return undefined;
}

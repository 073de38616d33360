import type { Notification } from '../../../alertmanager/types.ts';
import { sanitizeSnippet } from '../../../delivery/http.ts';
import type { SecretReader } from '../../../delivery/sink.ts';
import { chartSvg, formatValue, inferUnit } from './chart.ts';
import { GRAPH_DEFAULTS, type GraphConfig } from './config.ts';
import { graphSubject } from './expr.ts';
import { authorization, type GraphSkipReason, queryRange, rangeWindow } from './prometheus.ts';
import { svgToPng } from './render.ts';
import { splitThreshold } from './threshold.ts';

export type { GraphSkipReason } from './prometheus.ts';

export type AlertGraph =
  | {
      png: Uint8Array;
      /** The alert's expression, from its generatorURL. */
      expr: string;
      /** What was queried: the expression, or its left-hand side when a threshold was split off. */
      query: string;
      /** How many series the query returned (the chart draws at most 8). */
      series: number;
      /** A title for the uploaded file: `<alertname>: <expr>`. */
      title: string;
    }
  | {
      /** Why, for the log. Never holds a secret. */
      skipped: string;
      /** The same as a short fixed word, for a metric dimension. */
      reason: GraphSkipReason;
    };

const MAX_TITLE_CHARS = 250;

/**
 * The PNG chart of a firing group's expression over the configured window, or why there is
 * none. Never throws and never waits longer than the configured timeout for Prometheus (or
 * for the credentials): a graph must not hold back the alert message.
 *
 * @example
 * const graph = await renderAlertGraph({ notification }, destination.graph, secrets);
 * if ('skipped' in graph) logger.warn('graph skipped', { reason: graph.reason, detail: graph.skipped });
 */
export async function renderAlertGraph(
  input: { notification: Notification; now?: Date },
  config: GraphConfig,
  secrets: SecretReader,
  options: { fetch?: typeof globalThis.fetch } = {},
): Promise<AlertGraph> {
  try {
    const { notification } = input;
    if (!notification.alerts.some((alert) => alert.status === 'firing')) {
      return { skipped: 'no firing alert to graph', reason: 'not-firing' };
    }
    const subject = graphSubject(notification);
    if (!subject) {
      return { skipped: 'no firing alert has a g0.expr in its generatorURL', reason: 'no-expression' };
    }
    const timeoutSeconds = config.timeoutSeconds ?? GRAPH_DEFAULTS.timeoutSeconds;

    let header: string | undefined;
    try {
      header = await withDeadline(
        authorization(config, secrets),
        timeoutSeconds,
        'reading the graph credentials',
      );
    } catch (error) {
      return { skipped: `graph credentials: ${messageOf(error)}`, reason: 'secret' };
    }

    const split = splitThreshold(subject.expr);
    const query = split?.query ?? subject.expr;
    const window = rangeWindow({
      now: input.now ?? new Date(),
      startsAt: subject.startsAt,
      windowSeconds: config.windowSeconds,
      points: config.points,
    });
    const result = await queryRange({
      prometheusUrl: config.prometheusUrl,
      expr: query,
      window,
      timeoutSeconds,
      authorization: header,
      fetch: options.fetch,
    });
    if (!result.ok) return { skipped: result.message, reason: result.reason };

    const unit = inferUnit(query);
    const alertname = subject.alerts[0]?.labels.alertname ?? notification.commonLabels.alertname ?? 'alert';
    const firing = subject.alerts.length > 1 ? ` (${subject.alerts.length} alerts firing)` : '';
    const svg = chartSvg({
      title: `${alertname}${firing}`,
      subtitle: subject.expr,
      series: result.series,
      start: window.start,
      end: window.end,
      step: window.step,
      startsAt: subject.startsAt === undefined ? undefined : subject.startsAt / 1000,
      threshold: split
        ? { value: split.threshold, label: `${split.operator} ${formatValue(split.threshold, unit)}` }
        : undefined,
      unit,
      timeZone: config.timeZone,
    });
    const png = await svgToPng(svg);
    const title = Array.from(`${alertname}: ${subject.expr}`.replace(/\s+/g, ' '));
    return {
      png,
      expr: subject.expr,
      query,
      series: result.series.length,
      title:
        title.length > MAX_TITLE_CHARS ? `${title.slice(0, MAX_TITLE_CHARS - 1).join('')}…` : title.join(''),
    };
  } catch (error) {
    return { skipped: `graph could not be drawn: ${messageOf(error)}`, reason: 'render-error' };
  }
}

function messageOf(error: unknown): string {
  return sanitizeSnippet(error instanceof Error ? error.message : String(error), []);
}

function withDeadline<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

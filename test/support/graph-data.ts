import { writeFile } from 'node:fs/promises';
import type { Notification } from '../../lib/alertmanager/types.ts';
import type { FakeSeries } from './fake-prometheus.ts';
import { makeNotification } from './notifications.ts';

/**
 * Fixed, realistic data for graph tests and for docs/example-chart.png: the p99 latency of
 * four API instances, one of which climbs past 500 ms and fires HighRequestLatency.
 * `node test/support/graph-data.ts` rewrites docs/example-chart.png from it.
 */

export const LATENCY_EXPR =
  'histogram_quantile(0.99, sum by (le, instance) (rate(http_request_duration_seconds_bucket{job="api"}[5m]))) > 0.5';
export const LATENCY_QUERY =
  'histogram_quantile(0.99, sum by (le, instance) (rate(http_request_duration_seconds_bucket{job="api"}[5m])))';
/** When the alert started, and "now" for the render. */
export const LATENCY_STARTS_AT = '2026-11-21T11:02:00Z';
export const LATENCY_NOW = new Date('2026-11-21T12:10:00Z');

const RISE_FROM = Date.parse('2026-11-21T10:48:00Z') / 1000;

// Deterministic jitter in [-1, 1]: the same chart on every run.
function jitter(t: number, seed: number): number {
  const x = Math.sin(t * 12.9898 + seed * 78.233) * 43758.5453;
  return (x - Math.floor(x)) * 2 - 1;
}

export const LATENCY_SERIES: FakeSeries[] = [
  { instance: 'api-1:8080', base: 0.18, seed: 1 },
  { instance: 'api-2:8080', base: 0.21, seed: 2 },
  { instance: 'api-3:8080', base: 0.16, seed: 3 },
  { instance: 'api-4:8080', base: 0.24, seed: 4 },
].map(({ instance, base, seed }) => ({
  labels: { instance },
  value: (t: number) => {
    const wave = base + 0.03 * Math.sin(t / 900 + seed) + 0.015 * jitter(t, seed);
    if (instance !== 'api-2:8080' || t < RISE_FROM) return wave;
    // api-2 degrades over ~20 minutes to about 0.9 s and stays there, noisily.
    const rise = Math.min(1, (t - RISE_FROM) / 1200);
    return wave + rise * (0.68 + 0.08 * jitter(t, 9));
  },
}));

/** The firing notification for the latency alert, generatorURL pointing at a host we must not call. */
export function latencyNotification(): Notification {
  const notification = makeNotification({
    labels: () => ({ alertname: 'HighRequestLatency', instance: 'api-2:8080', job: 'api' }),
    startsAt: LATENCY_STARTS_AT,
  });
  for (const alert of notification.alerts) {
    alert.generatorURL = `http://prometheus-0.internal:9090/graph?g0.expr=${encodeURIComponent(LATENCY_EXPR)}&g0.tab=1`;
  }
  notification.groupLabels = { alertname: 'HighRequestLatency' };
  notification.commonLabels = { alertname: 'HighRequestLatency', instance: 'api-2:8080', job: 'api' };
  return notification;
}

if (import.meta.main) {
  const { startFakePrometheus } = await import('./fake-prometheus.ts');
  const { renderAlertGraph } = await import('../../lib/sinks/slack/graph/alert-graph.ts');
  const prometheus = await startFakePrometheus({ series: { [LATENCY_QUERY]: LATENCY_SERIES } });
  try {
    const graph = await renderAlertGraph(
      { notification: latencyNotification(), now: LATENCY_NOW },
      { prometheusUrl: prometheus.url },
      { get: () => Promise.reject(new Error('no secrets here')) },
    );
    if ('skipped' in graph) throw new Error(graph.skipped);
    const target = new URL('../../docs/example-chart.png', import.meta.url);
    await writeFile(target, graph.png);
    console.log(`${target.pathname}: ${graph.png.byteLength} bytes, ${graph.series} series`);
  } finally {
    await prometheus.close();
  }
}

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert, Notification } from '../lib/alertmanager/types.ts';
import { validateConfig } from '../lib/config/load.ts';
import { previewNotification } from '../lib/ops/preview.ts';
import { type BenchResult, median, result, timeNode } from './measure.ts';

const RUNS = 3;
const PER_ALERT =
  '{{ alert.labels.alertname }} on {{ alert.labels.instance }}: {{ alert.annotations.summary }}';

/**
 * Every sink that renders its templates once per alert (a call per alert), each with a template:
 * before the data was built once per delivery, each of them was quadratic in the group's size.
 */
const DESTINATIONS = [
  { name: 'monitor', sink: 'sysdig', tokenSecret: 'SYSDIG_TOKEN', templates: { name: PER_ALERT } },
  { name: 'errors', sink: 'sentry', dsnSecret: 'SENTRY_DSN', templates: { message: PER_ALERT } },
  {
    name: 'events',
    sink: 'ilert',
    mode: 'events',
    keySecret: 'ILERT_KEY',
    templates: { summary: PER_ALERT },
  },
  {
    name: 'genie',
    sink: 'opsgenie',
    mode: 'alert',
    apiKeySecret: 'OG_KEY',
    templates: { summary: PER_ALERT },
  },
  {
    name: 'pager',
    sink: 'pagerduty',
    mode: 'alert',
    routingKeySecret: 'PD_KEY',
    templates: { summary: PER_ALERT },
  },
];

/** A firing group of `count` alerts, as Alertmanager sends one (no `max_alerts`). */
function group(count: number): Notification {
  const alerts: Alert[] = Array.from({ length: count }, (_, i) => ({
    status: 'firing',
    labels: { alertname: 'DiskFull', instance: `node-${i}:9100`, job: 'node', severity: 'critical' },
    annotations: { summary: `disk of node-${i} is 97% full` },
    startsAt: '2026-01-01T00:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: `http://prometheus:9090/graph?g0.expr=disk_used%7Binstance%3D%22node-${i}%22%7D`,
    fingerprint: i.toString(16).padStart(16, '0'),
  }));
  return {
    version: '4',
    status: 'firing',
    receiver: 'relay',
    groupKey: '{}:{alertname="DiskFull"}',
    truncatedAlerts: 0,
    groupLabels: { alertname: 'DiskFull' },
    commonLabels: { alertname: 'DiskFull', job: 'node', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
  };
}

/** ms to preview a group of `count` alerts at every per-alert destination, in this process. */
async function previewMs(count: number): Promise<number> {
  const config = validateConfig({ destinations: DESTINATIONS }, 'bench/templates.ts');
  const notification = group(count);
  const started = performance.now();
  const previews = await previewNotification(config, notification);
  const elapsed = performance.now() - started;
  const sent = previews.reduce((sum, p) => sum + p.requests.length, 0);
  const failed = previews.find((p) => p.error !== undefined || p.warnings.length > 0);
  if (failed)
    throw new Error(`preview of ${failed.destination} failed: ${failed.error ?? failed.warnings[0]}`);
  if (sent !== count * DESTINATIONS.length)
    throw new Error(`expected ${count * DESTINATIONS.length} requests, got ${sent}`);
  return elapsed;
}

/**
 * Template figures (issue 21, "linear in group size"):
 * - the per-alert sinks' render of a 4,000-alert group against a 1,000-alert one, previewed in
 *   this process (every call the five sinks make, templates rendered for each alert): linear
 *   work is about 4x; it was 17x (Sysdig: 6.3 s against 107 s);
 * - `npm run preview` of a 17,000-alert group to those five destinations (the command a user
 *   runs, process start and printing included), against the same command on 1,000 alerts.
 */
export async function benchTemplates(): Promise<BenchResult[]> {
  // Warm up: the first preview compiles the templates and loads every sink.
  await previewMs(200);
  const thousand: number[] = [];
  const fourThousand: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    thousand.push(await previewMs(1_000));
    fourThousand.push(await previewMs(4_000));
  }

  const dir = await mkdtemp(join(tmpdir(), 'bench-templates-'));
  try {
    const config = join(dir, 'relay.json');
    await writeFile(config, JSON.stringify({ destinations: DESTINATIONS }));
    const payload = async (count: number) => {
      const path = join(dir, `group-${count}.json`);
      await writeFile(path, JSON.stringify(group(count)));
      return path;
    };
    const small = await payload(1_000);
    const large = await payload(17_000);
    const preview = (file: string) => timeNode(['scripts/preview.ts', '--config', config, file]);
    const smallMs = await preview(small);
    const largeMs = await preview(large);

    const render = median(fourThousand);
    const renderBaseline = median(thousand);
    return [
      result({
        name: 'per-alert sink render (Sysdig, Sentry, ilert events, Opsgenie and PagerDuty per alert), 4,000 vs 1,000 alerts',
        value: render,
        unit: 'ms',
        baseline: renderBaseline,
        target: '<= 5x',
        met: render <= 5 * renderBaseline,
      }),
      result({
        name: 'npm run preview of a 17,000-alert group to those 5 per-alert destinations (baseline: 1,000 alerts)',
        value: largeMs / 1000,
        unit: 's',
        baseline: smallMs / 1000,
        target: '< 30 s',
        met: largeMs < 30_000,
      }),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

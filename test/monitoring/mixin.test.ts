import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { RelayMetrics } from '../../lib/local/metrics.ts';
import { parseExposition } from '../support/exposition.ts';
import { available, PROMTOOL } from '../support/optional-binary.ts';
import { expressionUse } from '../support/promql.ts';
import { REPO_ROOT, run } from '../support/run-script.ts';

/**
 * monitoring/: the alerting rules, their promtool unit tests and the Grafana dashboard use only
 * metrics and labels lib/local/metrics.ts exposes, so renaming one there fails here rather than
 * silently emptying a panel or an alert.
 */

const MONITORING = join(REPO_ROOT, 'monitoring');
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];
/** Grafana's reference to the dashboard's data source variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template string
const DATASOURCE_UID = '${datasource}';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; datasource?: { uid: string } }[];
}

const rules = (): Rule[] =>
  (
    parse(readFileSync(join(MONITORING, 'alerts.yaml'), 'utf8')) as { groups: { rules: Rule[] }[] }
  ).groups.flatMap((group) => group.rules);
const dashboard = () => JSON.parse(readFileSync(join(MONITORING, 'grafana-dashboard.json'), 'utf8'));

/** Every series name the relay's /metrics can have, with its label names (a histogram's three). */
async function exposedSeries(): Promise<Map<string, Set<string>>> {
  const relayMetrics = new RelayMetrics({
    destinations: [{ name: 'ops', sink: 'slack' }],
    queueState: () => [],
  });
  const series = new Map<string, Set<string>>([['up', new Set()]]);
  for (const family of parseExposition((await relayMetrics.exposition()).body).values()) {
    if (family.type === 'histogram') {
      const labels = [...family.labelNames].filter((label) => label !== 'le');
      series.set(`${family.name}_bucket`, new Set([...labels, 'le']));
      series.set(`${family.name}_sum`, new Set(labels));
      series.set(`${family.name}_count`, new Set(labels));
    } else {
      series.set(family.name, family.labelNames);
    }
  }
  return series;
}

/** What is wrong with `expr` against the exposed series: unknown metrics, labels, groupings. */
function problemsOf(expr: string, series: Map<string, Set<string>>): string[] {
  const use = expressionUse(expr);
  const problems: string[] = [];
  const available = new Set(TARGET_LABELS);
  if (use.selectors.length === 0) problems.push(`no metric in ${expr}`);
  for (const { metric, labels } of use.selectors) {
    const known = series.get(metric);
    if (!known) {
      problems.push(`unknown metric ${metric}`);
      continue;
    }
    for (const label of known) available.add(label);
    for (const label of labels)
      if (!known.has(label) && !TARGET_LABELS.includes(label))
        problems.push(`${metric} has no label ${label}`);
  }
  for (const label of use.grouping)
    if (!available.has(label)) problems.push(`grouping by ${label}, which no metric of the expression has`);
  return problems;
}

/** GitHub's anchors of a Markdown file's headings. */
function anchorsOf(file: string): Set<string> {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  return new Set(
    [...text.matchAll(/^#{1,6} (.+)$/gm)].map((heading) =>
      heading[1]
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );
}

let series: Map<string, Set<string>>;

beforeAll(async () => {
  series = await exposedSeries();
});

describe('Function: expressionUse', () => {
  it('should find selectors and their labels, and grouping labels, and nothing in strings or ranges', () => {
    // Act
    const use = expressionUse(
      'histogram_quantile(0.9, sum by (le, job) (rate(foo_bucket{destination=~"$d", x!="up"}[$__rate_interval]))) / on (job) bar > 0.2',
    );

    // Assess
    expect(use.selectors).toEqual([
      { metric: 'foo_bucket', labels: ['destination', 'x'] },
      { metric: 'bar', labels: [] },
    ]);
    expect(use.grouping).toEqual(['le', 'job', 'job']);
  });

  it('should make problemsOf name an unknown metric, label and grouping', () => {
    // Prepare
    const known = new Map([['a_total', new Set(['destination'])]]);

    // Act
    const problems = problemsOf('sum by (sink) (rate(a_total{dest="x"}[5m])) + b_total', known);

    // Assess
    expect(problems).toEqual([
      'a_total has no label dest',
      'unknown metric b_total',
      'grouping by sink, which no metric of the expression has',
    ]);
  });
});

describe('File: monitoring/alerts.yaml', () => {
  it('should have the alerts issue 23 asks for, each with a severity, summary, description and runbook', () => {
    // Act
    const all = rules();

    // Assess
    expect(all.map((rule) => rule.alert).sort()).toEqual(
      [
        'AlertmanagerRelayAbsent',
        'AlertmanagerRelayDeadLetters',
        'AlertmanagerRelayDeliveryFailing',
        'AlertmanagerRelayDeliveryLate',
        'AlertmanagerRelayDown',
        'AlertmanagerRelayIngestRejected',
        'AlertmanagerRelayIngestUnavailable',
      ].sort(),
    );
    for (const rule of all) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels.severity);
      expect(Object.keys(rule.annotations).sort(), rule.alert).toEqual([
        'description',
        'runbook_url',
        'summary',
      ]);
    }
  });

  it('should point every runbook_url at an entry of the operations guide that exists', () => {
    for (const rule of rules()) {
      // Act
      const [file, anchor] = rule.annotations.runbook_url.split('#');

      // Assess
      expect(['docs/operations.md', 'docs/local-alertmanager.md'], rule.alert).toContain(file);
      expect(anchorsOf(file).has(anchor), `${rule.alert}: ${rule.annotations.runbook_url}`).toBe(true);
    }
  });

  it('should use only metrics and labels the relay exposes', () => {
    for (const rule of rules()) expect(problemsOf(rule.expr, series), rule.alert).toEqual([]);
  });

  it('should have unit tests in which each alert fires once and stays silent once', () => {
    // Prepare
    const cases = readdirSync(join(MONITORING, 'tests'))
      .filter((file) => file.endsWith('.yaml'))
      .flatMap(
        (file) =>
          (
            parse(readFileSync(join(MONITORING, 'tests', file), 'utf8')) as {
              tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
            }
          ).tests,
      )
      .flatMap((test) => test.alert_rule_test ?? []);

    for (const rule of rules()) {
      // Act
      const own = cases.filter((c) => c.alertname === rule.alert);

      // Assess
      expect(
        own.some((c) => c.exp_alerts.length > 0),
        `${rule.alert} fires in a test`,
      ).toBe(true);
      expect(
        own.some((c) => c.exp_alerts.length === 0),
        `${rule.alert} stays silent in a test`,
      ).toBe(true);
    }
  });

  describe.runIf(available(PROMTOOL, 'promtool check rules and promtool test rules on monitoring/'))(
    'with promtool',
    () => {
      it('should pass promtool check rules', async () => {
        // Act
        const result = await run(PROMTOOL.path, ['check', 'rules', join(MONITORING, 'alerts.yaml')]);

        // Assess
        expect(result.stderr).toBe('');
        expect(result.stdout).toContain('SUCCESS: 7 rules found');
        expect(result.code).toBe(0);
      });

      it('should pass its unit tests (promtool test rules)', async () => {
        // Prepare
        const files = readdirSync(join(MONITORING, 'tests'))
          .filter((file) => file.endsWith('.yaml'))
          .map((file) => join(MONITORING, 'tests', file));

        // Act
        const result = await run(PROMTOOL.path, ['test', 'rules', ...files]);

        // Assess
        expect(result.stdout + result.stderr).not.toContain('FAILED');
        expect(result.stdout).toContain('SUCCESS');
        expect(result.code).toBe(0);
      });
    },
  );
});

describe('File: monitoring/grafana-dashboard.json', () => {
  const panels = (): Panel[] => dashboard().panels;

  it("should be a dashboard of current Grafana's classic model with a Prometheus data source variable", () => {
    // Act
    const json = dashboard();

    // Assess
    expect(json.schemaVersion).toBeGreaterThanOrEqual(41);
    expect(json.uid).toBe('alertmanager-relay');
    const variable = json.templating.list.find((v: { name: string }) => v.name === 'datasource');
    expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const panel of panels().filter((p) => p.type !== 'row')) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: DATASOURCE_UID });
      for (const target of panel.targets ?? [])
        expect(target.datasource?.uid, panel.title).toBe(DATASOURCE_UID);
    }
  });

  it('should query only metrics and labels the relay exposes, in its panels and variables', () => {
    for (const panel of panels()) {
      for (const target of panel.targets ?? [])
        expect(problemsOf(target.expr, series), `${panel.title}: ${target.expr}`).toEqual([]);
    }
    for (const variable of dashboard().templating.list.filter((v: { type: string }) => v.type === 'query')) {
      const query = /^label_values\((.+), (\w+)\)$/.exec(variable.definition);
      expect(query, variable.name).not.toBeNull();
      const [, selector, label] = query as RegExpExecArray;
      expect(problemsOf(selector, series), variable.name).toEqual([]);
      const metric = expressionUse(selector).selectors[0].metric;
      expect([...(series.get(metric) ?? []), ...TARGET_LABELS], variable.name).toContain(label);
    }
  });

  it('should show deliveries by outcome, latency, queue depth and age, dead letters, ingest by status and storms', () => {
    // Act
    const used = new Set(
      panels().flatMap((panel) =>
        (panel.targets ?? []).flatMap((target) => expressionUse(target.expr).selectors.map((s) => s.metric)),
      ),
    );

    // Assess
    for (const metric of [
      'alertmanager_relay_notifications_total',
      'alertmanager_relay_notification_latency_seconds_bucket',
      'alertmanager_relay_queue_messages',
      'alertmanager_relay_oldest_message_age_seconds',
      'alertmanager_relay_dead_letters',
      'alertmanager_relay_ingest_requests_total',
      'alertmanager_relay_storms_started_total',
    ])
      expect(used.has(metric), metric).toBe(true);
  });

  describe.runIf(available(PROMTOOL, "promtool check rules on the dashboard's queries"))(
    'with promtool',
    () => {
      it("should have only queries Prometheus parses, with Grafana's variables filled in", async () => {
        // Prepare: each query as a recording rule, which promtool parses without a server.
        const fill = (expr: string) =>
          expr
            .replaceAll('$__rate_interval', '5m')
            .replaceAll('$job', '.*')
            .replaceAll('$instance', '.*')
            .replaceAll('$destination', '.*');
        const queries = panels().flatMap((panel) => (panel.targets ?? []).map((target) => fill(target.expr)));
        const dir = await mkdtemp(join(tmpdir(), 'relay-dashboard-'));
        const file = join(dir, 'queries.yaml');
        await writeFile(
          file,
          stringify({
            groups: [
              {
                name: 'dashboard',
                rules: queries.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })),
              },
            ],
          }),
        );

        // Act
        const result = await run(PROMTOOL.path, ['check', 'rules', file]);
        await rm(dir, { recursive: true, force: true });

        // Assess
        expect(result.stderr).toBe('');
        expect(result.stdout).toContain(`SUCCESS: ${queries.length} rules found`);
        expect(queries.join('\n')).not.toContain('$');
      });
    },
  );

  it('should lay its panels out on the 24-column grid without overlaps, with unique ids', () => {
    // Prepare
    const all = panels();
    const overlaps = (a: Panel['gridPos'], b: Panel['gridPos']) =>
      a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

    // Assess
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    for (const [i, panel] of all.entries()) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      for (const other of all.slice(i + 1))
        expect(overlaps(panel.gridPos, other.gridPos), `${panel.title} / ${other.title}`).toBe(false);
    }
  });
});

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subject } from '../../lib/alertmanager/title.ts';
import type { Alert, Notification } from '../../lib/alertmanager/types.ts';
import { cutChars } from '../../lib/format/cut.ts';
import { groupCreate, LIMITS, plain } from '../../lib/sinks/opsgenie/alert.ts';
import { templateData } from '../../lib/templates/data.ts';
import { compileTemplate, renderTemplate } from '../../lib/templates/engine.ts';
import { textFormat } from '../../lib/templates/formats.ts';
import { PAYLOADS_DIR, referencePayload } from '../support/notifications.ts';
import { run } from '../support/run-script.ts';

/**
 * Alertmanager's own template engine against the relay's: `amtool template render` (Debian's
 * prometheus-alertmanager, 0.25) executes Alertmanager's default.tmpl and Go template
 * expressions over a notification, and the relay renders the Liquid equivalents documented in
 * docs/templates.md, its filters, its `subject` (lib/alertmanager/title.ts) and Opsgenie's
 * default message over the same notification. They must write the same text, label order
 * included (`alertname` first, then the other names by byte).
 *
 * Debian's amtool does not embed default.tmpl (its 02-Do_not_embed_blobs.patch); the package
 * ships it, and `--template.glob` loads it (upstream's amtool, which embeds it, takes the same
 * glob). `--template.data` is a JSON `template.Data` (receiver, status, alerts, groupLabels,
 * commonLabels, commonAnnotations, externalURL): the webhook body is that plus version,
 * groupKey and truncatedAlerts, so the test writes only the Data fields.
 *
 * Alertmanager's Teams templates came in 0.26, after Debian's 0.25: MSTEAMS_TMPL is their text
 * from Alertmanager's template/default.tmpl, unchanged from v0.26.0 to v0.28 and main, which
 * amtool loads as a second glob.
 */

const AMTOOL = process.env.AMTOOL_BIN ?? '/usr/bin/amtool';
const DEFAULT_TMPL =
  process.env.ALERTMANAGER_DEFAULT_TMPL ?? '/usr/share/prometheus/alertmanager/default.tmpl';

// template/default.tmpl of Alertmanager v0.26.0, lines 14-23 and 150-159 (Apache-2.0).
const MSTEAMS_TMPL = `{{ define "__text_alert_list_markdown" }}{{ range . }}
Labels:
{{ range .Labels.SortedPairs }}  - {{ .Name }} = {{ .Value }}
{{ end }}
Annotations:
{{ range .Annotations.SortedPairs }}  - {{ .Name }} = {{ .Value }}
{{ end }}
Source: {{ .GeneratorURL }}
{{ end }}
{{ end }}

{{ define "msteams.default.text" }}
{{ if gt (len .Alerts.Firing) 0 }}
# Alerts Firing:
{{ template "__text_alert_list_markdown" .Alerts.Firing }}
{{ end }}
{{ if gt (len .Alerts.Resolved) 0 }}
# Alerts Resolved:
{{ template "__text_alert_list_markdown" .Alerts.Resolved }}
{{ end }}
{{ end }}
`;

/** The Liquid block after `<!-- template: name -->` in docs/templates.md, without its last newline. */
function documented(name: string): string {
  const page = readFileSync(new URL('../../docs/templates.md', import.meta.url), 'utf8');
  const found = new RegExp(`<!-- template: ${name} -->\\n\`\`\`liquid\\n([\\s\\S]*?)\\n\`\`\``).exec(page);
  if (!found) throw new Error(`docs/templates.md has no template block "${name}"`);
  return found[1];
}

/** Each check: the Go template Alertmanager runs, and the relay's Liquid for the same text. */
const CHECKS = {
  subject: ['{{ template "__subject" . }}', documented('subject')],
  groupValues: [
    '{{ .GroupLabels.SortedPairs.Values | join " " }}',
    '{{ groupLabels | label_values | join: " " }}',
  ],
  commonNames: ['{{ .CommonLabels.Names | join "," }}', '{{ commonLabels | label_names | join: "," }}'],
  commonValues: ['{{ .CommonLabels.Values | join "," }}', '{{ commonLabels | label_values | join: "," }}'],
  otherCommonValues: [
    '{{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " }}{{ end }}',
    '{{ commonLabels | without: groupLabels | label_values | join: " " }}',
  ],
  alertLabels: [
    '{{ range .Alerts }}{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}|{{ end }}',
    '{% for a in alerts %}{% assign pairs = a.labels | sorted_pairs %}{% for p in pairs %}{{ p.name }}={{ p.value }};{% endfor %}|{% endfor %}',
  ],
  commonAnnotations: [
    '{{ range .CommonAnnotations.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}',
    '{% assign pairs = commonAnnotations | sorted_pairs %}{% for p in pairs %}{{ p.name }}={{ p.value }};{% endfor %}',
  ],
  teamsText: ['{{ template "msteams.default.text" . }}', documented('teams-text')],
} as const;
type Check = keyof typeof CHECKS;
const SEPARATOR = '\n=====8<=====\n';

let dir: string;
let dataFiles = 0;

beforeAll(async () => {
  // Not a skip: without Alertmanager's engine there is no parity to check.
  if (!existsSync(AMTOOL))
    throw new Error(
      `${AMTOOL} is missing: install Debian's prometheus-alertmanager (or set AMTOOL_BIN) to run this test`,
    );
  if (!existsSync(DEFAULT_TMPL))
    throw new Error(
      `${DEFAULT_TMPL} is missing: install Debian's prometheus-alertmanager (or set ALERTMANAGER_DEFAULT_TMPL)`,
    );
  dir = await mkdtemp(join(tmpdir(), 'relay-amtool-'));
  await writeFile(join(dir, 'msteams.tmpl'), MSTEAMS_TMPL);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The notification as Alertmanager's template.Data, which is what --template.data reads. */
function templateDataJson(n: Notification): string {
  return JSON.stringify({
    receiver: n.receiver,
    status: n.status,
    alerts: n.alerts.map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      endsAt: a.endsAt,
      generatorURL: a.generatorURL,
      fingerprint: a.fingerprint,
    })),
    groupLabels: n.groupLabels,
    commonLabels: n.commonLabels,
    commonAnnotations: n.commonAnnotations,
    externalURL: n.externalURL,
  });
}

/** What `amtool template render` writes for each check, over `n`. */
async function alertmanagerRenders(n: Notification): Promise<Record<Check, string>> {
  const file = join(dir, `data-${dataFiles++}.json`);
  await writeFile(file, templateDataJson(n));
  const names = Object.keys(CHECKS) as Check[];
  const text = names.map((name) => CHECKS[name][0]).join(SEPARATOR);
  const result = await run(AMTOOL, [
    'template',
    'render',
    `--template.glob=${DEFAULT_TMPL}`,
    `--template.glob=${join(dir, 'msteams.tmpl')}`,
    `--template.text=${text}`,
    `--template.data=${file}`,
  ]);
  if (result.code !== 0)
    throw new Error(
      `amtool template render exited with code ${result.code} (signal ${result.signal}):\n${result.stderr}${result.stdout}`,
    );
  const parts = result.stdout.split(SEPARATOR);
  expect(parts).toHaveLength(names.length);
  return Object.fromEntries(names.map((name, i) => [name, parts[i]])) as Record<Check, string>;
}

/** What the relay's Liquid writes for each check, over `n`, as plain text. */
function relayRenders(n: Notification): Record<Check, string> {
  const data = templateData(n, { name: 'ops', sink: 'opsgenie' });
  return Object.fromEntries(
    (Object.keys(CHECKS) as Check[]).map((name) => [
      name,
      renderTemplate(compileTemplate(CHECKS[name][1], textFormat), data),
    ]),
  ) as Record<Check, string>;
}

/** Labels every alert has with the same value (Alertmanager's commonLabels and commonAnnotations). */
function common(maps: Record<string, string>[]): Record<string, string> {
  const [first = {}, ...rest] = maps;
  return Object.fromEntries(Object.entries(first).filter(([k, v]) => rest.every((m) => m[k] === v)));
}

/** A notification as Alertmanager builds one: status and common labels follow from the alerts. */
function group(
  groupLabels: Record<string, string>,
  alerts: {
    status?: 'firing' | 'resolved';
    labels: Record<string, string>;
    annotations?: Record<string, string>;
  }[],
): Notification {
  const full: Alert[] = alerts.map((a, i) => ({
    status: a.status ?? 'firing',
    labels: { ...groupLabels, ...a.labels },
    annotations: a.annotations ?? {},
    startsAt: '2026-11-21T11:00:00Z',
    endsAt: a.status === 'resolved' ? '2026-11-21T11:30:00Z' : '0001-01-01T00:00:00Z',
    generatorURL: `http://prometheus:9090/graph?g0.expr=up&i=${i}`,
    fingerprint: `f${i.toString(16).padStart(15, '0')}`,
  }));
  return {
    version: '4',
    groupKey: `{}:${JSON.stringify(groupLabels)}`,
    truncatedAlerts: 0,
    status: full.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'relay',
    groupLabels,
    commonLabels: common(full.map((a) => a.labels)),
    commonAnnotations: common(full.map((a) => a.annotations)),
    externalURL: 'http://alertmanager:9093',
    alerts: full,
  };
}

const CASES: [string, Notification][] = [
  [
    "alertname before an upper-case group label ('Team')",
    group({ alertname: 'HighLatency', Team: 'core' }, [{ labels: { instance: 'web-0:9100' } }]),
  ],
  [
    'group labels only: nothing in brackets, the trailing space kept',
    group({ Team: 'core', alertname: 'HighLatency' }, [{ labels: {} }]),
  ],
  [
    'several group labels, upper case, underscore and lower case',
    group({ env: 'prod', alertname: 'DiskFull', Zone: 'b', _shard: '7', cluster: 'k8s', Team: 'storage' }, [
      { labels: { Service: 'db', severity: 'warning', device: '/dev/sda' } },
      { labels: { Service: 'db', severity: 'warning', device: '/dev/sdb' } },
    ]),
  ],
  [
    'alertname a common label but not a group label',
    group({ Team: 'core' }, [
      { labels: { alertname: 'HighLatency', zone: 'a' }, annotations: { summary: 's', Runbook: 'r' } },
      { labels: { alertname: 'HighLatency', zone: 'b' }, annotations: { summary: 's', Runbook: 'r' } },
    ]),
  ],
  ['no group labels at all', group({}, [{ labels: { alertname: 'Watchdog', Severity: 'none' } }])],
  [
    'values with spaces and unicode, names above U+FFFF',
    group({ alertname: 'Höhe über NN', Team: 'Zürich 🇨🇭 ops', ｗｉｄｅ: 'ｆｕｌｌ ｗｉｄｔｈ' }, [
      {
        labels: { '😀': 'smile', region: 'eu west 1', note: '  two  spaces  ', cjk: '東京 リージョン' },
        annotations: { summary: 'Latence élevée — 東京', description: 'a & b < c > d' },
      },
    ]),
  ],
  [
    'firing with resolved alerts among them: the firing count',
    group({ alertname: 'HighLatency', Team: 'core' }, [
      { labels: { instance: 'web-0' } },
      { labels: { instance: 'web-1' }, status: 'resolved' },
      { labels: { instance: 'web-2' } },
    ]),
  ],
  [
    'every alert resolved',
    group({ alertname: 'HighLatency', Team: 'core' }, [
      { labels: { instance: 'web-0' }, status: 'resolved' },
      { labels: { instance: 'web-1' }, status: 'resolved' },
    ]),
  ],
];

const CAPTURED = readdirSync(PAYLOADS_DIR)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name): [string, Notification] => [`captured ${name}`, referencePayload(name)]);

describe("Parity: the relay's label lists and defaults against amtool template render (Alertmanager 0.25)", () => {
  it.each([...CASES, ...CAPTURED])('should write what Alertmanager writes: %s', async (_, notification) => {
    // Act
    const alertmanager = await alertmanagerRenders(notification);
    const relay = relayRenders(notification);

    // Assess
    expect(relay).toEqual(alertmanager);
    expect(subject(notification)).toBe(alertmanager.subject);
  });

  it.each(CASES)("should give Opsgenie Alertmanager's default message: %s", async (_, notification) => {
    // Prepare
    const destination = { name: 'oncall', sink: 'opsgenie', apiKeySecret: 'OG_KEY' } as const;

    // Act
    const alertmanager = await alertmanagerRenders(notification);
    const { body } = groupCreate(notification, destination);

    // Assess: Opsgenie's message is plain text of at most 130 characters, spaces collapsed.
    expect(body.message).toBe(cutChars(plain(alertmanager.subject), LIMITS.message));
  });
});

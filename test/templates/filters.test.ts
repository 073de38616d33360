import { describe, expect, it } from 'vitest';
import { compileTemplate, renderTemplate } from '../../lib/templates/engine.ts';
import { humanDuration, truncateGraphemes } from '../../lib/templates/filters.ts';
import { jsonFormat, markdownFormat, mrkdwnFormat, textFormat } from '../../lib/templates/formats.ts';

const NOW = Date.parse('2026-11-21T12:00:00Z');
const data = {
  groupLabels: { alertname: 'Disk' },
  commonLabels: { alertname: 'Disk', job: 'node', severity: 'critical' },
  alerts: [
    { status: 'firing', labels: { instance: 'b' }, startsAt: '2026-11-21T11:55:00Z' },
    { status: 'resolved', labels: { instance: 'a' }, startsAt: '2026-11-21T09:57:00Z' },
    { status: 'firing', labels: { instance: 'c' }, startsAt: '0001-01-01T00:00:00Z' },
  ],
  link: 'https://grafana.example/d/x?var=(a)',
  bad: 'javascript:alert(1)',
};

const render = (source: string, format = textFormat) =>
  renderTemplate(compileTemplate(source, format), data, { now: NOW });

describe('Filters: labels', () => {
  it('should drop labels by name or by another label map with without', () => {
    // Act
    const out = render(
      '{{ commonLabels | without: "job, severity" | join_labels }}|{{ commonLabels | without: groupLabels | join_labels }}',
    );

    // Assess
    expect(out).toBe('alertname=Disk|job=node, severity=critical');
  });

  it('should keep only the named labels with only, joined with custom separators', () => {
    // Act
    const out = render('{{ commonLabels | only: "severity,job" | join_labels: " ", ":" }}');

    // Assess
    expect(out).toBe('job:node severity:critical');
  });

  it("should list names, values, pairs and joined labels in Alertmanager's order: alertname first, then by byte", () => {
    // Prepare: a plain sort would put Team and Zone before alertname.
    const labels = { job: 'node', Zone: 'eu west', alertname: 'Disk', Team: 'core', _tier: 'ü' };
    const compiled = compileTemplate(
      '{{ l | label_names | join: "," }} {{ l | label_values | join: "," }} {% assign pairs = l | sorted_pairs %}{% for p in pairs %}{{ p.name }}={{ p.value }};{% endfor %} {{ l | join_labels }}',
      textFormat,
    );

    // Act
    const out = renderTemplate(compiled, { l: labels });

    // Assess
    expect(out).toBe(
      'alertname,Team,Zone,_tier,job Disk,core,eu west,ü,node alertname=Disk;Team=core;Zone=eu west;_tier=ü;job=node; alertname=Disk, Team=core, Zone=eu west, _tier=ü, job=node',
    );
  });

  it('should count the labels of a map with size', () => {
    // Act
    const out = render('{{ commonLabels | size }} {{ alerts | size }}');

    // Assess
    expect(out).toBe('3 3');
  });
});

describe('Filters: alerts and time', () => {
  it('should count alerts by status', () => {
    // Act
    const out = render('{{ alerts | count_status: "firing" }}/{{ alerts | count_status: "resolved" }}');

    // Assess
    expect(out).toBe('2/1');
  });

  it('should sort alerts by a dotted path, keeping the order of equal keys', () => {
    // Act
    const out = render(
      '{{ alerts | sort_by: "labels.instance" | map: "labels" | map: "instance" | join: "" }} {{ alerts | sort_by: "status" | map: "labels" | map: "instance" | join: "" }}',
    );

    // Assess
    expect(out).toBe('abc bca');
  });

  it('should say how long ago an alert started, and nothing for the zero time', () => {
    // Act
    const out = render('{% for a in alerts %}[{{ a.startsAt | since }}]{% endfor %}');

    // Assess
    expect(out).toBe('[5m][2h3m][]');
  });

  it.each([
    [0, '0s'],
    [45_000, '45s'],
    [90_061_000, '1d1h'],
    [3_600_000, '1h'],
  ])('should write %d ms as %s', (ms, text) => {
    // Act
    const out = humanDuration(ms);

    // Assess
    expect(out).toBe(text);
  });
});

describe('Filters: text', () => {
  it('should cut by graphemes with an ellipsis and never split an emoji', () => {
    // Act
    const out = truncateGraphemes('👍🏽👩‍👩‍👧abc', 3);

    // Assess
    expect(out).toBe('👍🏽👩‍👩‍👧…');
  });

  it('should leave text that fits as it is', () => {
    // Act
    const out = render('{{ "disk full" | truncate_chars: 9 }}|{{ "disk full" | truncate_chars: 5 }}');

    // Assess
    expect(out).toBe('disk full|disk…');
  });

  it('should title-case words', () => {
    // Act
    const out = render('{{ "FIRING disk-full on node_exporter" | title_case }}');

    // Assess
    expect(out).toBe('Firing Disk-Full On Node_exporter');
  });
});

describe('Filters: links', () => {
  it('should build a link in each format only from an http(s) URL', () => {
    // Act
    const markdown = render('{{ link | link: "Grafana" }}[{{ bad | link: "x" }}]', markdownFormat);
    const mrkdwn = render('{{ link | link: "Grafana" }}', mrkdwnFormat);
    const text = render('{{ link | link: "Grafana" }}', textFormat);

    // Assess
    expect(markdown).toBe('[Grafana](https://grafana.example/d/x?var=%28a%29)[]');
    expect(mrkdwn).toBe('<https://grafana.example/d/x?var=(a)|Grafana>');
    expect(text).toBe('https://grafana.example/d/x?var=(a)');
  });

  it('should escape a link made into text by a later filter', () => {
    // Act
    const out = render('{{ link | link: "G" | upcase }}', markdownFormat);

    // Assess
    expect(out).toBe('\\[G\\]\\(HTTPS:\u200b//GRAFANA\\.EXAMPLE/D/X?VAR\\=%28A%29\\)');
  });

  it('should write json as JSON text in a JSON body and as escaped text elsewhere', () => {
    // Act
    const json = render('{"l": {{ commonLabels | only: "job" | json }}}', jsonFormat);
    const markdown = render('{{ commonLabels | only: "job" | json }}', markdownFormat);

    // Assess
    expect(json).toBe('{"l": {"job":"node"}}');
    expect(markdown).toBe('\\{"job":"node"\\}');
  });
});

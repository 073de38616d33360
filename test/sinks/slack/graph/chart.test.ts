import { describe, expect, it } from 'vitest';
import {
  CHART_HEIGHT,
  CHART_WIDTH,
  type ChartSeries,
  chartSvg,
  escapeXml,
  formatValue,
  inferUnit,
  legendLabels,
  niceRange,
  pickSeries,
  SERIES_COLORS,
  timeTicks,
  valueAxis,
} from '../../../../lib/sinks/slack/graph/chart.ts';

const END = Date.parse('2026-11-21T12:00:00Z') / 1000;
const START = END - 3600;

function flat(labels: Record<string, string>, value: number, step = 60): ChartSeries {
  const points: [number, number][] = [];
  for (let t = START; t <= END; t += step) points.push([t, value]);
  return { labels, points };
}

describe('Graph chart: ticks', () => {
  it('should pick steps of 1, 2 or 5 x 10^n that cover the range', () => {
    // Act
    const ranges = [
      niceRange(0, 1.37, 5),
      niceRange(0, 0.9, 5),
      niceRange(-3, 47, 5),
      niceRange(0.0012, 0.0094, 5),
      niceRange(120, 1234, 5),
    ];

    // Assess
    expect(ranges).toEqual([
      { min: 0, max: 1.4, step: 0.2 },
      { min: 0, max: 1, step: 0.2 },
      { min: -10, max: 50, step: 10 },
      { min: 0, max: 0.01, step: 0.002 },
      { min: 0, max: 1400, step: 200 },
    ]);
  });

  it('should label plain numbers with k/M/G and a fixed number of decimals', () => {
    // Act
    const thousands = valueAxis([0, 4200], 'none').ticks.map((t) => t.label);
    const millions = valueAxis([1.5e6, 9.1e6], 'none').ticks.map((t) => t.label);
    const small = valueAxis([0, 0.35], 'none').ticks.map((t) => t.label);

    // Assess
    expect(thousands).toEqual(['0k', '1k', '2k', '3k', '4k', '5k']);
    expect(millions).toEqual(['0M', '2M', '4M', '6M', '8M', '10M']);
    expect(small).toEqual(['0.00', '0.05', '0.10', '0.15', '0.20', '0.25', '0.30', '0.35']);
  });

  it('should label durations, sizes, rates and ratios in their units', () => {
    // Act
    const latency = valueAxis([0.012, 0.087], 'seconds').ticks.map((t) => t.label);
    const age = valueAxis([0, 9000 * 2], 'seconds').ticks.map((t) => t.label);
    const memory = valueAxis([0, 3.2 * 1024 ** 3], 'bytes').ticks.map((t) => t.label);
    const network = valueAxis([0, 800 * 1024], 'bytes/s').ticks.map((t) => t.label);
    const ratio = valueAxis([0.2, 0.97], 'percent').ticks.map((t) => t.label);

    // Assess
    expect(latency).toEqual(['0 ms', '20 ms', '40 ms', '60 ms', '80 ms', '100 ms']);
    expect(age).toEqual(['0 h', '1 h', '2 h', '3 h', '4 h', '5 h']);
    expect(memory).toEqual([
      '0.0 GiB',
      '0.5 GiB',
      '1.0 GiB',
      '1.5 GiB',
      '2.0 GiB',
      '2.5 GiB',
      '3.0 GiB',
      '3.5 GiB',
    ]);
    expect(network).toEqual(['0 KiB/s', '200 KiB/s', '400 KiB/s', '600 KiB/s', '800 KiB/s']);
    expect(ratio).toEqual(['0%', '20%', '40%', '60%', '80%', '100%']);
  });

  it('should start at 0 for non-negative data near 0 and not for data far from it', () => {
    // Act
    const near = valueAxis([3, 10]);
    const far = valueAxis([61, 65]);
    const constant = valueAxis([0, 0]);

    // Assess
    expect(near.min).toBe(0);
    expect(far.min).toBe(61);
    expect(far.max).toBe(65);
    expect([constant.min, constant.max]).toEqual([0, 1]);
  });

  it('should format a threshold in the scale of its unit', () => {
    // Act
    const labels = [
      formatValue(0.5, 'seconds'),
      formatValue(2500),
      formatValue(0.9, 'percent'),
      formatValue(1536, 'bytes'),
    ];

    // Assess
    expect(labels).toEqual(['500 ms', '2.5k', '90%', '1.5 KiB']);
  });

  it('should put time ticks on round times, about 8, in the configured zone', () => {
    // Act
    const hour = timeTicks(START, END).map((t) => t.label);
    const day = timeTicks(END - 86400, END).map((t) => t.label);
    const week = timeTicks(END - 7 * 86400, END).map((t) => t.label);
    const minutes = timeTicks(END - 300, END).map((t) => t.label);
    const seconds = timeTicks(END - 60, END).map((t) => t.label);
    const berlin = timeTicks(START, END, 'Europe/Berlin').map((t) => t.label);
    const kolkata = timeTicks(END - 86400, END, 'Asia/Kolkata');
    const unknownZone = timeTicks(START, END, 'Mars/Olympus').map((t) => t.label);

    // Assess
    expect(hour).toEqual(['11:00', '11:10', '11:20', '11:30', '11:40', '11:50', '12:00']);
    expect(day).toEqual(['12:00', '15:00', '18:00', '21:00', 'Nov 21', '03:00', '06:00', '09:00', '12:00']);
    expect(week).toEqual(['Nov 15', 'Nov 16', 'Nov 17', 'Nov 18', 'Nov 19', 'Nov 20', 'Nov 21']);
    expect(minutes).toEqual(['11:55', '11:56', '11:57', '11:58', '11:59', '12:00']);
    expect(seconds).toEqual([
      '11:59:00',
      '11:59:10',
      '11:59:20',
      '11:59:30',
      '11:59:40',
      '11:59:50',
      '12:00:00',
    ]);
    expect(berlin).toEqual(['12:00', '12:10', '12:20', '12:30', '12:40', '12:50', '13:00']);
    expect(kolkata[0]).toEqual({ t: END - 86400 + 1800, label: '18:00' });
    expect(unknownZone).toEqual(hour);
  });
});

describe('Graph chart: units from the expression', () => {
  it('should follow the Prometheus base-unit naming conventions', () => {
    // Prepare
    const cases: [string, string][] = [
      [
        'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5',
        'seconds',
      ],
      ['rate(x_seconds_sum[5m]) / rate(x_seconds_count[5m])', 'seconds'],
      ['time() - backup_last_success_timestamp_seconds > 86400', 'seconds'],
      ['backup_last_success_timestamp_seconds', 'none'],
      ['rate(node_cpu_seconds_total{mode!="idle"}[5m])', 'none'],
      ['node_memory_MemAvailable_bytes < 1e9', 'bytes'],
      ['rate(node_network_receive_bytes_total[5m])', 'bytes/s'],
      ['cache_hit_ratio < 0.8', 'percent'],
      ['cache_hit_ratio * 100 < 80', 'none'],
      ['rate(http_requests_total{code=~"5..", path="/a_seconds"}[5m])', 'none'],
      ['x_seconds + y_bytes', 'none'],
    ];

    // Act
    const units = cases.map(([expr]) => inferUnit(expr));

    // Assess
    expect(units).toEqual(cases.map(([, unit]) => unit));
  });
});

describe('Graph chart: series and legend', () => {
  it('should keep the 8 series with the highest peaks and count the rest', () => {
    // Prepare
    const series = Array.from({ length: 11 }, (_, i) => flat({ pod: `web-${i}` }, i));

    // Act
    const { shown, hidden } = pickSeries(series, 8);

    // Assess
    expect(shown.map((s) => s.labels.pod)).toEqual([
      'web-10',
      'web-9',
      'web-8',
      'web-7',
      'web-6',
      'web-5',
      'web-4',
      'web-3',
    ]);
    expect(hidden).toBe(3);
  });

  it('should label series by the labels that tell them apart', () => {
    // Prepare
    const a = flat({ __name__: 'up', job: 'api', instance: 'a:80', region: 'eu' }, 1);
    const b = flat({ __name__: 'up', job: 'api', instance: 'b:80', region: 'us' }, 1);
    const c = flat({ __name__: 'up', job: 'api', instance: 'c:80' }, 1);

    // Act
    const labels = legendLabels([a, b, c]);
    const lone = legendLabels([a]);
    const bare = legendLabels([flat({}, 1)]);

    // Assess
    expect([...labels.values()]).toEqual([
      'instance=a:80, region=eu',
      'instance=b:80, region=us',
      'instance=c:80',
    ]);
    expect([...lone.values()]).toEqual(['up {instance=a:80, job=api, region=eu}']);
    expect([...bare.values()]).toEqual(['value']);
  });

  it('should draw 8 series in the 8 colours and say "and N more" in the legend', () => {
    // Prepare
    const series = Array.from({ length: 12 }, (_, i) => flat({ pod: `web-${i}` }, i + 1));

    // Act
    const svg = chartSvg({ title: 'PodsBusy', series, start: START, end: END, step: 60 });

    // Assess
    expect(svg.match(/<path d="M/g)).toHaveLength(8);
    for (const color of SERIES_COLORS) expect(svg).toContain(`stroke="${color}"/>`);
    expect(svg).toContain('>and 4 more</text>');
    expect(svg).toContain('>pod=web-11</text>');
    expect(svg).not.toContain('>pod=web-3</text>');
    expect(svg).toContain(`width="${CHART_WIDTH}" height="${CHART_HEIGHT}"`);
  });

  it('should break a line where samples are missing and mark the alert start', () => {
    // Prepare
    const points: [number, number][] = [
      [START, 1],
      [START + 60, 2],
      [START + 600, 3],
      [START + 660, 4],
      [START + 1800, 5],
    ];

    // Act
    const svg = chartSvg({
      title: 'Gappy',
      series: [{ labels: { a: 'b' }, points }],
      start: START,
      end: END,
      step: 60,
      startsAt: START + 900,
      threshold: { value: 3.5, label: '> 3.5' },
    });

    // Assess
    const path = svg.match(/<path d="([^"]+)"/)?.[1] ?? '';
    expect(path.match(/M/g)).toHaveLength(3);
    expect(path.match(/L/g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(1);
    expect(svg).toContain('>firing since 11:15</text>');
    expect(svg).toContain('>&gt; 3.5</text>');
  });

  it('should mark a start slightly after the window end (clock skew) at the right edge', () => {
    // Act
    const svg = chartSvg({
      title: 'Skew',
      series: [flat({}, 1)],
      start: START,
      end: END,
      step: 60,
      startsAt: END + 0.4,
    });

    // Assess
    expect(svg).toContain('>firing since 12:00</text>');
    expect(svg).toMatch(
      /<line x1="(\d+(\.\d)?)" y1="54" x2="\1" y2="320" stroke="#d62728" stroke-width="1.5" stroke-dasharray="4 3"\/>/,
    );
  });

  it('should say when the alert started before the window instead of drawing the marker outside it', () => {
    // Act
    const svg = chartSvg({
      title: 'Old',
      series: [flat({}, 1)],
      start: START,
      end: END,
      step: 60,
      startsAt: START - 86400,
    });

    // Assess
    expect(svg).toContain('>firing since Nov 20 11:00</text>');
    expect(svg).not.toContain('stroke-dasharray="4 3"');
  });
});

describe('Graph chart: XML safety', () => {
  it('should escape markup and drop characters XML forbids', () => {
    // Act
    const escaped = escapeXml(`<script>&"'\u0000\u0007ok\ud800`);

    // Assess
    expect(escaped).toBe('&lt;script&gt;&amp;&quot;&apos;ok\ufffd');
  });

  it('should escape hostile label values, titles and expressions everywhere they appear', () => {
    // Prepare
    const hostile = '"/><script>alert(1)</script><text x="0';
    const series = [flat({ path: hostile, a: '1' }, 1), flat({ path: 'ok', a: '2' }, 2)];

    // Act
    const svg = chartSvg({
      title: hostile,
      subtitle: `up{path="${hostile}"}`,
      series,
      start: START,
      end: END,
      step: 60,
    });

    // Assess
    expect(svg).not.toContain('<script');
    expect(svg).toContain('&lt;script&gt;');
    const texts = svg.match(/<text\b/g)?.length ?? 0;
    const closes = svg.match(/<\/text>/g)?.length ?? 0;
    expect(texts).toBe(closes);
  });
});

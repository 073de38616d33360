/**
 * The chart of an alert's expression as an SVG string (pure: no I/O, no clock). The layout
 * is fixed (value axis on the left, legend on the right) so the PNG always has the same size
 * and Slack shows it the same way every time.
 */

/** One series to draw: its labels and [unix seconds, value] points in time order. */
export interface ChartSeries {
  labels: Record<string, string>;
  points: [number, number][];
}

export type ValueUnit = 'none' | 'seconds' | 'bytes' | 'bytes/s' | 'percent';

export interface ChartInput {
  /** First line (the alert name). */
  title: string;
  /** Second line, smaller (the expression). */
  subtitle?: string;
  series: ChartSeries[];
  /** The queried window and step, unix seconds. */
  start: number;
  end: number;
  step: number;
  /** When the alert started (unix seconds): a vertical marker. */
  startsAt?: number;
  /** A horizontal line, e.g. the `> 0.5` the alert compares against. */
  threshold?: { value: number; label: string };
  unit?: ValueUnit;
  /** IANA zone for the time labels; an unknown zone falls back to UTC. */
  timeZone?: string;
}

export const CHART_WIDTH = 1000;
export const CHART_HEIGHT = 360;
/** Series beyond this many are left out, with "and N more" in the legend. */
export const MAX_SERIES = 8;

/** One colour per drawn series, in legend order (Tableau 10 without its red, kept for the alert). */
export const SERIES_COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
] as const;
export const ALERT_COLOR = '#d62728';

const FONT = 'DejaVu Sans';
// DejaVu Sans averages a little over 0.6 em per character in labels like these; used to
// cut text that would run out of its box (there is no text measuring without a renderer).
const CHAR_WIDTH_EM = 0.62;
const PLOT = { left: 78, top: 54, right: CHART_WIDTH - 272, bottom: CHART_HEIGHT - 40 };
const LEGEND = { left: PLOT.right + 22, top: PLOT.top + 2, row: 20, fontSize: 11.5 };

/** The chart as a standalone SVG document, CHART_WIDTH x CHART_HEIGHT. */
export function chartSvg(input: ChartInput): string {
  const { shown, hidden } = pickSeries(input.series, MAX_SERIES);
  const unit = input.unit ?? 'none';
  const values = shown.flatMap((series) => series.points.map(([, v]) => v));
  if (input.threshold && Number.isFinite(input.threshold.value)) values.push(input.threshold.value);
  const axis = valueAxis(values, unit);
  const zone = validTimeZone(input.timeZone);
  const span = Math.max(1, input.end - input.start);
  const x = (t: number) => PLOT.left + ((t - input.start) / span) * (PLOT.right - PLOT.left);
  const y = (v: number) => PLOT.bottom - ((v - axis.min) / (axis.max - axis.min)) * (PLOT.bottom - PLOT.top);
  const out: string[] = [];

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" font-family="${FONT}">`,
    `<rect width="${CHART_WIDTH}" height="${CHART_HEIGHT}" fill="#ffffff"/>`,
    `<defs><clipPath id="plot"><rect x="${PLOT.left}" y="${PLOT.top - 1}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top + 2}"/></clipPath></defs>`,
    text(16, 22, clip(input.title, CHART_WIDTH - 32, 15), { size: 15, fill: '#1a1a1a' }),
  );
  if (input.subtitle) {
    out.push(text(16, 40, clip(input.subtitle, CHART_WIDTH - 32, 11), { size: 11, fill: '#666666' }));
  }

  // The firing period, shaded, under everything else in the plot.
  const marker = input.startsAt;
  // A start after the window's end is clock skew between Prometheus and us (or a fraction of
  // a second): mark it at the right edge rather than not at all.
  const markerAt = marker === undefined ? undefined : Math.min(marker, input.end);
  if (marker !== undefined && markerAt !== undefined) {
    const from = Math.max(PLOT.left, x(markerAt));
    out.push(
      `<rect x="${r(from)}" y="${PLOT.top}" width="${r(PLOT.right - from)}" height="${PLOT.bottom - PLOT.top}" fill="${ALERT_COLOR}" fill-opacity="0.06"/>`,
    );
  }

  for (const tick of axis.ticks) {
    const ty = r(y(tick.value));
    out.push(
      `<line x1="${PLOT.left}" y1="${ty}" x2="${PLOT.right}" y2="${ty}" stroke="#e6e6e6" stroke-width="1"/>`,
      text(PLOT.left - 8, y(tick.value) + 4, tick.label, { size: 11, fill: '#555555', anchor: 'end' }),
    );
  }
  for (const tick of timeTicks(input.start, input.end, zone)) {
    const tx = r(x(tick.t));
    out.push(
      `<line x1="${tx}" y1="${PLOT.top}" x2="${tx}" y2="${PLOT.bottom}" stroke="#eeeeee" stroke-width="1"/>`,
      `<line x1="${tx}" y1="${PLOT.bottom}" x2="${tx}" y2="${PLOT.bottom + 4}" stroke="#888888" stroke-width="1"/>`,
      text(x(tick.t), PLOT.bottom + 17, tick.label, { size: 11, fill: '#555555', anchor: 'middle' }),
    );
  }
  out.push(
    `<line x1="${PLOT.left}" y1="${PLOT.bottom}" x2="${PLOT.right}" y2="${PLOT.bottom}" stroke="#888888" stroke-width="1"/>`,
    `<line x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${PLOT.bottom}" stroke="#888888" stroke-width="1"/>`,
    text(PLOT.right, PLOT.bottom + 33, `time (${zone})`, { size: 10, fill: '#888888', anchor: 'end' }),
  );

  if (input.threshold && Number.isFinite(input.threshold.value)) {
    const ty = r(y(input.threshold.value));
    out.push(
      `<line x1="${PLOT.left}" y1="${ty}" x2="${PLOT.right}" y2="${ty}" stroke="${ALERT_COLOR}" stroke-width="1.2" stroke-dasharray="6 4"/>`,
    );
  }

  out.push(
    `<g clip-path="url(#plot)" fill="none" stroke-width="2" stroke-linejoin="round" stroke-linecap="round">`,
  );
  shown.forEach((series, i) => {
    const color = SERIES_COLORS[i % SERIES_COLORS.length];
    const path = linePath(series.points, input.step, x, y);
    if (path) out.push(`<path d="${path}" stroke="${color}"/>`);
    // Lone points (a series that exists for one step between gaps) would draw nothing.
    for (const [t, v] of lonePoints(series.points, input.step)) {
      out.push(`<circle cx="${r(x(t))}" cy="${r(y(v))}" r="2.5" fill="${color}" stroke="none"/>`);
    }
  });
  out.push('</g>');

  // Labels inside the plot come after the lines, outlined, so a line never hides them.
  if (input.threshold && Number.isFinite(input.threshold.value)) {
    out.push(
      text(PLOT.left + 6, y(input.threshold.value) - 5, input.threshold.label, {
        size: 10.5,
        fill: ALERT_COLOR,
        halo: true,
      }),
    );
  }
  if (marker !== undefined && markerAt !== undefined && markerAt >= input.start) {
    const mx = x(markerAt);
    const label = `firing since ${formatClock(marker, zone)}`;
    const nearRight = mx > PLOT.right - label.length * 10.5 * CHAR_WIDTH_EM - 8;
    out.push(
      `<line x1="${r(mx)}" y1="${PLOT.top}" x2="${r(mx)}" y2="${PLOT.bottom}" stroke="${ALERT_COLOR}" stroke-width="1.5" stroke-dasharray="4 3"/>`,
      text(nearRight ? mx - 5 : mx + 5, PLOT.top + 12, label, {
        size: 10.5,
        fill: ALERT_COLOR,
        anchor: nearRight ? 'end' : 'start',
        halo: true,
      }),
    );
  } else if (marker !== undefined && marker < input.start) {
    out.push(
      text(
        PLOT.left + 6,
        PLOT.top + 12,
        `firing since ${formatDay(marker, zone)} ${formatClock(marker, zone)}`,
        { size: 10.5, fill: ALERT_COLOR, halo: true },
      ),
    );
  }

  const labels = legendLabels(input.series);
  const textWidth = CHART_WIDTH - LEGEND.left - 34;
  // A lone series has room for one label per row instead of one cut-off line.
  const rows = shown.map((series) => {
    const label = labels.get(series) ?? '';
    return shown.length === 1 ? legendRows(series, label) : [label];
  });
  let row = 0;
  shown.forEach((_, i) => {
    const ly = LEGEND.top + row * LEGEND.row;
    const color = SERIES_COLORS[i % SERIES_COLORS.length];
    out.push(
      `<line x1="${LEGEND.left}" y1="${ly + 6}" x2="${LEGEND.left + 16}" y2="${ly + 6}" stroke="${color}" stroke-width="3" stroke-linecap="round"/>`,
    );
    for (const line of rows[i] ?? []) {
      out.push(
        text(LEGEND.left + 24, LEGEND.top + row * LEGEND.row + 10, clip(line, textWidth, LEGEND.fontSize), {
          size: LEGEND.fontSize,
          fill: '#333333',
        }),
      );
      row++;
    }
  });
  if (hidden > 0) {
    out.push(
      text(LEGEND.left + 24, LEGEND.top + row * LEGEND.row + 10, `and ${hidden} more`, {
        size: LEGEND.fontSize,
        fill: '#777777',
      }),
    );
  }
  out.push('</svg>');
  return out.join('\n');
}

// Rows that fit between the legend's top and the time axis.
const MAX_LEGEND_ROWS = Math.floor((PLOT.bottom - LEGEND.top) / LEGEND.row);

function legendRows(series: ChartSeries, label: string): string[] {
  const name = series.labels.__name__;
  const pairs = Object.keys(series.labels)
    .filter((key) => key !== '__name__')
    .sort()
    .map((key) => `${key}=${series.labels[key]}`);
  const rows = name ? [name, ...pairs] : pairs;
  if (rows.length <= 1) return [label];
  return rows.length > MAX_LEGEND_ROWS
    ? [...rows.slice(0, MAX_LEGEND_ROWS - 1), `and ${rows.length - MAX_LEGEND_ROWS + 1} more labels`]
    : rows;
}

/**
 * The series to draw: the MAX_SERIES with the highest peak (what an alert usually is about),
 * in that order, and how many were left out.
 */
export function pickSeries(series: ChartSeries[], max: number): { shown: ChartSeries[]; hidden: number } {
  const peak = (s: ChartSeries) => s.points.reduce((m, [, v]) => Math.max(m, v), Number.NEGATIVE_INFINITY);
  const ranked = series
    .filter((s) => s.points.length > 0)
    .map((s, index) => ({ s, index, peak: peak(s) }))
    .sort((a, b) => b.peak - a.peak || a.index - b.index)
    .map(({ s }) => s);
  return { shown: ranked.slice(0, max), hidden: Math.max(0, ranked.length - max) };
}

/**
 * Legend text per series: only the labels whose values differ between the series
 * (`instance=web-1:9100, code=500`); a lone series shows all its labels, the metric name first.
 */
export function legendLabels(series: ChartSeries[]): Map<ChartSeries, string> {
  const keys = [...new Set(series.flatMap((s) => Object.keys(s.labels)))].sort();
  const distinguishing = keys.filter((key) => new Set(series.map((s) => s.labels[key] ?? '')).size > 1);
  const result = new Map<ChartSeries, string>();
  for (const s of series) {
    const shownKeys = distinguishing.length > 0 ? distinguishing : Object.keys(s.labels).sort();
    const name = shownKeys.includes('__name__') ? (s.labels.__name__ ?? '') : '';
    const pairs = shownKeys
      .filter((key) => key !== '__name__' && s.labels[key] !== undefined)
      .map((key) => `${key}=${s.labels[key]}`);
    const body = pairs.join(', ');
    const label = name && body ? `${name} {${body}}` : name || body;
    result.set(s, label === '' ? 'value' : label);
  }
  return result;
}

export interface ValueAxis {
  min: number;
  max: number;
  ticks: { value: number; label: string }[];
}

interface Scale {
  factor: number;
  suffix: string;
}

// The first scale whose factor is <= the largest absolute value wins (lists are descending).
const SCALES: Record<ValueUnit, Scale[]> = {
  none: [
    { factor: 1e15, suffix: 'P' },
    { factor: 1e12, suffix: 'T' },
    { factor: 1e9, suffix: 'G' },
    { factor: 1e6, suffix: 'M' },
    { factor: 1e3, suffix: 'k' },
    { factor: 1, suffix: '' },
  ],
  seconds: [
    { factor: 86400 * 3, suffix: 'd' },
    { factor: 3600 * 3, suffix: 'h' },
    { factor: 60 * 3, suffix: 'min' },
    { factor: 1, suffix: 's' },
    { factor: 1e-3, suffix: 'ms' },
    { factor: 1e-6, suffix: 'µs' },
    { factor: 1e-9, suffix: 'ns' },
  ],
  bytes: binaryScales(''),
  'bytes/s': binaryScales('/s'),
  percent: [{ factor: 0.01, suffix: '%' }],
};

// The seconds scales start at 3x their unit so that 90 s reads "90 s", not "1.5 min"; the
// factor divided by is the unit itself.
const SCALE_UNIT: Record<string, number> = { d: 86400, h: 3600, min: 60 };

function binaryScales(per: string): Scale[] {
  return ['PiB', 'TiB', 'GiB', 'MiB', 'KiB', 'B'].map((suffix, i) => ({
    factor: 1024 ** (5 - i),
    suffix: `${suffix}${per}`,
  }));
}

/**
 * The value axis: about 5 "nice" ticks (1, 2 or 5 x 10^n in the chosen scale), labelled in
 * the unit's scale (k/M/G/T/P, ms/s/min/h, KiB/MiB/GiB, %). Starts at 0 when the data is
 * non-negative and not far from 0, so small changes do not look dramatic.
 */
export function valueAxis(values: number[], unit: ValueUnit = 'none'): ValueAxis {
  const finite = values.filter(Number.isFinite);
  let low = finite.length > 0 ? Math.min(...finite) : 0;
  let high = finite.length > 0 ? Math.max(...finite) : 1;
  if (low >= 0 && low <= high / 2) low = 0;
  if (high <= 0 && high >= low / 2) high = 0;
  if (low === high) {
    const pad = low === 0 ? 1 : Math.abs(low) * 0.1;
    low -= pad;
    high += pad;
    if (values.every((v) => v >= 0) && low < 0) low = 0;
  }
  const scale = pickScale(Math.max(Math.abs(low), Math.abs(high)), unit);
  const divisor = SCALE_UNIT[scale.suffix] ?? scale.factor;
  const { min, max, step } = niceRange(low / divisor, high / divisor, 5);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: ValueAxis['ticks'] = [];
  for (let k = 0; min + k * step <= max + step * 1e-6; k++) {
    const scaled = round(min + k * step);
    const label = `${formatFixed(scaled, decimals)}${separator(scale.suffix)}${scale.suffix}`;
    ticks.push({ value: scaled * divisor, label });
  }
  return { min: min * divisor, max: max * divisor, ticks };
}

function pickScale(magnitude: number, unit: ValueUnit): Scale {
  const scales = SCALES[unit];
  if (magnitude === 0) return scales.find((scale) => scale.factor <= 1) ?? (scales[0] as Scale);
  return scales.find((scale) => magnitude >= scale.factor) ?? (scales[scales.length - 1] as Scale);
}

function separator(suffix: string): string {
  return suffix === '' || suffix === '%' || /^[kMGTP]$/.test(suffix) ? '' : ' ';
}

/** A range covering [low, high] with a step of 1, 2 or 5 x 10^n giving about `count` intervals. */
export function niceRange(
  low: number,
  high: number,
  count: number,
): { min: number; max: number; step: number } {
  const span = high - low || Math.abs(high) || 1;
  const rough = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const residual = rough / magnitude;
  // Rounded to the nearest of 1, 2, 5, 10 (geometric midpoints), so the count stays near `count`.
  const nice = residual < 1.5 ? 1 : residual < 3 ? 2 : residual < 7 ? 5 : 10;
  const step = round(nice * magnitude);
  return {
    min: round(Math.floor(low / step + 1e-9) * step),
    max: round(Math.ceil(high / step - 1e-9) * step),
    step,
  };
}

/**
 * The unit an expression's values are in, from Prometheus's naming conventions
 * (https://prometheus.io/docs/practices/naming/#base-units): `_seconds` durations,
 * `_bytes` sizes, rates of `_bytes_total`, `_ratio`s shown as percent. Counts, `_total`s of
 * seconds (CPU time: a rate of it is a number of cores) and mixed units give 'none'.
 */
export function inferUnit(expr: string): ValueUnit {
  // Label values and matchers can hold any word; only metric names count.
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]');
  const names = stripped.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? [];
  const rated = /\b(?:rate|irate|deriv)\s*\(/.test(stripped);
  const found = new Set<ValueUnit>();
  for (const name of names) {
    if (/_timestamp_seconds$/.test(name)) {
      // `time() - x_timestamp_seconds` is a duration; a bare timestamp is not worth a unit.
      if (/\btime\s*\(\s*\)/.test(stripped)) found.add('seconds');
    } else if (/_seconds(?:_sum|_bucket)?$/.test(name)) found.add('seconds');
    else if (/_bytes(?:_sum|_bucket)?$/.test(name)) found.add(rated ? 'none' : 'bytes');
    else if (/_bytes_total$/.test(name)) found.add(rated ? 'bytes/s' : 'bytes');
    else if (/_ratio$/.test(name)) found.add('percent');
  }
  // `x_ratio * 100` is already a percentage.
  if (found.has('percent') && /(?:^|[^\d.])100(?:[^\d.]|$)/.test(stripped)) return 'none';
  return found.size === 1 ? ([...found][0] as ValueUnit) : 'none';
}

/** A value in the unit's own scale, for the threshold label: `500 ms`, `2.5k`, `90%`. */
export function formatValue(value: number, unit: ValueUnit = 'none'): string {
  if (!Number.isFinite(value)) return String(value);
  const scale = pickScale(Math.abs(value), unit);
  const divisor = SCALE_UNIT[scale.suffix] ?? scale.factor;
  const scaled = value / divisor;
  const text = Number(scaled.toPrecision(4)).toString();
  return `${text}${separator(scale.suffix)}${scale.suffix}`;
}

// Tick spacings a person reads easily, in seconds.
const TIME_STEPS = [
  10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600,
];
const MAX_TIME_TICKS = 8;

/** Time axis ticks on round local times (every 5 min, 15 min, 1 h, 6 h, 1 day ...), at most 8. */
export function timeTicks(start: number, end: number, timeZone = 'UTC'): { t: number; label: string }[] {
  const zone = validTimeZone(timeZone);
  const span = Math.max(1, end - start);
  const step =
    TIME_STEPS.find((s) => span / s <= MAX_TIME_TICKS) ?? (TIME_STEPS[TIME_STEPS.length - 1] as number);
  const offset = zoneOffsetSeconds(start, zone);
  const ticks: { t: number; label: string }[] = [];
  for (let local = Math.ceil((start + offset) / step) * step; local - offset <= end; local += step) {
    const t = local - offset;
    const midnight = local % 86400 === 0;
    const label =
      step >= 86400 || midnight
        ? formatDay(t, zone)
        : step < 60
          ? formatClock(t, zone, true)
          : formatClock(t, zone);
    ticks.push({ t, label });
  }
  return ticks;
}

function validTimeZone(timeZone: string | undefined): string {
  if (!timeZone) return 'UTC';
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
    return timeZone;
  } catch {
    return 'UTC';
  }
}

const clockFormats = new Map<string, Intl.DateTimeFormat>();
const dayFormats = new Map<string, Intl.DateTimeFormat>();
const partFormats = new Map<string, Intl.DateTimeFormat>();

function formatClock(t: number, zone: string, seconds = false): string {
  const key = `${zone}${seconds ? ' s' : ''}`;
  let format = clockFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      hour: '2-digit',
      minute: '2-digit',
      ...(seconds ? { second: '2-digit' } : {}),
      hourCycle: 'h23',
    });
    clockFormats.set(key, format);
  }
  return format.format(new Date(t * 1000));
}

function formatDay(t: number, zone: string): string {
  let format = dayFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, month: 'short', day: 'numeric' });
    dayFormats.set(zone, format);
  }
  return format.format(new Date(t * 1000));
}

/** Seconds to add to a UTC time to get the zone's wall clock at that moment. */
function zoneOffsetSeconds(t: number, zone: string): number {
  let format = partFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partFormats.set(zone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(Math.floor(t) * 1000)))
    parts[part.type] = Number(part.value);
  const wall = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  return Math.round(wall / 1000 - Math.floor(t));
}

/** SVG path data; a step more than 1.5x the query step apart is a gap (no sample there). */
function linePath(
  points: [number, number][],
  step: number,
  x: (t: number) => number,
  y: (v: number) => number,
): string {
  let d = '';
  let previous: number | undefined;
  for (const [t, v] of points) {
    const joined = previous !== undefined && t - previous <= step * 1.5;
    d += `${joined ? 'L' : 'M'}${r(x(t))} ${r(y(v))}`;
    previous = t;
  }
  return d;
}

function lonePoints(points: [number, number][], step: number): [number, number][] {
  return points.filter(([t], i) => {
    const before = points[i - 1];
    const after = points[i + 1];
    return (!before || t - before[0] > step * 1.5) && (!after || after[0] - t > step * 1.5);
  });
}

/** Text safe inside an SVG element or attribute: XML escaped, without characters XML 1.0 forbids. */
export function escapeXml(value: string): string {
  return (
    value
      // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 forbids these characters; resvg refuses the document
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

/** Cuts text (before escaping) to about `width` pixels at `fontSize`, with an ellipsis. */
export function clip(value: string, width: number, fontSize: number): string {
  const flat = value.replace(/\s+/g, ' ').trim();
  const max = Math.max(1, Math.floor(width / (fontSize * CHAR_WIDTH_EM)));
  const chars = Array.from(flat);
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : flat;
}

function text(
  x: number,
  y: number,
  value: string,
  style: { size: number; fill: string; anchor?: 'start' | 'middle' | 'end'; halo?: boolean },
): string {
  const anchor = style.anchor && style.anchor !== 'start' ? ` text-anchor="${style.anchor}"` : '';
  // A white outline under the glyphs keeps labels inside the plot readable across lines.
  const halo = style.halo
    ? ' stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"'
    : '';
  return `<text x="${r(x)}" y="${r(y)}" font-size="${style.size}" fill="${style.fill}"${anchor}${halo}>${escapeXml(value)}</text>`;
}

function formatFixed(value: number, decimals: number): string {
  const text = value.toFixed(Math.min(decimals, 20));
  return text === '-0' || /^-0\.0*$/.test(text) ? text.slice(1) : text;
}

function round(value: number): number {
  return Number(value.toPrecision(12));
}

function r(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}

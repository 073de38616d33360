import type { Liquid } from 'liquidjs';
import { labelNames } from '../alertmanager/labels.ts';
import type { OutputFormat } from './formats.ts';

/**
 * The relay's own Liquid filters, on top of Liquid's standard ones (`upcase`, `join`, `where`,
 * `date`, `default`, ...). Every filter returns text or data, which the output escape then
 * escapes for the destination's format like any value; only `link` (and `json` in a JSON body)
 * return markup the relay built itself, as a `Markup`, which the escape passes through.
 * Each is listed with an example in docs/templates.md.
 */

/**
 * Text the relay built for the format (a checked link, a JSON value): output as it is, and
 * known to the engine as the relay's own, not a value (a link from `| link` may sit anywhere).
 */
export class Markup {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  /** Any filter applied after it sees plain text again, which is escaped on output. */
  toString(): string {
    return this.text;
  }
}

/** The clock `since` measures from: the render's `now`, set per render by the engine. */
export const NOW_REGISTER = 'relay-now';

type LabelMap = Record<string, string>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Markup);
}

/** A label or annotation map from any value: only string values of a plain object. */
function labelMap(value: unknown): LabelMap {
  if (!isPlainObject(value)) return {};
  return Object.fromEntries(
    Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

/** Names from `"a,b"`, `["a","b"]` or another label map (its names). */
function namesOf(value: unknown): Set<string> {
  if (typeof value === 'string')
    return new Set(
      value
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    );
  if (Array.isArray(value)) return new Set(value.map(String));
  if (isPlainObject(value)) return new Set(Object.keys(value));
  return new Set();
}

const ZERO_TIME = '0001-01-01';

/** "45s", "5m", "2h3m", "3d4h": the two largest units, as people say it. */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const units: [string, number][] = [
    ['d', Math.floor(seconds / 86_400)],
    ['h', Math.floor((seconds % 86_400) / 3600)],
    ['m', Math.floor((seconds % 3600) / 60)],
    ['s', seconds % 60],
  ];
  const first = units.findIndex(([, n]) => n > 0);
  if (first < 0) return '0s';
  return units
    .slice(first, first + 2)
    .filter(([, n]) => n > 0)
    .map(([unit, n]) => `${n}${unit}`)
    .join('');
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** At most `max` graphemes (user-perceived characters), the last one "…" when cut. */
export function truncateGraphemes(text: string, max: number): string {
  const limit = Math.max(1, Math.floor(max));
  const graphemes: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    graphemes.push(segment);
    if (graphemes.length > limit) break;
  }
  if (graphemes.length <= limit) return text;
  return `${graphemes.slice(0, limit - 1).join('')}…`;
}

function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (!isPlainObject(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

/** Registers the relay's filters on `liquid`, for templates rendered in `format`. */
export function registerFilters(liquid: Liquid, format: OutputFormat): void {
  const charge = (context: { memoryLimit: { use(n: number): void } }, n: number) =>
    context.memoryLimit.use(n);

  // Labels: selection, order and joining (Alertmanager's .Remove, .SortedPairs, .Names, .Values),
  // listed in Alertmanager's order: alertname first, then the other names by code point.
  liquid.registerFilter('without', (value: unknown, names: unknown) => {
    const drop = namesOf(names);
    return Object.fromEntries(Object.entries(labelMap(value)).filter(([name]) => !drop.has(name)));
  });
  liquid.registerFilter('only', (value: unknown, names: unknown) => {
    const keep = namesOf(names);
    return Object.fromEntries(Object.entries(labelMap(value)).filter(([name]) => keep.has(name)));
  });
  liquid.registerFilter('label_names', (value: unknown) => labelNames(labelMap(value)));
  liquid.registerFilter('label_values', (value: unknown) => {
    const map = labelMap(value);
    return labelNames(map).map((name) => map[name]);
  });
  liquid.registerFilter('sorted_pairs', (value: unknown) => {
    const map = labelMap(value);
    return labelNames(map).map((name) => ({ name, value: map[name] }));
  });
  liquid.registerFilter('join_labels', function (value: unknown, separator = ', ', pairSeparator = '=') {
    const map = labelMap(value);
    const text = labelNames(map)
      .map((name) => `${name}${String(pairSeparator)}${map[name]}`)
      .join(String(separator));
    charge(this.context, text.length);
    return text;
  });

  // Alerts.
  liquid.registerFilter('count_status', (alerts: unknown, status: unknown) =>
    Array.isArray(alerts)
      ? alerts.filter((alert) => isPlainObject(alert) && alert.status === String(status)).length
      : 0,
  );
  liquid.registerFilter('sort_by', function (items: unknown, path: unknown) {
    if (!Array.isArray(items)) return [];
    charge(this.context, items.length);
    const key = (item: unknown) => {
      const found = readPath(item, String(path));
      return found === undefined || found === null ? '' : String(found);
    };
    // Stable: equal keys keep Alertmanager's order.
    return [...items].sort((a, b) => key(a).localeCompare(key(b)));
  });

  // Time: the duration since a timestamp (an alert's startsAt), as people say it.
  liquid.registerFilter('since', function (value: unknown) {
    const text = String(value ?? '');
    if (text === '' || text.startsWith(ZERO_TIME)) return '';
    const at = Date.parse(text);
    if (Number.isNaN(at)) return '';
    const now = (this.context.getRegister(NOW_REGISTER) as { now?: number } | undefined)?.now ?? Date.now();
    return humanDuration(now - at);
  });

  // Text.
  // Each builds a string as long as its input: charged like Liquid's own string filters.
  liquid.registerFilter('truncate_chars', function (value: unknown, max: unknown) {
    const text = String(value ?? '');
    charge(this.context, text.length);
    return truncateGraphemes(text, Number(max) || 1);
  });
  liquid.registerFilter('title_case', function (value: unknown) {
    const text = String(value ?? '');
    charge(this.context, text.length);
    return text.replace(
      /(^|[^\p{L}\p{N}_'])(\p{L})([\p{L}\p{N}_']*)/gu,
      (_, before: string, first: string, rest: string) =>
        `${before}${first.toUpperCase()}${rest.toLowerCase()}`,
    );
  });
  // Liquid's own `size` reads 0 for a label map; people count labels.
  liquid.registerFilter('size', (value: unknown) => {
    if (typeof value === 'string' || Array.isArray(value)) return value.length;
    if (isPlainObject(value)) return Object.keys(value).length;
    return 0;
  });

  // Links: the only way a template makes one, from a URL that passes safeHttpUrl.
  liquid.registerFilter('link', (url: unknown, label: unknown) => {
    const text = String(label ?? 'link');
    const built = format.link(typeof url === 'string' ? url : undefined, text);
    return built === undefined ? '' : new Markup(built);
  });

  // JSON: in a JSON body a value is the whole JSON text (`"labels": {{ alert.labels | json }}`);
  // anywhere else it is text like any other and escaped.
  liquid.registerFilter('json', function (value: unknown) {
    const text = JSON.stringify(value instanceof Markup ? value.text : (value ?? null)) ?? 'null';
    charge(this.context, text.length);
    return format.name === 'json' ? new Markup(text) : text;
  });
}

/**
 * The order in which Alertmanager lists a label (or annotation) map in its templates:
 * `KV.SortedPairs` in template/template.go puts `alertname` first, if the map has it, then
 * sorts the other names with Go's `sort.Strings`, which compares bytes of UTF-8, that is, code
 * points. `KV.Names` and `KV.Values` are `SortedPairs().Names()` and `SortedPairs().Values()`:
 * the same order. So `{ alertname: 'HighLatency', Team: 'core', env: 'prod' }` is listed
 * `alertname, Team, env` (upper case before lower, no locale), and its values
 * `HighLatency core prod`, as Alertmanager's default title (`__subject`) writes them.
 */

const ALERTNAME = 'alertname';

/**
 * One UTF-16 unit, remapped so that comparing units compares code points: a surrogate
 * (0xD800-0xDFFF, half of a code point above 0xFFFF) ranks above 0xE000-0xFFFF.
 */
function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** Go's string order (`sort.Strings`: UTF-8 bytes, i.e. code points); JS's `<` compares UTF-16 units. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** Alertmanager's order of two label names: `alertname` first, then code-point order. */
export function compareLabelNames(a: string, b: string): number {
  if (a === b) return 0;
  if (a === ALERTNAME) return -1;
  if (b === ALERTNAME) return 1;
  return compareCodePoints(a, b);
}

/**
 * The names of a label map in Alertmanager's order (`.Names`).
 *
 * @example labelNames({ Team: 'core', alertname: 'HighLatency' }) // ['alertname', 'Team']
 */
export function labelNames(labels: Readonly<Record<string, string>> | undefined): string[] {
  return Object.keys(labels ?? {}).sort(compareLabelNames);
}

/**
 * Name and value of each label in Alertmanager's order (`.SortedPairs`).
 *
 * @example sortedPairs({ Team: 'core', alertname: 'HighLatency' }) // [['alertname', 'HighLatency'], ['Team', 'core']]
 */
export function sortedPairs(labels: Readonly<Record<string, string>> | undefined): [string, string][] {
  const map = labels ?? {};
  return labelNames(map).map((name) => [name, map[name]]);
}

/**
 * The values of a label map in Alertmanager's order (`.Values`, `.SortedPairs.Values`).
 *
 * @example labelValues({ Team: 'core', alertname: 'HighLatency' }) // ['HighLatency', 'core']
 */
export function labelValues(labels: Readonly<Record<string, string>> | undefined): string[] {
  const map = labels ?? {};
  return labelNames(map).map((name) => map[name]);
}

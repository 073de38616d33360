import { SCOPE_KEY_PATTERN, type ScopeMapping } from './config.ts';

/**
 * Turning Alertmanager labels into a Sysdig Monitor event scope (`container.name = "web" and
 * host.hostName = "h1"`), safely: label values are attacker-influenced text (a pod name, a
 * path) and a scope is an expression, so a value must never be able to end its quotes and
 * add a clause of its own.
 */

/**
 * The label families whose Sysdig scope keys are the label name with `.` for `_`: Sysdig's
 * dotted metadata (container.*, host.*, kubernetes.*, agent.tag.*, cloudProvider.*).
 */
export const DEFAULT_SCOPE_PREFIXES: readonly string[] = [
  'container_',
  'host_',
  'kubernetes_',
  'agent_tag_',
  'cloudProvider_',
];

const SCOPE_KEY = new RegExp(SCOPE_KEY_PATTERN);

/** Why a label did not make it into the scope (it still goes into the event's tags). */
export interface SkippedLabel {
  label: string;
  reason: 'not a valid scope key' | 'value cannot be quoted safely' | 'scope key already used';
}

export interface Scope {
  /** The expression, or undefined when no label maps (the event is then not scoped). */
  expression: string | undefined;
  /** Scope key -> label value, in the order of the expression. */
  pairs: [string, string][];
  skipped: SkippedLabel[];
}

/** The scope key a label maps to, or undefined if it is not mapped. */
export function scopeKeyFor(label: string, mapping: ScopeMapping): string | undefined {
  // hasOwn: a label named `constructor` must not find Object.prototype's.
  if (mapping.labels && Object.hasOwn(mapping.labels, label)) return mapping.labels[label];
  const prefixes = mapping.prefixes ?? DEFAULT_SCOPE_PREFIXES;
  if (prefixes.some((prefix) => label.startsWith(prefix))) return label.replaceAll('_', '.');
  return undefined;
}

/**
 * A value in quotes that cannot end early under either reading of the scope grammar (with or
 * without backslash escapes, which Sysdig does not document): the quote character used is one
 * the value does not contain, and a value with a backslash or a control character, or with
 * both kinds of quote, is refused (undefined).
 */
export function quoteScopeValue(value: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value)) return undefined;
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  return undefined;
}

/**
 * Builds the scope from an alert's labels: every mapped label whose key is a valid scope key
 * and whose value can be quoted safely, `and`-ed, sorted by scope key so the same labels
 * always give the same text. When two labels map to the same key, the first label by name
 * wins and the other is reported as skipped.
 *
 * @example
 * buildScope({ container_name: 'web', alertname: 'Down' }, {}).expression
 * // 'container.name = "web"'
 */
export function buildScope(labels: Readonly<Record<string, string>>, mapping: ScopeMapping): Scope {
  const byKey = new Map<string, string>();
  const skipped: SkippedLabel[] = [];
  for (const label of Object.keys(labels).sort()) {
    const key = scopeKeyFor(label, mapping);
    if (key === undefined) continue;
    if (!SCOPE_KEY.test(key)) {
      skipped.push({ label, reason: 'not a valid scope key' });
    } else if (quoteScopeValue(labels[label]) === undefined) {
      skipped.push({ label, reason: 'value cannot be quoted safely' });
    } else if (byKey.has(key)) {
      skipped.push({ label, reason: 'scope key already used' });
    } else {
      byKey.set(key, labels[label]);
    }
  }
  const pairs = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const expression =
    pairs.length === 0
      ? undefined
      : pairs.map(([key, value]) => `${key} = ${quoteScopeValue(value)}`).join(' and ');
  return { expression, pairs, skipped };
}

import { toQueueJson } from '../queue/message.ts';

/**
 * Making a notification fit queue messages without refusing it: Alertmanager drops a
 * notification on any 4xx, so what fits the HTTP body limit is accepted and cut, visibly,
 * where it must be.
 *
 * - Every string value (label and annotation values, the common fields, generatorURL, extra
 *   fields) is capped at VALUE_CAP_BYTES. Cutting is deterministic, so the description an
 *   alert carries and the copy Alertmanager repeats in commonAnnotations stay equal.
 * - An alert, or the notification's envelope (everything but its alerts), still over its room
 *   has its longest values cut further (annotations and extra fields before labels), and in
 *   the last resort whole annotations, then labels (never alertname), are dropped and counted
 *   in a `relay_truncated` annotation.
 * A cut value ends with ` [truncated N bytes]`, N the UTF-8 bytes cut off.
 */

/**
 * The most a single string value keeps: 256 KiB. Four of them still fit one 1 MiB queue
 * message, so an alert with one huge description travels with the envelope's copy of it in
 * one message, and a group of such alerts still splits into parts instead of being cut
 * further. No vendor shows more than a fraction of it anyway (Slack blocks take 3,000
 * characters, a PagerDuty event 512 KB in all).
 */
export const VALUE_CAP_BYTES = 256 * 1024;

/** The annotation (in commonAnnotations for the envelope) that counts dropped entries. */
export const TRUNCATION_NOTE = 'relay_truncated';

/** How a record's fields may be cut to fit. */
export interface FitRules {
  /** Top-level fields never cut beyond the value cap nor dropped (identity: status, fingerprint). */
  fixed: readonly string[];
  /** Top-level string maps whose values are cut first, and whose entries are dropped first. */
  soft: readonly string[];
  /** Top-level string maps cut and dropped after the soft ones; `keep` entries are never dropped. */
  hard: readonly string[];
  keep: readonly string[];
  /** Where TRUNCATION_NOTE goes when entries were dropped. */
  noteIn: string;
  /** Known top-level fields: any other is an extra field, cut and dropped with the soft ones. */
  known: readonly string[];
}

export const ALERT_RULES: FitRules = {
  fixed: ['status', 'fingerprint'],
  soft: ['annotations'],
  hard: ['labels'],
  keep: ['alertname'],
  noteIn: 'annotations',
  known: ['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint'],
};

export const ENVELOPE_RULES: FitRules = {
  fixed: ['version', 'status', 'truncatedAlerts', 'alerts'],
  soft: ['commonAnnotations', 'commonLabels'],
  hard: ['groupLabels'],
  keep: [],
  noteIn: 'commonAnnotations',
  known: [
    'version',
    'groupKey',
    'truncatedAlerts',
    'status',
    'receiver',
    'groupLabels',
    'commonLabels',
    'commonAnnotations',
    'externalURL',
    'alerts',
  ],
};

/** Bytes of `value` in a queue message body. */
export const queueBytes = (value: unknown): number => Buffer.byteLength(toQueueJson(value));

const marker = (cutBytes: number): string => ` [truncated ${cutBytes} bytes]`;

const noteText = (cutBytes: number, entries: number): string =>
  `[truncated ${cutBytes} bytes: ${entries} entries dropped to fit a queue message]`;

/**
 * `value` cut to the longest prefix for which `fits(prefix + marker)` holds (the marker alone
 * when none does); never between the two halves of a surrogate pair.
 */
function cutText(value: string, fits: (candidate: string) => boolean): string {
  const total = Buffer.byteLength(value);
  const candidate = (length: number): string => {
    let end = length;
    const code = value.charCodeAt(end - 1);
    if (end > 0 && end < value.length && code >= 0xd800 && code <= 0xdbff) end--;
    const kept = value.slice(0, end);
    return kept + marker(total - Buffer.byteLength(kept));
  };
  // Binary search for the longest prefix that fits; a prefix's cost only grows with its length.
  let low = 0;
  let high = value.length - 1;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(candidate(middle))) low = middle;
    else high = middle - 1;
  }
  return candidate(low);
}

/** `value` cut to at most `maxBytes` UTF-8 bytes, marker included; unchanged when it fits. */
export function truncateText(value: string, maxBytes = VALUE_CAP_BYTES): string {
  if (Buffer.byteLength(value) <= maxBytes) return value;
  return cutText(value, (candidate) => Buffer.byteLength(candidate) <= maxBytes);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A deep copy of `value` with every string capped; keys are copied as data (a `__proto__` key stays a key). */
function capStrings(value: Json): Json {
  if (typeof value === 'string') return truncateText(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(capStrings);
  const copy: { [key: string]: Json } = {};
  for (const [key, child] of Object.entries(value)) define(copy, key, capStrings(child));
  return copy;
}

function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** One string value that may be cut: where it sits, and the value as it came. */
interface Leaf {
  holder: Record<string, unknown> | unknown[];
  key: string | number;
  original: string;
  tier: number;
}

const ENTRY_MARGIN = 64;

/** One entry that may be dropped, and its bytes in the JSON (key, colon, value, comma). */
interface Entry {
  holder: Record<string, unknown>;
  key: string;
  tier: number;
  bytes: number;
}

/**
 * `record` (an alert, or a notification's envelope) with every string capped at
 * VALUE_CAP_BYTES and, when it is still over `maxBytes` in a queue message, cut down to fit by
 * `rules`. The input is not changed. `fits` is false only when even dropping every droppable
 * entry left it over (the fixed fields alone are bigger).
 */
export function fitRecord<T extends object>(
  record: T,
  maxBytes: number,
  rules: FitRules,
): { value: T; fits: boolean } {
  const original = record as unknown as { [key: string]: Json };
  const value = capStrings(original as Json) as { [key: string]: Json };
  let size = queueBytes(value);
  if (size <= maxBytes) return { value: value as T, fits: true };

  const tierOf = (key: string): number =>
    rules.soft.includes(key) || !rules.known.includes(key) ? 0 : rules.hard.includes(key) ? 1 : 2;
  const leaves: Leaf[] = [];
  const collect = (holder: Leaf['holder'], key: string | number, source: Json, tier: number) => {
    if (typeof source === 'string') {
      leaves.push({ holder, key, original: source, tier });
      return;
    }
    if (source === null || typeof source !== 'object') return;
    const target = (holder as Record<string | number, unknown>)[key] as Leaf['holder'];
    for (const [childKey, child] of Object.entries(source)) {
      collect(target, Array.isArray(source) ? Number(childKey) : childKey, child, tier);
    }
  };
  for (const [key, child] of Object.entries(original)) {
    if (!rules.fixed.includes(key)) collect(value, key, child, tierOf(key));
  }
  const jsonBytes = (text: string) => queueBytes(text);
  const sized = leaves.map((leaf) => ({ leaf, bytes: jsonBytes(truncateText(leaf.original)) }));
  sized.sort((a, b) => a.leaf.tier - b.leaf.tier || b.bytes - a.bytes);

  // Cut the longest values of the first tier first, each from what came, by what is still over.
  // A string's bytes in the JSON are its own quoted bytes, so the size is kept by difference.
  for (const { leaf, bytes: before } of sized) {
    const excess = size - maxBytes;
    if (excess <= 0) break;
    const cut = cutText(leaf.original, (candidate) => jsonBytes(candidate) <= before - excess);
    const after = jsonBytes(cut);
    if (after >= before) continue;
    define(leaf.holder as Record<string, unknown>, String(leaf.key), cut);
    size += after - before;
  }
  if (size <= maxBytes) return { value: value as T, fits: true };

  // Still over (thousands of entries): drop whole entries, largest first, and say so.
  const noteRoom = queueBytes({
    [TRUNCATION_NOTE]: noteText(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
  });
  const entries: Entry[] = [];
  for (const [key, child] of Object.entries(value)) {
    if (rules.fixed.includes(key)) continue;
    const tier = tierOf(key);
    if (tier === 0 && !rules.known.includes(key)) {
      entries.push({ holder: value, key, tier, bytes: queueBytes({ [key]: child }) });
      continue;
    }
    if (tier === 2 || child === null || typeof child !== 'object' || Array.isArray(child)) continue;
    for (const [entryKey, entryValue] of Object.entries(child)) {
      if (rules.keep.includes(entryKey)) continue;
      entries.push({ holder: child, key: entryKey, tier, bytes: queueBytes({ [entryKey]: entryValue }) });
    }
  }
  entries.sort((a, b) => a.tier - b.tier || b.bytes - a.bytes);
  let dropped = 0;
  let droppedBytes = 0;
  // Each entry's bytes are counted with its comma; the last entry of a map has none, hence the margin.
  for (const entry of entries) {
    if (size + noteRoom + ENTRY_MARGIN <= maxBytes) break;
    delete entry.holder[entry.key];
    dropped++;
    droppedBytes += entry.bytes;
    size -= entry.bytes - 1;
  }
  if (dropped > 0) {
    const holder = (value[rules.noteIn] ?? {}) as Record<string, Json>;
    define(holder, TRUNCATION_NOTE, noteText(droppedBytes, dropped));
    value[rules.noteIn] = holder;
  }
  size = queueBytes(value);
  return { value: value as T, fits: size <= maxBytes };
}

import type { Notification } from '../alertmanager/types.ts';

/**
 * Whether a parsed body is a webhook v4 notification: exactly what `notificationSchema`
 * (lib/alertmanager/schema.ts) accepts, written out by hand. Ingest runs this on every request
 * and loads Ajv only to describe a body that fails it, which keeps Ajv (its code and its
 * schema compilation, most of a function's cold start) out of every Lambda's init. A test
 * checks that this and the schema agree on every input of a generated corpus.
 */
export function isNotification(value: unknown): value is Notification {
  if (!isObject(value)) return false;
  const n = value as Record<string, unknown>;
  if (n.version !== '4') return false;
  if (typeof n.groupKey !== 'string' || typeof n.receiver !== 'string') return false;
  if (typeof n.externalURL !== 'string' || !isStatus(n.status)) return false;
  if (n.truncatedAlerts !== undefined && !isCount(n.truncatedAlerts)) return false;
  if (!isStringMap(n.groupLabels) || !isStringMap(n.commonLabels) || !isStringMap(n.commonAnnotations))
    return false;
  const alerts = n.alerts;
  if (!Array.isArray(alerts) || alerts.length === 0) return false;
  // An index, not for-of, which allocates per element until V8 optimizes this function.
  for (let i = 0; i < alerts.length; i++) if (!isAlert(alerts[i])) return false;
  return true;
}

function isAlert(value: unknown): boolean {
  if (!isObject(value)) return false;
  const a = value as Record<string, unknown>;
  return (
    isStatus(a.status) &&
    isStringMap(a.labels) &&
    isStringMap(a.annotations) &&
    typeof a.startsAt === 'string' &&
    a.startsAt.length > 0 &&
    typeof a.endsAt === 'string' &&
    typeof a.generatorURL === 'string' &&
    typeof a.fingerprint === 'string' &&
    a.fingerprint.length > 0 &&
    atMostCodePoints(a.fingerprint, 256)
  );
}

const isObject = (value: unknown): value is object =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isStatus = (value: unknown): boolean => value === 'firing' || value === 'resolved';

/** JSON Schema's `integer` with `minimum: 0` as Ajv checks it in strict mode (finite, no fraction). */
const isCount = (value: unknown): boolean =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0;

function isStringMap(value: unknown): boolean {
  if (!isObject(value)) return false;
  for (const key in value) {
    if (typeof (value as Record<string, unknown>)[key] !== 'string') return false;
  }
  return true;
}

/**
 * Whether `text` has at most `max` Unicode code points (JSON Schema's maxLength counts code
 * points, not UTF-16 units, as Ajv's ucs2length does: a lone surrogate counts as one).
 */
function atMostCodePoints(text: string, max: number): boolean {
  if (text.length <= max) return true;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    if (++count > max) return false;
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
  }
  return true;
}

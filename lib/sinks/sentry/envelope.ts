import { createHash } from 'node:crypto';
import {
  createEnvelope,
  type EventEnvelope,
  getEnvelopeEndpointWithUrlEncodedAuth,
  makeDsn,
  SENTRY_API_VERSION,
  serializeEnvelope,
} from '@sentry/core';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { terminal } from '../../format/terminal.ts';
import type { SentryLevel } from './config.ts';

/**
 * The pure half of the Sentry sink: DSN parsing, one Sentry event per alert, the envelope
 * around it and the `X-Sentry-Rate-Limits` header. No I/O here, so every branch is unit-tested.
 * The DSN's parts, the ingest URL and the envelope format come from @sentry/core, the package
 * Sentry's own SDKs are built on.
 */

/** severity label value -> Sentry level; a severity not in the map (or none) gives `error`. */
export const DEFAULT_LEVELS: Readonly<Record<string, SentryLevel>> = {
  critical: 'fatal',
  error: 'error',
  warning: 'warning',
  info: 'info',
};

/** The tag that makes an alert's issue searchable, and that a resolve searches for. */
export const FINGERPRINT_TAG = 'alert_fingerprint';

// https://docs.sentry.io/platforms/javascript/enriching-events/tags/ : keys <= 32 chars of
// [a-zA-Z0-9_.:-], values <= 200 chars without a newline.
export const TAG_KEY_MAX = 32;
export const TAG_VALUE_MAX = 200;
const TAG_KEY_INVALID = /[^a-zA-Z0-9_.:-]/g;

// Relay fills these tags from event fields (environment, release, level, ...) and drops or
// overrides a tag of the same name; an alert label with such a name is kept as `label.<name>`.
const RESERVED_TAG_KEYS = new Set([
  'environment',
  'release',
  'dist',
  'level',
  'logger',
  'server_name',
  'transaction',
  'user',
  'url',
  'filename',
  'function',
  'handled',
  'mechanism',
  'os',
  'browser',
  'device',
  'runtime',
]);

/** Sentry's documented limit for one envelope item (an event). */
export const EVENT_ITEM_MAX_BYTES = 1024 * 1024;
// What we aim below, so the envelope headers and rounding never push us over.
const EVENT_TARGET_BYTES = EVENT_ITEM_MAX_BYTES - 16 * 1024;
const LONG_STRING_CHARS = 4096;
/** Relay trims a message longer than this (logentry.formatted); we say so ourselves. */
export const MESSAGE_MAX_CHARS = 8192;

/** What a DSN `{scheme}://{publicKey}[:{secretKey}]@{host}{path}/{projectId}` holds. */
export interface Dsn {
  publicKey: string;
  /** Legacy DSNs only; modern ones have none. */
  secretKey?: string;
  /** `https://o1.ingest.de.sentry.io` or `https://sentry.example.com/prefix` (no trailing slash). */
  origin: string;
  host: string;
  projectId: string;
  /** `{origin}/api/{projectId}/envelope/` */
  envelopeUrl: string;
}

/**
 * Throws an Error that never quotes the DSN (its key is a credential of sorts).
 *
 * The string is read with URL rather than @sentry/core's dsnFromString: that one prints the
 * whole DSN to console.error when it cannot parse it, which would put the key in the logs.
 * The parts then go through makeDsn (Sentry's own checks), and the envelope endpoint is the
 * one Sentry's SDKs post to.
 */
export function parseDsn(raw: string): Dsn {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Error('the DSN is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('the DSN must be http(s)');
  if (!url.username) throw new Error(`the DSN for ${url.host} has no public key`);
  const segments = url.pathname.split('/').filter(Boolean);
  const projectId = segments.pop();
  if (!projectId || !/^\d+$/.test(projectId))
    throw new Error(`the DSN for ${url.host} does not end in a numeric project id`);
  const components = makeDsn({
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    publicKey: decodeURIComponent(url.username),
    pass: url.password ? decodeURIComponent(url.password) : '',
    host: url.hostname,
    port: url.port,
    path: segments.join('/'),
    projectId,
  });
  if (!components?.publicKey) throw new Error(`the DSN for ${url.host} is not one Sentry accepts`);
  // We authenticate with the X-Sentry-Auth header, so the key stays out of the URL (and out of
  // anything that might quote a URL): the endpoint without the query that carries it.
  const endpoint = new URL(getEnvelopeEndpointWithUrlEncodedAuth(components));
  endpoint.search = '';
  return {
    publicKey: components.publicKey,
    secretKey: components.pass || undefined,
    origin: `${url.protocol}//${url.host}${segments.length > 0 ? `/${segments.join('/')}` : ''}`,
    host: url.host,
    projectId: components.projectId,
    envelopeUrl: endpoint.href,
  };
}

/**
 * The Web API base for a DSN when `apiUrl` is not configured: sentry.io's ingest hosts
 * (`o1.ingest.de.sentry.io`) map to their region (`https://de.sentry.io`); anything else is
 * self-hosted, where the API lives on the DSN's own host.
 */
export function defaultApiUrl(dsn: Dsn): string {
  // Both forms exist: o1.ingest.de.sentry.io and o1.us.ingest.sentry.io
  // (https://docs.sentry.io/security-legal-pii/security/ip-ranges/).
  const saas = /^o\d+\.(?:([a-z0-9-]+)\.)?ingest\.(?:([a-z0-9-]+)\.)?sentry\.io$/.exec(dsn.host);
  if (saas) {
    const region = saas[2] ?? saas[1];
    return region ? `https://${region}.sentry.io` : 'https://sentry.io';
  }
  return dsn.origin;
}

/** `X-Sentry-Auth` (https://develop.sentry.dev/sdk/foundations/transport/authentication/). */
export function sentryAuthHeader(dsn: Dsn, client: string): string {
  const parts = [
    `sentry_version=${SENTRY_API_VERSION}`,
    `sentry_client=${client}`,
    `sentry_key=${dsn.publicKey}`,
  ];
  if (dsn.secretKey) parts.push(`sentry_secret=${dsn.secretKey}`);
  return `Sentry ${parts.join(', ')}`;
}

/**
 * The event id of one alert of one notification: the same notification delivered twice
 * (redelivery, an HA pair, a redrive) gives the same id, and Sentry keeps one event per id.
 */
export function eventIdFor(idempotencyKey: string, fingerprint: string): string {
  return createHash('sha256').update(`${idempotencyKey}\n${fingerprint}`).digest('hex').slice(0, 32);
}

/** A tag key Sentry accepts: invalid characters become `_`, at most 32 characters. */
export function sanitizeTagKey(key: string): string {
  const clean = key.replace(TAG_KEY_INVALID, '_').slice(0, TAG_KEY_MAX);
  return clean === '' ? '_' : clean;
}

/**
 * A tag value Sentry accepts: no newline, escape sequence, control or bidi character (Sentry
 * refuses C0 controls; the rest would act on whoever reads the tag), at most 200 characters
 * (`…` marks a cut).
 */
export function sanitizeTagValue(value: string): string {
  // One line: terminal() turns newlines and tabs into spaces and drops every other control.
  const clean = terminal(value).trim();
  const chars = Array.from(clean);
  if (chars.length <= TAG_VALUE_MAX) return clean;
  return `${chars.slice(0, TAG_VALUE_MAX - 1).join('')}…`;
}

/**
 * Alert text as Sentry shows it: the message, the issue title (its first line) and Additional
 * Data are plain text in Sentry's UI, alerts, e-mails and integrations, so escape sequences,
 * control and bidi characters go (lib/format/terminal.ts); newlines stay. Sentry renders no
 * Markdown there, and a bare URL shows as itself.
 */
export function plainText(text: string): string {
  return terminal(String(text), { multiline: true });
}

/** Every string (and key) of an extra value through plainText. */
function cleanExtra<T>(value: T): T {
  if (typeof value === 'string') return plainText(value) as T;
  if (Array.isArray(value)) return value.map(cleanExtra) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [plainText(k), cleanExtra(v)])) as T;
  return value;
}

/**
 * The destination's rendered `message` template (plain text, values already cleaned), and the
 * notes of templates that failed, put under the default message.
 */
export interface TemplatedFields {
  message?: string;
  notes?: readonly string[];
}

export interface EventOptions {
  levels?: Record<string, SentryLevel>;
  severityLabel: string;
  environmentLabel: string;
  releaseLabel: string;
  /** `name/version` of the relay, for `sdk` and the auth header. */
  client: { name: string; version: string };
}

export interface SentryEvent {
  event_id: string;
  timestamp: number;
  platform: 'other';
  level: SentryLevel;
  logger: string;
  message: string;
  fingerprint: string[];
  tags: Record<string, string>;
  extra: Record<string, unknown>;
  environment?: string;
  release?: string;
  server_name?: string;
  sdk: { name: string; version: string };
}

/** The Sentry event for one firing alert (docs/sinks/sentry.md says what each field shows). */
export function buildEvent(
  alert: Alert,
  notification: Notification,
  context: { eventId: string; receivedAt: string; part: { index: number; count: number } },
  options: EventOptions,
  templated: TemplatedFields = {},
): SentryEvent {
  const labels = alert.labels ?? {};
  const annotations = alert.annotations ?? {};
  const alertname = labels.alertname ?? 'alert';
  const severity = labels[options.severityLabel];
  const levels = { ...DEFAULT_LEVELS, ...options.levels };
  const level = severity !== undefined && Object.hasOwn(levels, severity) ? levels[severity] : 'error';

  const tags: Record<string, string> = {};
  const renamed: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels)) {
    const wanted = RESERVED_TAG_KEYS.has(name) ? `label.${name}` : name;
    let key = sanitizeTagKey(wanted);
    // Two labels that sanitise to the same key must not overwrite each other.
    for (let n = 2; Object.hasOwn(tags, key); n++) key = sanitizeTagKey(`${wanted.slice(0, 28)}~${n}`);
    if (key !== name) renamed[name] = key;
    const clean = sanitizeTagValue(value);
    if (clean !== '') tags[key] = clean;
  }
  tags[FINGERPRINT_TAG] = sanitizeTagValue(alert.fingerprint);
  if (severity !== undefined) tags.severity ??= sanitizeTagValue(severity);
  const truncated = notification.truncatedAlerts ?? 0;
  if (truncated > 0) tags.truncated_alerts = String(truncated);

  const summary = annotations.summary === undefined ? '' : plainText(annotations.summary).trim();
  const fallback = summary ? summary : plainText(alertname).trim() || 'alert';
  let message = templated.message?.trim() ? templated.message : fallback;
  // A failed template keeps the default title (the first line) and says why below it.
  if (templated.notes && templated.notes.length > 0) message = `${message}\n\n${templated.notes.join('\n')}`;
  const messageChars = Array.from(message);
  if (messageChars.length > MESSAGE_MAX_CHARS)
    message = `${messageChars.slice(0, MESSAGE_MAX_CHARS - 1).join('')}…`;

  const extra: Record<string, unknown> = cleanExtra({
    annotations,
    labels,
    startsAt: alert.startsAt,
    generatorURL: alert.generatorURL,
    groupKey: notification.groupKey,
    receiver: notification.receiver,
    externalURL: notification.externalURL,
  });
  if (Object.keys(renamed).length > 0) extra.renamedTags = cleanExtra(renamed);
  if (truncated > 0) {
    extra.truncatedAlerts = `Alertmanager's max_alerts left ${truncated} more alert(s) of this group out of the notification; they are not in Sentry`;
  }
  if (context.part.count > 1) extra.notificationPart = `${context.part.index} of ${context.part.count}`;

  const event: SentryEvent = {
    event_id: context.eventId,
    // When ingest accepted the notification: the same on every retry, and recent enough
    // that Sentry does not clamp it as clock drift (startsAt can be weeks old).
    timestamp: Date.parse(context.receivedAt) / 1000,
    platform: 'other',
    level,
    logger: 'alertmanager',
    message,
    fingerprint: ['alertmanager', alert.fingerprint],
    tags,
    extra,
    sdk: options.client,
  };
  const environment = cleanEnvironment(labels[options.environmentLabel]);
  if (environment) event.environment = environment;
  else if (labels[options.environmentLabel] !== undefined)
    extra.environmentRefused = plainText(labels[options.environmentLabel]);
  const release = cleanRelease(labels[options.releaseLabel]);
  if (release) event.release = release;
  else if (labels[options.releaseLabel] !== undefined)
    extra.releaseRefused = plainText(labels[options.releaseLabel]);
  if (labels.instance) event.server_name = sanitizeTagValue(labels.instance);
  return fitEvent(event);
}

// https://develop.sentry.dev/sdk/data-model/event-payloads/ : environment <= 64 chars, no
// newline or slash, not "None"; release <= 200 chars, no newline, tab or slash, not "." or "..".
function cleanEnvironment(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = terminal(value).trim();
  if (trimmed === '' || trimmed === 'None' || /[\r\n/]/.test(trimmed) || trimmed.length > 64)
    return undefined;
  return trimmed;
}

function cleanRelease(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = terminal(value).trim();
  if (
    trimmed === '' ||
    trimmed === '.' ||
    trimmed === '..' ||
    /[\r\n\t/\\]/.test(trimmed) ||
    trimmed.length > 200
  )
    return undefined;
  return trimmed;
}

/** UTF-8 size of the event as it goes on the wire. */
export function eventBytes(event: object): number {
  return Buffer.byteLength(JSON.stringify(event), 'utf8');
}

/**
 * Keeps the event under Sentry's 1 MiB item limit, saying so when it had to: first long
 * strings in `extra` are cut to 4 KiB, then `extra.annotations` and `extra.labels` go (the
 * message, tags and fingerprint stay). Either way the event carries `extra.relayTrimmed` and
 * the tag `relay_trimmed`.
 */
export function fitEvent(event: SentryEvent): SentryEvent {
  if (eventBytes(event) <= EVENT_TARGET_BYTES) return event;
  const before = eventBytes(event);
  const cut = { ...event, extra: cutLongStrings(event.extra) as Record<string, unknown> };
  cut.tags = { ...event.tags, relay_trimmed: 'true' };
  cut.extra.relayTrimmed = `the event was ${before} bytes, over Sentry's 1 MiB limit: strings in extra were cut to ${LONG_STRING_CHARS} characters`;
  if (eventBytes(cut) <= EVENT_TARGET_BYTES) return cut;
  const { annotations: _a, labels: _l, ...rest } = cut.extra;
  cut.extra = {
    ...rest,
    relayTrimmed: `the event was ${before} bytes, over Sentry's 1 MiB limit: annotations and labels were left out (they are in Alertmanager)`,
  };
  return cut;
}

function cutLongStrings(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.length > LONG_STRING_CHARS ? `${value.slice(0, LONG_STRING_CHARS - 1)}…` : value;
  }
  if (Array.isArray(value)) return value.map(cutLongStrings);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cutLongStrings(v)]));
  }
  return value;
}

/**
 * An envelope with one event item (https://develop.sentry.dev/sdk/envelopes/): envelope
 * header, item header with the payload's byte length, payload; newline-separated, with a
 * newline after the payload. Built and serialised by @sentry/core; the header is ours, because
 * its createEventEnvelope stamps `sent_at` from the wall clock and leaves the length out.
 */
export function buildEnvelope(event: SentryEvent, sentAt: Date): string {
  const envelope = createEnvelope<EventEnvelope>(
    { event_id: event.event_id, sent_at: sentAt.toISOString(), sdk: event.sdk },
    [
      [
        {
          type: 'event',
          // serializeEnvelope writes the payload as JSON.stringify(event): the same bytes.
          length: Buffer.byteLength(JSON.stringify(event), 'utf8'),
          content_type: 'application/json',
        },
        event,
      ],
    ],
  );
  // A string unless an item is binary, which an event never is.
  return `${serializeEnvelope(envelope) as string}\n`;
}

// Events are counted as `error` or `default` (a message without an exception), plus
// `security` for CSP reports; an empty category list means every category.
// https://develop.sentry.dev/sdk/rate-limiting/
const EVENT_CATEGORIES = new Set(['error', 'default']);

/**
 * Seconds until events may be sent again, from `X-Sentry-Rate-Limits`
 * (`<retry_after>:<categories>:<scope>:...`, comma-separated). Only limits that cover
 * events count (`error`, `default`, or no category = all). undefined when none applies.
 *
 * Not @sentry/core's updateRateLimits/isRateLimited: an SDK files an `event` item under
 * `error` only, so a limit on `default` (our events carry a message, no exception) would go
 * unseen; it also reads `1.5` as 1 s (we round up, never coming back early) and lets a
 * category's limit hide a longer one for all categories (we take the longest).
 */
export function eventRateLimitSeconds(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  let longest: number | undefined;
  for (const limit of header.split(',')) {
    const [seconds, categories = ''] = limit.trim().split(':');
    const value = Number(seconds);
    if (seconds === undefined || seconds.trim() === '' || !Number.isFinite(value) || value < 0) continue;
    const list = categories
      .split(';')
      .map((c) => c.trim())
      .filter(Boolean);
    if (list.length > 0 && !list.some((c) => EVENT_CATEGORIES.has(c))) continue;
    const whole = Math.ceil(value);
    longest = longest === undefined ? whole : Math.max(longest, whole);
  }
  return longest;
}

/** A search value for the issue search: bare when it is a plain token, else quoted. */
export function fingerprintQuery(fingerprint: string): string {
  const value = sanitizeTagValue(fingerprint);
  return /^[A-Za-z0-9_.:-]+$/.test(value)
    ? `${FINGERPRINT_TAG}:${value}`
    : `${FINGERPRINT_TAG}:${JSON.stringify(value)}`;
}

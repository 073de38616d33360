import type { Alert, Notification } from '../../alertmanager/types.ts';
import type { DestinationConfig } from '../../config/types.ts';
import { PermanentError } from '../../delivery/errors.ts';
import { postJson, statusError } from '../../delivery/http.ts';
import { forEachAlertOnce } from '../../delivery/journal.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import { buildScope, SCOPE_KEY_PATTERN, type ScopeMapping, type SkippedLabel } from './scope.ts';

/**
 * Sysdig Monitor sink: one custom event per alert, `POST {base}/api/v2/events/` with
 * `{"event": {name, description, severity, scope, tags}}` and `Authorization: Bearer <token>`,
 * as the Sysdig SDK's EventsClientV2.post_event sends it
 * (https://github.com/sysdiglabs/sysdig-sdk-python/blob/master/sdcclient/monitor/_events_v2.py).
 * Events are points in time: a resolve is a second event, tagged `status=resolved` with the
 * same `fingerprint` tag. Sysdig events have no dedup key, so each alert is sent once per
 * notification through forEachAlertOnce, and the record handler skips redelivered notifications.
 */
export interface SysdigDestination extends DestinationConfig {
  /** NAME of the secret holding the Sysdig Monitor API token (or a service account token). */
  tokenSecret: string;
  /** A SaaS region (see SYSDIG_REGIONS). Default us1. */
  region?: SysdigRegion;
  /** The Sysdig Monitor URL (on-premises, a region not listed, a proxy, a test server). Wins over region. */
  baseUrl?: string;
  /** The label whose value picks the severity. Default `severity`. */
  severityLabel?: string;
  /** Label value (case-insensitive) -> severity 0 (highest) .. 7 (lowest); merged over DEFAULT_SEVERITIES. */
  severities?: Record<string, number>;
  /** For an alert without the label, or with a value not in the map. Default 4 (warning). */
  defaultSeverity?: number;
  /** Which labels become the event's scope. Default: DEFAULT_SCOPE_PREFIXES by the `_` -> `.` convention. */
  scope?: ScopeMapping;
  /** Per request (connect, headers and body). Default 10. */
  timeoutSeconds?: number;
}

export interface SysdigSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
}

/**
 * Sysdig SaaS regions -> Monitor URL. us2 and eu1 are from Sysdig's REST API conventions page
 * (https://docs.sysdig.com/en/docs/developer-tools/sysdig-rest-api-conventions/), us1 is the
 * SDK's default; the others are as Sysdig's region list names them (the README's sysdig section says which
 * were confirmed). For anything else, set `baseUrl`.
 */
export const SYSDIG_REGIONS = {
  us1: 'https://app.sysdigcloud.com',
  us2: 'https://us2.app.sysdig.com',
  us4: 'https://app.us4.sysdig.com',
  eu1: 'https://eu1.app.sysdig.com',
  au1: 'https://app.au1.sysdig.com',
  me2: 'https://app.me2.sysdig.com',
  in1: 'https://app.in1.sysdig.com',
} as const;
export type SysdigRegion = keyof typeof SYSDIG_REGIONS;

export const EVENTS_PATH = '/api/v2/events/';
export const DEFAULT_TIMEOUT_SECONDS = 10;
export const DEFAULT_SEVERITY = 4;

/**
 * Our own caps (Sysdig does not document event field limits): long enough for any sensible
 * alert, short enough to stay clear of whatever the API's are. Anything cut says so.
 */
export const NAME_MAX_CHARS = 255;
export const DESCRIPTION_MAX_CHARS = 4000;
export const TAG_VALUE_MAX_CHARS = 255;

/**
 * Syslog-style, as Sysdig's events use it (0 high .. 7 low; the SDK: "syslog style from 0
 * (high) to 7 (low)"), for the severity values Prometheus rules commonly use.
 */
export const DEFAULT_SEVERITIES: Readonly<Record<string, number>> = {
  emergency: 0,
  page: 1,
  alert: 1,
  critical: 2,
  high: 2,
  error: 3,
  major: 3,
  warning: 4,
  warn: 4,
  medium: 4,
  minor: 5,
  notice: 5,
  low: 5,
  info: 6,
  informational: 6,
  debug: 7,
  none: 7,
};

const severitySchema = { type: 'integer', minimum: 0, maximum: 7 } as const;

const configSchema = {
  type: 'object',
  properties: {
    tokenSecret: {
      type: 'string',
      minLength: 1,
      description: 'NAME of the secret holding the Sysdig Monitor API token',
    },
    region: { type: 'string', enum: Object.keys(SYSDIG_REGIONS) },
    baseUrl: {
      type: 'string',
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      description: 'Sysdig Monitor URL, e.g. https://eu1.app.sysdig.com (no query, no credentials)',
    },
    severityLabel: { type: 'string', minLength: 1, default: 'severity' },
    severities: { type: 'object', additionalProperties: severitySchema },
    defaultSeverity: { ...severitySchema, default: DEFAULT_SEVERITY },
    scope: {
      type: 'object',
      properties: {
        prefixes: { type: 'array', items: { type: 'string', minLength: 1 } },
        labels: {
          type: 'object',
          additionalProperties: { type: 'string', pattern: SCOPE_KEY_PATTERN },
        },
      },
      additionalProperties: false,
    },
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 120, default: DEFAULT_TIMEOUT_SECONDS },
  },
  required: ['tokenSecret'],
  additionalProperties: false,
} as const;

/** The body Sysdig's v2 events API takes. */
export interface SysdigEvent {
  name: string;
  description: string;
  severity: number;
  /** v2 reads `scope`; the SDK sent `filter` until it found v2 ignored it (sysdig-sdk-python#180). */
  scope?: string;
  tags: Record<string, string>;
}

export function eventsUrl(destination: Pick<SysdigDestination, 'baseUrl' | 'region'>): URL {
  const base = destination.baseUrl ?? SYSDIG_REGIONS[destination.region ?? 'us1'];
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new PermanentError('sysdig baseUrl is not a valid URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
    throw new PermanentError(`sysdig baseUrl for ${url.host} must be http(s) without credentials`);
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${EVENTS_PATH}`;
  url.search = '';
  url.hash = '';
  return url;
}

/** The alert's severity from its label, through the destination's map over the defaults. */
export function severityOf(alert: Alert, destination: SysdigDestination): number {
  const value = alert.labels[destination.severityLabel ?? 'severity'];
  const fallback = destination.defaultSeverity ?? DEFAULT_SEVERITY;
  if (value === undefined) return fallback;
  const wanted = value.trim().toLowerCase();
  for (const map of [destination.severities ?? {}, DEFAULT_SEVERITIES]) {
    for (const [key, severity] of Object.entries(map)) {
      if (key.toLowerCase() === wanted) return severity;
    }
  }
  return fallback;
}

/** The event for one alert of a notification, and the labels left out of its scope. */
export function buildSysdigEvent(
  alert: Alert,
  notification: Notification,
  destination: SysdigDestination,
): { event: SysdigEvent; skipped: SkippedLabel[] } {
  const alertname = alert.labels.alertname || 'alert';
  const scope = buildScope(alert.labels, destination.scope ?? {});
  const truncated = notification.truncatedAlerts ?? 0;

  const tags: Record<string, string> = {};
  for (const [label, value] of Object.entries(alert.labels)) tags[label] = cut(value, TAG_VALUE_MAX_CHARS);
  // After the labels: a label called `status` or `fingerprint` must not hide these.
  tags.fingerprint = alert.fingerprint;
  tags.status = alert.status;
  tags.source = 'alertmanager';
  if (truncated > 0) tags.truncatedAlerts = String(truncated);

  const event: SysdigEvent = {
    name: cut(`[${alert.status.toUpperCase()}] ${alertname}`, NAME_MAX_CHARS),
    description: cut(describeAlert(alert, notification, truncated), DESCRIPTION_MAX_CHARS),
    severity: severityOf(alert, destination),
    tags,
  };
  if (scope.expression !== undefined) event.scope = scope.expression;
  return { event, skipped: scope.skipped };
}

function describeAlert(alert: Alert, notification: Notification, truncated: number): string {
  const { summary, description, ...otherAnnotations } = alert.annotations;
  const lines: string[] = [];
  if (truncated > 0) {
    // Alertmanager's max_alerts cut the group; the user must know this event is not all of it.
    lines.push(
      `Alertmanager left ${truncated} more alert(s) of this group out of the notification (max_alerts): see ${notification.externalURL || 'Alertmanager'}.`,
      '',
    );
  }
  if (summary) lines.push(summary);
  if (description) lines.push(description);
  if (summary || description) lines.push('');
  lines.push(
    alert.status === 'resolved'
      ? `Resolved at ${alert.endsAt} (firing since ${alert.startsAt}).`
      : `Firing since ${alert.startsAt}.`,
  );
  lines.push(`Labels: ${pairs(alert.labels)}`);
  if (Object.keys(otherAnnotations).length > 0) lines.push(`Annotations: ${pairs(otherAnnotations)}`);
  if (alert.generatorURL) lines.push(`Source: ${alert.generatorURL}`);
  lines.push(`Fingerprint: ${alert.fingerprint}. Group: ${notification.groupKey}`);
  return lines.join('\n');
}

function pairs(record: Record<string, string>): string {
  return Object.entries(record)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

/** Cuts at `max` characters (code points), saying so with a trailing marker. */
function cut(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  const marker = ' …[cut]';
  return `${chars.slice(0, max - marker.length).join('')}${marker}`;
}

export function createSysdigSink(options: SysdigSinkOptions = {}): Sink<SysdigDestination> {
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;

  return {
    name: 'sysdig',
    configSchema,

    describe(destination) {
      const url = eventsUrl(destination);
      const notes = [`custom events go to ${url.origin}${url.pathname}`];
      if (destination.region && destination.baseUrl) {
        notes.push(`region ${destination.region} is ignored: baseUrl is set`);
      }
      if (destination.scope?.prefixes?.length === 0 && !Object.keys(destination.scope.labels ?? {}).length) {
        notes.push('no label maps to a scope: events are not scoped to any host or container');
      }
      return notes;
    },

    async deliver(delivery: Delivery<SysdigDestination>): Promise<void> {
      const { destination, notification, logger } = delivery;
      const url = eventsUrl(destination);
      const host = url.host;
      const timeoutSeconds = destination.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
      const token = (await delivery.secrets.get(destination.tokenSecret)).trim();
      if (token === '') throw new PermanentError(`sysdig token secret "${destination.tokenSecret}" is empty`);
      // baseUrl carries no credentials (the schema refuses a query and user-info): only the token.
      const redactions = [token];

      const result = await forEachAlertOnce(delivery, async (alert) => {
        const { event, skipped } = buildSysdigEvent(alert, notification, destination);
        if (skipped.length > 0) {
          logger.debug('labels left out of the sysdig scope', { fingerprint: alert.fingerprint, skipped });
        }
        const started = performance.now();
        const response = await postJson(url, JSON.stringify({ event }), {
          label: `sysdig ${host}`,
          timeoutSeconds,
          fetch: doFetch,
          headers: { authorization: `Bearer ${token}` },
        });
        const status = response.status;
        if (status >= 200 && status < 300) {
          const eventId = await readEventId(response);
          logger.info('sysdig event created', {
            host,
            status,
            fingerprint: alert.fingerprint,
            alertStatus: alert.status,
            severity: event.severity,
            eventId,
            durationMs: Math.round(performance.now() - started),
          });
          return;
        }
        throw await statusError(response, {
          label: `sysdig ${host}`,
          redactions,
          now: now(),
          redirectHint: 'check region/baseUrl',
          permanentHint: (code) =>
            code === 401 || code === 403
              ? ' (check the API token and that its team may create events)'
              : code === 404
                ? ' (check region/baseUrl)'
                : undefined,
        });
      });
      logger.info('sysdig delivered', {
        host,
        events: result.sent,
        alreadySent: result.skipped,
        truncatedAlerts: notification.truncatedAlerts ?? 0,
      });
    },
  };
}

export const sysdigSink: Sink<SysdigDestination> = createSysdigSink();

/** The created event's id from `{"event": {"id": ...}}`, for the log line; undefined if absent. */
async function readEventId(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.json()) as { event?: { id?: unknown } } | null;
    const id = body?.event?.id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  } catch {
    return undefined;
  }
}

import type { Alert, Notification } from '../../alertmanager/types.ts';
import { terminal } from '../../format/terminal.ts';
import { DEFAULT_SEVERITY, type SysdigDestination } from './config.ts';
import { buildScope, type SkippedLabel } from './scope.ts';

/** The pure part of the Sysdig sink: one custom event per alert (no I/O). */

/** The body Sysdig's v2 events API takes. */
export interface SysdigEvent {
  name: string;
  description: string;
  severity: number;
  /** v2 reads `scope`; the SDK sent `filter` until it found v2 ignored it (sysdig-sdk-python#180). */
  scope?: string;
  tags: Record<string, string>;
}

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

/**
 * Alert text as Sysdig shows it: event names, descriptions and tags are plain text in Sysdig
 * Monitor's event feed and in the notifications it sends on, so escape sequences, control and
 * bidi characters go (lib/format/terminal.ts); `multiline` keeps newlines. A bare URL shows
 * as itself.
 */
export function plainText(text: string, options: { multiline?: boolean } = {}): string {
  return terminal(String(text), options);
}

/**
 * The destination's rendered templates (plain text, values already cleaned): `name` and
 * `description` replace the event's; `notes` are templates that failed, put at the top of the
 * description.
 */
export interface TemplatedFields {
  name?: string;
  description?: string;
  notes?: readonly string[];
}

/** The event for one alert of a notification, and the labels left out of its scope. */
export function buildSysdigEvent(
  alert: Alert,
  notification: Notification,
  destination: SysdigDestination,
  templated: TemplatedFields = {},
): { event: SysdigEvent; skipped: SkippedLabel[] } {
  const alertname = plainText(alert.labels.alertname ?? '').trim() || 'alert';
  const scope = buildScope(alert.labels, destination.scope ?? {});
  const truncated = notification.truncatedAlerts ?? 0;

  const tags: Record<string, string> = {};
  for (const [label, value] of Object.entries(alert.labels))
    tags[plainText(label)] = cut(plainText(value), TAG_VALUE_MAX_CHARS);
  // After the labels: a label called `status` or `fingerprint` must not hide these.
  tags.fingerprint = plainText(alert.fingerprint);
  tags.status = plainText(alert.status);
  tags.source = 'alertmanager';
  if (truncated > 0) tags.truncatedAlerts = String(truncated);

  const name = templated.name?.trim()
    ? plainText(templated.name).replace(/\s+/g, ' ').trim()
    : `[${plainText(alert.status).toUpperCase()}] ${alertname}`;
  const description = templated.description ?? describeAlert(alert, notification, truncated);
  const notes = templated.notes && templated.notes.length > 0 ? `${templated.notes.join('\n')}\n\n` : '';
  const event: SysdigEvent = {
    name: cut(name, NAME_MAX_CHARS),
    description: cut(`${notes}${description}`, DESCRIPTION_MAX_CHARS),
    severity: severityOf(alert, destination),
    tags,
  };
  if (scope.expression !== undefined) event.scope = scope.expression;
  return { event, skipped: scope.skipped };
}

// Every value from the notification goes through plainText: the text Sysdig shows is inert.
function describeAlert(alert: Alert, notification: Notification, truncated: number): string {
  const { summary, description, ...otherAnnotations } = alert.annotations;
  const text = (value: string) => plainText(value, { multiline: true });
  const lines: string[] = [];
  if (truncated > 0) {
    // Alertmanager's max_alerts cut the group; the user must know this event is not all of it.
    lines.push(
      `Alertmanager left ${truncated} more alert(s) of this group out of the notification (max_alerts): see ${plainText(notification.externalURL ?? '') || 'Alertmanager'}.`,
      '',
    );
  }
  if (summary) lines.push(text(summary));
  if (description) lines.push(text(description));
  if (summary || description) lines.push('');
  lines.push(
    alert.status === 'resolved'
      ? `Resolved at ${plainText(alert.endsAt)} (firing since ${plainText(alert.startsAt)}).`
      : `Firing since ${plainText(alert.startsAt)}.`,
  );
  lines.push(`Labels: ${pairs(alert.labels)}`);
  if (Object.keys(otherAnnotations).length > 0) lines.push(`Annotations: ${pairs(otherAnnotations)}`);
  if (alert.generatorURL) lines.push(`Source: ${plainText(alert.generatorURL)}`);
  lines.push(`Fingerprint: ${plainText(alert.fingerprint)}. Group: ${plainText(notification.groupKey)}`);
  return lines.join('\n');
}

function pairs(record: Record<string, string>): string {
  return Object.entries(record)
    .map(([key, value]) => `${plainText(key)}=${plainText(value)}`)
    .join(', ');
}

/** Cuts at `max` characters (code points), saying so with a trailing marker. */
function cut(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  const marker = ' …[cut]';
  return `${chars.slice(0, max - marker.length).join('')}${marker}`;
}

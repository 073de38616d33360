import { createHash } from 'node:crypto';
import { labelNames, labelValues, sortedPairs } from '../../alertmanager/labels.ts';
import { generatorUrl, runbookUrl, silenceUrl } from '../../alertmanager/links.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { cutChars } from '../../format/cut.ts';
import { terminal } from '../../format/terminal.ts';
import { safeHttpUrl } from '../../format/url.ts';
import type { PagerDutyDestination, PagerDutySeverity } from './config.ts';

/**
 * PagerDuty Events API v2 events built from Alertmanager notifications: the pure part of the
 * PagerDuty sink (no I/O). Field names and limits:
 * https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ and
 * https://developer.pagerduty.com/docs/events-api-v2/overview/ (512 KB per event).
 */

export interface PagerDutyLink {
  href: string;
  text: string;
}

export interface PagerDutyPayload {
  summary: string;
  source: string;
  severity: PagerDutySeverity;
  timestamp?: string;
  component?: string;
  group?: string;
  class?: string;
  custom_details?: Record<string, unknown>;
}

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  payload?: PagerDutyPayload;
  links?: PagerDutyLink[];
  client?: string;
  client_url?: string;
}

export const DEFAULT_SEVERITY_MAP: Readonly<Record<string, PagerDutySeverity>> = {
  critical: 'critical',
  page: 'critical',
  fatal: 'critical',
  error: 'error',
  high: 'error',
  major: 'error',
  warning: 'warning',
  warn: 'warning',
  minor: 'warning',
  info: 'info',
  informational: 'info',
  low: 'info',
  none: 'info',
};

/** payload.summary: "The maximum permitted length of this property is 1024 characters." */
export const MAX_SUMMARY_CHARS = 1024;
/** dedup_key: "The maximum permitted length of this property is 255 characters." */
export const MAX_DEDUP_KEY_CHARS = 255;
/**
 * "Events API payloads are limited to 512 KB". Alertmanager's own notifier uses 512,000 bytes
 * (notify/pagerduty maxEventSize); the smaller reading of "KB" is the safe one.
 */
export const MAX_EVENT_BYTES = 512_000;

const SEVERITY_RANK: Record<PagerDutySeverity, number> = { critical: 3, error: 2, warning: 1, info: 0 };
const MAX_LINKS_PER_KIND = 5;
// A link is a pointer, not a payload: PromQL in a generatorURL can be kilobytes long.
const MAX_LINK_CHARS = 2048;

/**
 * The dedup_key Alertmanager's own PagerDuty integration sends for a group: the lowercase hex
 * SHA-256 of the groupKey (notify.Key.Hash in notify/util.go). Using the same key means
 * switching from Alertmanager's pagerduty_configs to the relay keeps the open incidents:
 * a resolve from the relay closes an incident Alertmanager opened.
 */
export function groupDedupKey(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex');
}

/** Per-alert dedup_key: destination and fingerprint, readable when it fits 255 characters. */
export function alertDedupKey(destination: string, fingerprint: string): string {
  const key = `${destination}/${fingerprint}`;
  return key.length <= MAX_DEDUP_KEY_CHARS ? key : createHash('sha256').update(key).digest('hex');
}

export function severityOf(
  labels: Record<string, string>,
  destination: PagerDutyDestination,
): PagerDutySeverity {
  const value = labels[destination.severityLabel ?? 'severity'];
  const map = { ...DEFAULT_SEVERITY_MAP, ...destination.severityMap };
  const mapped = value === undefined ? undefined : (map[value] ?? map[value.toLowerCase()]);
  return mapped ?? destination.defaultSeverity ?? 'error';
}

/** Where a delivery is in a notification the relay split to fit a queue message. */
export interface PartInfo {
  index: number;
  count: number;
}

/**
 * The destination's rendered templates (plain text, values already cleaned): `summary`
 * replaces payload.summary, `description` goes first in custom_details; `notes` are templates
 * that failed, put in custom_details as `template_failed`.
 */
export interface TemplatedFields {
  summary?: string;
  description?: string;
  notes?: readonly string[];
}

/**
 * Alert text as PagerDuty shows it: payload fields and custom_details are plain text in the web
 * and mobile apps, e-mail and SMS, so what a terminal or a viewer would act on goes (escape
 * sequences, control and bidi characters; lib/format/terminal.ts). A bare URL stays: it shows
 * as itself. `multiline` keeps newlines (custom_details), otherwise one line.
 */
export function plainText(text: string, options: { multiline?: boolean } = {}): string {
  const clean = terminal(String(text), { multiline: options.multiline });
  return options.multiline ? clean : clean.replace(/\s+/g, ' ').trim();
}

/** Every string (and key) of a details value through plainText, newlines kept. */
function cleanDetails<T>(value: T): T {
  if (typeof value === 'string') return plainText(value, { multiline: true }) as T;
  if (Array.isArray(value)) return value.map(cleanDetails) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [plainText(k), cleanDetails(v)])) as T;
  return value;
}

/** custom_details with the templated description first and the notes of failed templates. */
function withTemplated(
  details: Record<string, unknown>,
  templated: TemplatedFields,
): Record<string, unknown> {
  return {
    ...(templated.description !== undefined ? { description: templated.description } : {}),
    ...cleanDetails(details),
    ...(templated.notes && templated.notes.length > 0 ? { template_failed: templated.notes.join('\n') } : {}),
  };
}

/** payload.summary: the templated one or the default, one line, at most 1024 characters. */
function summaryOf(templated: TemplatedFields, fallback: string): string {
  const summary = plainText(templated.summary ?? fallback) || plainText(fallback) || 'Alertmanager alert';
  return cutChars(summary, MAX_SUMMARY_CHARS);
}

/**
 * The event for a whole group (mode `group`), as Alertmanager's notifier does it: trigger while
 * any alert fires (again on every notification, with the current alerts), resolve when all
 * are resolved.
 */
export function groupEvent(
  notification: Notification,
  destination: PagerDutyDestination,
  routingKey: string,
  part: PartInfo = { index: 1, count: 1 },
  templated: TemplatedFields = {},
): PagerDutyEvent {
  const dedupKey = groupDedupKey(notification.groupKey);
  const firing = notification.alerts.filter((a) => a.status === 'firing');
  // A part of a split notification can hold only resolved alerts while others still fire:
  // only the notification's status (the whole group's) may resolve the incident.
  if (notification.status === 'resolved' || (firing.length === 0 && part.count === 1)) {
    return { routing_key: routingKey, event_action: 'resolve', dedup_key: dedupKey };
  }
  const resolved = notification.alerts.filter((a) => a.status !== 'firing');
  // Recomputed: after routing, Alertmanager's commonLabels may describe alerts this destination did not get.
  const common = commonLabels(notification.alerts);
  const severity = (firing.length > 0 ? firing : notification.alerts)
    .map((a) => severityOf(a.labels, destination))
    .reduce((a, b) => (SEVERITY_RANK[b] > SEVERITY_RANK[a] ? b : a));
  const details: Record<string, unknown> = {
    num_firing: firing.length,
    num_resolved: resolved.length,
    firing: firing.map(alertDetails),
    resolved: resolved.map(alertDetails),
    group_labels: notification.groupLabels,
    common_labels: common,
    common_annotations: notification.commonAnnotations,
    group_key: notification.groupKey,
    receiver: notification.receiver,
    ...notes(notification, part),
  };
  const links: PagerDutyLink[] = [];
  pushLink(links, silenceUrl(notification), 'Silence this group in Alertmanager');
  for (const href of unique(firing.map(generatorUrl)).slice(0, MAX_LINKS_PER_KIND)) {
    pushLink(links, href, 'Graph (Prometheus)');
  }
  for (const href of unique(firing.map(runbookUrl)).slice(0, MAX_LINKS_PER_KIND)) {
    pushLink(links, href, 'Runbook');
  }
  const payload: PagerDutyPayload = {
    summary: summaryOf(templated, groupSummary(notification, common, firing.length, part)),
    source: sourceOf(common, notification, destination, firing),
    severity,
    timestamp: earliest(firing.map((a) => a.startsAt)),
    ...optionalLabels(common, destination),
    custom_details: withTemplated(details, templated),
  };
  return fitEvent(
    withClient(
      { routing_key: routingKey, event_action: 'trigger', dedup_key: dedupKey, payload, links },
      notification,
    ),
  );
}

/** The event for one alert (mode `alert`): trigger while it fires, resolve once it is resolved. */
export function alertEvent(
  notification: Notification,
  alert: Alert,
  destination: PagerDutyDestination,
  routingKey: string,
  templated: TemplatedFields = {},
): PagerDutyEvent {
  const dedupKey = alertDedupKey(destination.name, alert.fingerprint);
  if (alert.status !== 'firing') {
    return { routing_key: routingKey, event_action: 'resolve', dedup_key: dedupKey };
  }
  const links: PagerDutyLink[] = [];
  pushLink(links, generatorUrl(alert), 'Graph (Prometheus)');
  pushLink(links, runbookUrl(alert), 'Runbook');
  pushLink(links, silenceUrl(notification, alert), 'Silence this alert in Alertmanager');
  const name = alert.labels.alertname ?? 'alert';
  const text = alert.annotations.summary ?? alert.annotations.description ?? alert.annotations.message;
  const instance = alert.labels[destination.sourceLabel ?? 'instance'];
  const summary = `[FIRING] ${name}${text ? `: ${text}` : ''}${instance && !text?.includes(instance) ? ` (${instance})` : ''}`;
  const payload: PagerDutyPayload = {
    summary: summaryOf(templated, summary),
    source: sourceOf(alert.labels, notification, destination, [alert]),
    severity: severityOf(alert.labels, destination),
    timestamp: isoTime(alert.startsAt),
    ...optionalLabels(alert.labels, destination),
    custom_details: withTemplated(
      {
        ...alertDetails(alert),
        group_key: notification.groupKey,
        receiver: notification.receiver,
        ...notes(notification, { index: 1, count: 1 }),
      },
      templated,
    ),
  };
  return fitEvent(
    withClient(
      { routing_key: routingKey, event_action: 'trigger', dedup_key: dedupKey, payload, links },
      notification,
    ),
  );
}

/** Bytes of the JSON body PagerDuty receives. */
export function eventBytes(event: PagerDutyEvent): number {
  return Buffer.byteLength(JSON.stringify(event));
}

/**
 * Keeps an event under MAX_EVENT_BYTES by shortening custom_details step by step (long
 * annotations first, then annotations, then labels down to one line per alert, then counts
 * only), saying so in the details. The trigger itself, its summary and its counts always go:
 * a group too big for PagerDuty still pages. Alertmanager's notifier drops all details at once.
 */
export function fitEvent(event: PagerDutyEvent, maxBytes = MAX_EVENT_BYTES): PagerDutyEvent {
  if (!event.payload?.custom_details || eventBytes(event) <= maxBytes) return event;
  const original = event.payload.custom_details;
  const size = eventBytes(event);
  for (const level of [1, 2, 3, 4] as const) {
    const details = shrinkDetails(original, level);
    details.trimmed = `custom_details shortened (step ${level} of 4) to fit PagerDuty's 512 KB event limit: the event was ${size} bytes; Alertmanager has the full alerts`;
    const candidate = { ...event, payload: { ...event.payload, custom_details: details } };
    if (eventBytes(candidate) <= maxBytes || level === 4) return candidate;
  }
  return event;
}

type AlertEntry = ReturnType<typeof alertDetails>;

function shrinkDetails(details: Record<string, unknown>, level: 1 | 2 | 3 | 4): Record<string, unknown> {
  const shrink = (value: unknown): unknown => {
    if (!Array.isArray(value)) return value;
    const entries = value as AlertEntry[];
    if (level === 1) return entries.map((a) => ({ ...a, annotations: cutValues(a.annotations, 256) }));
    if (level === 2) return entries.map(({ annotations: _dropped, ...rest }) => rest);
    if (level === 3) return entries.map((a) => cutChars(labelLine(a.labels), 256));
    return undefined;
  };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    if (level === 4 && (key === 'common_annotations' || key === 'annotations')) continue;
    if ((key === 'annotations' || key === 'common_annotations') && level >= 1 && typeof value === 'object') {
      out[key] = level >= 2 ? undefined : cutValues(value as Record<string, string>, 256);
      continue;
    }
    const shrunk = shrink(value);
    if (shrunk !== undefined) out[key] = shrunk;
  }
  return out;
}

function alertDetails(alert: Alert) {
  return {
    labels: alert.labels,
    annotations: alert.annotations,
    starts_at: alert.startsAt,
    ...(alert.status === 'firing' ? {} : { ends_at: alert.endsAt }),
    fingerprint: alert.fingerprint,
  };
}

function notes(notification: Notification, part: PartInfo): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  const truncated = notification.truncatedAlerts ?? 0;
  if (truncated > 0) {
    out.truncated_alerts = truncated;
    out.truncated_note = `Alertmanager left ${truncated} more alert(s) of this group out of the notification (webhook max_alerts); see Alertmanager for all of them`;
  }
  if (part.count > 1)
    out.notification_part = `${part.index} of ${part.count} (the relay split a notification too large for one queue message)`;
  return out;
}

function groupSummary(
  notification: Notification,
  common: Record<string, string>,
  firingCount: number,
  part: PartInfo,
): string {
  const group = labelValues(notification.groupLabels);
  const extra = labelNames(common)
    .filter((k) => !(k in (notification.groupLabels ?? {})))
    .map((k) => common[k]);
  const truncated = notification.truncatedAlerts ?? 0;
  const flags = [
    truncated > 0 ? `+${truncated} alert(s) cut by Alertmanager` : '',
    part.count > 1 ? `part ${part.index}/${part.count}` : '',
  ].filter(Boolean);
  const text = notification.commonAnnotations?.summary;
  const subject = [
    `[FIRING:${firingCount}]`,
    flags.length > 0 ? `(${flags.join(', ')})` : '',
    group.join(' '),
    extra.length > 0 ? `(${extra.join(' ')})` : '',
    text ? `: ${text}` : '',
  ]
    .filter(Boolean)
    .join(' ')
    .replace(' : ', ': ');
  return subject.replace(/\s+/g, ' ').trim();
}

function sourceOf(
  labels: Record<string, string>,
  notification: Notification,
  destination: PagerDutyDestination,
  alerts: readonly Alert[],
): string {
  const label = destination.sourceLabel ?? 'instance';
  const fromLabels = labels[label] === undefined ? '' : plainText(labels[label]);
  if (fromLabels) return cutChars(fromLabels, MAX_SUMMARY_CHARS);
  const values = unique(alerts.map((a) => (a.labels[label] === undefined ? '' : plainText(a.labels[label]))));
  if (values.length === 1) return cutChars(values[0], MAX_SUMMARY_CHARS);
  if (values.length > 1)
    return cutChars(`${values.length} ${label}s: ${values.join(', ')}`, MAX_SUMMARY_CHARS);
  try {
    return `alertmanager ${new URL(notification.externalURL).host}`;
  } catch {
    return 'alertmanager';
  }
}

function optionalLabels(labels: Record<string, string>, destination: PagerDutyDestination) {
  const out: Pick<PagerDutyPayload, 'component' | 'group' | 'class'> = {};
  const value = (name: string | undefined) =>
    name !== undefined && labels[name] !== undefined ? plainText(labels[name]) : undefined;
  const component = value(destination.componentLabel ?? 'job');
  const group = value(destination.groupLabel);
  const cls = value(destination.classLabel ?? 'alertname');
  if (component) out.component = component;
  if (group) out.group = group;
  if (cls) out.class = cls;
  return out;
}

function withClient(event: PagerDutyEvent, notification: Notification): PagerDutyEvent {
  // PagerDuty links client_url: only a checked http(s) URL, never whatever externalURL holds.
  const url = safeHttpUrl(notification.externalURL, { maxLength: MAX_LINK_CHARS });
  return { ...event, client: 'Alertmanager (via alertmanager-relay)', ...(url ? { client_url: url } : {}) };
}

/** A link PagerDuty shows: only a checked http(s) URL (lib/format/url.ts), normalised. */
function pushLink(links: PagerDutyLink[], href: string | undefined, text: string): void {
  const safe = safeHttpUrl(href, { maxLength: MAX_LINK_CHARS });
  if (safe) links.push({ href: safe, text });
}

function unique(values: readonly (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
}

function cutValues(values: Record<string, string> | undefined, max: number): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).map(([k, v]) => [k, cutChars(String(v), max)]));
}

function labelLine(labels: Record<string, string>): string {
  return `{${sortedPairs(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ')}}`;
}

/** The labels every alert has with the same value. */
export function commonLabels(alerts: readonly Alert[]): Record<string, string> {
  if (alerts.length === 0) return {};
  const [first, ...rest] = alerts;
  return Object.fromEntries(
    Object.entries(first.labels).filter(([name, value]) => rest.every((a) => a.labels[name] === value)),
  );
}

/** ISO 8601 with milliseconds; Alertmanager sends up to 9 fractional digits. */
export function isoTime(value: string): string | undefined {
  const ms = Date.parse(value);
  return Number.isNaN(ms) || ms <= 0 ? undefined : new Date(ms).toISOString();
}

function earliest(values: readonly string[]): string | undefined {
  const times = values
    .map(isoTime)
    .filter((v): v is string => v !== undefined)
    .sort();
  return times[0];
}

import { createHash } from 'node:crypto';
import { labelNames, labelValues, sortedPairs } from '../../alertmanager/labels.ts';
import { generatorUrl, runbookUrl, silenceUrl } from '../../alertmanager/links.ts';
import { subject } from '../../alertmanager/title.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { cutChars } from '../../format/cut.ts';
import { safeHttpUrl } from '../../format/url.ts';
import type { OpsgenieDestination, OpsgeniePriority } from './config.ts';

/**
 * Opsgenie Alert API requests built from Alertmanager notifications: the pure part of the
 * Opsgenie sink (no I/O). Fields and limits: https://docs.opsgenie.com/docs/alert-api
 * ("Create Alert": message 130 characters, alias 512, description 15,000, tags 20 of 50
 * characters each, details 8,000 characters in total, entity 512, source 100, priority P1-P5,
 * note 25,000). Anything over a limit is cut with a visible marker, never silently.
 */

export const LIMITS = {
  message: 130,
  alias: 512,
  description: 15_000,
  tags: 20,
  tagChars: 50,
  detailsChars: 8_000,
  source: 100,
  note: 25_000,
} as const;

/** The mark left where text was cut (Alertmanager's notifiers use the same). */
export const CUT = '…';

/** Severity label value -> priority (matched as is, then lower-cased). P1 is the highest; anything else gets `defaultPriority`, P3 unless set (Opsgenie's own default). */
export const DEFAULT_PRIORITY_MAP: Readonly<Record<string, OpsgeniePriority>> = {
  critical: 'P1',
  error: 'P2',
  high: 'P2',
  warning: 'P3',
  info: 'P5',
};

/** POST /v2/alerts. */
export interface OpsgenieCreate {
  message: string;
  alias: string;
  description?: string;
  tags?: string[];
  details?: Record<string, string>;
  source?: string;
  priority: OpsgeniePriority;
}

/** POST /v2/alerts/{alias}/close?identifierType=alias. */
export interface OpsgenieClose {
  source?: string;
  note?: string;
}

/** Where a delivery is in a notification the relay split to fit a queue message. */
export interface PartInfo {
  index: number;
  count: number;
}

/**
 * The destination's rendered templates (plain text, values already escaped): `summary`
 * replaces the message, `description` the description; `notes` are templates that failed,
 * put at the top of the description.
 */
export interface TemplatedFields {
  summary?: string;
  description?: string;
  notes?: string[];
}

/** The description with the notes of failed templates on top. */
function withNotes(description: string, notes: readonly string[] | undefined): string {
  return notes && notes.length > 0 ? `${notes.join('\n')}\n\n${description}` : description;
}

/** A request and the fields that had to be cut to fit, for the log. */
export interface Fitted<T> {
  body: T;
  cut: string[];
}

/**
 * The alias Alertmanager's own Opsgenie notifier gives a group: the lowercase hex SHA-256 of
 * the groupKey (notify/opsgenie: `alias = key.Hash()`, notify.Key.Hash in notify/util.go). Using
 * it means switching from opsgenie_configs to the relay keeps the open alerts: the relay's
 * resolve closes an alert Alertmanager opened, and a firing notification deduplicates into it.
 */
export function groupAlias(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex');
}

/** Per-alert alias (mode `alert`): destination and fingerprint, readable. */
export function alertAlias(destination: string, fingerprint: string): string {
  return cutChars(`${destination}-${fingerprint}`, LIMITS.alias);
}

export function priorityOf(
  labels: Record<string, string>,
  destination: OpsgenieDestination,
): OpsgeniePriority {
  const value = labels[destination.priorityLabel ?? 'severity'];
  const map = { ...DEFAULT_PRIORITY_MAP, ...destination.priorityMap };
  const mapped = value === undefined ? undefined : (map[value] ?? map[value.toLowerCase()]);
  return mapped ?? destination.defaultPriority ?? 'P3';
}

/**
 * Alert text as Opsgenie shows it: its message field takes HTML, and every field reaches
 * e-mail, SMS and push, so `<` and `>` become the look-alikes `‹` `›` (no tag, no link can
 * open), and control, bidi-override and terminal-escape characters are removed. Bare URLs
 * stay as they are: they show as themselves, so they cannot pass one address off as another.
 */
export function plain(text: string, options: { lines?: boolean } = {}): string {
  const cleaned = text
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are what is removed
    .replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/</g, '\u2039')
    .replace(/>/g, '\u203a');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters other than newline are removed
  const keepLines = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are removed
  const oneLine = /[\u0000-\u001f\u007f-\u009f]+/g;
  if (options.lines) return cleaned.replace(keepLines, ' ');
  return cleaned.replace(oneLine, ' ').replace(/\s+/g, ' ').trim();
}

/**
 * The create request for a group (mode `group`), as Alertmanager's notifier builds it: its
 * alias, a subject like Alertmanager's default message, the alerts in the description, the
 * common labels as details. Sent again for every firing notification: Opsgenie deduplicates
 * it into the open alert with the same alias (its count goes up).
 */
export function groupCreate(
  notification: Notification,
  destination: OpsgenieDestination,
  part: PartInfo = { index: 1, count: 1 },
  templated: TemplatedFields = {},
): Fitted<OpsgenieCreate> {
  const firing = notification.alerts.filter((a) => a.status === 'firing');
  const resolved = notification.alerts.filter((a) => a.status !== 'firing');
  // Recomputed: after routing, Alertmanager's commonLabels may describe alerts this destination did not get.
  const common = commonLabels(notification.alerts);
  const priority = (firing.length > 0 ? firing : notification.alerts)
    .map((a) => priorityOf(a.labels, destination))
    // P1 is the highest: the group pages as its most urgent firing alert.
    .reduce<OpsgeniePriority | undefined>((a, b) => (a === undefined || b < a ? b : a), undefined);
  const sections: string[] = [];
  // Alertmanager's opsgenie.default.description: the common annotations' values, in its order.
  const annotations = labelValues(notification.commonAnnotations);
  if (annotations.length > 0) sections.push(annotations.join(' '));
  const truncated = notification.truncatedAlerts ?? 0;
  if (truncated > 0)
    sections.push(`Alertmanager left ${truncated} more alert(s) of this group out of the notification.`);
  if (part.count > 1)
    sections.push(
      `Part ${part.index} of ${part.count}: the relay split a notification too large for one queue message.`,
    );
  if (firing.length > 0) sections.push(`Alerts Firing:\n${firing.map(alertText).join('\n')}`);
  if (resolved.length > 0) sections.push(`Alerts Resolved:\n${resolved.map(alertText).join('\n')}`);
  const silence = safeHttpUrl(silenceUrl(notification));
  if (silence) sections.push(`Silence this group: ${silence}`);

  const cut: string[] = [];
  const body: OpsgenieCreate = {
    message: fitMessage(templated.summary ?? subject(notification, common), cut),
    alias: groupAlias(notification.groupKey),
    description: fitDescription(
      withNotes(templated.description ?? sections.join('\n\n'), templated.notes),
      notification.alerts.length,
      cut,
    ),
    priority: priority ?? destination.defaultPriority ?? 'P3',
    ...sourceOf(notification),
  };
  const tags = fitTags(tagPairs(common, destination, notification.groupLabels), cut);
  if (tags.length > 0) body.tags = tags;
  const details = fitDetails(common, cut);
  if (Object.keys(details).length > 0) body.details = details;
  return { body, cut };
}

/** The create request for one alert (mode `alert`). */
export function alertCreate(
  notification: Notification,
  alert: Alert,
  destination: OpsgenieDestination,
  templated: TemplatedFields = {},
): Fitted<OpsgenieCreate> {
  const name = alert.labels.alertname ?? 'alert';
  const text = alert.annotations?.summary ?? alert.annotations?.description;
  const cut: string[] = [];
  const silence = safeHttpUrl(silenceUrl(notification, alert));
  const description = [alertText(alert), silence ? `Silence this alert: ${silence}` : '']
    .filter(Boolean)
    .join('\n\n');
  const body: OpsgenieCreate = {
    message: fitMessage(templated.summary ?? `[FIRING] ${name}${text ? `: ${text}` : ''}`, cut),
    alias: alertAlias(destination.name, alert.fingerprint),
    description: fitDescription(withNotes(templated.description ?? description, templated.notes), 1, cut),
    priority: priorityOf(alert.labels, destination),
    ...sourceOf(notification),
  };
  const tags = fitTags(tagPairs(alert.labels, destination, notification.groupLabels), cut);
  if (tags.length > 0) body.tags = tags;
  const details = fitDetails(alert.labels, cut);
  if (Object.keys(details).length > 0) body.details = details;
  return { body, cut };
}

/** The close request: who closed it, and why. */
export function closeRequest(notification: Notification): OpsgenieClose {
  return { ...sourceOf(notification), note: 'Resolved in Alertmanager (delivered by alertmanager-relay)' };
}

// Alertmanager's __text_alert_list: labels, annotations, source, one block per alert.
function alertText(alert: Alert): string {
  const pairs = (values: Record<string, string> | undefined) =>
    sortedPairs(values)
      .map(([k, v]) => ` - ${k} = ${v}`)
      .join('\n');
  const lines = ['Labels:', pairs(alert.labels)];
  if (Object.keys(alert.annotations ?? {}).length > 0) lines.push('Annotations:', pairs(alert.annotations));
  // Checked and normalised: a crafted URL cannot carry a second address past a linkifier.
  const source = safeHttpUrl(generatorUrl(alert));
  if (source) lines.push(`Source: ${source}`);
  const runbook = safeHttpUrl(runbookUrl(alert));
  if (runbook) lines.push(`Runbook: ${runbook}`);
  return lines.join('\n');
}

function fitMessage(text: string, cut: string[]): string {
  const clean = plain(text) || 'Alertmanager alert';
  if (Array.from(clean).length > LIMITS.message) cut.push('message');
  return cutChars(clean, LIMITS.message);
}

function fitDescription(text: string, alerts: number, cut: string[]): string {
  const clean = plain(text, { lines: true });
  const chars = Array.from(clean);
  if (chars.length <= LIMITS.description) return clean;
  cut.push('description');
  const marker = `\n${CUT} [cut by alertmanager-relay to Opsgenie's ${LIMITS.description}-character description; the notification had ${alerts} alert(s), Alertmanager has them all]`;
  return `${chars.slice(0, LIMITS.description - Array.from(marker).length).join('')}${marker}`;
}

function tagPairs(
  labels: Record<string, string>,
  destination: OpsgenieDestination,
  groupLabels: Record<string, string> | undefined,
): string[] {
  // Group labels first, each part in Alertmanager's order (the sort is stable).
  const names = destination.tagLabels
    ? destination.tagLabels.filter((k) => labels[k] !== undefined)
    : labelNames(labels).sort(
        (a, b) => (groupLabels?.[a] !== undefined ? 0 : 1) - (groupLabels?.[b] !== undefined ? 0 : 1),
      );
  return names.map((k) => plain(`${k}:${labels[k]}`)).filter((t) => t !== '');
}

function fitTags(tags: string[], cut: string[]): string[] {
  const long = tags.some((t) => Array.from(t).length > LIMITS.tagChars);
  const fitted = tags.map((t) => cutChars(t, LIMITS.tagChars));
  if (long) cut.push('tags');
  if (fitted.length <= LIMITS.tags) return fitted;
  if (!long) cut.push('tags');
  const kept = fitted.slice(0, LIMITS.tags - 1);
  return [...kept, `+${fitted.length - kept.length} more labels${CUT}`];
}

/**
 * Details are the labels (Alertmanager sends the common labels). Opsgenie takes 8,000
 * characters of keys and values in total: values are shortened first, then labels left out,
 * and `relay_note` says so.
 */
function fitDetails(labels: Record<string, string>, cut: string[]): Record<string, string> {
  // In Alertmanager's order: when labels must be left out, alertname stays.
  const entries = sortedPairs(labels)
    .map(([k, v]) => [plain(k), plain(v)] as const)
    .filter(([k]) => k !== '');
  const size = (list: readonly (readonly [string, string])[]) =>
    list.reduce((sum, [k, v]) => sum + Array.from(k).length + Array.from(v).length, 0);
  if (size(entries) <= LIMITS.detailsChars) return Object.fromEntries(entries);
  cut.push('details');
  const note = (left: number) =>
    `details cut by alertmanager-relay to fit Opsgenie's ${LIMITS.detailsChars}-character limit${left > 0 ? `; ${left} label(s) left out` : ''}; the description and Alertmanager have all labels`;
  const budget = LIMITS.detailsChars - 'relay_note'.length - Array.from(note(99_999)).length;
  const shortened = entries.map(([k, v]) => [cutChars(k, 50), cutChars(v, 200)] as const);
  const kept: (readonly [string, string])[] = [];
  for (const entry of shortened) {
    if (size([...kept, entry]) > budget) break;
    kept.push(entry);
  }
  return { ...Object.fromEntries(kept), relay_note: note(entries.length - kept.length) };
}

function sourceOf(notification: Notification): { source?: string } {
  // Alertmanager's default source is its own URL (template __alertmanagerURL).
  const url = notification.externalURL;
  if (typeof url === 'string' && /^https?:\/\//.test(url) && Array.from(url).length <= LIMITS.source)
    return { source: plain(url) };
  return { source: 'alertmanager-relay' };
}

/** The labels every alert has with the same value. */
export function commonLabels(alerts: readonly Alert[]): Record<string, string> {
  if (alerts.length === 0) return {};
  const [first, ...rest] = alerts;
  return Object.fromEntries(
    Object.entries(first.labels).filter(([name, value]) => rest.every((a) => a.labels[name] === value)),
  );
}

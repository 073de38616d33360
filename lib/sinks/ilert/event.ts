import { labelNames } from '../../alertmanager/labels.ts';
import { generatorUrl, runbookUrl, silenceUrl } from '../../alertmanager/links.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { cutChars } from '../../format/cut.ts';
import { markdown } from '../../format/markdown.ts';
import { terminal } from '../../format/terminal.ts';
import { safeHttpUrl } from '../../format/url.ts';
import type { IlertDestination, IlertPriority } from './config.ts';

/**
 * ilert request bodies built from Alertmanager notifications: the pure part of the ilert sink.
 * Events API fields: https://docs.ilert.com/developer-docs/rest-api/api-samples/creating-alerts-through-events
 * Prometheus endpoint labels: https://docs.ilert.com/integrations/inbound-integrations/prometheus
 */

export interface IlertLink {
  href: string;
  text: string;
}

export interface IlertEvent {
  integrationKey: string;
  eventType: 'ALERT' | 'RESOLVE';
  summary: string;
  details?: string;
  alertKey: string;
  priority?: IlertPriority;
  links?: IlertLink[];
  customDetails?: Record<string, unknown>;
  routingKey?: string;
}

export const DEFAULT_PRIORITY_MAP: Readonly<Record<string, IlertPriority>> = {
  critical: 'HIGH',
  page: 'HIGH',
  fatal: 'HIGH',
  error: 'HIGH',
  high: 'HIGH',
  warning: 'LOW',
  warn: 'LOW',
  info: 'LOW',
  low: 'LOW',
  none: 'LOW',
};

/** The label ilert's Prometheus integration routes by; the Events API takes it as `routingKey`. */
export const ROUTING_KEY_LABEL = 'ilert_routingkey';

// ilert documents no length limits for these fields; these keep an event readable on a phone
// and far from any body limit.
export const MAX_SUMMARY_CHARS = 1024;
export const MAX_DETAILS_CHARS = 60_000;

/** alertKey of one alert: destination + fingerprint, so a RESOLVE finds the ALERT it closes. */
export function ilertAlertKey(destination: string, fingerprint: string): string {
  return `${destination}/${fingerprint}`;
}

export function priorityOf(
  labels: Record<string, string>,
  destination: IlertDestination,
): IlertPriority | undefined {
  const value = labels[destination.severityLabel ?? 'severity'];
  if (value === undefined) return undefined;
  const map = { ...DEFAULT_PRIORITY_MAP, ...destination.priorityMap };
  return map[value] ?? map[value.toLowerCase()];
}

/**
 * The destination's rendered templates (Markdown, values already escaped): `summary` and
 * `details` replace the event's; `notes` are templates that failed, put at the top of the
 * details.
 */
export interface TemplatedFields {
  summary?: string;
  details?: string;
  notes?: readonly string[];
}

/** One Events API event for one alert: ALERT while it fires, RESOLVE once resolved. */
export function ilertEvent(
  notification: Notification,
  alert: Alert,
  destination: IlertDestination,
  integrationKey: string,
  templated: TemplatedFields = {},
): IlertEvent {
  const firing = alert.status === 'firing';
  const links: IlertLink[] = [];
  // Only http(s) URLs without credentials, encoded: these become clickable in ilert.
  const push = (raw: string | undefined, text: string) => {
    const href = safeHttpUrl(raw);
    if (href) links.push({ href, text });
  };
  push(generatorUrl(alert), 'Graph (Prometheus)');
  push(runbookUrl(alert), 'Runbook');
  push(silenceUrl(notification, alert), 'Silence in Alertmanager');
  const priority = priorityOf(alert.labels, destination);
  const routingKey = alert.labels[ROUTING_KEY_LABEL];
  const summary = templated.summary?.trim() ? oneLine(templated.summary) : alertSummary(alert);
  const notes = templated.notes && templated.notes.length > 0 ? `${templated.notes.join('\n\n')}\n\n` : '';
  const details = `${notes}${templated.details ?? alertMarkdown(notification, alert)}`;
  return {
    integrationKey,
    eventType: firing ? 'ALERT' : 'RESOLVE',
    summary: cutChars(summary, MAX_SUMMARY_CHARS),
    details: cutChars(details, MAX_DETAILS_CHARS),
    alertKey: ilertAlertKey(destination.name, alert.fingerprint),
    ...(firing && priority ? { priority } : {}),
    ...(links.length > 0 ? { links } : {}),
    // Data for ilert's own templates and integrations, as it came less what a viewer acts on.
    customDetails: cleanStrings({
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: alert.startsAt,
      ...(firing ? {} : { endsAt: alert.endsAt }),
      fingerprint: alert.fingerprint,
      groupKey: notification.groupKey,
      receiver: notification.receiver,
      ...(truncatedNote(notification) ? { truncatedAlerts: notification.truncatedAlerts } : {}),
    }),
    ...(firing && routingKey ? { routingKey } : {}),
  };
}

/** Every string (and key) without escape sequences, control or bidi characters; newlines kept. */
function cleanStrings<T>(value: T): T {
  if (typeof value === 'string') return terminal(value, { multiline: true }) as T;
  if (Array.isArray(value)) return value.map(cleanStrings) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [terminal(k), cleanStrings(v)])) as T;
  return value;
}

/** The label ilert's Prometheus integration turns into a link. */
export const URL_LABEL = 'url';

/** Labels as ilert's Prometheus integration reads them: plain text, and `url` a checked link or nothing. */
function prometheusLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels ?? {})) {
    if (name === URL_LABEL) {
      const href = safeHttpUrl(value);
      if (href) out[name] = href;
      continue;
    }
    out[terminal(name)] = terminal(String(value));
  }
  return out;
}

/** Annotations as ilert shows them (its alert summary and Markdown details): Markdown-escaped. */
function prometheusAnnotations(annotations: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(annotations ?? {}).map(([name, value]) => [terminal(name), markdown(String(value))]),
  );
}

/**
 * The notification as ilert's Prometheus endpoint reads it, made inert where ilert renders it:
 * annotations (ilert's summary and Markdown details) Markdown-escaped; labels, the receiver
 * and the groupKey without escape sequences, control or bidi characters, otherwise unchanged
 * (`ilert_routingkey`, `urlLabel` and ilert's grouping keep working); the `url` label, which
 * ilert links, only when it is a checked http(s) URL (normalised), else left out. A note is
 * added to the annotations when Alertmanager cut alerts (`truncatedAlerts`) or the relay split
 * the notification, so the person in ilert knows the alert list is not the whole group.
 */
export function prometheusBody(
  notification: Notification,
  part: { index: number; count: number },
): Notification {
  const lines = [truncatedNote(notification), part.count > 1 ? partNote(part) : undefined].filter(
    (line): line is string => line !== undefined,
  );
  const note: Record<string, string> = lines.length > 0 ? { relay_note: lines.join(' ') } : {};
  const url = (value: string | undefined) => safeHttpUrl(value) ?? '';
  return {
    ...notification,
    receiver: terminal(String(notification.receiver ?? '')),
    groupKey: terminal(String(notification.groupKey ?? '')),
    groupLabels: prometheusLabels(notification.groupLabels),
    commonLabels: prometheusLabels(notification.commonLabels),
    commonAnnotations: { ...prometheusAnnotations(notification.commonAnnotations), ...note },
    externalURL: url(notification.externalURL),
    alerts: notification.alerts.map((alert) => ({
      ...alert,
      labels: prometheusLabels(alert.labels),
      annotations: { ...prometheusAnnotations(alert.annotations), ...note },
      generatorURL: url(alert.generatorURL),
      fingerprint: terminal(String(alert.fingerprint ?? '')),
    })),
  };
}

/**
 * `[FIRING] HighLatency: <summary> (web-1:9100)`: the alert's title in ilert, plain text (it is
 * also read out in SMS and calls), so values lose controls and bidi overrides and keep their
 * characters; Markdown escaping would show as backslashes there.
 */
export function alertSummary(alert: Alert): string {
  const name = alert.labels.alertname ?? 'alert';
  const text = alert.annotations.summary ?? alert.annotations.description ?? alert.annotations.message;
  const instance = alert.labels.instance;
  const state = alert.status === 'firing' ? 'FIRING' : 'RESOLVED';
  const suffix = instance && !text?.includes(instance) ? ` (${terminal(instance)})` : '';
  return oneLine(`[${state}] ${terminal(name)}${text ? `: ${terminal(text)}` : ''}${suffix}`);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Markdown for the alert's details: status, labels as a table, annotations, notes. */
export function alertMarkdown(notification: Notification, alert: Alert): string {
  const lines: string[] = [];
  lines.push(
    alert.status === 'firing'
      ? `**Firing** since ${escapeMarkdown(alert.startsAt)}`
      : `**Resolved** at ${escapeMarkdown(alert.endsAt)} (fired since ${escapeMarkdown(alert.startsAt)})`,
  );
  const note = truncatedNote(notification);
  if (note) lines.push('', `> ${note}`);
  const annotations = labelNames(alert.annotations);
  if (annotations.length > 0) {
    lines.push('', '**Annotations**', '');
    for (const key of annotations)
      lines.push(`- **${escapeMarkdown(key)}**: ${escapeMarkdown(alert.annotations[key])}`);
  }
  lines.push('', '**Labels**', '', '| label | value |', '| --- | --- |');
  for (const key of labelNames(alert.labels)) {
    lines.push(`| ${cell(key)} | ${cell(alert.labels[key])} |`);
  }
  // Both come from the sender: escaped like any label, not trusted inside a code span.
  lines.push(
    '',
    `Alertmanager receiver ${escapeMarkdown(notification.receiver)}, fingerprint ${escapeMarkdown(alert.fingerprint)}`,
  );
  return lines.join('\n');
}

export function truncatedNote(notification: Notification): string | undefined {
  const truncated = notification.truncatedAlerts ?? 0;
  return truncated > 0
    ? `Alertmanager left ${truncated} more alert(s) of this group out of the notification (webhook max_alerts); see Alertmanager for all of them.`
    : undefined;
}

function partNote(part: { index: number; count: number }): string {
  return `Part ${part.index} of ${part.count}: the relay split this notification to fit its queue; the other parts carry the other alerts.`;
}

/** Alert text as one line of Markdown (lib/format/markdown.ts): it can make no link, heading, emphasis or table cell. */
function escapeMarkdown(value: unknown): string {
  return markdown(String(value).replace(/\s*[\r\n\u2028\u2029]+\s*/g, ' '));
}

function cell(value: string): string {
  return escapeMarkdown(value);
}

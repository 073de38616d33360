import { generatorUrl, runbookUrl, silenceUrl } from '../../alertmanager/links.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { markdown } from '../../format/markdown.ts';
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

/** One Events API event for one alert: ALERT while it fires, RESOLVE once resolved. */
export function ilertEvent(
  notification: Notification,
  alert: Alert,
  destination: IlertDestination,
  integrationKey: string,
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
  return {
    integrationKey,
    eventType: firing ? 'ALERT' : 'RESOLVE',
    summary: cut(alertSummary(alert), MAX_SUMMARY_CHARS),
    details: cut(alertMarkdown(notification, alert), MAX_DETAILS_CHARS),
    alertKey: ilertAlertKey(destination.name, alert.fingerprint),
    ...(firing && priority ? { priority } : {}),
    ...(links.length > 0 ? { links } : {}),
    customDetails: {
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: alert.startsAt,
      ...(firing ? {} : { endsAt: alert.endsAt }),
      fingerprint: alert.fingerprint,
      groupKey: notification.groupKey,
      receiver: notification.receiver,
      ...(truncatedNote(notification) ? { truncatedAlerts: notification.truncatedAlerts } : {}),
    },
    ...(firing && routingKey ? { routingKey } : {}),
  };
}

/**
 * The notification as ilert's Prometheus endpoint reads it: unchanged (labels such as
 * `ilert_routingkey`, `url`, `urlLabel` and the groupKey pass through), except that a note is
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
  if (lines.length === 0) return notification;
  const note = lines.join(' ');
  return {
    ...notification,
    commonAnnotations: { ...notification.commonAnnotations, relay_note: note },
    alerts: notification.alerts.map((alert) => ({
      ...alert,
      annotations: { ...alert.annotations, relay_note: note },
    })),
  };
}

export function alertSummary(alert: Alert): string {
  const name = alert.labels.alertname ?? 'alert';
  const text = alert.annotations.summary ?? alert.annotations.description ?? alert.annotations.message;
  const instance = alert.labels.instance;
  const state = alert.status === 'firing' ? 'FIRING' : 'RESOLVED';
  return `[${state}] ${name}${text ? `: ${text}` : ''}${instance && !text?.includes(instance) ? ` (${instance})` : ''}`
    .replace(/\s+/g, ' ')
    .trim();
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
  const annotations = Object.keys(alert.annotations ?? {}).sort();
  if (annotations.length > 0) {
    lines.push('', '**Annotations**', '');
    for (const key of annotations)
      lines.push(`- **${escapeMarkdown(key)}**: ${escapeMarkdown(alert.annotations[key])}`);
  }
  lines.push('', '**Labels**', '', '| label | value |', '| --- | --- |');
  for (const key of Object.keys(alert.labels).sort()) {
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

function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** Alert text as one line of Markdown (lib/format/markdown.ts): it can make no link, heading, emphasis or table cell. */
function escapeMarkdown(value: unknown): string {
  return markdown(String(value).replace(/\s*[\r\n\u2028\u2029]+\s*/g, ' '));
}

function cell(value: string): string {
  return escapeMarkdown(value);
}

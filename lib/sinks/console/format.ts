import { labelNames } from '../../alertmanager/labels.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import type { Delivery } from '../../delivery/sink.ts';
import { cutChars } from '../../format/cut.ts';
import { terminal } from '../../format/terminal.ts';
import type { ConsoleDestination } from './config.ts';

/** The pure half of the console sink: a notification as readable lines and as JSON records. */

/** One line of the `file` (and of `format: json`): one alert with the context to find it again. */
export interface ConsoleRecord {
  time: string;
  destination: string;
  idempotencyKey: string;
  groupKey: string;
  receiver: string;
  /** The notification's status; the alert's own is in `alert.status`. */
  status: Notification['status'];
  truncatedAlerts: number;
  part: { index: number; count: number };
  receivedAt: string;
  /** null only for a notification that came with no alerts at all. */
  alert: Alert | null;
}

const SUMMARY_MAX_CHARS = 300;

/**
 * The readable lines for one delivery, newline-terminated:
 * `[FIRING] HighLatency severity=critical  Pod web-1 unhealthy  {instance="a:9100", job="node"}  dest=stdout group={}:{alertname="HighLatency"}`
 * plus a `[TRUNCATED]` line when Alertmanager's max_alerts dropped some, so that is never hidden.
 */
export function formatNotification(delivery: Delivery<ConsoleDestination>): string {
  const { notification, part } = delivery;
  const where = [
    `dest=${oneLine(delivery.destination.name)}`,
    `group=${oneLine(notification.groupKey)}`,
    ...(part.count > 1 ? [`part=${part.index}/${part.count}`] : []),
  ].join(' ');

  const lines = notification.alerts.map((alert) => `${formatAlert(alert)}  ${where}`);
  if (lines.length === 0) {
    lines.push(`[${oneLine(notification.status).toUpperCase()}] (no alerts)  ${where}`);
  }
  const truncated = notification.truncatedAlerts ?? 0;
  if (truncated > 0) {
    const noun = truncated === 1 ? 'alert was' : 'alerts were';
    lines.push(`[TRUNCATED] ${truncated} more ${noun} cut off by Alertmanager (max_alerts)  ${where}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `[FIRING] HighLatency severity=critical  Pod web-1 unhealthy  {instance="a:9100", job="node"}` */
export function formatAlert(alert: Alert): string {
  const { alertname, severity, ...others } = alert.labels ?? {};
  let head = `[${oneLine(alert.status ?? 'unknown').toUpperCase()}] ${alertname ? oneLine(alertname) : '(no alertname)'}`;
  if (severity) head += ` severity=${oneLine(severity)}`;

  const parts = [head];
  const summary = oneLine(alert.annotations?.summary || alert.annotations?.description || '');
  if (summary) parts.push(cutChars(summary, SUMMARY_MAX_CHARS));
  const labels = labelNames(others).map((name) => `${oneLine(name)}=${quoteLabelValue(others[name])}`);
  if (labels.length > 0) parts.push(`{${labels.join(', ')}}`);
  return parts.join('  ');
}

export function consoleRecords(delivery: Delivery<ConsoleDestination>, time: Date): ConsoleRecord[] {
  const { notification } = delivery;
  const base = {
    time: time.toISOString(),
    destination: delivery.destination.name,
    idempotencyKey: delivery.idempotencyKey,
    groupKey: notification.groupKey,
    receiver: notification.receiver,
    status: notification.status,
    truncatedAlerts: notification.truncatedAlerts ?? 0,
    part: delivery.part,
    receivedAt: delivery.receivedAt,
  };
  const alerts = notification.alerts.length > 0 ? notification.alerts : [null];
  return alerts.map((alert) => ({ ...base, alert }));
}

// Labels and annotations are attacker-adjacent text (anyone who can push an alert): a
// newline in one must not forge a second log line, nor an escape sequence recolour a terminal.
// lib/format/terminal.ts removes escape sequences whole, control characters and bidi controls.
function oneLine(value: unknown): string {
  return terminal(String(value)).replace(/\s+/g, ' ').trim();
}

// Prometheus's own escaping, so the output can be pasted into a selector.
function quoteLabelValue(value: unknown): string {
  const escaped = terminal(String(value), { multiline: true })
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n');
  return `"${oneLine(escaped)}"`;
}

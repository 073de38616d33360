import { labelNames, labelValues, sortedPairs } from './labels.ts';
import type { Alert, Notification } from './types.ts';

/**
 * How the sinks name a group and its alerts: the chat sinks' (Slack, Discord, Teams) short
 * title, Alertmanager's own default subject (Opsgenie's message), and what tells one alert of
 * a group from another. Alert content: the caller escapes it for the format it lands in.
 */

/** The group's alertname: from its group labels, its common labels, or its first alert. */
export function alertnameOf(notification: Notification): string {
  return (
    notification.groupLabels.alertname ??
    notification.commonLabels.alertname ??
    notification.alerts[0]?.labels.alertname ??
    'alert'
  );
}

/**
 * `[FIRING:2] HighLatency`: the status with the number of firing alerts, and the alertname.
 *
 * @example defaultTitle(notification) // '[RESOLVED] HighLatency'
 */
export function defaultTitle(notification: Notification): string {
  const firing = notification.alerts.filter((a) => a.status === 'firing').length;
  const status = notification.status === 'firing' ? `FIRING:${firing}` : 'RESOLVED';
  return `[${status}] ${alertnameOf(notification)}`;
}

/**
 * Alertmanager's default subject, template `__subject` of its default.tmpl (the title of its
 * Slack and Teams messages, the message of its Opsgenie alerts): the status (with the number of
 * firing alerts), the group labels' values, and in brackets the values of the other common
 * labels, each in Alertmanager's order, spaced as Alertmanager spaces them (a trailing space
 * when nothing is in brackets). `commonLabels`: the notification's unless given.
 *
 * @example subject(notification) // '[FIRING:2] HighLatency core (prod)'
 */
export function subject(
  notification: Notification,
  commonLabels: Readonly<Record<string, string>> = notification.commonLabels ?? {},
): string {
  const groupLabels = notification.groupLabels ?? {};
  const firing = notification.alerts.filter((a) => a.status === 'firing').length;
  const status = `${String(notification.status).toUpperCase()}${notification.status === 'firing' ? `:${firing}` : ''}`;
  const group = labelValues(groupLabels).join(' ');
  const inGroup = new Set(labelNames(groupLabels));
  const others = Object.fromEntries(Object.entries(commonLabels).filter(([name]) => !inGroup.has(name)));
  const more = Object.keys(commonLabels).length > inGroup.size ? `(${labelValues(others).join(' ')})` : '';
  return `[${status}] ${group} ${more}`;
}

/** The labels that tell the alerts of a group apart (those not common to all of them), in Alertmanager's order. */
export function alertIdentity(alert: Alert, notification: Notification): string {
  const own = sortedPairs(alert.labels)
    .filter(([name, value]) => notification.commonLabels[name] !== value)
    .map(([name, value]) => `${name}=${value}`);
  return own.length > 0 ? own.join(', ') : (alert.labels.alertname ?? alertnameOf(notification));
}

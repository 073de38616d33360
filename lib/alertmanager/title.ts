import type { Alert, Notification } from './types.ts';

/**
 * How the chat sinks (Slack, Discord, Teams) name a group and its alerts: the group's title as
 * Alertmanager's own default templates write it, and what tells one alert of it from another.
 * Alert content: the caller escapes it for the format it lands in.
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

/** The labels that tell the alerts of a group apart (those not common to all of them). */
export function alertIdentity(alert: Alert, notification: Notification): string {
  const own = Object.entries(alert.labels)
    .filter(([name, value]) => notification.commonLabels[name] !== value)
    .map(([name, value]) => `${name}=${value}`);
  return own.length > 0 ? own.join(', ') : (alert.labels.alertname ?? alertnameOf(notification));
}

import type { Alert, Notification } from './types.ts';

/**
 * Links back from a vendor's tool to Alertmanager and the alert's own pages, shared by the
 * sinks that render links (Slack, ilert, PagerDuty...). Only absolute http(s) URLs come out:
 * a vendor rejects (or renders as text) anything else, and a `javascript:` label value must
 * never become a link.
 */

/**
 * Alertmanager's "new silence" page pre-filled with the alert's labels (or, without an alert,
 * the labels every alert of the notification shares), the link Alertmanager's own templates
 * put in messages: `<externalURL>/#/silences/new?filter={a="b",c="d"}`.
 *
 * @example silenceUrl(notification, notification.alerts[0])
 * // http://am:9093/#/silences/new?filter=%7Balertname%3D%22HighLatency%22%2C...%7D
 */
export function silenceUrl(
  notification: Pick<Notification, 'externalURL' | 'commonLabels'>,
  alert?: Pick<Alert, 'labels'>,
): string | undefined {
  const base = httpUrl(notification.externalURL);
  const labels = alert ? alert.labels : notification.commonLabels;
  if (!base || !labels || Object.keys(labels).length === 0) return undefined;
  const matchers = Object.keys(labels)
    .sort()
    .map((name) => `${name}="${escapeLabelValue(labels[name])}"`)
    .join(',');
  // A label may hold a lone surrogate (Alertmanager accepts it); encodeURIComponent throws on one.
  return `${base.replace(/\/+$/, '')}/#/silences/new?filter=${encodeURIComponent(`{${matchers}}`.toWellFormed())}`;
}

/** The alert's runbook: the `runbook_url` annotation (the Prometheus mixins' convention), or `runbook`. */
export function runbookUrl(alert: Pick<Alert, 'annotations'>): string | undefined {
  return httpUrl(alert.annotations?.runbook_url) ?? httpUrl(alert.annotations?.runbook);
}

/** The alert's source (Prometheus's graph of the rule's expression), when it is an absolute http(s) URL. */
export function generatorUrl(alert: Pick<Alert, 'generatorURL'>): string | undefined {
  return httpUrl(alert.generatorURL);
}

/** `value` if it is an absolute http(s) URL, else undefined. */
export function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  try {
    const url = new URL(value.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? value.trim() : undefined;
  } catch {
    return undefined;
  }
}

// Alertmanager's matcher syntax: a double-quoted value escapes backslash, quote and newline.
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The link builders a chat sink's message uses for its alert lines and buttons: Alertmanager's
 * silence page and the alert's runbook. Tests bring their own.
 */
export interface LinkBuilders {
  silenceUrl(
    notification: Pick<Notification, 'externalURL' | 'commonLabels'>,
    alert?: Pick<Alert, 'labels'>,
  ): string | undefined;
  runbookUrl(alert: Pick<Alert, 'annotations'>): string | undefined;
}

export const ALERTMANAGER_LINKS: LinkBuilders = { silenceUrl, runbookUrl };

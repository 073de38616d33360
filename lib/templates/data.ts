import { generatorUrl, runbookUrl, silenceUrl } from '../alertmanager/links.ts';
import type { Alert, Notification } from '../alertmanager/types.ts';
import { safeHttpUrl } from '../format/url.ts';

/**
 * What a template sees: the notification as Alertmanager's webhook sends it (the fields keep
 * their JSON names), this destination's name and sink, where the delivery is in a split
 * notification, and the relay's own links, each checked by safeHttpUrl (null when a URL is
 * not a plain http(s) URL). docs/templates.md lists every field.
 */

/** The relay's links for one alert: its graph (generatorURL), runbook and a silence of its labels. */
export interface AlertLinks {
  graph: string | null;
  runbook: string | null;
  silence: string | null;
}

export interface TemplateAlert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
  links: AlertLinks;
}

export interface TemplateData {
  [field: string]: unknown;
  version: string;
  status: string;
  receiver: string;
  groupKey: string;
  truncatedAlerts: number;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: TemplateAlert[];
  destination: { name: string; sink: string };
  part: { index: number; count: number };
  /** Group links: Alertmanager, a silence of the shared labels, the first firing alert's graph, the runbook. */
  links: {
    alertmanager: string | null;
    silence: string | null;
    graph: string | null;
    runbook: string | null;
  };
  /** Set when a sink renders once per alert (Opsgenie `mode: alert`): that alert. */
  alert?: TemplateAlert;
}

/** Only string values, copied as own properties (a `__proto__` label stays a label). */
function strings(map: unknown): Record<string, string> {
  if (typeof map !== 'object' || map === null) return {};
  return Object.fromEntries(
    Object.entries(map).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

function safe(url: string | undefined): string | null {
  return safeHttpUrl(url) ?? null;
}

/** One alert as a template sees it, with its links (the silence URL needs the notification's externalURL). */
export function templateAlert(alert: Alert, notification: Notification): TemplateAlert {
  return {
    status: String(alert.status),
    labels: strings(alert.labels),
    annotations: strings(alert.annotations),
    startsAt: String(alert.startsAt ?? ''),
    endsAt: String(alert.endsAt ?? ''),
    generatorURL: String(alert.generatorURL ?? ''),
    fingerprint: String(alert.fingerprint ?? ''),
    links: {
      graph: safe(generatorUrl(alert)),
      runbook: safe(runbookUrl(alert)),
      silence: safe(silenceUrl(notification, alert)),
    },
  };
}

/**
 * The data of a template for one destination's share of a notification.
 *
 * @example
 * templateData(notification, { name: 'ops', sink: 'teams' }).alerts[0].links.graph
 */
export function templateData(
  notification: Notification,
  destination: { name: string; sink: string },
  options: { part?: { index: number; count: number }; alert?: Alert } = {},
): TemplateData {
  const alerts = notification.alerts.map((alert) => templateAlert(alert, notification));
  const first = notification.alerts.find((a) => a.status === 'firing') ?? notification.alerts[0];
  const commonAnnotations = strings(notification.commonAnnotations);
  return {
    version: String(notification.version ?? '4'),
    status: String(notification.status),
    receiver: String(notification.receiver ?? ''),
    groupKey: String(notification.groupKey ?? ''),
    truncatedAlerts: Number(notification.truncatedAlerts ?? 0),
    groupLabels: strings(notification.groupLabels),
    commonLabels: strings(notification.commonLabels),
    commonAnnotations,
    externalURL: String(notification.externalURL ?? ''),
    alerts,
    destination: { name: destination.name, sink: destination.sink },
    part: options.part ?? { index: 1, count: 1 },
    links: {
      alertmanager: safe(notification.externalURL),
      silence: safe(silenceUrl(notification)),
      graph: first ? safe(generatorUrl(first)) : null,
      runbook: safe(commonAnnotations.runbook_url) ?? (first ? safe(runbookUrl(first)) : null),
    },
    ...(options.alert ? { alert: templateAlert(options.alert, notification) } : {}),
  };
}

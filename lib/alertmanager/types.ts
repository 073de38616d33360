/** One entry of a notification's `alerts[]` (Alertmanager webhook version 4). */
export interface Alert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
  [extra: string]: unknown;
}

/** One Alertmanager webhook body (version 4). Unknown extra fields are kept as they came. */
export interface Notification {
  version: string;
  groupKey: string;
  truncatedAlerts?: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: Alert[];
  [extra: string]: unknown;
}

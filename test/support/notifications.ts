import { readFileSync } from 'node:fs';
import type { Alert, Notification } from '../../lib/alertmanager/types.ts';

/**
 * Real bodies captured from Alertmanager 0.25 (webhook notifications from a Prometheus 2.42
 * rule group, and ones made through Alertmanager's API), kept in the repo under
 * events/alertmanager/ for tests, `npm start` examples and `sls invoke local`.
 */
export const PAYLOADS_DIR = new URL('../../events/alertmanager/', import.meta.url);

/** A captured body as text, byte for byte what Alertmanager sent. */
export function payloadText(name: string): string {
  return readFileSync(new URL(name, PAYLOADS_DIR), 'utf8');
}

/** A captured body, parsed. */
export function referencePayload(name: string): Notification {
  return JSON.parse(payloadText(name)) as Notification;
}

/** A valid notification of `count` alerts, with labels from `labels(i)`. */
export function makeNotification(options: {
  groupKey?: string;
  count?: number;
  status?: 'firing' | 'resolved';
  labels?: (i: number) => Record<string, string>;
  startsAt?: string;
}): Notification {
  const count = options.count ?? 1;
  const status = options.status ?? 'firing';
  const alerts: Alert[] = Array.from({ length: count }, (_, i) => ({
    status,
    labels: {
      alertname: 'HighLatency',
      instance: `web-${i}:9100`,
      severity: 'critical',
      ...options.labels?.(i),
    },
    annotations: { summary: `Latency high on web-${i}` },
    startsAt: options.startsAt ?? '2026-11-21T11:00:00.000Z',
    endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-11-21T11:30:00.000Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=latency+%3E+1&g0.tab=1',
    fingerprint: `f${i.toString(16).padStart(15, '0')}`,
  }));
  return {
    version: '4',
    groupKey: options.groupKey ?? '{}:{alertname="HighLatency"}',
    truncatedAlerts: 0,
    status,
    receiver: 'relay',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
  };
}

/** POSTs a body to the relay at `url` (its /alertmanager endpoint) with Alertmanager's headers. */
export function postToIngest(
  url: string,
  body: string,
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${url}/alertmanager`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'Alertmanager/0.25.0',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body,
  });
}

/** POSTs a notification the way Alertmanager does, and reads the relay's JSON answer. */
export async function postNotification(
  url: string,
  notification: unknown,
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await postToIngest(
    url,
    typeof notification === 'string' ? notification : JSON.stringify(notification),
    options,
  );
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake ilert with the two inbound APIs the ilert sink uses:
 *
 * - `POST /api/events` (Events API, https://docs.ilert.com/developer-docs/rest-api/api-samples/creating-alerts-through-events):
 *   integrationKey (known to the fake) in the body, eventType ALERT|ACCEPT|RESOLVE, summary
 *   required, priority HIGH|LOW, links[{href,text}], images[{src}], customDetails object.
 *   An ALERT with the alertKey of an open alert is appended to it; RESOLVE closes it.
 * - `POST /api/v1/events/prometheus/<key>` (Prometheus integration): an Alertmanager webhook
 *   body (version 4). ilert documents that it groups per notification group and resolves on a
 *   resolved notification, not how it keys the group: this fake keys by groupKey (an
 *   assumption, see docs/sinks/ilert.md). `ilert_routingkey` is read from the first firing alert.
 *
 * 202 on success (what ilagent treats as delivered); 404 for an unknown key (ilagent: "bad URL,
 * potentially due to bad api key value"); 400 with `{code, message}` for a bad body.
 */

export interface FakeIlertAlert {
  /** 1-based creation order. */
  id: number;
  integrationKey: string;
  via: 'events' | 'prometheus';
  alertKey: string;
  status: 'pending' | 'accepted' | 'resolved';
  summary: string;
  priority?: string;
  routingKey?: string;
  details?: string;
  links: unknown[];
  /** Every accepted event applied to it, in order (ALERT, RESOLVE, firing, resolved...). */
  events: string[];
  /** The last body applied (event or Alertmanager notification). */
  last: Record<string, unknown>;
}

export interface FakeIlert extends FakeServer {
  readonly alerts: readonly FakeIlertAlert[];
  /** The newest alert for an alertKey (events) or groupKey (prometheus). */
  alert(alertKey: string): FakeIlertAlert | undefined;
  accepted(): FakeRequest[];
}

export async function startFakeIlert(options: { integrationKeys: readonly string[] }): Promise<FakeIlert> {
  const known = new Set(options.integrationKeys);
  const alerts: FakeIlertAlert[] = [];
  const newest = (key: string, alertKey: string) =>
    alerts.findLast((a) => a.integrationKey === key && a.alertKey === alertKey);

  const server = await startFakeServer({
    handle: (request) => validate(request, known),
    fallback: (request) => (request.path === '/api/events' ? applyEvent(request) : applyPrometheus(request)),
  });

  function open(
    key: string,
    via: FakeIlertAlert['via'],
    alertKey: string,
    fields: Pick<FakeIlertAlert, 'summary' | 'priority' | 'routingKey' | 'details' | 'links'>,
    body: Record<string, unknown>,
    event: string,
  ): FakeIlertAlert {
    const current = newest(key, alertKey);
    if (current && current.status !== 'resolved') {
      current.events.push(event);
      current.last = body;
      return current;
    }
    const created: FakeIlertAlert = {
      id: alerts.length + 1,
      integrationKey: key,
      via,
      alertKey,
      status: 'pending',
      ...fields,
      events: [event],
      last: body,
    };
    alerts.push(created);
    return created;
  }

  function close(
    key: string,
    alertKey: string,
    body: Record<string, unknown>,
    event: string,
    to: 'accepted' | 'resolved',
  ) {
    const current = newest(key, alertKey);
    if (!current || current.status === 'resolved') return undefined;
    current.status = to;
    current.events.push(event);
    current.last = body;
    return current;
  }

  function applyEvent(request: FakeRequest): FakeAnswer {
    const event = request.body as Record<string, unknown>;
    const key = event.integrationKey as string;
    const alertKey = (event.alertKey as string | undefined) ?? `generated-${request.seq}`;
    const type = event.eventType as string;
    const alert =
      type === 'ALERT'
        ? open(
            key,
            'events',
            alertKey,
            {
              summary: String(event.summary),
              priority: event.priority as string | undefined,
              routingKey: event.routingKey as string | undefined,
              details: event.details as string | undefined,
              links: (event.links as unknown[]) ?? [],
            },
            event,
            'ALERT',
          )
        : close(key, alertKey, event, type, type === 'RESOLVE' ? 'resolved' : 'accepted');
    return {
      status: 202,
      body: {
        alertKey,
        alertUrl: alert ? `https://fake.ilert.local/alerts/${alert.id}` : null,
        responseCode: alert ? 'EVENT_PROCESSED' : 'NO_OPEN_ALERT',
      },
    };
  }

  function applyPrometheus(request: FakeRequest): FakeAnswer {
    const key = decodeURIComponent(request.path.slice(PROMETHEUS_PREFIX.length));
    const body = request.body as Notification;
    if (body.status === 'resolved') {
      close(key, body.groupKey, body as unknown as Record<string, unknown>, 'resolved', 'resolved');
    } else {
      const firing = body.alerts.filter((a) => a.status === 'firing');
      const first = firing[0] ?? body.alerts[0];
      const url = first.labels.url;
      open(
        key,
        'prometheus',
        body.groupKey,
        {
          summary: `${body.commonLabels?.alertname ?? first.labels.alertname ?? 'alert'} (${firing.length} firing)`,
          routingKey: first.labels.ilert_routingkey,
          links: url ? [{ href: url, text: first.labels.urlLabel ?? url }] : [],
        },
        body as unknown as Record<string, unknown>,
        'firing',
      );
    }
    return { status: 202, body: {} };
  }

  return Object.assign(server, {
    alerts,
    alert: (alertKey: string) => alerts.findLast((a) => a.alertKey === alertKey),
    accepted: () => server.requests.filter((r) => r.outcome === 202),
  });
}

const PROMETHEUS_PREFIX = '/api/v1/events/prometheus/';

interface Notification {
  version: string;
  groupKey: string;
  status: string;
  commonLabels?: Record<string, string>;
  alerts: { status: string; labels: Record<string, string> }[];
}

function bad(message: string): FakeAnswer {
  return { status: 400, body: { code: 'BAD_REQUEST', message } };
}

function validate(request: FakeRequest, known: ReadonlySet<string>): FakeAnswer | undefined {
  if (request.method !== 'POST')
    return { status: 405, body: { code: 'METHOD_NOT_ALLOWED', message: 'POST only' } };
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    return { status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'application/json expected' } };
  }
  if (request.path === '/api/events') return validateEvent(request.body, known);
  if (request.path.startsWith(PROMETHEUS_PREFIX)) {
    const key = decodeURIComponent(request.path.slice(PROMETHEUS_PREFIX.length));
    if (!known.has(key))
      return { status: 404, body: { code: 'NOT_FOUND', message: 'alert source not found' } };
    return validateNotification(request.body);
  }
  return { status: 404, body: { code: 'NOT_FOUND', message: 'no such endpoint' } };
}

function validateEvent(body: unknown, known: ReadonlySet<string>): FakeAnswer | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return bad('body must be a JSON object');
  const event = body as Record<string, unknown>;
  if (typeof event.integrationKey !== 'string' || !known.has(event.integrationKey)) {
    return { status: 404, body: { code: 'NOT_FOUND', message: 'alert source not found' } };
  }
  if (!['ALERT', 'ACCEPT', 'RESOLVE'].includes(event.eventType as string)) {
    return bad('eventType must be ALERT, ACCEPT or RESOLVE');
  }
  if (typeof event.summary !== 'string' || event.summary.trim() === '') return bad('summary is required');
  if (event.alertKey !== undefined && typeof event.alertKey !== 'string')
    return bad('alertKey must be a string');
  if (event.eventType !== 'ALERT' && event.alertKey === undefined)
    return bad('alertKey is required to ACCEPT or RESOLVE');
  if (event.details !== undefined && typeof event.details !== 'string')
    return bad('details must be a string');
  if (event.priority !== undefined && !['HIGH', 'LOW'].includes(event.priority as string)) {
    return bad('priority must be HIGH or LOW');
  }
  if (event.routingKey !== undefined && typeof event.routingKey !== 'string')
    return bad('routingKey must be a string');
  for (const link of Array.isArray(event.links) ? event.links : event.links === undefined ? [] : [null]) {
    if (typeof (link as { href?: unknown } | null)?.href !== 'string') return bad('links[].href is required');
  }
  for (const image of Array.isArray(event.images) ? event.images : event.images === undefined ? [] : [null]) {
    if (typeof (image as { src?: unknown } | null)?.src !== 'string') return bad('images[].src is required');
  }
  if (
    event.customDetails !== undefined &&
    (typeof event.customDetails !== 'object' ||
      event.customDetails === null ||
      Array.isArray(event.customDetails))
  ) {
    return bad('customDetails must be an object');
  }
  return undefined;
}

function validateNotification(body: unknown): FakeAnswer | undefined {
  const n = body as Partial<Notification> | undefined;
  if (!n || typeof n !== 'object') return bad('body must be an Alertmanager webhook payload');
  if (n.version !== '4') return bad('unsupported Alertmanager webhook version');
  if (typeof n.groupKey !== 'string' || n.groupKey === '') return bad('groupKey is required');
  if (n.status !== 'firing' && n.status !== 'resolved') return bad('status must be firing or resolved');
  if (!Array.isArray(n.alerts) || n.alerts.length === 0) return bad('alerts must be a non-empty array');
  for (const alert of n.alerts) {
    if (
      !alert ||
      (alert.status !== 'firing' && alert.status !== 'resolved') ||
      typeof alert.labels !== 'object'
    ) {
      return bad('each alert needs a status and labels');
    }
  }
  return undefined;
}

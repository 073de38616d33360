import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake PagerDuty Events API v2 (`POST /v2/enqueue`) that enforces the documented contract
 * (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/, .../overview/):
 * routing_key of 32 characters in the body and known to the fake, event_action
 * trigger|acknowledge|resolve, dedup_key <= 255, on trigger payload.summary (<= 1024),
 * payload.source and payload.severity (critical|error|warning|info), images src https, body
 * <= 512 KB. A violation gets PagerDuty's 400 `{status:"invalid event", message, errors[]}`.
 *
 * It records the vendor-side effect the way PagerDuty applies events: a trigger opens an
 * incident for its dedup_key or appends to the open one; a resolve closes the open one (and
 * is dropped when none is open); a trigger after a resolve opens a new incident.
 */

export const PAGERDUTY_MAX_BYTES = 512_000;

export interface FakeIncident {
  /** 1-based creation order. */
  id: number;
  routingKey: string;
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  /** Trigger events applied to it (the first opened it). */
  triggers: number;
  summary: string;
  severity: string;
  /** The payload of the last trigger. */
  payload: Record<string, unknown>;
  links: unknown[];
  /** Every accepted event's action, in order. */
  log: string[];
}

export interface FakePagerDuty extends FakeServer {
  /** Every incident ever opened, in creation order. */
  readonly incidents: readonly FakeIncident[];
  /** The newest incident for a dedup_key. */
  incident(dedupKey: string): FakeIncident | undefined;
  /** Accepted events (answered 202), as sent. */
  accepted(): Record<string, unknown>[];
  /**
   * PagerDuty's throttle (about 120 events/minute per routing key): once `after` more valid
   * events have been accepted, answer the next `times` valid events with 429 (not ingested).
   */
  rateLimit(options: { after: number; times: number }): void;
}

export async function startFakePagerDuty(options: {
  routingKeys: readonly string[];
}): Promise<FakePagerDuty> {
  const known = new Set(options.routingKeys);
  const incidents: FakeIncident[] = [];
  const newest = (routingKey: string, dedupKey: string) =>
    incidents.findLast((i) => i.routingKey === routingKey && i.dedupKey === dedupKey);

  let throttle: { after: number; times: number } | undefined;
  const server = await startFakeServer({
    handle: (request) => {
      const invalidAnswer = validate(request, known);
      if (invalidAnswer || !throttle) return invalidAnswer;
      if (throttle.after > 0) {
        throttle.after--;
        return undefined;
      }
      if (--throttle.times <= 0) throttle = undefined;
      return {
        status: 429,
        body: { status: 'throttle event', message: 'Requests for this service are arriving too quickly' },
      };
    },
    fallback: (request) => apply(request),
  });

  function apply(request: FakeRequest): FakeAnswer {
    const event = request.body as Record<string, unknown>;
    const routingKey = event.routing_key as string;
    const action = event.event_action as string;
    const dedupKey = (event.dedup_key as string | undefined) ?? `generated-${request.seq}`;
    const payload = (event.payload ?? {}) as Record<string, unknown>;
    const open = newest(routingKey, dedupKey);
    const isOpen = open !== undefined && open.status !== 'resolved';
    if (action === 'trigger') {
      if (isOpen) {
        open.triggers++;
        open.summary = String(payload.summary);
        open.severity = String(payload.severity);
        open.payload = payload;
        open.links = (event.links as unknown[]) ?? [];
        open.log.push('trigger');
      } else {
        incidents.push({
          id: incidents.length + 1,
          routingKey,
          dedupKey,
          status: 'triggered',
          triggers: 1,
          summary: String(payload.summary),
          severity: String(payload.severity),
          payload,
          links: (event.links as unknown[]) ?? [],
          log: ['trigger'],
        });
      }
    } else if (isOpen) {
      open.status = action === 'resolve' ? 'resolved' : 'acknowledged';
      open.log.push(action);
    }
    // An acknowledge or resolve without an open incident is accepted and dropped, as documented.
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: dedupKey } };
  }

  return Object.assign(server, {
    incidents,
    incident: (dedupKey: string) => incidents.findLast((i) => i.dedupKey === dedupKey),
    rateLimit: (options: { after: number; times: number }) => {
      throttle = { ...options };
    },
    accepted: () =>
      server.requests.filter((r) => r.outcome === 202).map((r) => r.body as Record<string, unknown>),
  });
}

function invalid(errors: string[]): FakeAnswer {
  return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } };
}

function validate(request: FakeRequest, known: ReadonlySet<string>): FakeAnswer | undefined {
  if (request.method !== 'POST' || request.path !== '/v2/enqueue') return { status: 404, body: 'not found' };
  if (request.rawBody.byteLength > PAGERDUTY_MAX_BYTES) {
    return invalid([`Event exceeds the maximum size of ${PAGERDUTY_MAX_BYTES} bytes`]);
  }
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    return invalid(['Content-Type must be application/json']);
  }
  const event = request.body as Record<string, unknown> | undefined;
  if (!event || typeof event !== 'object' || Array.isArray(event))
    return invalid(['Event must be a JSON object']);
  const errors: string[] = [];
  const key = event.routing_key;
  if (typeof key !== 'string' || key.length !== 32) {
    errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
  } else if (!known.has(key)) {
    errors.push("'routing_key' is not a known integration key");
  }
  const action = event.event_action;
  if (action !== 'trigger' && action !== 'acknowledge' && action !== 'resolve') {
    errors.push(
      "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')",
    );
  }
  if (
    event.dedup_key !== undefined &&
    (typeof event.dedup_key !== 'string' || event.dedup_key.length > 255)
  ) {
    errors.push("'dedup_key' must be a string of at most 255 characters");
  }
  if (action !== 'trigger' && event.dedup_key === undefined)
    errors.push("'dedup_key' is required for acknowledge and resolve");
  if (action === 'trigger') errors.push(...payloadErrors(event.payload));
  for (const link of asArray(event.links)) {
    if (typeof (link as { href?: unknown })?.href !== 'string') errors.push("'links[].href' is required");
  }
  for (const image of asArray(event.images)) {
    const src = (image as { src?: unknown })?.src;
    if (typeof src !== 'string' || !src.startsWith('https://'))
      errors.push("'images[].src' must be an https URL");
  }
  return errors.length > 0 ? invalid(errors) : undefined;
}

function payloadErrors(payload: unknown): string[] {
  if (!payload || typeof payload !== 'object') return ["'payload' is required for trigger events"];
  const p = payload as Record<string, unknown>;
  const errors: string[] = [];
  if (typeof p.summary !== 'string' || p.summary.length === 0)
    errors.push("'payload.summary' is missing or blank");
  else if (Array.from(p.summary).length > 1024)
    errors.push("'payload.summary' is longer than 1024 characters");
  if (typeof p.source !== 'string' || p.source.length === 0)
    errors.push("'payload.source' is missing or blank");
  if (!['critical', 'error', 'warning', 'info'].includes(p.severity as string)) {
    errors.push("'payload.severity' is invalid (must be one of critical, error, warning, info)");
  }
  for (const field of ['component', 'group', 'class', 'timestamp'] as const) {
    if (p[field] !== undefined && typeof p[field] !== 'string')
      errors.push(`'payload.${field}' must be a string`);
  }
  if (p.timestamp !== undefined && Number.isNaN(Date.parse(p.timestamp as string))) {
    errors.push("'payload.timestamp' is not an ISO 8601 timestamp");
  }
  if (p.custom_details !== undefined && (typeof p.custom_details !== 'object' || p.custom_details === null)) {
    errors.push("'payload.custom_details' must be an object");
  }
  return errors;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

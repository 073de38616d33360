import { DEFAULT_RETRY_AFTER } from '@sentry/core';
import type { Alert } from '../../alertmanager/types.ts';
import { PermanentError, RateLimitedError, RetryableError } from '../../delivery/errors.ts';
import { statusError } from '../../delivery/http.ts';
import type { Delivery } from '../../delivery/sink.ts';
import { renderDeliveryTemplates } from '../../templates/destination.ts';
import { SENTRY_TEMPLATES, type SentryDestination } from './config.ts';
import {
  buildEnvelope,
  buildEvent,
  type Dsn,
  defaultApiUrl,
  eventIdFor,
  eventRateLimitSeconds,
  fingerprintQuery,
  sentryAuthHeader,
} from './envelope.ts';

/**
 * The Sentry sink's two calls, one per alert: a firing alert is an event sent to the DSN's
 * ingest endpoint, a resolved one resolves its issue through the Web API. ./sentry.ts opens
 * the destination (DSN, token) and runs one of them per alert, once (forEachAlertOnce).
 */

export const CLIENT = { name: 'alertmanager-relay', version: '0.1.0' } as const;
const USER_AGENT = `${CLIENT.name}/${CLIENT.version}`;

/** A 429 that names no wait: what Sentry's SDKs assume, 60 s (https://develop.sentry.dev/sdk/rate-limiting/). */
export const DEFAULT_RATE_LIMIT_SECONDS = DEFAULT_RETRY_AFTER / 1000;

/**
 * Sentry ingests asynchronously: an event it accepted can take seconds to become searchable.
 * A resolve that matches nothing, for an alert whose firing event we had accepted less than
 * RESOLVE_GRACE_SECONDS ago, is retried after these delays, then dead-lettered with the reason.
 */
export const RESOLVE_RETRY_SECONDS = [5, 15, 45] as const;
export const RESOLVE_GRACE_SECONDS = 600;

/** How long the sink remembers that it sent a firing event for an alert (for the grace above). */
const FIRED_TTL_SECONDS = 30 * 24 * 3600;

interface FiredRecord {
  eventId: string;
  acceptedAt: string;
}

/** One delivery's Sentry: the destination opened, and what its calls share. */
export interface SentryCall {
  delivery: Delivery<SentryDestination>;
  dsn: Dsn;
  /** The Web API token, when resolves are on. */
  token?: string;
  /** Everything secret that an error text must never show. */
  redactions: string[];
  request(url: string, init: RequestInit, label: string): Promise<Response>;
  now: () => number;
  /**
   * Per ingest endpoint, shared by the sink's deliveries: until when Sentry told us to send no
   * events (429, or a 200 that carried X-Sentry-Rate-Limits). Sending anyway would only earn more 429s.
   */
  rateLimitedUntil: Map<string, number>;
}

/** Sends the firing `alert` as one event to the DSN's ingest endpoint (its event id derived from the content key). */
export async function sendEvent(call: SentryCall, alert: Alert): Promise<void> {
  const { delivery, dsn, redactions, request, now, rateLimitedUntil } = call;
  const { destination, logger } = delivery;
  const label = `Sentry ingest ${dsn.host}`;
  const limitedFor = secondsUntil(rateLimitedUntil.get(dsn.envelopeUrl), now());
  if (limitedFor > 0) {
    // Sentry's own limit, still running: a wait like its 429, not a failed attempt.
    throw new RateLimitedError(`${label} rate-limits events for another ${limitedFor} s; not sending`, {
      statusCode: 429,
      retryAfterSeconds: limitedFor,
    });
  }
  const eventId = eventIdFor(delivery.idempotencyKey, alert.fingerprint);
  const { values, notes } = renderDeliveryTemplates(delivery, SENTRY_TEMPLATES, { now: now(), alert });
  const event = buildEvent(
    alert,
    delivery.notification,
    { eventId, receivedAt: delivery.receivedAt, part: delivery.part },
    {
      levels: destination.levels,
      severityLabel: destination.severityLabel ?? 'severity',
      environmentLabel: destination.environmentLabel ?? 'environment',
      releaseLabel: destination.releaseLabel ?? 'release',
      client: CLIENT,
    },
    { message: values.message, notes },
  );
  const started = performance.now();
  const response = await request(
    dsn.envelopeUrl,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/x-sentry-envelope',
        'user-agent': USER_AGENT,
        'x-sentry-auth': sentryAuthHeader(dsn, USER_AGENT),
      },
      body: buildEnvelope(event, new Date(now())),
    },
    label,
  );
  const status = response.status;
  const limitSeconds = eventRateLimitSeconds(response.headers.get('x-sentry-rate-limits'));
  if (status >= 200 && status < 300) {
    await response.body?.cancel().catch(() => undefined);
    // A 200 that carries a limit: this event got in, the next ones would not.
    if (limitSeconds !== undefined && limitSeconds > 0)
      rateLimitedUntil.set(dsn.envelopeUrl, now() + limitSeconds * 1000);
    await delivery.state.put(
      firedKey(destination.name, alert.fingerprint),
      { eventId, acceptedAt: new Date(now()).toISOString() } satisfies FiredRecord,
      { ttlSeconds: FIRED_TTL_SECONDS },
    );
    logger.info('sentry event accepted', {
      host: dsn.host,
      status,
      eventId,
      fingerprint: alert.fingerprint,
      level: event.level,
      durationMs: Math.round(performance.now() - started),
    });
    return;
  }
  const error = await statusError(response, {
    label,
    redactions,
    now: now(),
    redirectHint: `use the DSN as Sentry shows it (secret "${destination.dsnSecret}")`,
    // https://develop.sentry.dev/sdk/rate-limiting/ : X-Sentry-Rate-Limits, then Retry-After
    // (read by lib/delivery/retry-after.ts, which, unlike @sentry/core's
    // parseRetryAfterHeader, takes no Date.parse guess at a malformed value), then 60 s.
    rateLimit: {
      minSeconds: 0,
      defaultSeconds: DEFAULT_RATE_LIMIT_SECONDS,
      vendorSeconds: limitSeconds,
    },
    permanentHint: (code) =>
      code === 413
        ? ": the event is over Sentry's size limit"
        : code === 401 || code === 403
          ? ": the DSN's key was refused (revoked or disabled?)"
          : undefined,
  });
  // Hold back the next events for as long as this 429 asked.
  if (status === 429 && error instanceof RetryableError)
    rateLimitedUntil.set(dsn.envelopeUrl, now() + (error.retryAfterSeconds ?? 0) * 1000);
  throw error;
}

/** Resolves the issue of the resolved `alert` through the Web API (sending an event would reopen it). */
export async function resolveIssue(call: SentryCall, alert: Alert): Promise<void> {
  const { delivery, dsn, token, redactions, request, now } = call;
  const { destination, logger } = delivery;
  if (!token || !destination.org) {
    logger.info('sentry resolve skipped: resolves are off', { fingerprint: alert.fingerprint });
    return;
  }
  const apiUrl = (destination.apiUrl ?? defaultApiUrl(dsn)).replace(/\/+$/, '');
  const host = new URL(apiUrl).host;
  const label = `Sentry API ${host}`;
  // The org-level bulk mutate is public and documented with `query`; its PUT searches
  // without a date window, so an alert that fired weeks ago is still found. `project`
  // takes numeric ids, and the DSN's is the project the events went to. (The project
  // endpoint takes a slug, but its PUT is experimental and `query` is undocumented there.)
  // https://docs.sentry.io/api/events/bulk-mutate-an-organizations-issues/
  const query = new URLSearchParams({
    project: dsn.projectId,
    query: fingerprintQuery(alert.fingerprint),
  });
  const url = `${apiUrl}/api/0/organizations/${encodeURIComponent(destination.org)}/issues/?${query}`;
  const started = performance.now();
  const response = await request(
    url,
    {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
      },
      body: JSON.stringify({ status: 'resolved' }),
    },
    label,
  );
  const status = response.status;
  if (status === 200) {
    await response.body?.cancel().catch(() => undefined);
    await delivery.state.delete(missKey(destination.name, delivery.idempotencyKey, alert.fingerprint));
    logger.info('sentry issue resolved', {
      host,
      fingerprint: alert.fingerprint,
      durationMs: Math.round(performance.now() - started),
    });
    return;
  }
  if (status === 204) return noIssueMatched(call, alert, label);
  throw await statusError(response, {
    label,
    redactions: [...redactions, url],
    now: now(),
    redirectHint: 'set apiUrl to the final URL',
    rateLimit: { minSeconds: 0, defaultSeconds: DEFAULT_RATE_LIMIT_SECONDS },
    permanentHint: (code) =>
      code === 401 || code === 403
        ? `: the auth token in "${destination.authTokenSecret}" was refused or lacks event:write for org ${destination.org}`
        : code === 404
          ? `: no organization "${destination.org}" there`
          : undefined,
  });
}

/** A resolve that found no issue: wait for Sentry's indexing while the firing event is recent, else say so. */
async function noIssueMatched(call: SentryCall, alert: Alert, label: string): Promise<void> {
  const { delivery, now } = call;
  const { destination, logger } = delivery;
  const fired = await delivery.state.get<FiredRecord>(firedKey(destination.name, alert.fingerprint));
  const ageSeconds = fired
    ? Math.max(0, Math.round((now() - Date.parse(fired.acceptedAt)) / 1000))
    : undefined;
  if (!fired || ageSeconds === undefined || ageSeconds >= RESOLVE_GRACE_SECONDS) {
    // Nothing of ours to wait for: the alert fired before this relay sent it, or the
    // issue was deleted, merged or discarded in Sentry since.
    logger.warn('sentry resolve matched no issue; nothing to resolve', {
      fingerprint: alert.fingerprint,
      firedEventId: fired?.eventId,
      firedSecondsAgo: ageSeconds,
    });
    return;
  }
  const key = missKey(destination.name, delivery.idempotencyKey, alert.fingerprint);
  const misses = ((await delivery.state.get<{ misses: number }>(key))?.misses ?? 0) + 1;
  await delivery.state.put(key, { misses }, { ttlSeconds: 24 * 3600 });
  const what = `${label} found no issue tagged ${fingerprintQuery(alert.fingerprint)} although its firing event ${fired.eventId} was accepted ${ageSeconds} s ago`;
  if (misses <= RESOLVE_RETRY_SECONDS.length) {
    const wait = RESOLVE_RETRY_SECONDS[misses - 1];
    throw new RetryableError(`${what}; Sentry indexes events asynchronously, retrying in ${wait} s`, {
      retryAfterSeconds: wait,
    });
  }
  throw new PermanentError(
    `${what}, after ${misses} tries: gave up (the event may have been dropped by an inbound filter or quota); resolve the issue in Sentry or redrive this message`,
  );
}

function secondsUntil(until: number | undefined, now: number): number {
  if (until === undefined) return 0;
  return Math.max(0, Math.ceil((until - now) / 1000));
}

function firedKey(destination: string, fingerprint: string): string {
  return `sentry#${destination}#fired#${fingerprint}`;
}

function missKey(destination: string, idempotencyKey: string, fingerprint: string): string {
  return `sentry#${destination}#resolve-miss#${idempotencyKey}#${fingerprint}`;
}

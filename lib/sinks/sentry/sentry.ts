import type { Alert } from '../../alertmanager/types.ts';
import type { DestinationConfig } from '../../config/types.ts';
import { PermanentError, RetryableError } from '../../delivery/errors.ts';
import {
  answered as answeredStatus,
  isRetryableStatus,
  readBodySnippet,
  vendorFetch,
} from '../../delivery/http.ts';
import { forEachAlertOnce } from '../../delivery/journal.ts';
import { parseRetryAfter } from '../../delivery/retry-after.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import {
  buildEnvelope,
  buildEvent,
  type Dsn,
  defaultApiUrl,
  eventIdFor,
  eventRateLimitSeconds,
  fingerprintQuery,
  parseDsn,
  SENTRY_LEVELS,
  type SentryLevel,
  sentryAuthHeader,
} from './envelope.ts';

/**
 * Sentry sink: one Sentry event (envelope to the DSN's ingest endpoint) per firing alert,
 * grouped into one issue per alert by its fingerprint; a resolved alert resolves that issue
 * through the Web API instead of sending an event (an event would reopen it).
 */
export interface SentryDestination extends DestinationConfig {
  /** NAME of the secret holding the project's DSN. */
  dsnSecret: string;
  /** NAME of the secret holding an auth token with event:write; without it resolves are off. */
  authTokenSecret?: string;
  /** Organization slug, for the Web API. Required with authTokenSecret. */
  org?: string;
  /** Project slug, for people reading logs; the resolve is scoped by the DSN's project id. */
  project?: string;
  /** Web API base (`https://de.sentry.io`, a self-hosted URL). Default: derived from the DSN. */
  apiUrl?: string;
  /** severity label value -> Sentry level, merged over the defaults. */
  levels?: Record<string, SentryLevel>;
  /** Label read for the level. Default `severity`. */
  severityLabel?: string;
  /** Label whose value becomes the event's environment. Default `environment`. */
  environmentLabel?: string;
  /** Label whose value becomes the event's release. Default `release`. */
  releaseLabel?: string;
  /** Per request. Default 10. */
  timeoutSeconds?: number;
}

export interface SentrySinkOptions {
  /** Defaults to the global fetch, looked up at call time. */
  fetch?: typeof globalThis.fetch;
  /** Clock in milliseconds (rate-limit windows, the resolve grace period). */
  now?: () => number;
}

export const DEFAULT_TIMEOUT_SECONDS = 10;
export const CLIENT = { name: 'alertmanager-relay', version: '0.1.0' } as const;
const USER_AGENT = `${CLIENT.name}/${CLIENT.version}`;

/** A 429 that names no wait: what Sentry's SDKs assume (https://develop.sentry.dev/sdk/rate-limiting/). */
export const DEFAULT_RATE_LIMIT_SECONDS = 60;

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

const LEVEL_SCHEMA = { type: 'string', enum: SENTRY_LEVELS } as const;
const LABEL_NAME = { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' } as const;
const SLUG = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' } as const;

const configSchema = {
  type: 'object',
  properties: {
    dsnSecret: { type: 'string', minLength: 1, description: 'NAME of the secret holding the DSN' },
    authTokenSecret: {
      type: 'string',
      minLength: 1,
      description: 'NAME of the secret holding an auth token with event:write (enables resolving)',
    },
    org: { ...SLUG, description: 'organization slug' },
    project: { ...SLUG, description: 'project slug' },
    apiUrl: {
      type: 'string',
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      description: 'Web API base URL, e.g. https://de.sentry.io',
    },
    levels: {
      type: 'object',
      propertyNames: { type: 'string', minLength: 1 },
      additionalProperties: LEVEL_SCHEMA,
    },
    severityLabel: LABEL_NAME,
    environmentLabel: LABEL_NAME,
    releaseLabel: LABEL_NAME,
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 60, default: DEFAULT_TIMEOUT_SECONDS },
  },
  required: ['dsnSecret'],
  dependentRequired: { authTokenSecret: ['org'] },
  additionalProperties: false,
} as const;

export function createSentrySink(options: SentrySinkOptions = {}): Sink<SentryDestination> {
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;
  // Per ingest endpoint: until when Sentry told us to send no events (429, or a 200 that
  // carried X-Sentry-Rate-Limits). Sending anyway would only earn more 429s.
  const rateLimitedUntil = new Map<string, number>();
  const warnedResolvesOff = new Set<string>();

  return {
    name: 'sentry',
    configSchema,

    describe(destination) {
      if (!destination.authTokenSecret) {
        return [
          'resolves are off (no authTokenSecret): resolved alerts leave their Sentry issues open; no event is sent for them',
        ];
      }
      const where = destination.project ? `${destination.org}/${destination.project}` : destination.org;
      return [
        `resolved alerts resolve their Sentry issues in ${where} through ${destination.apiUrl ?? 'the DSN’s API host'}`,
      ];
    },

    async deliver(delivery: Delivery<SentryDestination>): Promise<void> {
      const { destination, logger } = delivery;
      const timeoutSeconds = destination.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
      const rawDsn = await delivery.secrets.get(destination.dsnSecret);
      let dsn: Dsn;
      try {
        dsn = parseDsn(rawDsn);
      } catch (error) {
        throw new PermanentError(
          `Sentry DSN in secret "${destination.dsnSecret}": ${(error as Error).message}`,
        );
      }
      const token = destination.authTokenSecret
        ? (await delivery.secrets.get(destination.authTokenSecret)).trim()
        : undefined;
      const redactions = [rawDsn.trim(), dsn.publicKey, dsn.secretKey ?? '', token ?? ''];
      const resolvedCount = delivery.notification.alerts.filter((a) => a.status === 'resolved').length;
      if (!token && resolvedCount > 0 && !warnedResolvesOff.has(destination.name)) {
        warnedResolvesOff.add(destination.name);
        logger.warn('sentry resolves are off (no authTokenSecret): resolved alerts leave their issues open', {
          resolvedAlerts: resolvedCount,
        });
      }

      const request = (url: string, init: RequestInit, label: string): Promise<Response> =>
        vendorFetch(url, init, { label, timeoutSeconds, fetch: doFetch });

      const sendEvent = async (alert: Alert): Promise<void> => {
        const label = `Sentry ingest ${dsn.host}`;
        const limitedFor = secondsUntil(rateLimitedUntil.get(dsn.envelopeUrl));
        if (limitedFor > 0) {
          throw new RetryableError(`${label} rate-limits events for another ${limitedFor} s; not sending`, {
            statusCode: 429,
            retryAfterSeconds: limitedFor,
          });
        }
        const eventId = eventIdFor(delivery.idempotencyKey, alert.fingerprint);
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
        const answered = answeredStatus(label, status);
        const snippet = await readBodySnippet(response, redactions);
        const quoted = snippet ? `: ${snippet}` : '';
        if (status === 429) {
          const wait =
            limitSeconds ??
            parseRetryAfter(response.headers.get('retry-after'), now()) ??
            DEFAULT_RATE_LIMIT_SECONDS;
          rateLimitedUntil.set(dsn.envelopeUrl, now() + wait * 1000);
          throw new RetryableError(`${answered} (retry after ${wait} s)${quoted}`, {
            statusCode: status,
            retryAfterSeconds: wait,
          });
        }
        if (status === 413) {
          throw new PermanentError(`${answered}: the event is over Sentry's size limit${quoted}`, {
            statusCode: status,
          });
        }
        if (status === 401 || status === 403) {
          throw new PermanentError(`${answered}: the DSN's key was refused (revoked or disabled?)${quoted}`, {
            statusCode: status,
          });
        }
        if (status !== 400 && isRetryableStatus(status)) {
          const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), now());
          throw new RetryableError(`${answered}${quoted}`, { statusCode: status, retryAfterSeconds });
        }
        throw new PermanentError(`${answered}${quoted}`, { statusCode: status });
      };

      const resolveIssue = async (alert: Alert): Promise<void> => {
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
        if (status === 204) return noIssueMatched(alert, label);
        const answered = answeredStatus(label, status);
        const snippet = await readBodySnippet(response, [...redactions, url]);
        const quoted = snippet ? `: ${snippet}` : '';
        if (status === 429) {
          const wait =
            parseRetryAfter(response.headers.get('retry-after'), now()) ?? DEFAULT_RATE_LIMIT_SECONDS;
          throw new RetryableError(`${answered} (retry after ${wait} s)${quoted}`, {
            statusCode: status,
            retryAfterSeconds: wait,
          });
        }
        if (status === 401 || status === 403) {
          throw new PermanentError(
            `${answered}: the auth token in "${destination.authTokenSecret}" was refused or lacks event:write for org ${destination.org}${quoted}`,
            { statusCode: status },
          );
        }
        if (status === 404) {
          throw new PermanentError(`${answered}: no organization "${destination.org}" there${quoted}`, {
            statusCode: status,
          });
        }
        if (isRetryableStatus(status)) {
          const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), now());
          throw new RetryableError(`${answered}${quoted}`, { statusCode: status, retryAfterSeconds });
        }
        throw new PermanentError(`${answered}${quoted}`, { statusCode: status });
      };

      const noIssueMatched = async (alert: Alert, label: string): Promise<void> => {
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
      };

      const { sent, skipped } = await forEachAlertOnce(delivery, (alert) =>
        alert.status === 'resolved' ? resolveIssue(alert) : sendEvent(alert),
      );
      if (skipped > 0) logger.info('sentry alerts already done in an earlier attempt', { sent, skipped });
    },
  };

  function secondsUntil(until: number | undefined): number {
    if (until === undefined) return 0;
    return Math.max(0, Math.ceil((until - now()) / 1000));
  }
}

export const sentrySink: Sink<SentryDestination> = createSentrySink();

function firedKey(destination: string, fingerprint: string): string {
  return `sentry#${destination}#fired#${fingerprint}`;
}

function missKey(destination: string, idempotencyKey: string, fingerprint: string): string {
  return `sentry#${destination}#resolve-miss#${idempotencyKey}#${fingerprint}`;
}

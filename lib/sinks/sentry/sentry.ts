import { PermanentError } from '../../delivery/errors.ts';
import { vendorFetch } from '../../delivery/http.ts';
import { forEachAlertOnce } from '../../delivery/journal.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import { resolveIssue, type SentryCall, sendEvent } from './calls.ts';
import {
  DEFAULT_TIMEOUT_SECONDS,
  SENTRY_TEMPLATES,
  type SentryDestination,
  sentryConfigSchema,
} from './config.ts';
import { type Dsn, parseDsn } from './envelope.ts';

export {
  CLIENT,
  DEFAULT_RATE_LIMIT_SECONDS,
  RESOLVE_GRACE_SECONDS,
  RESOLVE_RETRY_SECONDS,
} from './calls.ts';
export {
  DEFAULT_TIMEOUT_SECONDS,
  SENTRY_LEVELS,
  SENTRY_TEMPLATES,
  type SentryDestination,
  type SentryLevel,
  sentryConfigSchema,
} from './config.ts';

/**
 * Sentry sink: one Sentry event (envelope to the DSN's ingest endpoint) per firing alert,
 * grouped into one issue per alert by its fingerprint; a resolved alert resolves that issue
 * through the Web API instead of sending an event (an event would reopen it). Its config:
 * ./config.ts; the two calls: ./calls.ts; the event and envelope: ./envelope.ts.
 */

export interface SentrySinkOptions {
  /** Defaults to the global fetch, looked up at call time. */
  fetch?: typeof globalThis.fetch;
  /** Clock in milliseconds (rate-limit windows, the resolve grace period). */
  now?: () => number;
}

export function createSentrySink(options: SentrySinkOptions = {}): Sink<SentryDestination> {
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;
  // Per ingest endpoint, across deliveries (SentryCall.rateLimitedUntil).
  const rateLimitedUntil = new Map<string, number>();
  const warnedResolvesOff = new Set<string>();

  return {
    name: 'sentry',
    kind: 'lifecycle',
    configSchema: sentryConfigSchema,
    preview: {
      secret: (field, token) => (field === 'dsnSecret' ? `https://${token}@sentry.invalid/1` : token),
      answer: (url) => ({
        status: 200,
        body: url.pathname.includes('/envelope/') ? { id: '0'.repeat(32) } : [],
      }),
    },
    templates: SENTRY_TEMPLATES,

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
      if (token && isOrganizationToken(token)) {
        throw new PermanentError(
          `the auth token in "${destination.authTokenSecret}" is a Sentry organization auth token (sntrys_): ` +
            'Sentry gives those a fixed CI scope without event:write, so every resolve would be refused; ' +
            'use an internal integration token or a user auth token with event:write',
        );
      }
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

      const call: SentryCall = { delivery, dsn, token, redactions, request, now, rateLimitedUntil };
      const { sent, skipped } = await forEachAlertOnce(delivery, (alert) =>
        alert.status === 'resolved' ? resolveIssue(call, alert) : sendEvent(call, alert),
      );
      if (skipped > 0) logger.info('sentry alerts already done in an earlier attempt', { sent, skipped });
    },
  };
}

export const sentrySink = createSentrySink();

/**
 * Sentry's organization auth tokens start with `sntrys_` and carry a fixed scope for CI
 * (releases, source maps), never event:write, which resolving an issue needs
 * (https://docs.sentry.io/account/auth-tokens/, https://docs.sentry.io/api/permissions/).
 */
export function isOrganizationToken(token: string): boolean {
  return token.startsWith('sntrys_');
}

import { forEachAlertOnce } from './alert-progress.ts';
import { PermanentError, RetryableError } from './errors.ts';
import {
  answered,
  drain,
  isRetryableStatus,
  joinUrl,
  parseBaseUrl,
  postJson,
  readBodySnippet,
  urlSecrets,
} from './http.ts';
import { type IlertDestination, ilertEvent, prometheusBody } from './ilert-event.ts';
import { parseRetryAfter } from './retry-after.ts';
import type { Delivery, Sink } from './sink.ts';

export type { IlertDestination } from './ilert-event.ts';

/**
 * ilert sink. `mode: alertmanager` forwards the notification to ilert's Prometheus endpoint
 * (`/api/v1/events/prometheus/<key>`), where ilert groups, routes and resolves it itself.
 * `mode: events` sends one Events API event per alert (`/api/events`), ALERT then RESOLVE
 * under alertKey = destination/fingerprint.
 */

export const DEFAULT_ILERT_URL = 'https://api.ilert.com';
export const DEFAULT_TIMEOUT_SECONDS = 10;
/**
 * ilert rejects with 429 for the rest of the minute (50 requests/minute per alert source) and
 * suggests "a backoff timeout, 10-30 seconds" (docs: rest-api/alertsource-throttle).
 */
export const MIN_RATE_LIMIT_WAIT_SECONDS = 10;
export const DEFAULT_RATE_LIMIT_WAIT_SECONDS = 20;

export interface IlertSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
}

const configSchema = {
  type: 'object',
  properties: {
    keySecret: {
      type: 'string',
      minLength: 1,
      description: "NAME of the secret holding the ilert alert source's integration key",
    },
    mode: { type: 'string', enum: ['alertmanager', 'events'], default: 'alertmanager' },
    baseUrl: {
      type: 'string',
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      description: 'ilert API base URL (default https://api.ilert.com)',
    },
    severityLabel: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' },
    priorityMap: { type: 'object', additionalProperties: { type: 'string', enum: ['HIGH', 'LOW'] } },
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 60, default: DEFAULT_TIMEOUT_SECONDS },
  },
  required: ['keySecret'],
  additionalProperties: false,
} as const;

export function createIlertSink(options: IlertSinkOptions = {}): Sink<IlertDestination> {
  const now = options.now ?? Date.now;

  return {
    name: 'ilert',
    configSchema,

    describe(destination) {
      return destination.mode === 'events'
        ? [
            'mode events: one ilert event per alert (alertKey = destination/fingerprint), priority from severity',
          ]
        : [
            "mode alertmanager: notifications go to ilert's Prometheus endpoint; ilert groups and resolves them",
          ];
    },

    async deliver(delivery: Delivery<IlertDestination>): Promise<void> {
      const { destination, notification } = delivery;
      let base: URL;
      try {
        base = parseBaseUrl(destination.baseUrl ?? DEFAULT_ILERT_URL, 'ilert');
      } catch (error) {
        throw new PermanentError((error as Error).message);
      }
      const key = (await delivery.secrets.get(destination.keySecret)).trim();
      if (key === '') throw new PermanentError(`ilert key secret "${destination.keySecret}" is empty`);

      if (destination.mode === 'events') {
        const url = joinUrl(base, '/api/events');
        const { sent, skipped } = await forEachAlertOnce(delivery, (alert) =>
          post(url, JSON.stringify(ilertEvent(notification, alert, destination, key)), key, delivery, {
            fetch: options.fetch,
            now,
            what: `${alert.status === 'firing' ? 'ALERT' : 'RESOLVE'} event`,
          }),
        );
        delivery.logger.info('ilert events sent', { sent, skipped });
        return;
      }
      const url = joinUrl(base, `/api/v1/events/prometheus/${encodeURIComponent(key)}`);
      await post(url, JSON.stringify(prometheusBody(notification, delivery.part)), key, delivery, {
        fetch: options.fetch,
        now,
        what: `${notification.status} notification`,
      });
    },
  };
}

export const ilertSink: Sink<IlertDestination> = createIlertSink();

async function post(
  url: URL,
  body: string,
  key: string,
  delivery: Delivery<IlertDestination>,
  context: { fetch?: typeof globalThis.fetch; now: () => number; what: string },
): Promise<void> {
  const label = `ilert ${url.host}`;
  const timeoutSeconds = delivery.destination.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const started = performance.now();
  const response = await postJson(url, body, { label, timeoutSeconds, fetch: context.fetch });
  const status = response.status;
  if (status >= 200 && status < 300) {
    await drain(response);
    delivery.logger.info('ilert accepted', {
      host: url.host,
      status,
      sent: context.what,
      attempt: delivery.attempt,
      durationMs: Math.round(performance.now() - started),
    });
    return;
  }
  const said = answered(label, status);
  if (status >= 300 && status < 400) {
    await drain(response);
    throw new PermanentError(`${said}: redirects are not followed, check baseUrl`, { statusCode: status });
  }
  // The key is in the URL path in mode alertmanager, and ilert's error pages may echo it.
  const snippet = await readBodySnippet(response, [key, encodeURIComponent(key), ...urlSecrets(url)]);
  const quoted = snippet ? `: ${snippet}` : '';
  if (status === 429) {
    const header = parseRetryAfter(response.headers.get('retry-after'), context.now());
    const retryAfterSeconds = Math.max(
      header ?? DEFAULT_RATE_LIMIT_WAIT_SECONDS,
      MIN_RATE_LIMIT_WAIT_SECONDS,
    );
    throw new RetryableError(`${said} (rate limited; retry after ${retryAfterSeconds} s)${quoted}`, {
      statusCode: status,
      retryAfterSeconds,
    });
  }
  if (isRetryableStatus(status)) {
    const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), context.now());
    throw new RetryableError(`${said}${quoted}`, { statusCode: status, retryAfterSeconds });
  }
  if (status === 404) {
    // ilert's own agent treats 404 as "bad URL, potentially due to bad api key value".
    throw new PermanentError(
      `${said}: unknown alert source key? (secret "${delivery.destination.keySecret}")${quoted}`,
      {
        statusCode: status,
      },
    );
  }
  throw new PermanentError(`${said}${quoted}`, { statusCode: status });
}

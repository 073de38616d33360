import { PermanentError } from '../../delivery/errors.ts';
import { drain, joinUrl, parseBaseUrl, postJson, statusError, urlSecrets } from '../../delivery/http.ts';
import { forEachAlertOnce } from '../../delivery/journal.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import { renderDeliveryTemplates, type TemplateSpec } from '../../templates/destination.ts';
import {
  DEFAULT_ILERT_URL,
  DEFAULT_TIMEOUT_SECONDS,
  ILERT_TEMPLATES,
  type IlertDestination,
  ilertConfigSchema,
} from './config.ts';
import { ilertEvent, prometheusBody } from './event.ts';

export {
  DEFAULT_ILERT_URL,
  DEFAULT_TIMEOUT_SECONDS,
  ILERT_TEMPLATES,
  type IlertDestination,
  ilertConfigSchema,
} from './config.ts';

/**
 * ilert sink. `mode: alertmanager` forwards the notification to ilert's Prometheus endpoint
 * (`/api/v1/events/prometheus/<key>`), where ilert groups, routes and resolves it itself.
 * `mode: events` sends one Events API event per alert (`/api/events`), ALERT then RESOLVE
 * under alertKey = destination/fingerprint. Its config: ./config.ts.
 */

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

export function createIlertSink(
  options: IlertSinkOptions = {},
): Sink<IlertDestination> & { templates: TemplateSpec } {
  const now = options.now ?? Date.now;

  return {
    name: 'ilert',
    kind: 'lifecycle',
    configSchema: ilertConfigSchema,
    preview: { answer: () => ({ status: 202, body: '' }) },
    templates: ILERT_TEMPLATES,

    describe(destination) {
      if (destination.mode === 'events')
        return [
          'mode events: one ilert event per alert (alertKey = destination/fingerprint), priority from severity',
        ];
      return [
        "mode alertmanager: notifications go to ilert's Prometheus endpoint; ilert groups and resolves them",
        ...(destination.templates
          ? ['templates are not used in mode alertmanager (ilert renders the notification); use mode events']
          : []),
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
        const { sent, skipped } = await forEachAlertOnce(delivery, (alert) => {
          const { values, notes } = renderDeliveryTemplates(delivery, ILERT_TEMPLATES, { now: now(), alert });
          const templated = { summary: values.summary, details: values.details, notes };
          const event = ilertEvent(notification, alert, destination, key, templated);
          return post(url, JSON.stringify(event), key, delivery, {
            fetch: options.fetch,
            now,
            what: `${alert.status === 'firing' ? 'ALERT' : 'RESOLVE'} event`,
          });
        });
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

export const ilertSink = createIlertSink();

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
  throw await statusError(response, {
    label,
    // The key is in the URL path in mode alertmanager, and ilert's error pages may echo it.
    redactions: [key, encodeURIComponent(key), ...urlSecrets(url)],
    now: context.now(),
    redirectHint: 'check baseUrl',
    rateLimit: { minSeconds: MIN_RATE_LIMIT_WAIT_SECONDS, defaultSeconds: DEFAULT_RATE_LIMIT_WAIT_SECONDS },
    // ilert's own agent treats 404 as "bad URL, potentially due to bad api key value".
    permanentHint: (code) =>
      code === 404 ? `: unknown alert source key? (secret "${delivery.destination.keySecret}")` : undefined,
  });
}

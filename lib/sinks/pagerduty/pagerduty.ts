import type { Alert } from '../../alertmanager/types.ts';
import { PermanentError } from '../../delivery/errors.ts';
import { drain, joinUrl, parseBaseUrl, postJson, statusError } from '../../delivery/http.ts';
import { forEachAlertOnce } from '../../delivery/journal.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import { renderDeliveryTemplates, type TemplateSpec } from '../../templates/destination.ts';
import {
  DEFAULT_PAGERDUTY_URL,
  DEFAULT_TIMEOUT_SECONDS,
  PAGERDUTY_TEMPLATES,
  type PagerDutyDestination,
  pagerdutyConfigSchema,
} from './config.ts';
import {
  alertEvent,
  eventBytes,
  groupEvent,
  MAX_EVENT_BYTES,
  type PagerDutyEvent,
  type TemplatedFields,
} from './event.ts';

export {
  DEFAULT_PAGERDUTY_URL,
  DEFAULT_TIMEOUT_SECONDS,
  PAGERDUTY_TEMPLATES,
  type PagerDutyDestination,
  pagerdutyConfigSchema,
} from './config.ts';

/**
 * PagerDuty sink (Events API v2, https://developer.pagerduty.com/docs/events-api-v2/overview/):
 * `mode: group` sends one event per notification with Alertmanager's own dedup_key (SHA-256
 * of the groupKey); `mode: alert` one event per alert, each sent once across retries. Its
 * config: ./config.ts.
 */

/**
 * About 120 events per minute per routing key; PagerDuty suggests retrying a 429 "3 times with
 * each request being 30 seconds apart" (developer docs, Events API rate limits). A shorter
 * Retry-After from a proxy is not trusted below this.
 */
export const RATE_LIMIT_WAIT_SECONDS = 30;

export interface PagerDutySinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
}

export function createPagerDutySink(
  options: PagerDutySinkOptions = {},
): Sink<PagerDutyDestination> & { templates: TemplateSpec } {
  const now = options.now ?? Date.now;

  return {
    name: 'pagerduty',
    kind: 'lifecycle',
    configSchema: pagerdutyConfigSchema,
    preview: {
      answer: () => ({
        status: 202,
        body: { status: 'success', message: 'Event processed', dedup_key: 'preview' },
      }),
    },
    templates: PAGERDUTY_TEMPLATES,

    describe(destination) {
      const notes = [
        destination.mode === 'alert'
          ? 'mode alert: one PagerDuty alert per Alertmanager alert (dedup_key = destination/fingerprint)'
          : "mode group: one PagerDuty alert per Alertmanager group, with Alertmanager's own dedup_key (incidents carry over from pagerduty_configs)",
      ];
      if (!destination.baseUrl)
        notes.push(`events go to ${DEFAULT_PAGERDUTY_URL} (set baseUrl for EU accounts)`);
      return notes;
    },

    async deliver(delivery: Delivery<PagerDutyDestination>): Promise<void> {
      const { destination, notification } = delivery;
      let base: URL;
      try {
        base = parseBaseUrl(destination.baseUrl ?? DEFAULT_PAGERDUTY_URL, 'pagerduty');
      } catch (error) {
        throw new PermanentError((error as Error).message);
      }
      const url = joinUrl(base, '/v2/enqueue');
      const routingKey = (await delivery.secrets.get(destination.routingKeySecret)).trim();
      if (routingKey === '') {
        throw new PermanentError(`pagerduty routing key secret "${destination.routingKeySecret}" is empty`);
      }
      const send = (event: PagerDutyEvent) => sendEvent(url, event, routingKey, delivery, options.fetch, now);
      // Rendered only for a trigger: a resolve carries no payload.
      const templated = (alert?: Alert): TemplatedFields => {
        const { values, notes } = renderDeliveryTemplates(delivery, PAGERDUTY_TEMPLATES, {
          now: now(),
          alert,
        });
        return { summary: values.summary, description: values.description, notes };
      };

      if (destination.mode === 'alert') {
        const { sent, skipped } = await forEachAlertOnce(delivery, (alert) =>
          send(
            alertEvent(
              notification,
              alert,
              destination,
              routingKey,
              alert.status === 'firing' ? templated(alert) : {},
            ),
          ),
        );
        delivery.logger.info('pagerduty alerts sent', { sent, skipped });
        return;
      }
      const triggers = notification.status === 'firing';
      await send(
        groupEvent(notification, destination, routingKey, delivery.part, triggers ? templated() : {}),
      );
    },
  };
}

export const pagerdutySink = createPagerDutySink();

async function sendEvent(
  url: URL,
  event: PagerDutyEvent,
  routingKey: string,
  delivery: Delivery<PagerDutyDestination>,
  fetchImpl: typeof globalThis.fetch | undefined,
  now: () => number,
): Promise<void> {
  const label = `pagerduty ${url.host}`;
  const body = JSON.stringify(event);
  if (Buffer.byteLength(body) > MAX_EVENT_BYTES) {
    // fitEvent keeps details under the limit; only a summary/labels this large gets here.
    throw new PermanentError(
      `pagerduty event is ${eventBytes(event)} bytes, over the ${MAX_EVENT_BYTES}-byte limit`,
    );
  }
  const timeoutSeconds = delivery.destination.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const started = performance.now();
  const response = await postJson(url, body, { label, timeoutSeconds, fetch: fetchImpl });
  const status = response.status;
  if (status >= 200 && status < 300) {
    await drain(response);
    delivery.logger.info('pagerduty event accepted', {
      host: url.host,
      status,
      eventAction: event.event_action,
      dedupKey: event.dedup_key,
      bytes: Buffer.byteLength(body),
      attempt: delivery.attempt,
      durationMs: Math.round(performance.now() - started),
    });
    return;
  }
  // 400 "invalid event": PagerDuty lists what is wrong in `errors`; retrying cannot fix it.
  throw await statusError(response, {
    label,
    redactions: [routingKey],
    now: now(),
    redirectHint: 'check baseUrl',
    // PagerDuty suggests retries 30 s apart: a shorter Retry-After still waits 30 s.
    rateLimit: { minSeconds: RATE_LIMIT_WAIT_SECONDS, defaultSeconds: 0 },
  });
}

import type { Alert } from '../../alertmanager/types.ts';
import { PermanentError } from '../../delivery/errors.ts';
import { drain, joinUrl, parseBaseUrl, postJson, statusError } from '../../delivery/http.ts';
import { forEachAlertOnce } from '../../delivery/journal.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import { renderDeliveryTemplates, type TemplateSpec } from '../../templates/destination.ts';
import {
  alertAlias,
  alertCreate,
  closeRequest,
  type Fitted,
  groupAlias,
  groupCreate,
  type OpsgenieClose,
  type OpsgenieCreate,
  type TemplatedFields,
} from './alert.ts';
import {
  DEFAULT_OPSGENIE_TIMEOUT_SECONDS,
  DEFAULT_OPSGENIE_URL,
  OPSGENIE_TEMPLATES,
  type OpsgenieDestination,
  opsgenieConfigSchema,
} from './config.ts';

export type { OpsgenieDestination } from './config.ts';

/**
 * Opsgenie sink (Alert API, https://docs.opsgenie.com/docs/alert-api; the same calls serve
 * Jira Service Management operations under its own base URL): a firing notification creates
 * the alert with an alias, a resolved one closes it by that alias. `mode: group` uses
 * Alertmanager's own alias (SHA-256 of the groupKey), `mode: alert` one alias per alert, each
 * call made once across retries. Opsgenie answers 202 and applies the request
 * asynchronously; creating an alias that is open only raises its count, and closing one that
 * is not open changes nothing, so both are safe to repeat. Its config: ./config.ts; the
 * requests: ./alert.ts.
 */

export interface OpsgenieSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
}

export function createOpsgenieSink(
  options: OpsgenieSinkOptions = {},
): Sink<OpsgenieDestination> & { templates: TemplateSpec } {
  const now = options.now ?? Date.now;

  return {
    name: 'opsgenie',
    kind: 'lifecycle',
    configSchema: opsgenieConfigSchema,
    preview: {
      answer: () => ({
        status: 202,
        body: { result: 'Request will be processed', took: 0.01, requestId: 'preview' },
      }),
    },
    templates: OPSGENIE_TEMPLATES,

    describe(destination) {
      const notes = [
        destination.mode === 'alert'
          ? 'mode alert: one Opsgenie alert per Alertmanager alert (alias = destination-fingerprint)'
          : "mode group: one Opsgenie alert per Alertmanager group, with Alertmanager's own alias (alerts carry over from opsgenie_configs)",
      ];
      if (!destination.baseUrl)
        notes.push(
          `alerts go to ${DEFAULT_OPSGENIE_URL} (set baseUrl for EU accounts or Jira Service Management)`,
        );
      return notes;
    },

    async deliver(delivery: Delivery<OpsgenieDestination>): Promise<void> {
      const { destination, notification } = delivery;
      let base: URL;
      try {
        base = parseBaseUrl(destination.baseUrl ?? DEFAULT_OPSGENIE_URL, 'opsgenie');
      } catch (error) {
        throw new PermanentError((error as Error).message);
      }
      const apiKey = (await delivery.secrets.get(destination.apiKeySecret)).trim();
      if (apiKey === '')
        throw new PermanentError(`opsgenie API key secret "${destination.apiKeySecret}" is empty`);
      const client = { base, apiKey, delivery, fetch: options.fetch, now };
      // Rendered only for what creates an alert: a close carries no message or description.
      const templated = (alert?: Alert): TemplatedFields => {
        const { values, notes } = renderDeliveryTemplates(delivery, OPSGENIE_TEMPLATES, {
          now: now(),
          alert,
        });
        return { summary: values.summary, description: values.description, notes };
      };

      if (destination.mode === 'alert') {
        const { sent, skipped } = await forEachAlertOnce(delivery, (alert) =>
          alert.status === 'firing'
            ? create(client, alertCreate(notification, alert, destination, templated(alert)))
            : close(client, alertAlias(destination.name, alert.fingerprint), closeRequest(notification)),
        );
        delivery.logger.info('opsgenie alerts sent', { sent, skipped });
        return;
      }
      // Only the notification's status (the whole group's) closes the alert: a part of a split
      // notification can hold only resolved alerts while others still fire.
      if (notification.status === 'resolved') {
        await close(client, groupAlias(notification.groupKey), closeRequest(notification));
      } else {
        await create(client, groupCreate(notification, destination, delivery.part, templated()));
      }
    },
  };
}

export const opsgenieSink = createOpsgenieSink();

interface Client {
  base: URL;
  apiKey: string;
  delivery: Delivery<OpsgenieDestination>;
  fetch: typeof globalThis.fetch | undefined;
  now: () => number;
}

async function create(client: Client, request: Fitted<OpsgenieCreate>): Promise<void> {
  if (request.cut.length > 0)
    client.delivery.logger.warn('opsgenie alert fields cut to fit the API limits, marked with …', {
      fields: request.cut,
    });
  await send(client, joinUrl(client.base, '/v2/alerts'), request.body, 'create', request.body.alias);
}

async function close(client: Client, alias: string, body: OpsgenieClose): Promise<void> {
  const url = joinUrl(client.base, `/v2/alerts/${encodeURIComponent(alias)}/close`);
  url.searchParams.set('identifierType', 'alias');
  await send(client, url, body, 'close', alias);
}

async function send(
  client: Client,
  url: URL,
  body: OpsgenieCreate | OpsgenieClose,
  action: 'create' | 'close',
  alias: string,
): Promise<void> {
  const { delivery, apiKey } = client;
  const label = `opsgenie ${url.host}`;
  const timeoutSeconds = delivery.destination.timeoutSeconds ?? DEFAULT_OPSGENIE_TIMEOUT_SECONDS;
  const started = performance.now();
  const response = await postJson(url, JSON.stringify(body), {
    label,
    timeoutSeconds,
    fetch: client.fetch,
    headers: { authorization: `GenieKey ${apiKey}` },
  });
  if (response.status >= 200 && response.status < 300) {
    const requestId =
      readRequestId(await drain(response)) ?? response.headers.get('x-request-id') ?? undefined;
    // 202: "The request is valid and will be processed asynchronously"; the requestId finds
    // the outcome in Opsgenie's logs (GET /v2/alerts/requests/{requestId}).
    delivery.logger.info('opsgenie request accepted', {
      host: url.host,
      status: response.status,
      action,
      alias,
      requestId,
      attempt: delivery.attempt,
      durationMs: Math.round(performance.now() - started),
    });
    return;
  }
  // Opsgenie's throttle answers 429 with X-RateLimit-Period-In-Sec (the window that is full)
  // and no Retry-After: wait out that window rather than the generic backoff.
  const period = Number(response.headers.get('x-ratelimit-period-in-sec'));
  const throttled =
    response.status === 429 && !response.headers.has('retry-after') && Number.isFinite(period) && period > 0;
  throw await statusError(response, {
    label,
    redactions: [apiKey],
    now: client.now(),
    redirectHint: 'check baseUrl',
    ...(throttled ? { rateLimit: { minSeconds: 1, defaultSeconds: period } } : {}),
    permanentHint,
  });
}

function permanentHint(status: number): string | undefined {
  if (status === 401) return ': the API key is not valid or its integration is disabled';
  if (status === 402) return ": the account's plan does not allow this";
  if (status === 403) return ': the API key lacks the rights for this (create and update access)';
  if (status === 404) return ': no such API here (check baseUrl)';
  if (status === 422) return ': Opsgenie refused a field';
  return undefined;
}

function readRequestId(text: string): string | undefined {
  try {
    const value = JSON.parse(text) as { requestId?: unknown };
    return typeof value?.requestId === 'string' ? value.requestId : undefined;
  } catch {
    return undefined;
  }
}

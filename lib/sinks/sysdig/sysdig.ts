import type { Alert } from '../../alertmanager/types.ts';
import { PermanentError } from '../../delivery/errors.ts';
import { postJson, statusError } from '../../delivery/http.ts';
import { forEachAlertOnce } from '../../delivery/journal.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import { checkedHttpUrl } from '../../delivery/vendor-url.ts';
import { renderDeliveryTemplates, type TemplateSpec } from '../../templates/destination.ts';
import {
  DEFAULT_TIMEOUT_SECONDS,
  SYSDIG_REGIONS,
  SYSDIG_TEMPLATES,
  type SysdigDestination,
  sysdigConfigSchema,
} from './config.ts';
import { buildSysdigEvent } from './event.ts';

export {
  DEFAULT_TIMEOUT_SECONDS,
  SYSDIG_REGIONS,
  SYSDIG_TEMPLATES,
  type SysdigDestination,
  type SysdigRegion,
  sysdigConfigSchema,
} from './config.ts';

/**
 * Sysdig Monitor sink: one custom event per alert, `POST {base}/api/v2/events/` with
 * `{"event": {name, description, severity, scope, tags}}` and `Authorization: Bearer <token>`,
 * as the Sysdig SDK's EventsClientV2.post_event sends it
 * (https://github.com/sysdiglabs/sysdig-sdk-python/blob/master/sdcclient/monitor/_events_v2.py).
 * Events are points in time: a resolve is a second event, tagged `status=resolved` with the
 * same `fingerprint` tag. Sysdig events have no dedup key, so each alert is sent once per
 * notification through forEachAlertOnce, and the record handler skips redelivered notifications.
 * Its config: ./config.ts; the event it sends: ./event.ts.
 */

export const EVENTS_PATH = '/api/v2/events/';

export interface SysdigSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
}

/** `{baseUrl or the region's URL}/api/v2/events/`, checked: http(s), no credentials. */
export function eventsUrl(destination: Pick<SysdigDestination, 'baseUrl' | 'region'>): URL {
  const base = destination.baseUrl ?? SYSDIG_REGIONS[destination.region ?? 'us1'];
  const url = checkedHttpUrl(base, 'sysdig baseUrl');
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${EVENTS_PATH}`;
  url.search = '';
  url.hash = '';
  return url;
}

export function createSysdigSink(
  options: SysdigSinkOptions = {},
): Sink<SysdigDestination> & { templates: TemplateSpec } {
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;

  return {
    name: 'sysdig',
    kind: 'lifecycle',
    configSchema: sysdigConfigSchema,
    preview: { answer: () => ({ status: 201, body: { event: { id: 'preview' } } }) },
    templates: SYSDIG_TEMPLATES,

    describe(destination) {
      const url = eventsUrl(destination);
      const notes = [`custom events go to ${url.origin}${url.pathname}`];
      if (destination.region && destination.baseUrl) {
        notes.push(`region ${destination.region} is ignored: baseUrl is set`);
      }
      if (destination.scope?.prefixes?.length === 0 && !Object.keys(destination.scope.labels ?? {}).length) {
        notes.push('no label maps to a scope: events are not scoped to any host or container');
      }
      return notes;
    },

    async deliver(delivery: Delivery<SysdigDestination>): Promise<void> {
      const { destination, notification, logger } = delivery;
      const url = eventsUrl(destination);
      const host = url.host;
      const timeoutSeconds = destination.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
      const token = (await delivery.secrets.get(destination.tokenSecret)).trim();
      if (token === '') throw new PermanentError(`sysdig token secret "${destination.tokenSecret}" is empty`);

      const post: SysdigPost = { url, token, timeoutSeconds, fetch: doFetch, now };
      const result = await forEachAlertOnce(delivery, (alert) => postEvent(delivery, post, alert));
      logger.info('sysdig delivered', {
        host,
        events: result.sent,
        alreadySent: result.skipped,
        truncatedAlerts: notification.truncatedAlerts ?? 0,
      });
    },
  };
}

export const sysdigSink = createSysdigSink();

/** What one delivery's event posts share. */
interface SysdigPost {
  url: URL;
  token: string;
  timeoutSeconds: number;
  fetch: typeof globalThis.fetch | undefined;
  now: () => number;
}

/** Posts `alert` as one custom event. */
async function postEvent(
  delivery: Delivery<SysdigDestination>,
  post: SysdigPost,
  alert: Alert,
): Promise<void> {
  const { destination, notification, logger } = delivery;
  const { url, token, timeoutSeconds, now } = post;
  const doFetch = post.fetch;
  const host = url.host;
  // baseUrl carries no credentials (the schema refuses a query and user-info): only the token.
  const redactions = [token];
  const { values, notes } = renderDeliveryTemplates(delivery, SYSDIG_TEMPLATES, { now: now(), alert });
  const { event, skipped } = buildSysdigEvent(alert, notification, destination, {
    name: values.name,
    description: values.description,
    notes,
  });
  if (skipped.length > 0) {
    logger.debug('labels left out of the sysdig scope', { fingerprint: alert.fingerprint, skipped });
  }
  const started = performance.now();
  const response = await postJson(url, JSON.stringify({ event }), {
    label: `sysdig ${host}`,
    timeoutSeconds,
    fetch: doFetch,
    headers: { authorization: `Bearer ${token}` },
  });
  const status = response.status;
  if (status >= 200 && status < 300) {
    const eventId = await readEventId(response);
    logger.info('sysdig event created', {
      host,
      status,
      fingerprint: alert.fingerprint,
      alertStatus: alert.status,
      severity: event.severity,
      eventId,
      durationMs: Math.round(performance.now() - started),
    });
    return;
  }
  throw await statusError(response, {
    label: `sysdig ${host}`,
    redactions,
    now: now(),
    redirectHint: 'check region/baseUrl',
    permanentHint: (code) =>
      code === 401 || code === 403
        ? ' (check the API token and that its team may create events)'
        : code === 404
          ? ' (check region/baseUrl)'
          : undefined,
  });
}

/** The created event's id from `{"event": {"id": ...}}`, for the log line; undefined if absent. */
async function readEventId(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.json()) as { event?: { id?: unknown } } | null;
    const id = body?.event?.id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  } catch {
    return undefined;
  }
}

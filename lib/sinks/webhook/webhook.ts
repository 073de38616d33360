import { createHash, createHmac } from 'node:crypto';
import { PermanentError } from '../../delivery/errors.ts';
import { statusError, urlSecrets, vendorFetch } from '../../delivery/http.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import { checkedHttpUrl } from '../../delivery/vendor-url.ts';
import { renderDeliveryTemplates, specFormat, type TemplateSpec } from '../../templates/destination.ts';
import {
  DEFAULT_TIMEOUT_SECONDS,
  isJsonContentType,
  templateContentType,
  WEBHOOK_TEMPLATES,
  type WebhookDestination,
  webhookConfigSchema,
} from './config.ts';

export {
  DEFAULT_TIMEOUT_SECONDS,
  WEBHOOK_TEMPLATES,
  type WebhookDestination,
  webhookConfigSchema,
} from './config.ts';

/**
 * Generic webhook sink: POSTs the notification (this destination's alerts only) as JSON,
 * signed per Standard Webhooks 1.0 (https://www.standardwebhooks.com/) when a signing
 * secret is configured. Its config: ./config.ts.
 */

export interface WebhookSinkOptions {
  /** Defaults to the global fetch, looked up at call time. */
  fetch?: typeof globalThis.fetch;
  /** Clock for `webhook-timestamp`, in milliseconds. */
  now?: () => number;
}

export const USER_AGENT = 'alertmanager-relay';

/** Headers the relay sets itself; static `headers` with these names are ignored. */
export const RESERVED_HEADERS = [
  'content-type',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'webhook-superseded-by',
];

const WHSEC_PREFIX = 'whsec_';
// Standard base64, with or without its `=` padding (a length of 4n+1 is never valid base64).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * Decodes a signing secret's value into HMAC keys.
 *
 * - `whsec_<base64>` (what Standard Webhooks libraries generate and verify): the key is the
 *   base64-decoded remainder, padded or not. Several such secrets separated by spaces are all
 *   used, so a receiver can rotate: every request carries one `v1,` signature per key.
 * - Anything else is a raw secret, turned into a key exactly as the `standardwebhooks`
 *   library does for `new Webhook(secret, { format: 'raw' })`: one byte per code point, the
 *   low 8 bits of its first UTF-16 unit (`Uint8Array.from(secret, c => c.charCodeAt(0))`).
 *   For ASCII that is its UTF-8; for anything else it is not, and a receiver verifying with
 *   the library must get the same key. We do not guess at base64 here, because most
 *   passwords happen to be valid base64 and would silently become a different key.
 *
 * Surrounding whitespace is trimmed either way (secret files usually end in a newline).
 * Throws an Error that never quotes the value.
 */
export function decodeSigningSecret(value: string): Buffer[] {
  const trimmed = value.trim();
  if (trimmed === '') throw new Error('the signing secret is empty');
  if (!trimmed.startsWith(WHSEC_PREFIX)) return [rawSecretKey(trimmed)];
  return trimmed.split(/\s+/).map((part, index) => {
    const encoded = part.startsWith(WHSEC_PREFIX) ? part.slice(WHSEC_PREFIX.length) : undefined;
    if (encoded === undefined || encoded === '' || !BASE64.test(encoded)) {
      throw new Error(`signing secret ${index + 1} is not whsec_ followed by standard base64`);
    }
    return Buffer.from(encoded, 'base64');
  });
}

/** The key of a raw secret, as the `standardwebhooks` library derives it (see decodeSigningSecret). */
export function rawSecretKey(secret: string): Buffer {
  return Buffer.from(Array.from(secret, (c) => c.charCodeAt(0) & 0xff));
}

/**
 * The `webhook-id` of one notification occurrence: a hash of the idempotency key (the
 * content) and `receivedAt` (when ingest accepted it). Retries, an HA pair's duplicate and a
 * DLQ redrive of that occurrence keep both, so the id stays and a receiver's deduplication
 * drops them; Alertmanager's `repeat_interval` reminder is a new occurrence with a new
 * `receivedAt`, so the receiver sees it.
 */
export function webhookId(idempotencyKey: string, receivedAt: string): string {
  return `msg_${createHash('sha256').update(`${idempotencyKey}\n${receivedAt}`).digest('hex').slice(0, 32)}`;
}

/**
 * The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
 * for each key, space-separated.
 */
export function signStandardWebhook(
  id: string,
  timestampSeconds: number,
  body: string,
  keys: readonly Uint8Array[],
): string {
  const signed = `${id}.${timestampSeconds}.${body}`;
  return keys
    .map((key) => `v1,${createHmac('sha256', key).update(signed, 'utf8').digest('base64')}`)
    .join(' ');
}

// Characters JSON may carry raw but a terminal, a log viewer or an editor acts on: DEL and the C1
// controls (U+009B starts a CSI sequence on its own), the bidi controls, and the line and
// paragraph separators. Written as \u escapes they are the same JSON value, byte-safe.
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `value` as JSON: the event log carries the notification as it came, and every character a
 * receiver's terminal or viewer could act on is a `\u` escape (JSON.stringify already escapes
 * C0 controls; it leaves C1 and bidi controls raw).
 *
 * @example
 * webhookJson({ a: '\u202eexe.txt' }) // '{"a":"\\u202eexe.txt"}'
 */
export function webhookJson(value: unknown): string {
  return JSON.stringify(value).replace(
    JSON_UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The body a delivery sends, its Content-Type, and whether a template made it. */
interface WebhookBody {
  body: string;
  contentType: string;
  templated: boolean;
}

/**
 * The templated body when the destination has one and it rendered; otherwise the notification
 * as JSON (marked `superseded` for a redrive of an older one), with `templateFailed` saying why
 * when a template failed. A failed template never loses the alert.
 */
function webhookBody(delivery: Delivery<WebhookDestination>, now: number): WebhookBody {
  const { destination, notification } = delivery;
  const { values, notes } = renderDeliveryTemplates(delivery, WEBHOOK_TEMPLATES, { now: now });
  if (values.body !== undefined)
    return { body: values.body, contentType: templateContentType(destination), templated: true };
  // A note is escaped for the body's format; in a JSON body, as the inside of a JSON string.
  const json = specFormat(WEBHOOK_TEMPLATES, destination).name === 'json';
  const failed = notes.map((note) => (json ? (JSON.parse(`"${note}"`) as string) : note));
  const marks = {
    ...(delivery.superseded ? { superseded: delivery.superseded } : {}),
    ...(failed.length > 0 ? { templateFailed: failed.join(' ') } : {}),
  };
  return {
    body: webhookJson(Object.keys(marks).length > 0 ? { ...notification, ...marks } : notification),
    contentType: 'application/json',
    templated: false,
  };
}

export function createWebhookSink(
  options: WebhookSinkOptions = {},
): Sink<WebhookDestination> & { templates: TemplateSpec } {
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;

  return {
    name: 'webhook',
    kind: 'event-log',
    configSchema: webhookConfigSchema,
    preview: {
      secret: (field, token) =>
        field === 'signingSecret' ? `whsec_${Buffer.from(token).toString('base64')}` : token,
      answer: () => ({ status: 200, body: '' }),
    },
    templates: WEBHOOK_TEMPLATES,

    describe(destination) {
      const notes: string[] = [];
      const templates = destination.templates;
      if (templates?.body) {
        const type = templateContentType(destination);
        notes.push(
          `the body is the body template, sent as ${type}${isJsonContentType(type) ? ' (it must render to valid JSON)' : ''}`,
        );
      } else if (templates?.contentType) {
        notes.push('templates.contentType is ignored: there is no templates.body');
      }
      if (!destination.signingSecret) {
        notes.push('requests are not signed: the receiver cannot tell them from forged ones');
      }
      const ignored = Object.keys(destination.headers ?? {}).filter((name) =>
        RESERVED_HEADERS.includes(name.toLowerCase()),
      );
      if (ignored.length > 0)
        notes.push(`headers set by the relay itself are ignored: ${ignored.join(', ')}`);
      return notes;
    },

    async deliver(delivery: Delivery<WebhookDestination>): Promise<void> {
      const { destination, logger } = delivery;
      const url = parseDestinationUrl(destination.url);
      const host = url.host;
      const timeoutSeconds = destination.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;

      const { keys, secretValues } = await signingKeys(delivery);

      // An older notification than its group's last applied one (a DLQ redrive) still goes to an
      // event log, marked so the receiver does not take it for the group's current state: in the
      // header always, in the body unless a template shapes it. The signature covers these bytes.
      const { body, contentType, templated } = webhookBody(delivery, now());
      const timestamp = Math.floor(now() / 1000);
      const headers = buildHeaders(destination.headers ?? {});
      headers.set('content-type', contentType);
      headers.set('user-agent', USER_AGENT);
      // The id and timestamp go out unsigned too: receivers dedupe on webhook-id either way.
      const id = webhookId(delivery.idempotencyKey, delivery.receivedAt);
      headers.set('webhook-id', id);
      headers.set('webhook-timestamp', String(timestamp));
      if (delivery.superseded) headers.set('webhook-superseded-by', delivery.superseded.by);
      if (keys.length > 0) headers.set('webhook-signature', signStandardWebhook(id, timestamp, body, keys));

      const started = performance.now();
      const response = await vendorFetch(
        url,
        { method: 'POST', headers, body },
        { label: `webhook ${host}`, timeoutSeconds, fetch: doFetch },
      );

      const status = response.status;
      if (status >= 200 && status < 300) {
        await response.body?.cancel().catch(() => undefined);
        logger.info('webhook delivered', {
          host,
          status,
          templated,
          attempt: delivery.attempt,
          durationMs: Math.round(performance.now() - started),
        });
        return;
      }

      const redactions = [
        ...urlSecrets(url),
        ...secretValues,
        ...Object.values(destination.headers ?? {}),
        destination.url,
      ];
      throw await statusError(response, {
        label: `webhook ${host}`,
        redactions,
        now: now(),
        redirectHint: 'configure the final URL',
        permanentHint: (code) => (code === 410 ? ': the receiver asked for no more deliveries' : undefined),
      });
    },
  };
}

export const webhookSink = createWebhookSink();

/**
 * The destination's signing keys (none without `signingSecret`), and every form of the secret
 * that an error text must never show.
 */
async function signingKeys(
  delivery: Delivery<WebhookDestination>,
): Promise<{ keys: Buffer[]; secretValues: string[] }> {
  const { destination } = delivery;
  if (!destination.signingSecret) return { keys: [], secretValues: [] };
  // A missing secret is a PermanentError from the reader; other failures stay retryable.
  const value = await delivery.secrets.get(destination.signingSecret);
  const secretValues: string[] = [];
  for (const part of [value.trim(), ...value.trim().split(/\s+/)]) {
    secretValues.push(part, part.replace(/^whsec_/, ''));
  }
  try {
    return { keys: decodeSigningSecret(value), secretValues };
  } catch (error) {
    throw new PermanentError(
      `webhook signing secret "${destination.signingSecret}": ${(error as Error).message}`,
    );
  }
}

function parseDestinationUrl(raw: unknown): URL {
  return checkedHttpUrl(String(raw), 'webhook url');
}

function buildHeaders(extra: Record<string, string>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(extra)) {
    if (RESERVED_HEADERS.includes(name.toLowerCase())) continue;
    setHeader(headers, name, value);
  }
  return headers;
}

// Headers#set's own TypeError quotes the value, which may be a token.
function setHeader(headers: Headers, name: string, value: string): void {
  try {
    headers.set(name, value);
  } catch {
    throw new PermanentError(
      `webhook header ${JSON.stringify(name).slice(0, 80)} has an invalid name or value`,
    );
  }
}

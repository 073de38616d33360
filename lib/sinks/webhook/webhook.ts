import { createHash, createHmac } from 'node:crypto';
import { PermanentError } from '../../delivery/errors.ts';
import { statusError, urlSecrets, vendorFetch } from '../../delivery/http.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import { DEFAULT_TIMEOUT_SECONDS, type WebhookDestination, webhookConfigSchema } from './config.ts';

export { DEFAULT_TIMEOUT_SECONDS, type WebhookDestination, webhookConfigSchema } from './config.ts';

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

export function createWebhookSink(options: WebhookSinkOptions = {}): Sink<WebhookDestination> {
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;

  return {
    name: 'webhook',
    kind: 'event-log',
    configSchema: webhookConfigSchema,

    describe(destination) {
      const notes: string[] = [];
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

      let keys: Buffer[] = [];
      const secretValues: string[] = [];
      if (destination.signingSecret) {
        // A missing secret is a PermanentError from the reader; other failures stay retryable.
        const value = await delivery.secrets.get(destination.signingSecret);
        for (const part of [value.trim(), ...value.trim().split(/\s+/)]) {
          secretValues.push(part, part.replace(/^whsec_/, ''));
        }
        try {
          keys = decodeSigningSecret(value);
        } catch (error) {
          throw new PermanentError(
            `webhook signing secret "${destination.signingSecret}": ${(error as Error).message}`,
          );
        }
      }

      // An older notification than its group's last applied one (a DLQ redrive) still goes to an
      // event log, marked so the receiver does not take it for the group's current state.
      const body = JSON.stringify(
        delivery.superseded
          ? { ...delivery.notification, superseded: delivery.superseded }
          : delivery.notification,
      );
      const timestamp = Math.floor(now() / 1000);
      const headers = buildHeaders(destination.headers ?? {});
      headers.set('content-type', 'application/json');
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

export const webhookSink: Sink<WebhookDestination> = createWebhookSink();

function parseDestinationUrl(raw: unknown): URL {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw new PermanentError('webhook url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PermanentError(`webhook url for ${url.host || 'its host'} must be http or https`);
  }
  if (url.username || url.password) {
    throw new PermanentError(`webhook url for ${url.host} must not contain credentials`);
  }
  return url;
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

import { createHmac } from 'node:crypto';
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
];

const WHSEC_PREFIX = 'whsec_';
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a signing secret's value into HMAC keys.
 *
 * - `whsec_<base64>` (what Standard Webhooks libraries generate and verify): the key is the
 *   base64-decoded remainder. Several such secrets separated by spaces are all used, so a
 *   receiver can rotate: every request carries one `v1,` signature per key.
 * - Anything else is a raw secret: the key is its UTF-8 bytes, as typed (a receiver verifies
 *   with `new Webhook(secret, { format: 'raw' })`). We do not guess at base64 here, because
 *   most passwords happen to be valid base64 and would silently become a different key.
 *
 * Surrounding whitespace is trimmed either way (secret files usually end in a newline).
 * Throws an Error that never quotes the value.
 */
export function decodeSigningSecret(value: string): Buffer[] {
  const trimmed = value.trim();
  if (trimmed === '') throw new Error('the signing secret is empty');
  if (!trimmed.startsWith(WHSEC_PREFIX)) return [Buffer.from(trimmed, 'utf8')];
  return trimmed.split(/\s+/).map((part, index) => {
    const encoded = part.startsWith(WHSEC_PREFIX) ? part.slice(WHSEC_PREFIX.length) : undefined;
    if (encoded === undefined || encoded === '' || !STRICT_BASE64.test(encoded)) {
      throw new Error(`signing secret ${index + 1} is not whsec_ followed by standard padded base64`);
    }
    return Buffer.from(encoded, 'base64');
  });
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

      const body = JSON.stringify(delivery.notification);
      const timestamp = Math.floor(now() / 1000);
      const headers = buildHeaders(destination.headers ?? {});
      headers.set('content-type', 'application/json');
      headers.set('user-agent', USER_AGENT);
      // The id and timestamp go out unsigned too: receivers dedupe on webhook-id either way.
      setHeader(headers, 'webhook-id', delivery.idempotencyKey);
      headers.set('webhook-timestamp', String(timestamp));
      if (keys.length > 0)
        headers.set('webhook-signature', signStandardWebhook(delivery.idempotencyKey, timestamp, body, keys));

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

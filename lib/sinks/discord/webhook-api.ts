import { PermanentError } from '../../delivery/errors.ts';
import { drain, RELAY_USER_AGENT, statusError, urlSecrets, vendorFetch } from '../../delivery/http.ts';
import { checkedHttpUrl } from '../../delivery/vendor-url.ts';
import type { DiscordMessage } from './embeds.ts';

/**
 * The three calls the Discord sink makes with a webhook's URL (no bot token: the URL's path
 * holds the webhook's id and token), from https://discord.com/developers/docs/resources/webhook:
 *
 * - execute `POST /webhooks/{id}/{token}?wait=true`: with `wait=true` Discord answers 200 with
 *   the message it created (its `id`), instead of 204 and nothing;
 * - edit `PATCH /webhooks/{id}/{token}/messages/{message.id}`: replaces content and embeds;
 * - delete `DELETE /webhooks/{id}/{token}/messages/{message.id}`: 204.
 *
 * Errors are JSON `{code, message}`: 10015 Unknown Webhook (deleted), 50027 Invalid Webhook
 * Token, 10008 Unknown Message (someone deleted the message), 50035 Invalid Form Body. A 429
 * carries `retry_after` in float seconds in its JSON (and `Retry-After` in whole seconds),
 * https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit.
 */

/** Discord's JSON error codes the sink acts on. */
export const DISCORD_ERRORS = { unknownMessage: 10008, unknownWebhook: 10015, invalidToken: 50027 } as const;

export interface DiscordWebhookOptions {
  timeoutSeconds: number;
  fetch?: typeof globalThis.fetch;
  now: () => number;
  /** The secret's NAME, for what an operator must fix in a permanent error. */
  secretName: string;
}

export class DiscordWebhook {
  readonly label: string;
  /** The webhook's id (the number in its URL; the token after it is the secret): its rate-limit bucket. */
  readonly id: string;
  private readonly base: URL;
  private readonly threadId: string | null;
  private readonly redactions: string[];
  private readonly options: DiscordWebhookOptions;

  /** Throws PermanentError (naming the secret, never its value) when `raw` is not a webhook URL. */
  constructor(raw: string, options: DiscordWebhookOptions) {
    this.options = options;
    const value = raw.trim();
    const url = checkedHttpUrl(value, `discord: the URL in secret ${options.secretName}`);
    if (!/\/webhooks\/\d+\/[^/]+\/?$/.test(url.pathname)) {
      throw new PermanentError(
        `discord: the URL in ${options.secretName} is not a webhook URL (…/api/webhooks/<id>/<token>)`,
      );
    }
    this.label = `discord ${url.host}`;
    this.id = /\/webhooks\/(\d+)\//.exec(url.pathname)?.[1] ?? '';
    // A webhook URL copied for a thread keeps its thread_id; every call must carry it.
    this.threadId = url.searchParams.get('thread_id');
    this.base = new URL(url.href.replace(/[?#].*$/, '').replace(/\/+$/, ''));
    this.redactions = [value, ...urlSecrets(url)];
  }

  /** Posts a new message and resolves with its id (undefined if Discord answered without a body). */
  async execute(message: DiscordMessage): Promise<string | undefined> {
    const url = this.url('', { wait: 'true' });
    const response = await this.send('POST', url, message);
    const text = await drain(response);
    try {
      const id = (JSON.parse(text) as { id?: unknown }).id;
      return typeof id === 'string' && /^\d+$/.test(id) ? id : undefined;
    } catch {
      return undefined;
    }
  }

  /** Replaces the message's content and embeds. */
  async edit(messageId: string, message: DiscordMessage): Promise<void> {
    await drain(await this.send('PATCH', this.url(`/messages/${messageId}`), message));
  }

  /** Deletes the message; one that is gone already counts as deleted. */
  async remove(messageId: string): Promise<void> {
    try {
      await drain(await this.send('DELETE', this.url(`/messages/${messageId}`)));
    } catch (error) {
      if ((error as { discordCode?: number }).discordCode !== DISCORD_ERRORS.unknownMessage) throw error;
    }
  }

  private url(path: string, query: Record<string, string> = {}): URL {
    const url = new URL(`${this.base.href}${path}`);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    if (this.threadId) url.searchParams.set('thread_id', this.threadId);
    return url;
  }

  /** The response of a 2xx; anything else is thrown as the classified error, carrying Discord's code. */
  private async send(method: string, url: URL, body?: DiscordMessage): Promise<Response> {
    const response = await vendorFetch(
      url,
      {
        method,
        headers: {
          ...(body ? { 'content-type': 'application/json' } : {}),
          accept: 'application/json',
          'user-agent': RELAY_USER_AGENT,
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      },
      { label: this.label, timeoutSeconds: this.options.timeoutSeconds, fetch: this.options.fetch },
    );
    if (response.status >= 200 && response.status < 300) return response;
    const { code, retryAfter } = await discordError(response.clone());
    const error = await statusError(response, {
      label: this.label,
      redactions: this.redactions,
      now: this.options.now(),
      redirectHint: `put the final webhook URL in ${this.options.secretName}`,
      // Discord's float seconds are more exact than its whole-second Retry-After; SQS waits whole seconds.
      ...(retryAfter === undefined
        ? {}
        : { rateLimit: { vendorSeconds: Math.ceil(retryAfter), defaultSeconds: 1, minSeconds: 1 } }),
      permanentHint: (status) =>
        code === DISCORD_ERRORS.unknownWebhook || code === DISCORD_ERRORS.invalidToken || status === 401
          ? `: the webhook was deleted or its token is wrong; create a webhook and put its URL in ${this.options.secretName}`
          : undefined,
    });
    throw Object.assign(error, code === undefined ? {} : { discordCode: code });
  }
}

/** Discord's JSON error code and, on a 429, `retry_after` (float seconds), when the body has them. */
async function discordError(response: Response): Promise<{ code?: number; retryAfter?: number }> {
  try {
    const body = (await response.json()) as { code?: unknown; retry_after?: unknown };
    return {
      ...(typeof body.code === 'number' ? { code: body.code } : {}),
      ...(response.status === 429 && typeof body.retry_after === 'number' && body.retry_after >= 0
        ? { retryAfter: body.retry_after }
        : {}),
    };
  } catch {
    return {};
  }
}

/** Discord's JSON error code carried by an error thrown from a DiscordWebhook call. */
export function discordErrorCode(error: unknown): number | undefined {
  const code = (error as { discordCode?: unknown } | null)?.discordCode;
  return typeof code === 'number' ? code : undefined;
}

import type { KnownBlock, MessageMetadata } from '@slack/types';
import { PermanentError, RateLimitedError, RetryableError } from '../../delivery/errors.ts';
import { rateLimitWaitSeconds, statusError, urlSecrets, vendorFetch } from '../../delivery/http.ts';
import { parseRetryAfter } from '../../delivery/retry-after.ts';
import { DEFAULT_SLACK_BASE_URL, DEFAULT_SLACK_TIMEOUT_SECONDS } from './config.ts';

/**
 * The few Slack Web API calls the Slack sink makes, over fetch, with Slack's error model
 * turned into ours: Slack answers HTTP 200 with `{ok:false, error}` for most failures and
 * uses HTTP status only for 429 (with Retry-After) and 5xx. A non-2xx answer is classified
 * like every other vendor's (lib/delivery/http.ts statusError); the `ok:false` codes are
 * Slack's own and classified here.
 * https://docs.slack.dev/apis/web-api/#responses
 */

/** `ok:false` errors that say "too many requests": a wait (RateLimitedError), not a failed attempt. */
export const RATE_LIMIT_SLACK_ERRORS: ReadonlySet<string> = new Set(['ratelimited', 'rate_limited']);

/**
 * `ok:false` errors worth another attempt (the rate-limit ones wait instead, see
 * RATE_LIMIT_SLACK_ERRORS). Everything else means the request or the token is wrong.
 */
export const RETRYABLE_SLACK_ERRORS: ReadonlySet<string> = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
]);

/** Errors that say what a person must fix; named in the DLQ reason with a hint. */
const HINTS: Record<string, string> = {
  invalid_auth: 'the token is not valid',
  not_authed: 'no token was sent',
  account_inactive: 'the token belongs to a deleted user or workspace',
  token_revoked: 'the token was revoked',
  token_expired: 'the token expired',
  channel_not_found: 'the channel ID does not exist or the app cannot see it',
  not_in_channel: 'invite the app to the channel (/invite @app)',
  is_archived: 'the channel is archived',
  invalid_blocks: 'Slack refused the Block Kit blocks',
  msg_too_long: 'the message text is too long',
  missing_scope: 'the token lacks a scope (chat:write, files:write, channels:history)',
};

/** conversations.history / replies errors that mean the token may not read the conversation. */
const NO_HISTORY_ERRORS: ReadonlySet<string> = new Set([
  'missing_scope',
  'not_allowed_token_type',
  'method_not_supported_for_channel_type',
]);

// How far before a write's time a lookup searches: Slack's ts comes from Slack's clock, not ours.
const LOOKUP_SLACK_SECONDS = 120;

// Slack's usual rate-limit window, waited when a 429 comes without Retry-After.
const RATE_LIMIT_DEFAULT_SECONDS = 30;

/**
 * Turns a Slack `error` code into a RateLimitedError (for Retry-After, else Slack's usual
 * window), RetryableError or PermanentError whose message names the method and the code, never
 * the token.
 */
export function classifySlackError(
  method: string,
  error: string,
  options: { retryAfterSeconds?: number; statusCode?: number } = {},
): RetryableError | PermanentError {
  const code = error.replace(/[^a-z0-9_.-]/gi, '').slice(0, 80) || 'unknown_error';
  const hint = HINTS[code] ? ` (${HINTS[code]})` : '';
  if (RATE_LIMIT_SLACK_ERRORS.has(code)) {
    const retryAfterSeconds = rateLimitWaitSeconds(options.retryAfterSeconds ?? RATE_LIMIT_DEFAULT_SECONDS);
    return new RateLimitedError(`Slack ${method}: ${code}${hint} (retry after ${retryAfterSeconds} s)`, {
      retryAfterSeconds,
      statusCode: options.statusCode,
    });
  }
  const wait = options.retryAfterSeconds === undefined ? '' : ` (retry after ${options.retryAfterSeconds} s)`;
  const message = `Slack ${method}: ${code}${hint}${wait}`;
  if (RETRYABLE_SLACK_ERRORS.has(code)) {
    return new RetryableError(message, {
      retryAfterSeconds: options.retryAfterSeconds,
      statusCode: options.statusCode,
    });
  }
  return new PermanentError(message, { statusCode: options.statusCode });
}

/** A Slack `ok:false` answer, kept typed so the sink can react to some codes (message_not_found). */
export function slackErrorCode(error: unknown): string | undefined {
  return (error as { slackError?: string } | null)?.slackError;
}

export interface SlackApiOptions {
  token: string;
  baseUrl?: string;
  timeoutSeconds?: number;
  fetch?: typeof globalThis.fetch;
  now?: () => number;
}

export type SlackResponse = { ok: true; [field: string]: unknown };

/** chat.postMessage's arguments as the sink sends them. https://docs.slack.dev/reference/methods/chat.postMessage */
export interface PostMessageArguments {
  channel: string;
  /** The notification fallback. */
  text: string;
  blocks: KnownBlock[];
  thread_ts?: string;
  unfurl_links: boolean;
  unfurl_media: boolean;
  metadata: MessageMetadata;
}

/** A message as conversations.history and conversations.replies list it, as far as the sink reads it. */
export interface ListedMessage {
  ts?: string;
  metadata?: Partial<MessageMetadata>;
  files?: { id?: string }[];
}

export class SlackApi {
  readonly #token: string;
  readonly #baseUrl: string;
  readonly #timeoutSeconds: number;
  readonly #fetch: typeof globalThis.fetch;
  readonly #now: () => number;

  constructor(options: SlackApiOptions) {
    this.#token = options.token;
    this.#baseUrl = (options.baseUrl ?? DEFAULT_SLACK_BASE_URL).replace(/\/+$/, '');
    this.#timeoutSeconds = options.timeoutSeconds ?? DEFAULT_SLACK_TIMEOUT_SECONDS;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#now = options.now ?? Date.now;
  }

  /**
   * Calls a Web API method. JSON body by default; `form` for methods whose documentation
   * lists only application/x-www-form-urlencoded (files.getUploadURLExternal on api.slack.com).
   */
  async call(
    method: string,
    args: Record<string, unknown> | PostMessageArguments,
    options: { form?: boolean } = {},
  ): Promise<SlackResponse> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` };
    let body: string;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(
        Object.entries(args)
          .filter(([, value]) => value !== undefined)
          .map(([key, value]): [string, string] => [
            key,
            typeof value === 'string' ? value : JSON.stringify(value),
          ]),
      ).toString();
    } else {
      headers['content-type'] = 'application/json; charset=utf-8';
      body = JSON.stringify(args);
    }
    const response = await this.#send(
      `${this.#baseUrl}/${method}`,
      { method: 'POST', headers, body },
      `Slack ${method}`,
    );
    return this.#read(method, response);
  }

  /**
   * The messages of a channel, or of one thread, from a little before `since` (epoch ms) on:
   * where the sink looks for what an interrupted write did. `metadata` asks for the messages'
   * metadata too. `unreadable` names the Slack error when the token may not read the
   * conversation (no history scope, a DM the bot cannot read); other failures throw.
   */
  async recentMessages(query: {
    channel: string;
    since: number;
    threadTs?: string;
    metadata?: boolean;
  }): Promise<{ messages: ListedMessage[] } | { unreadable: string }> {
    const args = {
      channel: query.channel,
      ...(query.threadTs ? { ts: query.threadTs } : {}),
      oldest: (Math.floor(query.since / 1000) - LOOKUP_SLACK_SECONDS).toString(),
      inclusive: true,
      limit: 200,
      ...(query.metadata ? { include_all_metadata: true } : {}),
    };
    try {
      const found = await this.call(
        query.threadTs ? 'conversations.replies' : 'conversations.history',
        args,
        { form: true },
      );
      return { messages: (found.messages ?? []) as ListedMessage[] };
    } catch (error) {
      const code = slackErrorCode(error);
      if (!code || !NO_HISTORY_ERRORS.has(code)) throw error;
      return { unreadable: code };
    }
  }

  /** Step 2 of an external upload: the bytes to the upload_url Slack handed out (no token needed, it is in the URL). */
  async uploadBytes(uploadUrl: string, bytes: Uint8Array, filename: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(uploadUrl);
    } catch {
      throw new RetryableError('Slack files.getUploadURLExternal returned an upload_url that is not a URL');
    }
    const label = `Slack file upload ${url.host}`;
    const response = await this.#send(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'x-filename': filename },
        body: bytes,
      },
      label,
    );
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => undefined);
      return;
    }
    throw await statusError(response, {
      label,
      redactions: [...urlSecrets(url), this.#token],
      now: this.#now(),
      redirectHint: 'the upload_url must take the bytes itself',
    });
  }

  #send(url: string | URL, init: RequestInit, label: string): Promise<Response> {
    return vendorFetch(url, init, { label, timeoutSeconds: this.#timeoutSeconds, fetch: this.#fetch });
  }

  async #read(method: string, response: Response): Promise<SlackResponse> {
    const status = response.status;
    if (status < 200 || status >= 300) {
      throw await statusError(response, {
        label: `Slack ${method}`,
        redactions: [this.#token],
        now: this.#now(),
        redirectHint: 'set baseUrl to the final address of the Web API',
        rateLimit: { minSeconds: 0, defaultSeconds: RATE_LIMIT_DEFAULT_SECONDS },
      });
    }
    let parsed: { ok?: unknown; error?: unknown };
    try {
      parsed = (await response.json()) as typeof parsed;
    } catch {
      // A proxy's HTML page on a 200: not Slack's answer, worth another try.
      throw new RetryableError(`Slack ${method} answered ${status} without a JSON body`, {
        statusCode: status,
      });
    }
    if (parsed?.ok === true) return parsed as SlackResponse;
    const code = typeof parsed?.error === 'string' ? parsed.error : 'unknown_error';
    const error = classifySlackError(method, code, {
      retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after'), this.#now()),
    });
    (error as unknown as { slackError: string }).slackError = code;
    throw error;
  }
}

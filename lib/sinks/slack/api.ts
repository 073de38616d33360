import { PermanentError, RetryableError } from '../../delivery/errors.ts';
import { isRetryableStatus, readBodySnippet, vendorFetch } from '../../delivery/http.ts';
import { parseRetryAfter } from '../../delivery/retry-after.ts';
import type { StateStore } from '../../state/store.ts';

/**
 * The few Slack Web API calls the Slack sink makes, over fetch, with Slack's error model
 * turned into ours: Slack answers HTTP 200 with `{ok:false, error}` for most failures and
 * uses HTTP status only for 429 (with Retry-After) and 5xx.
 * https://docs.slack.dev/apis/web-api/#responses
 */

export const DEFAULT_SLACK_BASE_URL = 'https://slack.com/api';
export const DEFAULT_SLACK_TIMEOUT_SECONDS = 10;

/** `ok:false` errors worth another attempt. Everything else means the request or the token is wrong. */
export const RETRYABLE_SLACK_ERRORS: ReadonlySet<string> = new Set([
  'ratelimited',
  'rate_limited',
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

/**
 * Turns a Slack `error` code into a RetryableError or PermanentError whose message names the
 * method and the code, never the token.
 */
export function classifySlackError(
  method: string,
  error: string,
  options: { retryAfterSeconds?: number; statusCode?: number } = {},
): RetryableError | PermanentError {
  const code = error.replace(/[^a-z0-9_.-]/gi, '').slice(0, 80) || 'unknown_error';
  const hint = HINTS[code] ? ` (${HINTS[code]})` : '';
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
    args: Record<string, unknown>,
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

  /** Step 2 of an external upload: the bytes to the upload_url Slack handed out (no token needed, it is in the URL). */
  async uploadBytes(uploadUrl: string, bytes: Uint8Array, filename: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(uploadUrl);
    } catch {
      throw new RetryableError('Slack files.getUploadURLExternal returned an upload_url that is not a URL');
    }
    const response = await this.#send(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'x-filename': filename },
        body: bytes,
      },
      `Slack file upload ${url.host}`,
    );
    await response.body?.cancel().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) return;
    const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), this.#now());
    const message = `Slack file upload ${url.host} answered ${response.status}`;
    if (isRetryableStatus(response.status))
      throw new RetryableError(message, { statusCode: response.status, retryAfterSeconds });
    throw new PermanentError(message, { statusCode: response.status });
  }

  #send(url: string | URL, init: RequestInit, label: string): Promise<Response> {
    return vendorFetch(url, init, { label, timeoutSeconds: this.#timeoutSeconds, fetch: this.#fetch });
  }

  async #read(method: string, response: Response): Promise<SlackResponse> {
    const status = response.status;
    if (status === 429 || status >= 500 || status < 200 || status >= 300) {
      const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), this.#now());
      const snippet = await readBodySnippet(response, [this.#token]);
      const label = `Slack ${method} answered ${status}${snippet ? `: ${snippet}` : ''}`;
      if (status === 429) {
        // Slack's documented default when the header is missing is to back off; 30 s is its usual window.
        throw new RetryableError(label, { statusCode: status, retryAfterSeconds: retryAfterSeconds ?? 30 });
      }
      if (isRetryableStatus(status))
        throw new RetryableError(label, { statusCode: status, retryAfterSeconds });
      throw new PermanentError(label, { statusCode: status });
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

/** Slack's chat.postMessage guidance: about one message per second per channel, short bursts allowed. */
export interface ChannelPace {
  /** Messages allowed back to back. */
  burst: number;
  /** Seconds per message once the burst is used. */
  intervalSeconds: number;
}

export const DEFAULT_CHANNEL_PACE: ChannelPace = { burst: 3, intervalSeconds: 1 };

interface PaceRecord {
  /** Epoch ms from which the bucket is full again (GCRA's "theoretical arrival time"). */
  tat: number;
}

/** Slots of a channel's posting budget held by one delivery. */
export interface ChannelReservation {
  /** When the reservation was made (epoch ms). */
  at: number;
  /** When slot 0 is due if the channel were busy (epoch ms; slot i is due `i` intervals later). */
  base: number;
  count: number;
}

/**
 * Reserves `count` messages of the channel's posting budget (a GCRA token bucket kept in the
 * state store, so every Lambda shares it). The caller keeps the reservation with its delivery
 * and, when a post's slot is not due yet, hands the message back to the queue until it is
 * (RetryableError with retryAfterSeconds): a Lambda never sleeps waiting for Slack, and a
 * delivery waits for its own turn instead of racing the others every second. The store has
 * no compare-and-set, so two concurrent deliveries can take the same slot; Slack's own 429
 * with Retry-After covers that rare case the same way.
 * https://docs.slack.dev/apis/web-api/rate-limits
 *
 * @example
 * const reservation = await reserveChannelSlots(state, 'slackpace#C0123456789', Date.now(), 2);
 * if (slotTime(reservation, 0) > Date.now()) throw pacingError(slotTime(reservation, 0), Date.now());
 */
export async function reserveChannelSlots(
  state: StateStore,
  key: string,
  now: number,
  count: number,
  pace: ChannelPace = DEFAULT_CHANNEL_PACE,
): Promise<ChannelReservation> {
  const intervalMs = pace.intervalSeconds * 1000;
  const record = await state.get<PaceRecord>(key);
  const tat = Math.max(record?.tat ?? 0, now);
  await state.put(key, { tat: tat + count * intervalMs } satisfies PaceRecord, { ttlSeconds: 3600 });
  return { at: now, base: tat - (pace.burst - 1) * intervalMs, count };
}

/** When slot `index` of a reservation is due (epoch ms). */
export function slotTime(
  reservation: ChannelReservation,
  index: number,
  pace: ChannelPace = DEFAULT_CHANNEL_PACE,
): number {
  return Math.max(reservation.at, reservation.base + index * pace.intervalSeconds * 1000);
}

/** The RetryableError that hands a delivery back to the queue until its reserved time. */
export function pacingError(readyAt: number, now: number): RetryableError {
  const waitSeconds = Math.max(1, Math.ceil((readyAt - now) / 1000));
  return new RetryableError(
    `Slack channel pacing: this notification's messages may go out in ${waitSeconds} s`,
    {
      retryAfterSeconds: waitSeconds,
    },
  );
}

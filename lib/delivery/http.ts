import { assertTimeForCall, beforeVendorCall, callTimeoutSeconds } from './deadline.ts';
import { OutOfTimeError, PermanentError, RateLimitedError, RetryableError } from './errors.ts';
import { DELIVERY_POLICY } from './policy.ts';
import { parseRetryAfter } from './retry-after.ts';

/**
 * What every sink needs to talk HTTP to a vendor safely, in one place: the request itself
 * (vendorFetch, postJson: no redirects, a timeout, transport errors as RetryableError without
 * the URL), the retryable status classes, "answered 429 Too Many Requests" wording, base URL
 * handling, and response body snippets fit for a log line or a DLQ reason (no control
 * characters, tokens redacted).
 */

// Path segments and query values shorter than this are words like "hooks", not tokens, and
// redacting them would mangle the rest of the quoted body.
const MIN_REDACT_LENGTH = 6;

// Read a little more than we quote, so stripping control characters still leaves enough.
const BODY_READ_LIMIT_BYTES = 4096;

/** Longest piece of a response body quoted in an error message. */
export const BODY_SNIPPET_MAX_CHARS = 200;

/** 408, 425 and 429 say "not now"; every other 4xx means the request itself is wrong. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * How long a rate-limited call waits: `seconds` (the vendor's word, or the sink's default), else
 * DELIVERY_POLICY.rateLimitWaitSeconds; never under a second, since a wait counts no attempt
 * and a `Retry-After: 0` would otherwise call the vendor again at once, over and over.
 */
export function rateLimitWaitSeconds(seconds: number | undefined): number {
  return Math.max(1, seconds ?? DELIVERY_POLICY.rateLimitWaitSeconds);
}

/** Timeouts and connection failures: the receiver may be back by the next attempt. */
export function transportError(error: unknown, label: string, timeoutSeconds: number): RetryableError {
  if (isTimeout(error)) {
    return new RetryableError(`${label} did not answer within ${timeoutSeconds} s`);
  }
  const code = errorCode(error);
  // Only the code: undici's messages and causes can quote the request URL.
  return new RetryableError(`${label} could not be reached${code ? ` (${code})` : ''}`);
}

/** The first system/undici error code in a cause chain (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET...). */
export function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const { code, cause, errors } = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code;
    current = cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return undefined;
}

/** Parts of a URL that commonly carry tokens: path segments, query values, the fragment. */
export function urlSecrets(url: URL): string[] {
  const found = [`${url.pathname}${url.search}`, url.pathname, url.search, url.hash];
  for (const segment of url.pathname.split('/')) found.push(segment, safeDecode(segment));
  for (const [key, value] of url.searchParams) found.push(key, value);
  return found;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Up to BODY_SNIPPET_MAX_CHARS of the response body, fit for a log line or a DLQ reason:
 * no control characters or terminal escapes, and nothing that looks like our URL's tokens
 * or secrets (error pages often echo the request path).
 */
export async function readBodySnippet(response: Response, redactions: readonly string[]): Promise<string> {
  let text = '';
  try {
    const read = await readAtMost(response, BODY_READ_LIMIT_BYTES);
    text = read.cut ? redactCutTail(read.text, redactions) : read.text;
  } catch {
    // A body that breaks off (or the timeout firing while reading it) must not change how
    // the status is classified; the status alone is enough.
    return '';
  }
  return sanitizeSnippet(text, redactions);
}

export function sanitizeSnippet(text: string, redactions: readonly string[]): string {
  let clean = text
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping terminal escapes is the point
    .replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const ordered = [...new Set(redactions)]
    .filter((r) => r.length >= MIN_REDACT_LENGTH)
    .sort((a, b) => b.length - a.length);
  for (const secret of ordered) clean = clean.split(secret).join('[redacted]');
  const chars = Array.from(clean);
  return chars.length > BODY_SNIPPET_MAX_CHARS
    ? `${chars.slice(0, BODY_SNIPPET_MAX_CHARS - 1).join('')}…`
    : clean;
}

// A secret cut in half at the read limit would escape whole-string redaction: redact a tail
// that is the start of one.
function redactCutTail(text: string, redactions: readonly string[]): string {
  for (const secret of redactions) {
    if (secret.length < MIN_REDACT_LENGTH) continue;
    for (let k = Math.min(secret.length - 1, text.length); k >= 4; k--) {
      if (text.endsWith(secret.slice(0, k))) return `${text.slice(0, -k)}[redacted]`;
    }
  }
  return text;
}

async function readAtMost(response: Response, limit: number): Promise<{ text: string; cut: boolean }> {
  if (!response.body) return { text: '', cut: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    // Stop downloading a large error page once we have what we quote.
    await reader.cancel().catch(() => undefined);
  }
  const bytes = Buffer.concat(chunks);
  return {
    text: new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, limit)),
    cut: bytes.byteLength >= limit,
  };
}

/**
 * fetch as every sink calls a vendor: redirects are not followed (a 3xx would carry a token,
 * a key in the path or a signed payload to a host nobody configured), the whole request is cut
 * off after `timeoutSeconds`, and a transport failure becomes a RetryableError that names only
 * `label` (undici's errors can quote the URL). Resolves with the response whatever its status.
 *
 * Inside a delivery the timeout is also capped by the function's time left less the handler's
 * reserve (lib/delivery/deadline.ts): a call is not started without time for it (OutOfTimeError),
 * and a call cut short by the deadline, not by its own timeout, fails with OutOfTimeError.
 */
export async function vendorFetch(
  url: string | URL,
  init: RequestInit,
  options: { label: string; timeoutSeconds: number; fetch?: typeof globalThis.fetch },
): Promise<Response> {
  const doFetch = options.fetch ?? ((input, requestInit) => globalThis.fetch(input, requestInit));
  assertTimeForCall(`the call to ${options.label}`);
  await beforeVendorCall();
  const timeout = callTimeoutSeconds(options.timeoutSeconds);
  try {
    return await doFetch(url, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.timeout(Math.max(1, Math.floor(timeout.seconds * 1000))),
    });
  } catch (error) {
    const failure = transportError(error, options.label, roundSeconds(timeout.seconds));
    if (timeout.capped && isTimeout(error)) {
      throw new OutOfTimeError(`${failure.message}, cut short by the function's deadline`);
    }
    throw failure;
  }
}

function isTimeout(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

function roundSeconds(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}

/** What a vendor sink needs to POST JSON and say what came back, without leaking the URL. */
export interface JsonPostOptions {
  /** `pagerduty events.pagerduty.com`: names the vendor and host in every error, never the path. */
  label: string;
  timeoutSeconds: number;
  fetch?: typeof globalThis.fetch;
  headers?: Record<string, string>;
}

export const RELAY_USER_AGENT = 'alertmanager-relay';

/**
 * POSTs `body` (already serialised) as JSON through vendorFetch. Resolves with the response
 * whatever its status; throws a RetryableError (timeout, connection refused...) that never
 * quotes the URL (ilert's URLs carry the alert source key).
 */
export async function postJson(url: URL, body: string, options: JsonPostOptions): Promise<Response> {
  return vendorFetch(
    url,
    {
      method: 'POST',
      headers: {
        ...options.headers,
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': RELAY_USER_AGENT,
      },
      body,
    },
    options,
  );
}

// RFC 9110's reason phrases for the statuses a vendor answers with, kept here rather than read
// from node:http: importing node:http costs a sink bundle ~25 ms of its cold start.
const REASON_PHRASES: Readonly<Record<number, string>> = {
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  305: 'Use Proxy',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  418: "I'm a Teapot",
  421: 'Misdirected Request',
  422: 'Unprocessable Entity',
  423: 'Locked',
  424: 'Failed Dependency',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  506: 'Variant Also Negotiates',
  507: 'Insufficient Storage',
  508: 'Loop Detected',
  509: 'Bandwidth Limit Exceeded',
  510: 'Not Extended',
  511: 'Network Authentication Required',
};

/** `pagerduty events.pagerduty.com answered 429 Too Many Requests` */
export function answered(label: string, status: number): string {
  return `${label} answered ${status}${REASON_PHRASES[status] ? ` ${REASON_PHRASES[status]}` : ''}`;
}

/** Reads the body off a successful response so the connection is reused, ignoring failures. */
export async function drain(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch {
    return '';
  }
}

/** The base URL from config (or the vendor default), checked: http(s), no credentials, no query. */
export function parseBaseUrl(raw: string, sink: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${sink} baseUrl is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${sink} baseUrl for ${url.host || 'its host'} must be http or https`);
  }
  return url;
}

/** `base` + `path`, keeping any path prefix of the base (a proxy or test server mount point). */
export function joinUrl(base: URL, path: string): URL {
  const joined = new URL(base.href);
  joined.pathname = `${base.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  joined.search = '';
  joined.hash = '';
  return joined;
}

/** How a sink words and times the error for a vendor's non-2xx answer (see statusError). */
export interface StatusErrorOptions {
  /** `webhook 127.0.0.1:8080`: the vendor and host, never the path. */
  label: string;
  /** Values that must not appear in the quoted response body (tokens, keys, URL parts). */
  redactions: readonly string[];
  /** Epoch ms, for an HTTP-date Retry-After. */
  now: number;
  /** What to do about a 3xx (redirects are never followed): `configure the final URL`. */
  redirectHint: string;
  /**
   * Vendors that ask for a pause on 429 (ilert 10-30 s, PagerDuty 30 s, Sentry 60 s): the wait
   * is `vendorSeconds` (the vendor's own header, read by the sink: Sentry's
   * X-Sentry-Rate-Limits), else the Retry-After, else `defaultSeconds`; at least `minSeconds`.
   */
  rateLimit?: { minSeconds: number; defaultSeconds: number; vendorSeconds?: number };
  /** Words added after the status of a permanent failure: `: the receiver asked for no more deliveries`. */
  permanentHint?: (status: number) => string | undefined;
}

/**
 * The error for a vendor's non-2xx answer, classified the same way for every sink: a 3xx is
 * permanent (redirects are not followed); a 429 is a wait, RateLimitedError, for the vendor's
 * Retry-After (else `rateLimit`'s default, else DELIVERY_POLICY.rateLimitWaitSeconds, 60 s);
 * 408/425/5xx are retryable failures with the vendor's Retry-After; every other status is
 * permanent. The message quotes a redacted snippet of the body.
 */
export async function statusError(
  response: Response,
  options: StatusErrorOptions,
): Promise<RetryableError | PermanentError> {
  const status = response.status;
  const said = answered(options.label, status);
  if (status >= 300 && status < 400) {
    await drain(response);
    return new PermanentError(`${said}: redirects are not followed, ${options.redirectHint}`, {
      statusCode: status,
    });
  }
  const snippet = await readBodySnippet(response, options.redactions);
  const quoted = snippet ? `: ${snippet}` : '';
  const header = parseRetryAfter(response.headers.get('retry-after'), options.now);
  if (status === 429) {
    const limit = options.rateLimit;
    const retryAfterSeconds = rateLimitWaitSeconds(
      limit ? Math.max(limit.vendorSeconds ?? header ?? limit.defaultSeconds, limit.minSeconds) : header,
    );
    return new RateLimitedError(`${said} (rate limited; retry after ${retryAfterSeconds} s)${quoted}`, {
      statusCode: status,
      retryAfterSeconds,
    });
  }
  if (isRetryableStatus(status)) {
    const wait = header === undefined ? '' : ` (retry after ${header} s)`;
    return new RetryableError(`${said}${wait}${quoted}`, { statusCode: status, retryAfterSeconds: header });
  }
  return new PermanentError(`${said}${options.permanentHint?.(status) ?? ''}${quoted}`, {
    statusCode: status,
  });
}

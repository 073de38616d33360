import { STATUS_CODES } from 'node:http';
import { transportError } from './http.ts';

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
 * POSTs `body` (already serialised) as JSON. Resolves with the response whatever its status;
 * throws a RetryableError (timeout, connection refused...) that never quotes the URL, because
 * ilert's URLs carry the alert source key.
 */
export async function postJson(url: URL, body: string, options: JsonPostOptions): Promise<Response> {
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  try {
    return await doFetch(url, {
      method: 'POST',
      headers: {
        ...options.headers,
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': RELAY_USER_AGENT,
      },
      body,
      // A 3xx would carry the key in the body (PagerDuty) or path (ilert) to wherever it points.
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutSeconds * 1000),
    });
  } catch (error) {
    throw transportError(error, options.label, options.timeoutSeconds);
  }
}

/** `pagerduty events.pagerduty.com answered 429 Too Many Requests` */
export function answered(label: string, status: number): string {
  return `${label} answered ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''}`;
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

import { RELAY_USER_AGENT, sanitizeSnippet, transportError, vendorFetch } from '../../../delivery/http.ts';
import type { SecretReader } from '../../../delivery/sink.ts';
import { GRAPH_DEFAULTS, type GraphConfig } from './config.ts';

/**
 * A small client for Prometheus's range query
 * (https://prometheus.io/docs/prometheus/latest/querying/api/#range-queries): it never throws;
 * every way it can fail is one of a few reasons, fit for a log line and a metric dimension.
 * The request goes through the delivery core's vendorFetch like every sink's (no redirects,
 * one timeout for the whole exchange, transport errors that never quote the URL); a graph is
 * never retried, so an answer is not classified retryable or permanent, only named.
 */

/** Why a graph was skipped: a small fixed set, so it can be a metric dimension. */
export type GraphSkipReason =
  | 'not-firing'
  | 'no-expression'
  | 'secret'
  | 'timeout'
  | 'unreachable'
  | 'http-error'
  | 'query-error'
  | 'bad-response'
  | 'unexpected-result'
  | 'no-data'
  | 'render-error';

/** One series of a matrix: its labels and [unix seconds, value] points in time order. */
export interface MatrixSeries {
  labels: Record<string, string>;
  points: [number, number][];
}

export type RangeQueryResult =
  | { ok: true; series: MatrixSeries[] }
  | { ok: false; reason: GraphSkipReason; message: string };

/** Start, end and step of a range query, in unix seconds. */
export interface RangeWindow {
  start: number;
  end: number;
  step: number;
}

// A matrix of thousands of series is not something we can draw; stop reading it.
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * The window a graph covers: `windowSeconds` back from now, or by default from an hour
 * before the first alert started (at least an hour, at most a week), with a step that gives
 * about `points` points.
 */
export function rangeWindow(input: {
  now: Date;
  startsAt: number | undefined;
  windowSeconds?: number;
  points?: number;
}): RangeWindow {
  const end = Math.floor(input.now.getTime() / 1000);
  let length: number;
  if (input.windowSeconds !== undefined) {
    length = input.windowSeconds;
  } else {
    const since = input.startsAt === undefined ? end : Math.floor(input.startsAt / 1000);
    length = Math.min(
      GRAPH_DEFAULTS.maxDefaultWindowSeconds,
      Math.max(GRAPH_DEFAULTS.leadSeconds, end - since + GRAPH_DEFAULTS.leadSeconds),
    );
  }
  length = Math.max(60, Math.round(length));
  const points = Math.max(2, Math.round(input.points ?? GRAPH_DEFAULTS.points));
  const step = Math.max(1, Math.ceil(length / points));
  return { start: end - length, end, step };
}

/**
 * The Authorization header value for the configured credentials (read by secret NAME), or
 * undefined without any. Throws what the SecretReader throws for a missing secret.
 */
export async function authorization(config: GraphConfig, secrets: SecretReader): Promise<string | undefined> {
  if (config.bearerTokenSecret) return `Bearer ${await secrets.get(config.bearerTokenSecret)}`;
  if (config.basicAuthUserSecret && config.basicAuthPasswordSecret) {
    const [user, password] = await Promise.all([
      secrets.get(config.basicAuthUserSecret),
      secrets.get(config.basicAuthPasswordSecret),
    ]);
    return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  }
  return undefined;
}

/** `https://prom.example.com/prefix/` -> `https://prom.example.com/prefix/api/v1/query_range` */
export function queryRangeUrl(prometheusUrl: string): URL {
  const url = new URL(prometheusUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v1/query_range`;
  url.search = '';
  url.hash = '';
  return url;
}

/**
 * POSTs a range query (form-encoded, so a long expression never meets a URL length limit)
 * and returns the matrix, or why there is nothing to draw.
 */
export async function queryRange(input: {
  prometheusUrl: string;
  expr: string;
  window: RangeWindow;
  timeoutSeconds?: number;
  authorization?: string;
  fetch?: typeof globalThis.fetch;
}): Promise<RangeQueryResult> {
  const timeoutSeconds = input.timeoutSeconds ?? GRAPH_DEFAULTS.timeoutSeconds;
  let url: URL;
  try {
    url = queryRangeUrl(input.prometheusUrl);
  } catch {
    return { ok: false, reason: 'unreachable', message: 'prometheusUrl is not a URL' };
  }
  const label = `Prometheus at ${url.host}`;
  const redactions = input.authorization ? authorizationSecrets(input.authorization) : [];
  const body = new URLSearchParams({
    query: input.expr,
    start: String(input.window.start),
    end: String(input.window.end),
    step: String(input.window.step),
    // Prometheus stops evaluating when we stop waiting. A bare number is seconds; a duration
    // string with a fraction ("0.5s") is refused.
    timeout: String(timeoutSeconds),
  });
  // vendorFetch words a transport failure; whether it was the timeout decides the reason.
  let failure: unknown;
  const observed: typeof globalThis.fetch = async (request, init) => {
    try {
      return await (input.fetch ?? globalThis.fetch)(request, init);
    } catch (error) {
      failure = error;
      throw error;
    }
  };
  let response: Response;
  try {
    // A redirect could carry the Authorization header to another host; the operator
    // configures the final address instead (vendorFetch never follows one).
    response = await vendorFetch(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'user-agent': RELAY_USER_AGENT,
          ...(input.authorization ? { authorization: input.authorization } : {}),
        },
        body,
      },
      { label, timeoutSeconds, fetch: observed },
    );
  } catch (error) {
    return transportFailure(failure ?? error, label, timeoutSeconds);
  }

  if (response.status < 200 || response.status > 299) {
    let text = '';
    try {
      text = await readLimited(response, 64 * 1024);
    } catch (error) {
      if (isTimeout(error)) return transportFailure(error, label, timeoutSeconds);
    }
    const apiError = prometheusError(text, redactions);
    if (apiError) {
      return {
        ok: false,
        reason: 'query-error',
        message: `${label} answered ${response.status}: ${apiError}`,
      };
    }
    const snippet = text ? `: ${sanitizeSnippet(text, redactions)}` : '';
    const hint =
      response.status >= 300 && response.status < 400
        ? ' (redirects are not followed: set prometheusUrl to the final address)'
        : response.status === 401 || response.status === 403
          ? ' (check the graph credentials)'
          : '';
    return {
      ok: false,
      reason: 'http-error',
      message: `${label} answered ${response.status}${hint}${snippet}`,
    };
  }

  let text: string;
  try {
    text = await readLimited(response, MAX_RESPONSE_BYTES);
  } catch (error) {
    if (isTimeout(error)) return transportFailure(error, label, timeoutSeconds);
    if (error instanceof ResponseTooLargeError) {
      return {
        ok: false,
        reason: 'bad-response',
        message: `${label} answered more than ${MAX_RESPONSE_BYTES} bytes`,
      };
    }
    return transportFailure(error, label, timeoutSeconds);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {
      ok: false,
      reason: 'bad-response',
      message: `${label} answered ${response.status} with a body that is not JSON: ${sanitizeSnippet(text, redactions)}`,
    };
  }
  return matrixOf(parsed, label, redactions);
}

function matrixOf(parsed: unknown, label: string, redactions: string[]): RangeQueryResult {
  const envelope = parsed as { status?: unknown; data?: { resultType?: unknown; result?: unknown } } | null;
  if (envelope?.status === 'error') {
    return { ok: false, reason: 'query-error', message: `${label}: ${prometheusError(parsed, redactions)}` };
  }
  if (envelope?.status !== 'success' || typeof envelope.data !== 'object' || envelope.data === null) {
    return {
      ok: false,
      reason: 'bad-response',
      message: `${label} answered without status "success" and data`,
    };
  }
  const { resultType, result } = envelope.data;
  if (resultType !== 'matrix' || !Array.isArray(result)) {
    return {
      ok: false,
      reason: 'unexpected-result',
      message: `${label} answered a ${sanitizeSnippet(String(resultType), [])} result, not a matrix`,
    };
  }
  const series: MatrixSeries[] = [];
  for (const entry of result as unknown[]) {
    const parsedSeries = seriesOf(entry);
    if (parsedSeries && parsedSeries.points.length > 0) series.push(parsedSeries);
  }
  if (series.length === 0) {
    return {
      ok: false,
      reason: 'no-data',
      message: `${label} has no float samples for the expression in the window (${result.length} series)`,
    };
  }
  return { ok: true, series };
}

// `values` are [unix seconds, "float as string"] pairs; native histograms come in `histograms`
// instead and are not drawn. "NaN", "+Inf" and "-Inf" parse to non-finite numbers and become gaps.
function seriesOf(entry: unknown): MatrixSeries | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { metric, values } = entry as { metric?: unknown; values?: unknown };
  const labels: Record<string, string> = {};
  if (typeof metric === 'object' && metric !== null) {
    for (const [name, value] of Object.entries(metric)) {
      if (typeof value === 'string') labels[name] = value;
    }
  }
  const points: [number, number][] = [];
  if (Array.isArray(values)) {
    for (const pair of values) {
      if (!Array.isArray(pair) || pair.length < 2) continue;
      const t = Number(pair[0]);
      const v = typeof pair[1] === 'string' ? parseSampleValue(pair[1]) : Number.NaN;
      if (Number.isFinite(t) && Number.isFinite(v)) points.push([t, v]);
    }
  }
  points.sort((a, b) => a[0] - b[0]);
  return { labels, points };
}

function parseSampleValue(text: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** `errorType: error` from a Prometheus error body, or undefined if it is not one. */
function prometheusError(body: unknown, redactions: string[]): string | undefined {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const envelope = value as { status?: unknown; errorType?: unknown; error?: unknown } | null;
  if (envelope?.status !== 'error') return undefined;
  const type = typeof envelope.errorType === 'string' ? envelope.errorType : 'error';
  const message = typeof envelope.error === 'string' ? envelope.error : 'no message';
  return sanitizeSnippet(`${type}: ${message}`, redactions);
}

/** A timeout or a connection failure, worded by the delivery core (never the URL). */
function transportFailure(error: unknown, label: string, timeoutSeconds: number): RangeQueryResult {
  const { message } = transportError(error, label, timeoutSeconds);
  return { ok: false, reason: isTimeout(error) ? 'timeout' : 'unreachable', message };
}

function isTimeout(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

function authorizationSecrets(header: string): string[] {
  const [scheme, credentials = ''] = header.split(' ', 2);
  if (scheme !== 'Basic') return [credentials];
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return [credentials, decoded, decoded.slice(0, colon), decoded.slice(colon + 1)];
}

class ResponseTooLargeError extends Error {}

async function readLimited(response: Response, limit: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw new ResponseTooLargeError();
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8');
}

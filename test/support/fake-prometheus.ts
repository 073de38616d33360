import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * Error texts checked against a real Prometheus 2.42 (Debian's /usr/bin/prometheus).
 *
 * A fake Prometheus that answers `/api/v1/query_range` the way Prometheus 2.x/3.x does
 * (https://prometheus.io/docs/prometheus/latest/querying/api/#range-queries): GET query or
 * POST form body; start/end as unix seconds or RFC 3339; step as seconds or a duration;
 * 400 `bad_data` for a missing or bad parameter, end before start, a step <= 0, or more than
 * 11,000 points per series; points at start + k * step; values as strings. Optional bearer
 * or basic auth answered 401 like a reverse proxy in front of it.
 */

/** A series the fake serves: its labels and its value at a unix time (undefined: no sample). */
export interface FakeSeries {
  labels: Record<string, string>;
  value: (t: number) => number | undefined;
}

export interface FakePrometheus extends FakeServer {
  /** The query_range requests that passed the contract, with their parsed parameters. */
  readonly queries: readonly FakeRangeQuery[];
}

export interface FakeRangeQuery {
  request: FakeRequest;
  query: string;
  start: number;
  end: number;
  step: number;
  timeout: string | undefined;
}

// web/api/v1/api.go: "exceeded maximum resolution of 11,000 points per timeseries".
const MAX_POINTS = 11000;

export async function startFakePrometheus(
  options: {
    /** Series per expression (exact text); an unknown expression gives an empty matrix, as an unknown metric does. */
    series?: Record<string, FakeSeries[]> | ((query: string) => FakeSeries[]);
    bearerToken?: string;
    basicAuth?: { user: string; password: string };
    /** Served under this path prefix (`/prometheus`), like a Prometheus with --web.route-prefix. */
    pathPrefix?: string;
  } = {},
): Promise<FakePrometheus> {
  const queries: FakeRangeQuery[] = [];
  const prefix = (options.pathPrefix ?? '').replace(/\/+$/, '');
  const seriesFor = (query: string): FakeSeries[] =>
    typeof options.series === 'function' ? options.series(query) : (options.series?.[query] ?? []);
  const server = await startFakeServer({
    handle: (request) => {
      if (request.path !== `${prefix}/api/v1/query_range`)
        return { status: 404, body: '404 page not found\n' };
      if (request.method !== 'GET' && request.method !== 'POST') {
        return { status: 405, body: 'Method Not Allowed' };
      }
      const auth = checkAuth(request, options);
      if (auth) return auth;
      const params = new URLSearchParams(request.query);
      if (request.method === 'POST') {
        const type = request.headers['content-type'] ?? '';
        // Go's ParseForm reads the body only for this content type; anything else is ignored.
        if (type.split(';')[0]?.trim() === 'application/x-www-form-urlencoded') {
          for (const [key, value] of new URLSearchParams(request.text)) params.append(key, value);
        }
      }
      const query = params.get('query');
      if (!query)
        return badData(
          'invalid parameter "query": unknown position: parse error: no expression found in input',
        );
      const start = parseTime(params.get('start'));
      if (start === undefined)
        return badData(
          `invalid parameter "start": cannot parse "${params.get('start') ?? ''}" to a valid timestamp`,
        );
      const end = parseTime(params.get('end'));
      if (end === undefined)
        return badData(
          `invalid parameter "end": cannot parse "${params.get('end') ?? ''}" to a valid timestamp`,
        );
      if (end < start) return badData('invalid parameter "end": end timestamp must not be before start time');
      const step = parseDuration(params.get('step'));
      if (step === undefined)
        return badData(
          `invalid parameter "step": cannot parse "${params.get('step') ?? ''}" to a valid duration`,
        );
      if (step <= 0) {
        return badData(
          'zero or negative query resolution step widths are not accepted. Try a positive integer',
        );
      }
      if ((end - start) / step > MAX_POINTS) {
        return badData(
          'exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)',
        );
      }
      const timeout = params.get('timeout') ?? undefined;
      if (timeout !== undefined && parseDuration(timeout) === undefined) {
        return badData(`invalid parameter "timeout": cannot parse "${timeout}" to a valid duration`);
      }
      queries.push({ request, query, start, end, step, timeout });
      return undefined;
    },
    fallback: (request) => {
      const last = queries.findLast((q) => q.request === request);
      if (!last) return { status: 500, body: 'no query' };
      const result = seriesFor(last.query)
        .map((series) => {
          const values: [number, string][] = [];
          for (let t = last.start; t <= last.end; t += last.step) {
            const value = series.value(t);
            if (value !== undefined) values.push([t, formatSample(value)]);
          }
          return { metric: series.labels, values };
        })
        .filter((series) => series.values.length > 0);
      return { status: 200, body: { status: 'success', data: { resultType: 'matrix', result } } };
    },
  });
  return Object.assign(server, { queries });
}

/** A body Prometheus answers for an error (`status: "error"`). */
export function prometheusErrorAnswer(status: number, errorType: string, error: string): FakeAnswer {
  return { status, body: { status: 'error', errorType, error } };
}

function badData(error: string): FakeAnswer {
  return prometheusErrorAnswer(400, 'bad_data', error);
}

function checkAuth(
  request: FakeRequest,
  options: { bearerToken?: string; basicAuth?: { user: string; password: string } },
): FakeAnswer | undefined {
  const header = request.headers.authorization;
  if (options.bearerToken !== undefined && header !== `Bearer ${options.bearerToken}`) {
    return { status: 401, body: 'Unauthorized\n' };
  }
  if (options.basicAuth) {
    const expected = Buffer.from(`${options.basicAuth.user}:${options.basicAuth.password}`).toString(
      'base64',
    );
    if (header !== `Basic ${expected}`) return { status: 401, body: 'Unauthorized\n' };
  }
  return undefined;
}

// Prometheus: a float of unix seconds, or RFC 3339.
function parseTime(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
  y: 31536000,
};

// Prometheus: a float of seconds, or a duration such as 1m30s.
function parseDuration(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds;
  const parts = [...value.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) return undefined;
  return parts.reduce((total, [, n, unit]) => total + Number(n) * (DURATION_UNITS[unit as string] ?? 0), 0);
}

function formatSample(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { authReason, type IngestHandler, MAX_BODY_BYTES } from '../ingest/ingest.ts';
import type { Rejection, RequestFacts } from '../ingest/rejections.ts';

/**
 * Timeouts that keep a slow or stuck client from holding the server: headers must arrive
 * within 10 s, the whole request within 30 s.
 * https://nodejs.org/api/http.html#serverrequesttimeout
 */
export const SERVER_TIMEOUTS = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 } as const;

/**
 * Request bodies held in memory at once, across all connections. Past it a request is answered
 * 503 (Alertmanager retries) before its body is read: without a bound, a few hundred slow
 * uploads of 5 MiB each take the process past a gigabyte.
 */
export const MAX_IN_FLIGHT_BODY_BYTES = 64 * 1024 * 1024;

const ALERTMANAGER_URL: Readonly<Pick<URL, 'pathname' | 'search'>> = {
  pathname: '/alertmanager',
  search: '',
};

/** How long a connection we are closing early may keep sending (read and dropped), so the client reads our answer. */
const LINGER_MS = 2_000;

/** The ingest token check on the Authorization header: 'ok' or the reason it is refused; throws when it cannot tell. */
export type Authenticate = (authorization: string | undefined) => Promise<'ok' | string>;

export interface LocalServerOptions {
  ingest: IngestHandler;
  /** `status` other than 'ok' is answered 503, so a probe sees it. */
  health: () => Record<string, unknown> & { status: string };
  /**
   * Checked on the headers alone, before a byte of the body is read, so a caller without the
   * token cannot make the relay buffer anything. The ingest handler checks again (on AWS it is
   * the only check).
   */
  authenticate?: Authenticate;
  /** GET /metrics on this server; absent when it is not served here (`metrics.listen` has a listener of its own). */
  metrics?: MetricsEndpoint;
  /** Told the status of every answer to /alertmanager, the server's own refusals included (an aborted upload gets none). */
  answered?: (status: number) => void;
  maxBodyBytes?: number;
  maxInFlightBodyBytes?: number;
  timeouts?: { headersMs: number; requestMs: number; keepAliveMs: number };
  /**
   * Told every request to /alertmanager the server refuses itself, before ingest runs (a token
   * refused on the headers, a method, a body too large or over the budget, a relay stopping):
   * lib/ingest/rejections.ts's RejectionLog, as ingest logs its own. `tick` comes first at each.
   */
  rejections?: { record(rejection: Rejection, request?: RequestFacts): unknown; tick?(): void };
  /** True once the relay is stopping: /alertmanager then answers 503, so Alertmanager sends it again later. */
  stopping?: () => boolean;
}

/**
 * The local stand-in for API Gateway: turns `POST /alertmanager` into an HTTP API (payload
 * format 2.0) event for the same ingest handler the Lambda runs, and serves `GET /healthz` and
 * (unless it has a listener of its own) `GET /metrics`.
 */
export function createLocalServer(options: LocalServerOptions): Server {
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const budget = new BodyBudget(options.maxInFlightBodyBytes ?? MAX_IN_FLIGHT_BODY_BYTES);
  const timeouts = options.timeouts ?? SERVER_TIMEOUTS;
  // Node checks headersTimeout and requestTimeout only every connectionsCheckingInterval (30 s
  // by default), which let a slow client hold a connection for up to 40 s instead of 10 s.
  // https://nodejs.org/api/http.html#httpcreateserveroptions-requestlistener
  /** The responses to /alertmanager requests, whose status `answered` is told once it is sent. */
  const toAlertmanager = new WeakSet<ServerResponse>();
  const server = createServer(
    { connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs) },
    (req, res) => {
      handle(req, res)
        .catch((error: unknown) => {
          // The ingest handler catches its own errors; this is the transport failing.
          if (!res.headersSent)
            send(res, 500, { error: 'internal error', details: [(error as Error).message] });
          else res.destroy();
        })
        .finally(() => {
          // In the same turn as the answer was written: a scrape that follows it counts it.
          if (toAlertmanager.has(res) && res.headersSent) options.answered?.(res.statusCode);
        });
    },
  );
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.keepAliveMs;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Alertmanager posts to exactly this path; anything else is parsed (dot segments, query).
    const url =
      req.url === '/alertmanager' ? ALERTMANAGER_URL : new URL(req.url ?? '/', 'http://relay.local');
    if (url.pathname === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return send(res, 405, { error: 'method not allowed' }, { allow: 'GET' });
      const health = options.health();
      return send(res, health.status === 'ok' ? 200 : 503, health);
    }
    if (url.pathname === '/metrics' && options.metrics) return serveMetrics(req, res, options.metrics);
    if (url.pathname !== '/alertmanager') {
      return send(res, 404, {
        error: 'not found',
        details: [
          `POST /alertmanager receives notifications; GET /healthz${options.metrics ? '; GET /metrics' : ''}`,
        ],
      });
    }
    toAlertmanager.add(res);
    options.rejections?.tick?.();
    if (req.method !== 'POST') {
      refused(req, {
        status: 405,
        reason: 'method-not-allowed',
        detail: `method ${req.method?.slice(0, 20)}`,
      });
      return send(
        res,
        405,
        { error: 'method not allowed', details: ['use POST /alertmanager'] },
        { allow: 'POST' },
      );
    }
    if (options.stopping?.()) {
      refused(req, { status: 503, reason: 'shutting-down', detail: 'the relay is stopping' });
      return refuse(
        res,
        503,
        { error: 'shutting down', details: ['the relay is stopping; send the notification again'] },
        { 'retry-after': '1' },
      );
    }
    if (options.authenticate) {
      let verdict: string;
      try {
        verdict = await options.authenticate(req.headers.authorization);
      } catch {
        // The token cannot be read: ingest answers this (503, so Alertmanager keeps the
        // notification) in its words; the body it needs is read within the budget below.
        verdict = 'ok';
      }
      if (verdict !== 'ok') {
        refused(req, { status: 401, reason: authReason(verdict), detail: verdict });
        return refuse(
          res,
          401,
          { error: 'unauthorized', details: [verdict] },
          { 'www-authenticate': 'Bearer realm="alertmanager-relay"' },
        );
      }
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      // Refused before reading a byte of it.
      return tooLarge(req, res, `${declared} bytes declared`);
    }
    // A declared length is reserved whole up front; a chunked body as it arrives.
    const reservation = budget.reserve(Number.isFinite(declared) ? declared : 0);
    if (!reservation) return busy(req, res);
    try {
      const body = await readBody(req, maxBodyBytes, reservation);
      if (body === 'too large') return tooLarge(req, res, 'read so far');
      if (body === 'over budget') return busy(req, res);
      if (body === 'aborted') return void res.destroy();
      const result = await options.ingest(toEvent(req, url, body));
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(result.headers ?? {})) headers[key] = String(value);
      // Stopping: no further request on this connection, so the drain is not kept waiting for it.
      if (options.stopping?.()) headers.connection = 'close';
      res.writeHead(result.statusCode ?? 200, headers);
      res.end(result.body ?? '');
    } finally {
      reservation.release();
    }
  }

  function tooLarge(req: IncomingMessage, res: ServerResponse, seen: string): void {
    refused(req, { status: 413, reason: 'body-too-large', detail: `over ${maxBodyBytes} bytes (${seen})` });
    refuse(res, 413, { error: 'payload too large', details: [`the body is over ${maxBodyBytes} bytes`] });
  }

  function busy(req: IncomingMessage, res: ServerResponse): void {
    refused(req, {
      status: 503,
      reason: 'server-busy',
      detail: `${budget.limit} bytes of request bodies already being read`,
    });
    refuse(
      res,
      503,
      {
        error: 'busy',
        details: [`the relay is already reading ${budget.limit} bytes of requests; try again shortly`],
      },
      { 'retry-after': '1' },
    );
  }

  /** Logs a refusal of the server's own (rate-limited by the rejection log), with what the request looked like. */
  function refused(req: IncomingMessage, rejection: Rejection): void {
    const declared = Number(req.headers['content-length']);
    options.rejections?.record(rejection, {
      ...(req.socket.remoteAddress ? { sourceIp: req.socket.remoteAddress } : {}),
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
      ...(Number.isFinite(declared) ? { bodyBytes: declared } : {}),
    });
  }

  return server;
}

/** What serves GET /metrics: the exposition, and the scrape's token check when there is one. */
export interface MetricsEndpoint {
  /** The body and its Content-Type (RelayMetrics.exposition). */
  exposition(): Promise<{ contentType: string; body: string }>;
  /** Whether the Authorization header carries the metrics token; throws when the token cannot be read. */
  authenticate?: (authorization: string | undefined) => Promise<boolean>;
}

/**
 * `GET` / `HEAD /metrics`: the Prometheus exposition; 401 without the metrics token when one is
 * configured, 503 when the token cannot be read (the scrape fails, and Prometheus' `up` says so).
 */
async function serveMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  endpoint: MetricsEndpoint,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD')
    return send(
      res,
      405,
      { error: 'method not allowed', details: ['use GET /metrics'] },
      { allow: 'GET, HEAD' },
    );
  if (endpoint.authenticate) {
    let allowed: boolean;
    try {
      allowed = await endpoint.authenticate(req.headers.authorization);
    } catch {
      // Never the secret's name or the reason: this answer goes to whoever asks.
      return send(res, 503, {
        error: 'unavailable',
        details: ['the metrics token cannot be read; the relay logged why at start'],
      });
    }
    if (!allowed) {
      return send(
        res,
        401,
        { error: 'unauthorized', details: ['GET /metrics needs "Authorization: Bearer <metrics token>"'] },
        { 'www-authenticate': 'Bearer realm="alertmanager-relay metrics"' },
      );
    }
  }
  const { contentType, body } = await endpoint.exposition();
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

/**
 * The listener of `metrics.listen`: GET /metrics alone (the relay's own port then serves no
 * /metrics), with the same header and request timeouts as the relay's.
 */
export function createMetricsServer(endpoint: MetricsEndpoint, timeouts = SERVER_TIMEOUTS): Server {
  const server = createServer(
    { connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs) },
    (req, res) => {
      const { pathname } = new URL(req.url ?? '/', 'http://relay.local');
      const answer =
        pathname === '/metrics'
          ? serveMetrics(req, res, endpoint)
          : Promise.resolve(send(res, 404, { error: 'not found', details: ['GET /metrics'] }));
      answer.catch((error: unknown) => {
        if (!res.headersSent)
          send(res, 500, { error: 'internal error', details: [(error as Error).message] });
        else res.destroy();
      });
    },
  );
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.keepAliveMs;
  return server;
}

/**
 * Answers without reading the body, and closes the connection: the client gets `connection:
 * close`, our side of the socket is shut once the answer is written, and whatever the client
 * still sends is dropped unread for LINGER_MS (closing at once would reset the connection,
 * and a client still uploading could lose the answer), then the socket is destroyed.
 */
function refuse(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const { req } = res;
  send(res, status, body, { ...headers, connection: 'close' });
  res.on('finish', () => {
    const socket = res.socket ?? req.socket;
    req.removeAllListeners('data');
    req.resume();
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });
}

/** Bytes of request bodies held across all connections, against a limit. */
class BodyBudget {
  readonly limit: number;
  private used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Takes `bytes` now; undefined when that would pass the limit. */
  reserve(bytes: number): BodyReservation | undefined {
    if (this.used + bytes > this.limit) return undefined;
    this.used += bytes;
    let held = bytes;
    let released = false;
    return {
      grow: (total) => {
        if (released || total <= held) return true;
        if (this.used + (total - held) > this.limit) return false;
        this.used += total - held;
        held = total;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.used -= held;
      },
    };
  }
}

interface BodyReservation {
  /** Extends the reservation to `total` bytes; false when the budget cannot. */
  grow(total: number): boolean;
  release(): void;
}

/**
 * Reads the body up to `limit` bytes and within the budget; reading stops at whichever is passed
 * first (the rest is never buffered).
 */
function readBody(
  req: IncomingMessage,
  limit: number,
  reservation: BodyReservation,
): Promise<Buffer | 'too large' | 'over budget' | 'aborted'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (outcome: 'too large' | 'over budget') => {
      req.off('data', onData);
      req.pause();
      chunks.length = 0;
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return stop('too large');
      if (!reservation.grow(size)) return stop('over budget');
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    // A client that goes away mid-upload: nothing to answer, and its bytes are given back.
    req.on('close', () => {
      chunks.length = 0;
      resolve('aborted');
    });
  });
}

function toEvent(
  req: IncomingMessage,
  url: Pick<URL, 'pathname' | 'search'>,
  body: Buffer,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(',') : value;
  }
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: `${req.method} ${url.pathname}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'POST',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: `${req.method} ${url.pathname}`,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: body.toString('utf8'),
    isBase64Encoded: false,
  };
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

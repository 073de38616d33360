import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { type IngestHandler, MAX_BODY_BYTES } from '../ingest/ingest.ts';

/**
 * Timeouts that keep a slow or stuck client from holding the server: headers must arrive
 * within 10 s, the whole request within 30 s.
 * https://nodejs.org/api/http.html#serverrequesttimeout
 */
export const SERVER_TIMEOUTS = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 } as const;

export interface LocalServerOptions {
  ingest: IngestHandler;
  health: () => Record<string, unknown>;
  maxBodyBytes?: number;
  timeouts?: { headersMs: number; requestMs: number; keepAliveMs: number };
}

/**
 * The local stand-in for API Gateway: turns `POST /alertmanager` into an HTTP API (payload
 * format 2.0) event for the same ingest handler the Lambda runs, and serves `GET /healthz`.
 */
export function createLocalServer(options: LocalServerOptions): Server {
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const timeouts = options.timeouts ?? SERVER_TIMEOUTS;
  // Node checks headersTimeout and requestTimeout only every connectionsCheckingInterval (30 s
  // by default), which let a slow client hold a connection for up to 40 s instead of 10 s.
  // https://nodejs.org/api/http.html#httpcreateserveroptions-requestlistener
  const server = createServer(
    { connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs) },
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        // The ingest handler catches its own errors; this is the transport failing.
        if (!res.headersSent)
          send(res, 500, { error: 'internal error', details: [(error as Error).message] });
        else res.destroy();
      });
    },
  );
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.keepAliveMs;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://relay.local');
    if (url.pathname === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return send(res, 405, { error: 'method not allowed' }, { allow: 'GET' });
      return send(res, 200, options.health());
    }
    if (url.pathname !== '/alertmanager') {
      return send(res, 404, {
        error: 'not found',
        details: ['POST /alertmanager receives notifications; GET /healthz'],
      });
    }
    if (req.method !== 'POST') {
      return send(
        res,
        405,
        { error: 'method not allowed', details: ['use POST /alertmanager'] },
        { allow: 'POST' },
      );
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      // Refused before reading a byte of it.
      return tooLarge(res);
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) return tooLarge(res);
    const result = await options.ingest(toEvent(req, url, body));
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(result.headers ?? {})) headers[key] = String(value);
    res.writeHead(result.statusCode ?? 200, headers);
    res.end(result.body ?? '');
  }

  function tooLarge(res: ServerResponse): void {
    // Close the connection: the rest of the body is not read.
    send(
      res,
      413,
      { error: 'payload too large', details: [`the body is over ${maxBodyBytes} bytes`] },
      { connection: 'close' },
    );
    res.on('finish', () => res.socket?.destroy());
  }

  return server;
}

/** Reads the body up to `limit` bytes; undefined when it is longer (reading stops there). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toEvent(req: IncomingMessage, url: URL, body: Buffer): APIGatewayProxyEventV2 {
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

import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The HTTP plumbing every fake vendor server shares (webhook receiver, Sentry, ilert, Slack,
 * ...): it records each request, answers through the vendor's `handle` (which enforces its
 * contract), lets a test script the next answers (429, 5xx, hang, reset) and await "the Nth
 * request arrived" on an event, never by polling.
 */

/** How to answer one request. */
export type FakeAnswer =
  | { status: number; headers?: Record<string, string>; body?: string | Buffer | object }
  /** Read the request, then never answer (until close()). */
  | { hang: true }
  /** Read the request, then drop the connection with a TCP RST. */
  | { reset: true };

export interface FakeRequest {
  /** 1-based arrival order. */
  seq: number;
  method: string;
  /** Path and query as sent. */
  url: string;
  /** The path without the query. */
  path: string;
  query: URLSearchParams;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  rawBody: Buffer;
  /** The body as UTF-8 text. */
  text: string;
  /** The JSON body, or undefined if it was not JSON. */
  body: unknown;
  /** What the server did: a status it answered, or 'hang' / 'reset'. */
  outcome: number | 'hang' | 'reset';
}

export interface FakeServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Every request so far, in arrival order (including rejected ones). */
  readonly requests: readonly FakeRequest[];
  /** Answers for the next requests that pass the contract checks (then `handle` answers again). */
  respondWith(answers: readonly FakeAnswer[]): void;
  /**
   * Resolves with all requests once `count` have arrived or `predicate` holds (checked after
   * each). `timeoutMs` only turns a hang into a readable failure; it is not an assertion.
   */
  waitFor(
    condition: number | ((requests: readonly FakeRequest[]) => boolean),
    options?: { timeoutMs?: number },
  ): Promise<FakeRequest[]>;
  /** Stops listening and drops open (hanging) connections. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * `handle` gets each request (body read) and returns the vendor's answer. Returning
 * `undefined` means "the request is valid: use the scripted answer if any, else
 * `fallback(request)`" — so contract violations win over the script, as a real vendor's
 * 400 would.
 */
export async function startFakeServer(options: {
  handle: (request: FakeRequest) => FakeAnswer | undefined | Promise<FakeAnswer | undefined>;
  fallback?: (request: FakeRequest) => FakeAnswer | Promise<FakeAnswer>;
}): Promise<FakeServer> {
  const script: FakeAnswer[] = [];
  const requests: FakeRequest[] = [];
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    (async () => {
      const request = await read(req, requests.length + 1);
      const answer = (await options.handle(request)) ??
        script.shift() ??
        (await options.fallback?.(request)) ?? { status: 200, body: 'ok' };
      request.outcome = 'hang' in answer ? 'hang' : 'reset' in answer ? 'reset' : answer.status;
      requests.push(request);
      if ('reset' in answer) req.socket.resetAndDestroy();
      else if (!('hang' in answer)) {
        const isJson = typeof answer.body === 'object' && !Buffer.isBuffer(answer.body);
        res.writeHead(answer.status, {
          ...(isJson ? { 'content-type': 'application/json' } : {}),
          ...answer.headers,
        });
        res.end(isJson ? JSON.stringify(answer.body) : (answer.body ?? ''));
      }
      for (const wake of [...waiters]) wake();
    })().catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    respondWith: (answers) => {
      script.push(...answers);
    },
    waitFor: (condition, waitOptions = {}) => {
      const satisfied =
        typeof condition === 'number'
          ? (list: readonly FakeRequest[]) => list.length >= condition
          : condition;
      return new Promise((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const check = () => {
          if (!satisfied(requests)) return;
          waiters.delete(check);
          if (timer) clearTimeout(timer);
          resolve([...requests]);
        };
        waiters.add(check);
        if (waitOptions.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            waiters.delete(check);
            const seen =
              requests.map((r) => `#${r.seq} ${r.method} ${r.path} ${r.outcome}`).join(', ') || 'none';
            reject(
              new Error(
                `fake server: condition not met after ${waitOptions.timeoutMs} ms; requests: ${seen}`,
              ),
            );
          }, waitOptions.timeoutMs);
        }
        check();
      });
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

async function read(req: IncomingMessage, seq: number): Promise<FakeRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const rawBody = Buffer.concat(chunks);
  const text = rawBody.toString('utf8');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const url = new URL(req.url ?? '/', 'http://fake');
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return {
    seq,
    method: req.method ?? '',
    url: req.url ?? '',
    path: url.pathname,
    query: url.searchParams,
    headers,
    rawBody,
    text,
    body,
    outcome: 0,
  };
}

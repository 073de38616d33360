import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/**
 * A local Standard Webhooks receiver for contract, integration and e2e tests: records every
 * request, verifies signatures when given a secret, answers from a script, and lets a test
 * await "the Nth request arrived" without polling.
 */

/** How to answer one request. */
export type ScriptedResponse =
  | { status: number; headers?: Record<string, string>; body?: string }
  /** Read the request, then never answer (until close()). */
  | { hang: true }
  /** Read the request, then drop the connection with a TCP RST. */
  | { reset: true };

export interface ReceivedRequest {
  /** 1-based arrival order. */
  seq: number;
  method: string;
  /** Path and query as sent. */
  url: string;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  rawBody: string;
  /** The JSON body, or undefined if it was not JSON. */
  body: unknown;
  webhookId: string | undefined;
  /** true/false when the receiver has a secret, undefined when it does not verify. */
  verified: boolean | undefined;
  /** Why verification failed (standardwebhooks' message). */
  verifyError?: string;
  /** What the receiver did: a status it answered, or 'hang' / 'reset'. */
  outcome: number | 'hang' | 'reset';
}

export interface WebhookReceiverOptions {
  /** Standard Webhooks secret (`whsec_<base64>`); requests with a bad signature get 401. */
  secret?: string;
  /** How `secret` is read: 'raw' means its bytes are the key (standardwebhooks' raw format). */
  secretFormat?: 'whsec' | 'raw';
  /** Path the returned `url` points at (any path is accepted). Default `/hook`. */
  path?: string;
  /** Answer when the script is exhausted. Default `{ status: 200 }` with `ok`. */
  defaultResponse?: ScriptedResponse;
}

export type RequestPredicate = (requests: readonly ReceivedRequest[]) => boolean;

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port><path>` */
  readonly url: string;
  readonly port: number;
  /** Every request so far, in arrival order (including rejected ones). */
  readonly requests: readonly ReceivedRequest[];
  /** Queue answers for the next requests (after any already queued); then the default applies. */
  respondWith(responses: readonly ScriptedResponse[]): void;
  /**
   * Resolves with all requests once `count` requests have arrived or `predicate` holds.
   * Checked as each request is recorded (after the receiver has decided its answer).
   * `timeoutMs` only turns a hang into a readable failure; it is not an assertion.
   */
  waitFor(condition: number | RequestPredicate, options?: { timeoutMs?: number }): Promise<ReceivedRequest[]>;
  /** Requests answered 2xx, i.e. deliveries the sender would count as done. */
  delivered(): ReceivedRequest[];
  /** Dedup view: how many times each webhook-id was delivered (answered 2xx). */
  deliveriesById(): Map<string, number>;
  /** Every request per webhook-id, whatever the answer: retries of one delivery share an id. */
  attemptsById(): Map<string, number>;
  /** webhook-ids delivered more than once. */
  duplicates(): string[];
  /** Stops listening and drops open (hanging) connections. Safe to call twice. */
  close(): Promise<void>;
}

export async function startWebhookReceiver(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const verifier = options.secret
    ? new Webhook(options.secret, options.secretFormat === 'raw' ? { format: 'raw' } : undefined)
    : undefined;
  const defaultResponse = options.defaultResponse ?? { status: 200, body: 'ok' };
  const script: ScriptedResponse[] = [];
  const requests: ReceivedRequest[] = [];
  const waiters = new Set<() => void>();
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    // A client that gives up mid-body (a sender's timeout) must not become an unhandled rejection.
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const headers = flattenHeaders(req);

    let verified: boolean | undefined;
    let verifyError: string | undefined;
    if (verifier) {
      try {
        verifier.verify(rawBody, headers);
        verified = true;
      } catch (error) {
        verified = false;
        verifyError = (error as Error).message;
      }
    }

    // A bad signature is rejected before the script is consulted, as a real receiver would.
    const answer: ScriptedResponse =
      verified === false
        ? { status: 401, body: `invalid signature: ${verifyError}` }
        : (script.shift() ?? defaultResponse);

    requests.push({
      seq: requests.length + 1,
      method: req.method ?? '',
      url: req.url ?? '',
      headers,
      rawBody,
      body: parseJson(rawBody),
      webhookId: headers['webhook-id'],
      verified,
      verifyError,
      outcome: 'hang' in answer ? 'hang' : 'reset' in answer ? 'reset' : answer.status,
    });

    if ('reset' in answer) {
      req.socket.resetAndDestroy();
    } else if (!('hang' in answer)) {
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body ?? '');
    }
    for (const wake of [...waiters]) wake();
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const path = options.path ?? '/hook';
  let closed: Promise<void> | undefined;

  const delivered = () =>
    requests.filter((r) => typeof r.outcome === 'number' && r.outcome >= 200 && r.outcome < 300);
  const countById = (list: readonly ReceivedRequest[]) => {
    const counts = new Map<string, number>();
    for (const r of list)
      if (r.webhookId !== undefined) counts.set(r.webhookId, (counts.get(r.webhookId) ?? 0) + 1);
    return counts;
  };

  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    requests,
    respondWith(responses) {
      script.push(...responses);
    },
    waitFor(condition, waitOptions = {}) {
      const satisfied: RequestPredicate =
        typeof condition === 'number' ? (list) => list.length >= condition : condition;
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
            const seen = requests.map((r) => `#${r.seq} ${r.method} ${r.outcome}`).join(', ') || 'none';
            reject(
              new Error(
                `webhook receiver: condition not met after ${waitOptions.timeoutMs} ms; requests: ${seen}`,
              ),
            );
          }, waitOptions.timeoutMs);
        }
        check();
      });
    },
    delivered,
    deliveriesById: () => countById(delivered()),
    attemptsById: () => countById(requests),
    duplicates: () => [...countById(delivered())].filter(([, n]) => n > 1).map(([id]) => id),
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** A port on 127.0.0.1 that was just free and has nothing listening: connections are refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

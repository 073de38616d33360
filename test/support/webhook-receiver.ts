import { Webhook } from 'standardwebhooks';
import { type FakeAnswer, type FakeRequest, startFakeServer } from './fake-server.ts';
import { freePort } from './run-script.ts';

/**
 * A local Standard Webhooks receiver for contract, integration and e2e tests: records every
 * request, verifies signatures when given a secret, answers from a script, and lets a test
 * await "the Nth request arrived" without polling.
 */

/** How to answer one request: a status (with headers and body), `{ hang: true }` or `{ reset: true }`. */
export type ScriptedResponse = FakeAnswer;

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
  const verdicts = new Map<number, { verified: boolean; verifyError?: string }>();
  const server = await startFakeServer({
    // A bad signature is rejected before the script is consulted, as a real receiver would.
    handle: (request) => {
      if (!verifier) return undefined;
      try {
        verifier.verify(request.text, request.headers);
        verdicts.set(request.seq, { verified: true });
        return undefined;
      } catch (error) {
        const verifyError = (error as Error).message;
        verdicts.set(request.seq, { verified: false, verifyError });
        return { status: 401, body: `invalid signature: ${verifyError}` };
      }
    },
    fallback: () => defaultResponse,
  });
  // The view of a request this receiver's tests read, derived once per request.
  const views = new Map<FakeRequest, ReceivedRequest>();
  const view = (request: FakeRequest): ReceivedRequest => {
    let seen = views.get(request);
    if (!seen) {
      const verdict = verdicts.get(request.seq);
      seen = {
        seq: request.seq,
        method: request.method,
        url: request.url,
        headers: request.headers,
        rawBody: request.text,
        body: request.body,
        webhookId: request.headers['webhook-id'],
        verified: verdict?.verified,
        verifyError: verdict?.verifyError,
        outcome: request.outcome,
      };
      views.set(request, seen);
    }
    return seen;
  };
  const all = () => server.requests.map(view);
  const delivered = () =>
    all().filter((r) => typeof r.outcome === 'number' && r.outcome >= 200 && r.outcome < 300);
  const countById = (list: readonly ReceivedRequest[]) => {
    const counts = new Map<string, number>();
    for (const r of list)
      if (r.webhookId !== undefined) counts.set(r.webhookId, (counts.get(r.webhookId) ?? 0) + 1);
    return counts;
  };

  return {
    url: `${server.url}${options.path ?? '/hook'}`,
    port: server.port,
    get requests() {
      return all();
    },
    respondWith: (responses) => server.respondWith(responses),
    waitFor: async (condition, waitOptions) => {
      const satisfied: RequestPredicate =
        typeof condition === 'number' ? (list) => list.length >= condition : condition;
      await server.waitFor(() => satisfied(all()), waitOptions);
      return all();
    },
    delivered,
    deliveriesById: () => countById(delivered()),
    attemptsById: () => countById(all()),
    duplicates: () => [...countById(delivered())].filter(([, n]) => n > 1).map(([id]) => id),
    close: () => server.close(),
  };
}

/** A port on 127.0.0.1 that was just free and has nothing listening: connections are refused. */
export const closedPort: () => Promise<number> = freePort;

import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake sink for the reliability tests and benchmarks: an idempotent vendor with faults.
 * Each request is one attempt of a delivery, identified by its idempotency key (the webhook
 * sink's `webhook-id`); a `Fault` decides, from the key and the attempt number, whether this
 * attempt fails and how (5xx, 429 + Retry-After, hang, reset, permanent 4xx, slow).
 *
 * Like a vendor that dedups on a key (PagerDuty's dedup_key, Standard Webhooks receivers on
 * webhook-id), a key that already succeeded is answered 200 again without a second effect:
 * `effects` counts the first success per key, `absorbed` the repeats. Tests assert on effects
 * (what a person would see in the vendor's tool) and print the absorbed count.
 */

/** How to answer one attempt; `undefined` means succeed. */
export type FaultAnswer =
  | { status: number; headers?: Record<string, string>; body?: string }
  | { hang: true }
  | { reset: true }
  /** Succeed, but only after `ms` (a slow vendor). */
  | { slowMs: number };

/** Decides the answer to attempt `attempt` (1-based) of delivery `key`. */
export type Fault = (key: string, attempt: number) => FaultAnswer | undefined;

/** Ready-made faults, one per mode the reliability suite drives. */
export const faults = {
  none: (): Fault => () => undefined,
  /** 500 for the first `attempts` attempts of every delivery, then success. */
  serverError:
    (attempts: number, status = 500): Fault =>
    (_key, attempt) =>
      attempt <= attempts ? { status, body: 'internal error' } : undefined,
  /** 429 with `Retry-After: <seconds>` on the first attempt. */
  rateLimited:
    (seconds: number): Fault =>
    (_key, attempt) =>
      attempt === 1
        ? { status: 429, headers: { 'retry-after': String(seconds) }, body: 'slow down' }
        : undefined,
  /** Never answers the first `attempts` attempts (the sender's timeout must fire). */
  hang:
    (attempts = 1): Fault =>
    (_key, attempt) =>
      attempt <= attempts ? { hang: true } : undefined,
  /** Drops the connection with a TCP RST on the first `attempts` attempts. */
  reset:
    (attempts = 1): Fault =>
    (_key, attempt) =>
      attempt <= attempts ? { reset: true } : undefined,
  /** Always the same permanent refusal. */
  permanent:
    (status: number): Fault =>
    () => ({ status, body: JSON.stringify({ error: `refused with ${status}` }) }),
  /** Every attempt succeeds after `ms`. */
  slow:
    (ms: number): Fault =>
    () => ({ slowMs: ms }),
  /**
   * Fails `rate` of all attempts at random, seeded: the draw depends only on (seed, key,
   * attempt), so a run is reproducible whatever order concurrent requests arrive in.
   */
  random:
    (rate: number, seed: number, answer: FaultAnswer = { status: 503, body: 'unavailable' }): Fault =>
    (key, attempt) =>
      seededDraw(seed, `${key}#${attempt}`) < rate ? answer : undefined,
};

/** A uniform number in [0, 1) from a seed and a label. */
export function seededDraw(seed: number, label: string): number {
  return createHash('sha256').update(`${seed}:${label}`).digest().readUInt32BE(0) / 2 ** 32;
}

export interface Attempt {
  key: string;
  attempt: number;
  /** performance.now() when the request had been read. */
  at: number;
  outcome: FakeRequest['outcome'];
}

export interface FaultServer {
  /** `http://127.0.0.1:<port>/hook` */
  readonly url: string;
  readonly server: FakeServer;
  /** Every attempt, in arrival order. */
  readonly attempts: readonly Attempt[];
  /** Successful deliveries per key: 1 for each key the vendor acted on (repeats are absorbed). */
  readonly effects: ReadonlyMap<string, number>;
  /** Repeats of an already-successful key, answered 200 without a second effect. */
  absorbed(): number;
  /** Alert ids (see `alertId`) of every effect, with how many effects carried each. */
  alertEffects(): Map<string, number>;
  /** Resolves once `condition` holds, checked after every request. */
  until(condition: () => boolean): Promise<void>;
  setFault(fault: Fault): void;
  close(): Promise<void>;
}

export interface FaultServerOptions {
  fault?: Fault;
  /** Header carrying the idempotency key. Default `webhook-id`. */
  keyHeader?: string;
  /** Identifies an alert of a delivered notification. Default: its fingerprint, status and startsAt. */
  alertId?: (alert: Record<string, unknown>) => string;
}

export async function startFaultServer(options: FaultServerOptions = {}): Promise<FaultServer> {
  let fault = options.fault ?? faults.none();
  const keyHeader = options.keyHeader ?? 'webhook-id';
  const alertId =
    options.alertId ?? ((a: Record<string, unknown>) => `${a.fingerprint}/${a.status}/${a.startsAt}`);
  const attempts: Attempt[] = [];
  const attemptsByKey = new Map<string, number>();
  const effects = new Map<string, number>();
  const alerts = new Map<string, number>();
  let absorbed = 0;
  const waiters = new Set<() => void>();

  const server = await startFakeServer({
    handle: async (request: FakeRequest): Promise<FakeAnswer> => {
      const key = request.headers[keyHeader] ?? `no-key-${request.seq}`;
      const attempt = (attemptsByKey.get(key) ?? 0) + 1;
      attemptsByKey.set(key, attempt);
      const record: Attempt = { key, attempt, at: performance.now(), outcome: 200 };
      attempts.push(record);
      // Effects are decided when the request arrives, as a vendor acts before it answers.
      const answer = effects.has(key) ? undefined : fault(key, attempt);
      let result: FakeAnswer;
      if (answer === undefined || 'slowMs' in answer) {
        if (effects.has(key)) absorbed++;
        else {
          effects.set(key, 1);
          const body = request.body as { alerts?: Record<string, unknown>[] } | undefined;
          for (const alert of body?.alerts ?? []) {
            const id = alertId(alert);
            alerts.set(id, (alerts.get(id) ?? 0) + 1);
          }
        }
        if (answer && 'slowMs' in answer) await delay(answer.slowMs);
        result = { status: 200, body: 'ok' };
      } else result = answer;
      record.outcome = 'hang' in result ? 'hang' : 'reset' in result ? 'reset' : result.status;
      for (const wake of [...waiters]) wake();
      return result;
    },
  });

  return {
    url: `${server.url}/hook`,
    server,
    attempts,
    effects,
    absorbed: () => absorbed,
    alertEffects: () => new Map(alerts),
    until: (condition) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!condition()) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
    setFault: (next) => {
      fault = next;
    },
    close: () => server.close(),
  };
}

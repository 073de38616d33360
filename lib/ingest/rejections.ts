/**
 * Why ingest refused a request, one word each: the `reason` field of its log line, and the keys
 * of the summary's counts.
 */
export type RejectionReason =
  | 'method-not-allowed'
  | 'missing-token'
  | 'malformed-authorization'
  | 'invalid-token'
  | 'token-unreadable'
  | 'unsupported-media-type'
  | 'body-too-large'
  | 'malformed-json'
  | 'nested-too-deep'
  | 'invalid-notification'
  | 'message-too-large'
  | 'queue-unavailable'
  | 'state-unavailable'
  // The local server's own 503s, before ingest runs (lib/local/server.ts): too many request
  // bodies being read at once, and a relay that is stopping.
  | 'server-busy'
  | 'shutting-down';

/** One refused request (a 4xx, or a 503 that makes Alertmanager retry). */
export interface Rejection {
  status: number;
  reason: RejectionReason;
  /**
   * A short description the relay wrote itself (a limit, a JSON path, a byte count): never a
   * header's value, a token, or text copied out of the body. Cut to DETAIL_CHARS.
   */
  detail?: string;
}

/** What the request looked like from outside; none of it can carry a secret. */
export interface RequestFacts {
  requestId?: string;
  sourceIp?: string;
  userAgent?: string;
  bodyBytes?: number;
}

export interface RejectionLogOptions {
  /** Lines logged per interval and process; the rest are counted into one summary line. */
  perInterval?: number;
  intervalMs?: number;
  /** Milliseconds; the interval starts at the first rejection after the last one ended. */
  now?: () => number;
}

/** At most 10 lines a minute per process: a flood costs each warm ingest a few cents of log a month. */
export const REJECTION_LINES_PER_INTERVAL = 10;
export const REJECTION_INTERVAL_MS = 60_000;
/** Longest `detail` and user agent logged. */
export const DETAIL_CHARS = 200;
const USER_AGENT_CHARS = 120;

/** The message of each line, constant so a log query can filter on it. */
export const REJECTED_MESSAGE = 'request rejected';
export const SUPPRESSED_MESSAGE = 'suppressed rejections in the last interval';

/**
 * One structured warning per rejected request, rate-limited per process: the first
 * `perInterval` rejections of each interval are logged one by one; the others are counted by
 * reason and reported in one summary line when the interval is over (at the first request
 * after it: a Lambda has no timer between invocations, so a summary waits for the next
 * request; the `NotificationsRejected` metric counts every 4xx regardless).
 */
export class RejectionLog {
  readonly #logger: { warn(message: string, extra: Record<string, unknown>): void };
  readonly #perInterval: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #start: number | undefined;
  #logged = 0;
  #suppressed = new Map<RejectionReason, number>();

  constructor(
    logger: { warn(message: string, extra: Record<string, unknown>): void },
    options: RejectionLogOptions = {},
  ) {
    this.#logger = logger;
    this.#perInterval = options.perInterval ?? REJECTION_LINES_PER_INTERVAL;
    this.#intervalMs = options.intervalMs ?? REJECTION_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Logs the rejection or counts it. Returns whether it was logged, so a caller can keep a
   * costlier report (an error report to Sentry) to the same budget.
   */
  record(rejection: Rejection, request: RequestFacts = {}): boolean {
    const now = this.#now();
    this.#roll(now);
    this.#start ??= now;
    if (this.#logged >= this.#perInterval) {
      this.#suppressed.set(rejection.reason, (this.#suppressed.get(rejection.reason) ?? 0) + 1);
      return false;
    }
    this.#logged++;
    this.#logger.warn(REJECTED_MESSAGE, {
      status: rejection.status,
      reason: rejection.reason,
      ...(rejection.detail === undefined ? {} : { detail: cut(rejection.detail, DETAIL_CHARS) }),
      ...(request.requestId ? { requestId: cut(request.requestId, 100) } : {}),
      ...(request.sourceIp ? { sourceIp: cut(request.sourceIp, 64) } : {}),
      ...(request.userAgent ? { userAgent: cut(request.userAgent, USER_AGENT_CHARS) } : {}),
      ...(request.bodyBytes === undefined ? {} : { bodyBytes: request.bodyBytes }),
    });
    return true;
  }

  /** Writes the summary of an interval that is over; ingest calls it at every request. */
  tick(): void {
    this.#roll(this.#now());
  }

  #roll(now: number): void {
    if (this.#start === undefined || now - this.#start < this.#intervalMs) return;
    if (this.#suppressed.size > 0) {
      let suppressed = 0;
      for (const count of this.#suppressed.values()) suppressed += count;
      this.#logger.warn(SUPPRESSED_MESSAGE, {
        suppressed,
        reasons: Object.fromEntries([...this.#suppressed].sort(([a], [b]) => a.localeCompare(b))),
        intervalStart: new Date(this.#start).toISOString(),
        intervalSeconds: this.#intervalMs / 1000,
        loggedInInterval: this.#logged,
      });
    }
    this.#start = undefined;
    this.#logged = 0;
    this.#suppressed = new Map();
  }
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A failure worth retrying (5xx, 408, 425, timeout, connection error). The record handler counts
 * it as a failed attempt (in the state store, lib/delivery/attempts.ts), makes the message
 * visible again after `retryAfterSeconds` (or its own backoff), and dead-letters it, with this
 * message as the reason, at the last of DELIVERY_POLICY.maxAttempts. The queue's
 * maxReceiveCount plays no part in that: it is a backstop that only a crashing function
 * reaches. A vendor's rate limit is not a failure: see RateLimitedError.
 */
export class RetryableError extends Error {
  readonly retryAfterSeconds?: number;
  readonly statusCode?: number;
  constructor(
    message: string,
    options: { retryAfterSeconds?: number; statusCode?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'RetryableError';
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.statusCode = options.statusCode;
  }
}

/**
 * A failure that retrying cannot fix (revoked token, unknown channel, 4xx). The record
 * handler sends the message to the sink's DLQ at once, with this message as the reason.
 * The message must never contain a secret.
 */
export class PermanentError extends Error {
  readonly statusCode?: number;
  constructor(message: string, options: { statusCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'PermanentError';
    this.statusCode = options.statusCode;
  }
}

/**
 * The function's time ran out before the delivery was done (lib/delivery/deadline.ts). When
 * the delivery made progress first (a journal step recorded), the record handler returns the
 * message to the queue at once without counting a failed attempt, and the next receive
 * resumes where this one stopped; without progress it is an ordinary retryable failure.
 */
export class OutOfTimeError extends RetryableError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'OutOfTimeError';
  }
}

/**
 * Not a failure, a wait: the sink chose to come back later, after `retryAfterSeconds` (its own
 * pacing of a channel, a storm digest's next edit). The record handler makes the message visible
 * again then and counts no attempt. A chain of waits never reaches the queue's receive limit
 * either: at that receive the handler renews the message (a fresh copy on the queue, in its
 * group). What ends a wait is DELIVERY_POLICY.waitBudgetSeconds after the message was accepted:
 * then it is dead-lettered with `waited N h for ...`.
 */
export class DeferredError extends RetryableError {
  declare readonly retryAfterSeconds: number;
  constructor(message: string, options: { retryAfterSeconds: number; statusCode?: number; cause?: unknown }) {
    super(message, options);
    this.name = 'DeferredError';
  }
}

/**
 * The vendor said "too many requests" (HTTP 429, Slack's `ratelimited`): a wait, not a failure.
 * `retryAfterSeconds` is the vendor's Retry-After, or the sink's or the delivery core's default
 * when it named none (lib/delivery/http.ts statusError). Handled as every DeferredError: no
 * attempt counted, back after the wait. The message must never contain a secret.
 */
export class RateLimitedError extends DeferredError {
  constructor(message: string, options: { retryAfterSeconds: number; statusCode?: number; cause?: unknown }) {
    super(message, options);
    this.name = 'RateLimitedError';
  }
}

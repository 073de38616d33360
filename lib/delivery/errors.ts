/**
 * A failure worth retrying (5xx, 429, timeout, connection error). The record handler
 * makes the message visible again after `retryAfterSeconds` (or its own backoff) and
 * dead-letters it once the queue's maxReceiveCount is reached.
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
 * Not a failure: the sink chose to come back later, after `retryAfterSeconds` (its own pacing
 * of a channel, a storm digest's next edit). The record handler makes the message visible again
 * then and counts no attempt, so waiting never dead-letters a message; the queue's receive
 * backstop still ends a loop.
 */
export class DeferredError extends RetryableError {
  declare readonly retryAfterSeconds: number;
  constructor(message: string, options: { retryAfterSeconds: number }) {
    super(message, options);
    this.name = 'DeferredError';
  }
}

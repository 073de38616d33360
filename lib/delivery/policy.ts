/**
 * The delivery policy: every number that decides when a failed delivery is tried again and
 * when it is given up, in one place. The record handler, the Lambda wiring, the local runtime
 * and the generated infrastructure (lib/infra) all read it, so the queue's redrive policy, the
 * handler's own dead-lettering and the local emulation can never disagree.
 */
export interface DeliveryPolicy {
  /** The attempt that fails retryably at this count is dead-lettered with its reason. */
  readonly maxAttempts: number;
  /** Backoff between attempts when the vendor gave no Retry-After. */
  readonly backoff: BackoffPolicy;
  /**
   * Two messages with the same content key accepted this close together are the same
   * notification (an Alertmanager HA pair, an Alertmanager retry). Further apart, they are
   * Alertmanager's repeat_interval reminder, which is delivered again.
   */
  readonly duplicateWindowMs: number;
  /** How long delivery state (what was delivered, a journal's steps) is kept. */
  readonly stateTtlSeconds: number;
  /** The longest wait a Retry-After or backoff can ask for (SQS ChangeMessageVisibility's maximum). */
  readonly maxRetryDelaySeconds: number;
}

/** How long a retryable failure waits before the next attempt. */
export interface BackoffPolicy {
  baseSeconds: number;
  factor: number;
  maxSeconds: number;
}

/**
 * 5 s, 20 s, 80 s, 320 s (+-50% jitter): with maxReceiveCount 5 a message gets about seven
 * minutes of retries before the DLQ; a longer vendor outage is what the DLQ and redrive are for.
 */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseSeconds: 5, factor: 4, maxSeconds: 900 };

/** SQS's ChangeMessageVisibility maximum (12 hours). */
export const MAX_VISIBILITY_SECONDS = 43_200;

/** The policy every sink runs under, on AWS and locally. */
export const DELIVERY_POLICY: DeliveryPolicy = {
  // AWS suggests a maxReceiveCount of at least 5 so a briefly failing function is not sent
  // straight to the DLQ: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
  maxAttempts: 5,
  backoff: DEFAULT_BACKOFF,
  duplicateWindowMs: 5 * 60 * 1000,
  stateTtlSeconds: 7 * 24 * 3600,
  maxRetryDelaySeconds: MAX_VISIBILITY_SECONDS,
};

/**
 * Delay before attempt `attempt + 1`, "equal jitter": half fixed, half random, so retries of
 * a storm spread out but never come back sooner than half the nominal delay.
 *
 * @example backoffSeconds(1) // 2.5..5 with the default policy
 */
export function backoffSeconds(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random = Math.random,
): number {
  const nominal = Math.min(policy.maxSeconds, policy.baseSeconds * policy.factor ** Math.max(0, attempt - 1));
  return Math.min(DELIVERY_POLICY.maxRetryDelaySeconds, Math.ceil(nominal / 2 + (random() * nominal) / 2));
}

/** A vendor's Retry-After, clamped to what SQS can wait. */
export function retryAfterVisibility(seconds: number): number {
  return Math.max(0, Math.min(DELIVERY_POLICY.maxRetryDelaySeconds, Math.ceil(seconds)));
}

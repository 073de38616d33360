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
  return Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(nominal / 2 + (random() * nominal) / 2));
}

/** A vendor's Retry-After, clamped to what SQS can wait. */
export function retryAfterVisibility(seconds: number): number {
  return Math.max(0, Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(seconds)));
}

/**
 * The delivery policy: every number that decides when a failed delivery is tried again, when
 * it is given up, and how much of a function's time a delivery may use, in one place. The
 * record handler, the Lambda wiring, the local runtime and the generated infrastructure
 * (lib/infra) all read it, so the queue's redrive policy, the handler's own dead-lettering and
 * the local emulation can never disagree.
 */
export interface DeliveryPolicy {
  /**
   * Failed attempts the relay counts (in the state store) before it dead-letters a message with
   * its reason. Waits are not attempts: a deferral or a vendor's rate limit (DeferredError,
   * RateLimitedError), a receive spent behind a group-mate, a return because the function's
   * time ran out after progress or before the record was started.
   */
  readonly maxAttempts: number;
  /**
   * The queue's redrive maxReceiveCount, which SQS applies by itself on receive: a message
   * received this often goes to the DLQ, without a reason, on its next receive. Low enough that a
   * message the handler cannot even look at (a function that crashes before it, a state store it
   * cannot read) reaches the DLQ within half an hour: this many visibility timeouts (9 x 180 s).
   * The handler dead-letters a crashing delivery itself, with its reason, well before (its
   * crashes are attempts, counted by their marker). A message it hands back this close to the
   * limit (`renewalMargin`) is renewed instead (a fresh copy of its body on the queue, in its
   * group, the original deleted), whether it waits or retries a failure with attempts left, so
   * a chain of waits never reaches it.
   */
  readonly receiveBackstop: number;
  /**
   * A record handed back this close to the backstop is renewed. A crash loop takes receives of
   * its batch-mates: the first two crashes pass unknown (the first receive writes no crash marker,
   * the second writes it), and from the third on the handler renews, before trying anything, every
   * record one receive short of the limit. So a record is handed back only where two unknown
   * crashes still leave it a receive short: three receives below the backstop.
   */
  readonly renewalMargin: number;
  /**
   * How long a message may wait, counted from when ingest accepted it (`receivedAt`): a message
   * that would be handed back (a wait, or a retry) this long after it was accepted is
   * dead-lettered with `waited N h for ...` instead. Under the queue's retention less the longest
   * visibility, so SQS never drops a waiting message silently (the queue's copy was sent at or
   * after `receivedAt`, and the handler sees it again within the longest visibility).
   */
  readonly waitBudgetSeconds: number;
  /** The wait after a vendor's 429 that names none (no Retry-After and no vendor default). */
  readonly rateLimitWaitSeconds: number;
  /** Backoff between attempts when the vendor gave no Retry-After. */
  readonly backoff: BackoffPolicy;
  /**
   * A message whose content key equals the one last applied to its group, accepted this close
   * to it, is the same notification (an Alertmanager HA pair, an Alertmanager retry). Further
   * apart, it is Alertmanager's repeat_interval reminder, which is delivered again.
   */
  readonly duplicateWindowMs: number;
  /** How long delivery state (what was applied, a journal's steps, attempt counts) is kept. */
  readonly stateTtlSeconds: number;
  /** The longest wait a Retry-After or backoff can ask for (SQS ChangeMessageVisibility's maximum). */
  readonly maxRetryDelaySeconds: number;
  /**
   * Kept free below the longest wait: ChangeMessageVisibility's 12 hours count from the receive,
   * which happened a little before the handler started (the event source mapping's own delay).
   */
  readonly visibilityMarginSeconds: number;
  /** The end of a function's time the handler keeps for itself (state writes, visibility, DLQ). */
  readonly deadlineReserveMs: number;
  /** A vendor call is not started with less than this left before the reserve. */
  readonly minVendorCallMs: number;
}

/** How long a retryable failure waits before the next attempt. */
export interface BackoffPolicy {
  baseSeconds: number;
  factor: number;
  maxSeconds: number;
}

/**
 * 5 s, 20 s, 80 s, 320 s (+-50% jitter): with 5 attempts a message gets about seven minutes of
 * retries before the DLQ; a longer vendor outage is what the DLQ and redrive are for.
 */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseSeconds: 5, factor: 4, maxSeconds: 900 };

/** SQS's ChangeMessageVisibility maximum (12 hours from the receive). */
export const MAX_VISIBILITY_SECONDS = 43_200;

/** The policy every sink runs under, on AWS and locally. */
export const DELIVERY_POLICY: DeliveryPolicy = {
  // AWS suggests at least 5 receives so a briefly failing function is not sent straight to the
  // DLQ: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html. The relay
  // counts real attempts itself, so 5 of them is the same budget without the queue-mates' waits.
  maxAttempts: 5,
  // 9 receives of a 180 s visibility timeout (lib/infra: six times the sink function's 30 s):
  // 27 minutes. A crash loop the handler sees is dead-lettered at its 7th receive (no marker on
  // the 1st, the marker of attempt 1 on the 2nd, then one counted crash a receive: 5 by the 7th).
  receiveBackstop: 9,
  renewalMargin: 3,
  // 3 days: the queue keeps a message 4 (lib/infra/constants.ts), less the longest visibility
  // (12 h) and a margin. A storm's backfill keeps its folded notification's receivedAt, at most a
  // day old (its kept copy's TTL), so it still has two days to wait its turn.
  waitBudgetSeconds: 3 * 24 * 3600,
  // Most vendors' windows are a minute (Google Chat 60 writes, ilert 50 calls, PagerDuty 120
  // events): a full one has passed by then. Those that know better (Slack 30 s, Sentry 60 s,
  // ilert 20 s, PagerDuty 30 s) give their own default to statusError.
  rateLimitWaitSeconds: 60,
  backoff: DEFAULT_BACKOFF,
  duplicateWindowMs: 5 * 60 * 1000,
  stateTtlSeconds: 7 * 24 * 3600,
  maxRetryDelaySeconds: MAX_VISIBILITY_SECONDS,
  visibilityMarginSeconds: 300,
  deadlineReserveMs: 2_000,
  minVendorCallMs: 1_000,
};

/**
 * Time left in the function below which the handler stops starting work (a record, an alert,
 * a vendor call) and returns what is left to the queue: the reserve plus one shortest call.
 */
export const DEADLINE_MARGIN_MS = DELIVERY_POLICY.deadlineReserveMs + DELIVERY_POLICY.minVendorCallMs;

/**
 * The longest visibility ChangeMessageVisibility accepts for a message received
 * `sinceReceiveMs` ago: 12 hours from the receive, less the margin.
 *
 * @example visibilityLimitSeconds(60_000) // 43_200 - 300 - 60
 */
export function visibilityLimitSeconds(sinceReceiveMs = 0): number {
  const limit =
    DELIVERY_POLICY.maxRetryDelaySeconds -
    DELIVERY_POLICY.visibilityMarginSeconds -
    Math.ceil(Math.max(0, sinceReceiveMs) / 1000);
  return Math.max(0, limit);
}

/**
 * Delay before attempt `attempt + 1`, "equal jitter": half fixed, half random, so retries of
 * a storm spread out but never come back sooner than half the nominal delay. Never more than
 * SQS accepts for a message received `sinceReceiveMs` ago.
 *
 * @example backoffSeconds(1) // 2.5..5 with the default policy
 */
export function backoffSeconds(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random = Math.random,
  sinceReceiveMs = 0,
): number {
  const nominal = Math.min(policy.maxSeconds, policy.baseSeconds * policy.factor ** Math.max(0, attempt - 1));
  return Math.min(visibilityLimitSeconds(sinceReceiveMs), Math.ceil(nominal / 2 + (random() * nominal) / 2));
}

/** A vendor's Retry-After, clamped to what SQS accepts for a message received `sinceReceiveMs` ago. */
export function retryAfterVisibility(seconds: number, sinceReceiveMs = 0): number {
  return Math.max(0, Math.min(visibilityLimitSeconds(sinceReceiveMs), Math.ceil(seconds)));
}

/**
 * Why a destination's vendor timeout does not fit its sink's function, or undefined when it
 * does: one call at its full timeout, plus the handler's reserve, must end before the function
 * is stopped; otherwise every call that hangs is cut short by the deadline, not by its timeout.
 * The build refuses such a config.
 *
 * @example destinationTimeoutProblem({ name: 'pd', timeoutSeconds: 29 }, 30) // 'pd: timeoutSeconds 29 ...'
 */
export function destinationTimeoutProblem(
  destination: { name: string; timeoutSeconds?: number },
  functionTimeoutSeconds: number,
): string | undefined {
  if (destination.timeoutSeconds === undefined) return undefined;
  const longest = Math.floor((functionTimeoutSeconds * 1000 - DEADLINE_MARGIN_MS) / 1000);
  if (destination.timeoutSeconds <= longest) return undefined;
  return (
    `${destination.name}: timeoutSeconds ${destination.timeoutSeconds} does not fit the sink function's ` +
    `${functionTimeoutSeconds} s with the ${DEADLINE_MARGIN_MS / 1000} s the relay keeps for itself; ` +
    `use at most ${longest}`
  );
}

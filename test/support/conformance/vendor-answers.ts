import { DELIVERY_POLICY } from '../../../lib/delivery/policy.ts';

/**
 * The table the conformance kit runs against every sink: each way a vendor can answer one
 * request, and what a sink on the delivery core's one classification (lib/delivery/http.ts
 * statusError and vendorFetch) ends in. A sink that legitimately differs says so through its
 * harness's `expect`, case by case; no case is ever skipped.
 */

/**
 * How a delivery ends. `RateLimitedError` is a wait, not a failure (a DeferredError: the record
 * handler counts no attempt); `RetryableError` here means a retryable failure, never a wait.
 */
export type Outcome =
  | { delivered: true }
  | {
      error: 'RetryableError' | 'RateLimitedError' | 'PermanentError';
      statusCode?: number;
      retryAfterSeconds?: number;
    };

/** What the scripted vendor does with the sink's request. */
export type VendorAnswer =
  /** Answers this status; `retryAfter` builds the Retry-After header from the kit's clock (epoch ms). */
  | { status: number; retryAfter?: (now: number) => string }
  /** Reads the request and never answers: the sink's own timeout must end it. */
  | 'hang'
  /** Reads the request and drops the connection with a TCP RST. */
  | 'reset'
  /** Nothing listens on the port. */
  | 'refused';

export interface VendorCase {
  /** `429 with Retry-After: 7`, `a connection reset`. */
  name: string;
  answer: VendorAnswer;
  /** The status answered, for HTTP answers. */
  status?: number;
  /** How long the answer's Retry-After asks to wait, in seconds; undefined without one. */
  retryAfterSeconds?: number;
  /** What the delivery core's classification makes of it. */
  standard: Outcome;
}

export const ACCEPTED_STATUSES = [200, 201, 202, 204] as const;
export const REDIRECT_STATUSES = [301, 302, 307, 308] as const;
export const REFUSED_STATUSES = [400, 401, 403, 404, 410, 413, 422] as const;
/**
 * "Not now": 408, 425 and 429, and the server errors. A 429 is a wait (RateLimitedError), for its
 * Retry-After or else DELIVERY_POLICY.rateLimitWaitSeconds; the others are retryable failures.
 */
export const RETRYABLE_STATUSES = [408, 425, 429, 500, 502, 503, 504] as const;

/**
 * The Retry-After forms each retryable status is answered with: none, a wait shorter and one
 * longer than the minimum some vendors impose (ilert 10 s, PagerDuty 30 s), and an HTTP-date.
 */
const WAITS: { name: string; header?: (now: number) => string; seconds?: number }[] = [
  { name: 'without Retry-After' },
  { name: 'with Retry-After: 7', header: () => '7', seconds: 7 },
  { name: 'with Retry-After: 120', header: () => '120', seconds: 120 },
  {
    name: 'with Retry-After as an HTTP-date 45 s ahead',
    header: (now) => new Date(now + 45_000).toUTCString(),
    seconds: 45,
  },
];

/** Every case of the table, in the order the kit runs them. */
export function vendorCases(): VendorCase[] {
  const cases: VendorCase[] = [];
  for (const status of ACCEPTED_STATUSES) {
    cases.push({ name: `${status}`, answer: { status }, status, standard: { delivered: true } });
  }
  for (const status of REDIRECT_STATUSES) {
    cases.push({
      name: `${status} to another host`,
      answer: { status },
      status,
      standard: { error: 'PermanentError', statusCode: status },
    });
  }
  for (const status of REFUSED_STATUSES) {
    cases.push({
      name: `${status}`,
      answer: { status },
      status,
      standard: { error: 'PermanentError', statusCode: status },
    });
  }
  for (const status of RETRYABLE_STATUSES) {
    for (const wait of WAITS) {
      cases.push({
        name: `${status} ${wait.name}`,
        answer: { status, retryAfter: wait.header },
        status,
        retryAfterSeconds: wait.seconds,
        standard:
          status === 429
            ? {
                error: 'RateLimitedError',
                statusCode: status,
                retryAfterSeconds: wait.seconds ?? DELIVERY_POLICY.rateLimitWaitSeconds,
              }
            : { error: 'RetryableError', statusCode: status, retryAfterSeconds: wait.seconds },
      });
    }
  }
  cases.push(
    { name: 'nothing within the timeout', answer: 'hang', standard: { error: 'RetryableError' } },
    { name: 'a connection reset', answer: 'reset', standard: { error: 'RetryableError' } },
    { name: 'a refused connection', answer: 'refused', standard: { error: 'RetryableError' } },
  );
  return cases;
}

/** `end in RetryableError (429, retry after 20 s)`, `be delivered`: for test names. */
export function describeOutcome(outcome: Outcome): string {
  if ('delivered' in outcome) return 'be delivered';
  const details = [
    ...(outcome.statusCode === undefined ? [] : [`${outcome.statusCode}`]),
    ...(outcome.retryAfterSeconds === undefined ? [] : [`retry after ${outcome.retryAfterSeconds} s`]),
  ];
  return `end in ${outcome.error}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}

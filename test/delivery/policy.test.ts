import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BackoffPolicy,
  backoffSeconds,
  DEADLINE_MARGIN_MS,
  DEFAULT_BACKOFF,
  DELIVERY_POLICY,
  destinationTimeoutProblem,
  MAX_VISIBILITY_SECONDS,
  retryAfterVisibility,
  visibilityLimitSeconds,
} from '../../lib/delivery/policy.ts';

const lowest = () => 0;
const highest = () => 0.999_999_999;

describe('Function: backoffSeconds', () => {
  it('should wait between half and all of 5 s after the first attempt with the default policy', () => {
    // Act
    const low = backoffSeconds(1, DEFAULT_BACKOFF, lowest);
    const high = backoffSeconds(1, DEFAULT_BACKOFF, highest);

    // Assess
    expect(low).toBe(3); // ceil(2.5)
    expect(high).toBe(5);
  });

  it('should grow by the factor per attempt: 5, 20, 80, 320 s nominal', () => {
    // Act
    const nominal = [1, 2, 3, 4].map((attempt) => backoffSeconds(attempt, DEFAULT_BACKOFF, highest));
    const floor = [1, 2, 3, 4].map((attempt) => backoffSeconds(attempt, DEFAULT_BACKOFF, lowest));

    // Assess
    expect(nominal).toEqual([5, 20, 80, 320]);
    expect(floor).toEqual([3, 10, 40, 160]);
  });

  it('should cap the nominal delay at maxSeconds', () => {
    // Act
    const high = backoffSeconds(10, DEFAULT_BACKOFF, highest);
    const low = backoffSeconds(10, DEFAULT_BACKOFF, lowest);

    // Assess
    expect(high).toBe(DEFAULT_BACKOFF.maxSeconds);
    expect(low).toBe(DEFAULT_BACKOFF.maxSeconds / 2);
  });

  it('should never exceed what ChangeMessageVisibility accepts, whatever the policy', () => {
    // Prepare
    const policy: BackoffPolicy = { baseSeconds: 60, factor: 10, maxSeconds: 1_000_000 };

    // Act
    const delay = backoffSeconds(8, policy, highest);
    const later = backoffSeconds(8, policy, highest, 600_000);

    // Assess
    expect(delay).toBe(MAX_VISIBILITY_SECONDS - 300);
    expect(later).toBe(MAX_VISIBILITY_SECONDS - 300 - 600);
  });

  it('should treat an attempt below 1 as the first attempt', () => {
    // Act
    const zero = backoffSeconds(0, DEFAULT_BACKOFF, highest);
    const negative = backoffSeconds(-3, DEFAULT_BACKOFF, highest);

    // Assess
    expect(zero).toBe(5);
    expect(negative).toBe(5);
  });

  it('should use Math.random when no random is given, staying within the jitter bounds', () => {
    // Act
    const delays = Array.from({ length: 50 }, () => backoffSeconds(2));

    // Assess
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(10);
      expect(delay).toBeLessThanOrEqual(20);
      expect(Number.isInteger(delay)).toBe(true);
    }
  });

  it('should stay within [nominal / 2, nominal] and be a whole number of seconds for any attempt and random value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          // Act
          const delay = backoffSeconds(attempt, DEFAULT_BACKOFF, () => r);

          // Assess
          const nominal = Math.min(
            DEFAULT_BACKOFF.maxSeconds,
            DEFAULT_BACKOFF.baseSeconds * DEFAULT_BACKOFF.factor ** (attempt - 1),
          );
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(nominal / 2);
          expect(delay).toBeLessThanOrEqual(Math.ceil(nominal));
        },
      ),
    );
  });

  it('should never shrink from one attempt to the next for the same random value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          // Act
          const current = backoffSeconds(attempt, DEFAULT_BACKOFF, () => r);
          const next = backoffSeconds(attempt + 1, DEFAULT_BACKOFF, () => r);

          // Assess
          expect(next).toBeGreaterThanOrEqual(current);
        },
      ),
    );
  });
});

describe('Function: retryAfterVisibility', () => {
  it('should pass a Retry-After within range through, rounded up to whole seconds', () => {
    // Act & Assess
    expect(retryAfterVisibility(30)).toBe(30);
    expect(retryAfterVisibility(1.2)).toBe(2);
  });

  it('should clamp to the 12 hours SQS counts from the receive, less the margin', () => {
    // Act & Assess
    expect(retryAfterVisibility(43_201)).toBe(42_900);
    expect(retryAfterVisibility(86_400 * 7)).toBe(
      MAX_VISIBILITY_SECONDS - DELIVERY_POLICY.visibilityMarginSeconds,
    );
    expect(retryAfterVisibility(42_900)).toBe(42_900);
  });

  it('should take off the time since the receive, rounded up, and never go above what SQS accepts', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e7, noNaN: true }),
        fc.integer({ min: 0, max: 43_200_000 }),
        (seconds, since) => {
          // Act
          const visibility = retryAfterVisibility(seconds, since);

          // Assess
          expect(Number.isInteger(visibility)).toBe(true);
          expect(visibility).toBeGreaterThanOrEqual(0);
          expect(visibility + since / 1000).toBeLessThanOrEqual(MAX_VISIBILITY_SECONDS);
        },
      ),
    );
  });

  it('should clamp a negative value to 0', () => {
    // Act & Assess
    expect(retryAfterVisibility(-5)).toBe(0);
    expect(retryAfterVisibility(0)).toBe(0);
  });
});

describe('Function: visibilityLimitSeconds', () => {
  it('should be 0 once the 12 hours since the receive are used up', () => {
    // Act & Assess
    expect(visibilityLimitSeconds(43_200_000)).toBe(0);
    expect(visibilityLimitSeconds(1_500)).toBe(43_200 - 300 - 2);
  });
});

describe('Function: destinationTimeoutProblem', () => {
  it('should accept a vendor timeout that leaves the handler its margin in the function', () => {
    // Act & Assess
    expect(DEADLINE_MARGIN_MS).toBe(3_000);
    expect(destinationTimeoutProblem({ name: 'pd', timeoutSeconds: 27 }, 30)).toBeUndefined();
    expect(destinationTimeoutProblem({ name: 'pd' }, 30)).toBeUndefined();
  });

  it('should refuse one that does not fit, saying the longest that does', () => {
    // Act
    const problem = destinationTimeoutProblem({ name: 'pd', timeoutSeconds: 28 }, 30);

    // Assess
    expect(problem).toBe(
      "pd: timeoutSeconds 28 does not fit the sink function's 30 s with the 3 s the relay keeps for itself; use at most 27",
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseHttpDate, parseRetryAfter } from '../../lib/delivery/retry-after.ts';

// A fixed, whole-second "now" so HTTP-dates (second resolution) give exact answers.
const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);

describe('Retry-After', () => {
  it('should read delay-seconds', () => {
    // Prepare
    const headers = ['120', '0', '  7 ', '86400'];

    // Act
    const parsed = headers.map((h) => parseRetryAfter(h, NOW));

    // Assess
    expect(parsed).toEqual([120, 0, 7, 86400]);
  });

  it('should round fractional seconds up so a retry never comes early', () => {
    // Act
    const parsed = parseRetryAfter('1.2', NOW);

    // Assess
    expect(parsed).toBe(2);
  });

  it('should read an IMF-fixdate relative to now', () => {
    // Prepare
    const header = 'Sat, 21 Nov 2026 12:02:30 GMT';

    // Act
    const parsed = parseRetryAfter(header, NOW);

    // Assess
    expect(parsed).toBe(150);
  });

  it('should accept a Date as now', () => {
    // Act
    const parsed = parseRetryAfter('Sat, 21 Nov 2026 12:00:10 GMT', new Date(NOW));

    // Assess
    expect(parsed).toBe(10);
  });

  it('should read the obsolete RFC 850 and asctime date forms', () => {
    // Act
    const rfc850 = parseRetryAfter('Saturday, 21-Nov-26 12:01:00 GMT', NOW);
    const asctime = parseRetryAfter('Sat Nov 21 12:01:00 2026', NOW);
    const asctimeSingleDigitDay = parseRetryAfter('Mon Dec  7 12:00:00 2026', NOW);

    // Assess
    expect(rfc850).toBe(60);
    expect(asctime).toBe(60);
    expect(asctimeSingleDigitDay).toBe(16 * 86400);
  });

  it('should give 0 for a date in the past', () => {
    // Act
    const parsed = parseRetryAfter('Fri, 20 Nov 2026 12:00:00 GMT', NOW);

    // Assess
    expect(parsed).toBe(0);
  });

  it('should give undefined for an absent or malformed header', () => {
    // Prepare
    const headers = [
      null,
      undefined,
      '',
      '   ',
      '-5',
      'soon',
      '1e3',
      '0x10',
      '12 seconds',
      'Sat, 21 Nov 2026',
    ];

    // Act
    const parsed = headers.map((h) => parseRetryAfter(h, NOW));

    // Assess
    expect(parsed).toEqual(headers.map(() => undefined));
  });

  it('should reject dates that do not exist instead of rolling them over', () => {
    // Act
    const feb31 = parseHttpDate('Tue, 31 Feb 2026 00:00:00 GMT');
    const hour25 = parseHttpDate('Sat, 21 Nov 2026 25:00:00 GMT');
    const badMonth = parseHttpDate('Sat, 21 Foo 2026 12:00:00 GMT');

    // Assess
    expect([feb31, hour25, badMonth]).toEqual([undefined, undefined, undefined]);
  });

  it('should round-trip any delay written as Date#toUTCString', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 86400 }), (seconds) => {
        // Prepare
        const header = new Date(NOW + seconds * 1000).toUTCString();

        // Act
        const parsed = parseRetryAfter(header, NOW);

        // Assess
        expect(parsed).toBe(seconds);
      }),
    );
  });

  it('should never throw and only return whole non-negative seconds or undefined', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 4_000_000_000_000 }), (header, now) => {
        // Act
        const parsed = parseRetryAfter(header, now);

        // Assess
        if (parsed !== undefined) {
          expect(Number.isInteger(parsed)).toBe(true);
          expect(parsed).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});

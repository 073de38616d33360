import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MatcherParseError, parseMatcher } from '../../lib/alertmanager/matchers.ts';

/**
 * Matcher input at hostile sizes and shapes (a config is trusted, but a typo or a generated
 * config must fail with a readable MatcherParseError, never a stack overflow or a RangeError).
 * test/alertmanager/matchers.test.ts has the properties over arbitrary strings and the round-trip.
 */
function parseOrError(input: string): 'parsed' | 'refused' {
  try {
    parseMatcher(input).matches('x');
    return 'parsed';
  } catch (error) {
    expect(error).toBeInstanceOf(MatcherParseError);
    return 'refused';
  }
}

describe('Function: parseMatcher (hostile input)', () => {
  it.each([
    // RE2 (Go 1.19+, so every Alertmanager since 0.25) refuses expressions nested over 1,000 deep;
    // Alertmanager's own `^(?:` wrapper is one of them.
    ['998 nested groups', `a=~"${'('.repeat(998)}x${')'.repeat(998)}"`, 'parsed'],
    ['50,000 nested groups', `a=~"${'('.repeat(50_000)}x${')'.repeat(50_000)}"`, 'refused'],
    ['50,000 unclosed groups', `a=~"${'('.repeat(50_000)}"`, 'refused'],
    ['a 5 MB value', `a="${'x'.repeat(5_000_000)}"`, 'parsed'],
    [
      '100,000 alternatives',
      `a=~"${Array.from({ length: 100_000 }, (_, i) => `v${i}`).join('|')}"`,
      'parsed',
    ],
    ['a repeat of a repeat over the RE2 limit', 'a=~"(a{1000}){1000}"', 'refused'],
    ['a class of 100,000 ranges', `a=~"[${'a-z'.repeat(100_000)}]"`, 'parsed'],
    ['a name of 100,000 characters', `${'n'.repeat(100_000)}="x"`, 'parsed'],
    ['100,000 backslashes', `a="${'\\'.repeat(100_000)}"`, 'parsed'],
  ])('should parse or refuse with MatcherParseError: %s', (_name, input, expected) => {
    // Act
    const outcome = parseOrError(input);

    // Assess
    expect(outcome).toBe(expected);
  });

  it('should parse or refuse with MatcherParseError for deeply nested mixes of regex syntax (property)', () => {
    // Prepare
    const piece = fc.constantFrom(
      '(',
      ')',
      '(?:',
      '(?i)',
      '[',
      ']',
      '{2}',
      '{1000}',
      '*',
      '+',
      '?',
      '|',
      '\\',
      'a',
      '.',
    );

    // Act & Assess
    fc.assert(
      fc.property(fc.array(piece, { minLength: 100, maxLength: 5_000 }), (pieces) => {
        parseOrError(`a=~"${pieces.join('').replaceAll('"', '')}"`);
      }),
      { numRuns: 100 },
    );
  });

  it("should refuse nesting over RE2's limit with its reason", () => {
    // Act
    const act = () => parseMatcher(`a=~"${'('.repeat(1_000)}x${')'.repeat(1_000)}"`);

    // Assess
    expect(act).toThrow(/: expression nests too deeply$/);
  });
});

/**
 * Label values come from whoever writes an alert rule or runs an exporter. A matcher that is fine in
 * Alertmanager (RE2, linear time) must not hand them a way to stall ingest with a backtracking engine.
 * These only have to return; how long they take is measured in bench/matchers.ts.
 */
describe('Method: Matcher.matches (hostile label values)', () => {
  const catastrophic = parseMatcher('instance=~"([a-z0-9]+[.-]?)+:9100"');

  it.each([
    ['10,000 letters without the port', 'a'.repeat(10_000), false],
    ['10,000 letters then a wrong port', `${'a'.repeat(10_000)}:9101`, false],
    ['5,000 "a." pairs then "!"', `${'a.'.repeat(5_000)}!`, false],
    ['5,000 "a-" pairs then the port', `${'a-'.repeat(5_000)}:9100`, true],
    ['10,000 letters then the port', `${'a'.repeat(10_000)}:9100`, true],
  ])('should answer ([a-z0-9]+[.-]?)+:9100 against %s', (_name, value, expected) => {
    // Act
    const matched = catastrophic.matches(value);

    // Assess
    expect(matched).toBe(expected);
  });

  it.each([
    ['(a+)+b', 'a'.repeat(10_000), false],
    ['(a|aa)+c', 'a'.repeat(10_000), false],
    ['(.*a){20}', `${'a'.repeat(10_000)}b`, false],
    ['(\\w+\\s?)+$x', `${'word '.repeat(2_000)}!`, false],
  ])('should answer the nested repetition %j on a 10,000-character value', (pattern, value, expected) => {
    // Prepare
    const matcher = parseMatcher(`l=~"${pattern}"`);

    // Act
    const matched = matcher.matches(value);

    // Assess
    expect(matched).toBe(expected);
  });

  it('should give the negated answer for !~ on the same hostile value', () => {
    // Prepare
    const negated = parseMatcher('instance!~"([a-z0-9]+[.-]?)+:9100"');

    // Act
    const matched = negated.matches(`${'a'.repeat(10_000)}!`);

    // Assess
    expect(matched).toBe(true);
  });
});

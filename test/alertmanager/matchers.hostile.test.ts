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
    ['50,000 nested groups', `a=~"${'('.repeat(50_000)}x${')'.repeat(50_000)}"`, 'parsed'],
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
});

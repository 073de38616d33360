import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Matcher,
  MatcherParseError,
  matchesAll,
  parseMatcher,
  parseMatchers,
} from '../../lib/alertmanager/matchers.ts';

// Quotes a value the way a user would write it in a config, independently of Matcher.toString().
const quote = (value: string): string =>
  `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

const fieldsOf = (m: Matcher) => ({ name: m.name, type: m.type, value: m.value });

const parseError = (input: string): string => {
  try {
    parseMatcher(input);
  } catch (err) {
    expect(err).toBeInstanceOf(MatcherParseError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
};

describe('Function: parseMatcher', () => {
  it('should read each of the four operators with a quoted value', () => {
    // Act
    const matchers = ['a="x"', 'a!="x"', 'a=~"x"', 'a!~"x"'].map(parseMatcher);

    // Assess
    expect(matchers.map(fieldsOf)).toEqual([
      { name: 'a', type: '=', value: 'x' },
      { name: 'a', type: '!=', value: 'x' },
      { name: 'a', type: '=~', value: 'x' },
      { name: 'a', type: '!~', value: 'x' },
    ]);
  });

  it('should read an unquoted value', () => {
    // Act
    const matcher = parseMatcher('severity=~critical|page');

    // Assess
    expect(fieldsOf(matcher)).toEqual({ name: 'severity', type: '=~', value: 'critical|page' });
  });

  it('should ignore whitespace around the name, the operator and the value', () => {
    // Act
    const quoted = parseMatcher(' \t team  !=  "sandbox"\n ');
    const unquoted = parseMatcher('  team != sandbox  ');

    // Assess
    expect(fieldsOf(quoted)).toEqual({ name: 'team', type: '!=', value: 'sandbox' });
    expect(fieldsOf(unquoted)).toEqual({ name: 'team', type: '!=', value: 'sandbox' });
  });

  it('should keep whitespace and reserved characters inside a quoted value', () => {
    // Act
    const matcher = parseMatcher('summary=" disk {full}, on=host !~ \'x\' "');

    // Assess
    expect(matcher.value).toBe(" disk {full}, on=host !~ 'x' ");
  });

  it('should unescape a double quote, a backslash and a line feed in a quoted value', () => {
    // Act
    const matcher = parseMatcher(String.raw`quote="She said \"hi\"\\\n"`);

    // Assess
    expect(matcher.value).toBe('She said "hi"\\\n');
  });

  it('should keep the backslash of any other escape, as the classic parser does, so "\\d+" is a digit class', () => {
    // Act
    const matcher = parseMatcher(String.raw`code=~"5\d\d\.\t"`);

    // Assess
    expect(matcher.value).toBe(String.raw`5\d\d\.\t`);
    expect(matcher.matches('503.\t')).toBe(true);
  });

  it('should read an empty value, quoted or not', () => {
    // Act
    const quoted = parseMatcher('team=""');
    const unquoted = parseMatcher('team=');

    // Assess
    expect(quoted.value).toBe('');
    expect(unquoted.value).toBe('');
  });

  it('should accept Prometheus label names with colons and underscores', () => {
    // Act
    const matcher = parseMatcher('__name__:total_="x"');

    // Assess
    expect(matcher.name).toBe('__name__:total_');
  });

  it.each([
    ['', 'empty matcher'],
    [' \t ', 'empty matcher'],
    ['severity', 'missing operator'],
    ['severity critical', 'missing operator'],
    ['="x"', 'missing label name'],
    ['9x="a"', 'invalid label name "9x"'],
    ['my-label="a"', 'invalid label name "my-label"'],
    ['"severity"="critical"', 'quoted label names are not supported'],
    ['{severity="critical"}', 'braces are not supported, write one matcher per entry'],
    ['a=="b"', 'invalid operator "=="'],
    ['a~="b"', 'invalid operator "~="'],
    ['a!"b"', 'invalid operator "!"'],
    ['a="b', 'unterminated quoted value'],
    ['a="b\\"', 'unterminated quoted value'],
    ['a="b" c', 'unexpected character after quoted value'],
    ['a="b"}', 'unexpected character after quoted value'],
    ['a=b c', 'unexpected character after unquoted value, double-quote the value'],
    ['a=b,c="d"', 'unexpected "," in unquoted value, double-quote the value'],
    ['a=b}', 'unexpected "}" in unquoted value, double-quote the value'],
    ['a=~\\d+', 'unexpected "\\" in unquoted value, double-quote the value'],
    ['a=b"c"', `unexpected '"' in unquoted value, double-quote the value`],
    ['a=b\u00a0', 'unexpected U+00A0 in unquoted value, double-quote the value'],
    ["a='b'", 'single-quoted values are not supported, use double quotes'],
  ])('should reject %j with the message %j', (input, message) => {
    // Act
    const actual = parseError(input);

    // Assess
    expect(actual).toBe(message);
  });

  it('should throw an error named MatcherParseError', () => {
    // Act
    const act = () => parseMatcher('a');

    // Assess
    expect(act).toThrow(expect.objectContaining({ name: 'MatcherParseError' }));
  });

  it('should reject a non-string entry from an untyped config with a MatcherParseError', () => {
    // Act
    const act = () => parseMatcher(42 as unknown as string);

    // Assess
    expect(act).toThrow(MatcherParseError);
  });

  it.each([
    ['(', 'missing closing )'],
    [')', 'unexpected )'],
    ['[a', 'missing closing ]'],
    ['[z-a]', 'invalid character class range z-a'],
    ['*', 'missing argument to repetition operator *'],
    ['a|*', 'missing argument to repetition operator *'],
    ['a**', 'invalid nested repetition operator **'],
    ['a{2}{3}', 'invalid nested repetition operator {2}{3}'],
    ['a{1001}', 'invalid repeat count {1001}'],
    ['a{3,2}', 'invalid repeat count {3,2}'],
    ['(a{100}){20}', 'invalid repeat count {20}'],
    ['\\k<n>', 'invalid escape sequence \\k'],
    ['\\u0041', 'invalid escape sequence \\u'],
    ['\\C', 'invalid escape sequence \\C'],
    ['\\xZZ', 'invalid escape sequence \\xZZ'],
    ['[\\b]', 'invalid escape sequence \\b'],
    ['\\p{Klingon}', 'invalid character class range \\p{Klingon}'],
    ['[[:alphabet:]]', 'invalid character class range [:alphabet:]'],
    ['(?#comment)', 'invalid or unsupported Perl syntax (?#'],
    ['(?-)', 'invalid or unsupported Perl syntax (?-)'],
    ['(?P<1-2>x)', 'invalid named capture (?P<1-2>'],
  ])('should reject the regular expression %j as RE2 does: %s', (pattern, reason) => {
    // Act
    const actual = parseError(`a=~${quote(pattern)}`);

    // Assess
    expect(actual).toBe(`invalid regular expression ${JSON.stringify(pattern)}: ${reason}`);
  });

  it.each([
    ['(?=x)x', 'lookahead (?= is not supported'],
    ['(?!y)x', 'lookahead (?! is not supported'],
    ['(?<=x)x', 'lookbehind (?<= is not supported'],
    ['(?<!y)x', 'lookbehind (?<! is not supported'],
    ['(a)\\1', 'backreference \\1 is not supported'],
  ])('should reject %j, which JavaScript accepts but Alertmanager does not', (pattern, reason) => {
    // Act
    const actual = parseError(`a!~${quote(pattern)}`);

    // Assess
    expect(actual).toBe(`invalid regular expression ${JSON.stringify(pattern)}: ${reason}`);
  });

  it('should not compile a regular expression when matching', () => {
    // Prepare
    const matcher = parseMatcher('severity=~"critical|page"');
    const OriginalRegExp = globalThis.RegExp;
    let constructed = 0;
    globalThis.RegExp = new Proxy(OriginalRegExp, {
      construct(target, args) {
        constructed++;
        return Reflect.construct(target, args);
      },
      apply(target, thisArg, args) {
        constructed++;
        return Reflect.apply(target, thisArg, args);
      },
    });

    // Act
    try {
      for (let i = 0; i < 100; i++) matcher.matches(i % 2 === 0 ? 'page' : 'info');
    } finally {
      globalThis.RegExp = OriginalRegExp;
    }

    // Assess
    expect(constructed).toBe(0);
  });

  it('should give back an equal matcher when parsing its canonical form', () => {
    // Prepare
    const name = fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    const literal = fc.tuple(fc.constantFrom('=' as const, '!=' as const), fc.string({ unit: 'binary' }));
    const regex = fc.tuple(fc.constantFrom('=~' as const, '!~' as const), regexLike());

    // Act & Assess
    fc.assert(
      fc.property(name, fc.oneof(literal, regex), (n, [op, value]) => {
        let original: Matcher;
        try {
          original = parseMatcher(`${n}${op}${quote(value)}`);
        } catch (err) {
          // Random regexes are often invalid; only valid matchers have a canonical form.
          fc.pre(!(err instanceof MatcherParseError && op.includes('~')));
          throw err;
        }
        const reparsed = parseMatcher(original.toString());
        expect(fieldsOf(original)).toEqual({ name: n, type: op, value });
        expect(fieldsOf(reparsed)).toEqual(fieldsOf(original));
        expect(reparsed.toString()).toBe(original.toString());
      }),
      { numRuns: 500 },
    );
  });

  it('should throw nothing but MatcherParseError, whatever the input', () => {
    // Prepare
    const anyInput = fc.oneof(
      fc.string({ unit: 'binary' }),
      regexLike(),
      regexLike().map((re) => `l=~"${re}"`),
      regexLike().map((re) => `l!~${quote(re)}`),
    );

    // Act & Assess
    fc.assert(
      fc.property(anyInput, (input) => {
        let matcher: Matcher | undefined;
        try {
          matcher = parseMatcher(input);
        } catch (err) {
          expect(err).toBeInstanceOf(MatcherParseError);
          return;
        }
        for (const value of [undefined, '', 'a', 'aB\n(', '😀']) matcher.matches(value);
      }),
      { numRuns: 3000 },
    );
  });

  it('should match exactly the literal text when every punctuation character is escaped', () => {
    // Act & Assess
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const pattern = text.replace(/[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/g, (c) => `\\${c}`);
        const matcher = parseMatcher(`l=~${quote(pattern)}`);
        expect(matcher.matches(text)).toBe(true);
        expect(matcher.matches(`${text}x`)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('Method: Matcher.matches', () => {
  it('should compare the whole value for = and !=', () => {
    // Prepare
    const equal = parseMatcher('team="sre"');
    const notEqual = parseMatcher('team!="sandbox"');

    // Act & Assess
    expect([equal.matches('sre'), equal.matches('SRE'), equal.matches('sre2')]).toEqual([true, false, false]);
    expect([notEqual.matches('sandbox'), notEqual.matches('sre')]).toEqual([false, true]);
  });

  it('should match label="" when the label is absent or empty, and only then', () => {
    // Prepare
    const matcher = parseMatcher('team=""');

    // Act & Assess
    expect(matcher.matches(undefined)).toBe(true);
    expect(matcher.matches('')).toBe(true);
    expect(matcher.matches('sre')).toBe(false);
  });

  it('should match label!="" only when the label is present and not empty', () => {
    // Prepare
    const matcher = parseMatcher('team!=""');

    // Act & Assess
    expect(matcher.matches(undefined)).toBe(false);
    expect(matcher.matches('')).toBe(false);
    expect(matcher.matches('sre')).toBe(true);
  });

  it('should match an absent label with =~".*" but not with =~".+"', () => {
    // Act & Assess
    expect(parseMatcher('team=~".*"').matches(undefined)).toBe(true);
    expect(parseMatcher('team=~".+"').matches(undefined)).toBe(false);
    expect(parseMatcher('team!~".+"').matches(undefined)).toBe(true);
  });

  it('should anchor a regular expression at both ends, around all its alternatives', () => {
    // Prepare
    const matcher = parseMatcher('severity=~"critical|page"');

    // Act & Assess
    expect(matcher.matches('critical')).toBe(true);
    expect(matcher.matches('page')).toBe(true);
    expect(matcher.matches('critical-ish')).toBe(false);
    expect(matcher.matches('xpage')).toBe(false);
    expect(parseMatcher('severity!~"critical|page"').matches('critical-ish')).toBe(true);
  });

  it('should treat a leading (?i) as case-insensitive matching', () => {
    // Prepare
    const matcher = parseMatcher('severity=~"(?i)crit.*"');

    // Act & Assess
    expect(matcher.matches('CRITICAL')).toBe(true);
    expect(matcher.matches('Critical')).toBe(true);
    expect(matcher.matches('warning')).toBe(false);
  });

  it('should apply a later (?i) to the rest of its group, across alternatives, as RE2 does', () => {
    // Prepare
    const unscoped = parseMatcher('a=~"x(?i)y|z"');
    const scoped = parseMatcher('a=~"(?i:x)y"');
    const cleared = parseMatcher('a=~"(?i)x(?-i)y"');

    // Act & Assess
    expect([unscoped.matches('xY'), unscoped.matches('Z'), unscoped.matches('XY')]).toEqual([
      true,
      true,
      false,
    ]);
    expect([scoped.matches('Xy'), scoped.matches('XY')]).toEqual([true, false]);
    expect([cleared.matches('Xy'), cleared.matches('XY')]).toEqual([true, false]);
  });

  it('should let . match any character but a line feed, astral characters included', () => {
    // Prepare
    const dot = parseMatcher('a=~"."');
    const dotAll = parseMatcher('a=~"(?s)."');

    // Act & Assess
    expect([dot.matches('😀'), dot.matches('\r'), dot.matches('\u2028'), dot.matches('\n')]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(dotAll.matches('\n')).toBe(true);
  });

  it('should keep \\s, \\d, \\w and POSIX classes to ASCII, as RE2 does', () => {
    // Prepare
    const space = parseMatcher(String.raw`a=~"\s"`);
    const notSpace = parseMatcher(String.raw`a=~"[\S]"`);
    const digits = parseMatcher(String.raw`a=~"\d+"`);
    const word = parseMatcher('a=~"[[:word:]]+"');

    // Act & Assess
    expect([space.matches(' '), space.matches('\t'), space.matches('\v'), space.matches('\u00a0')]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect([notSpace.matches('\v'), notSpace.matches('\u00a0'), notSpace.matches(' ')]).toEqual([
      true,
      true,
      false,
    ]);
    expect([digits.matches('503'), digits.matches('٣')]).toEqual([true, false]);
    expect([word.matches('node_exporter9'), word.matches('é')]).toEqual([true, false]);
  });

  it('should read ^ and $ as text anchors, and as line anchors under (?m)', () => {
    // Prepare
    const text = parseMatcher(String.raw`a=~"a$\nb"`);
    const lines = parseMatcher(String.raw`a=~"(?m)a$\n^b"`);

    // Act & Assess
    expect(text.matches('a\nb')).toBe(false);
    expect(lines.matches('a\nb')).toBe(true);
  });

  it.each([
    ['a{,3}', 'a{,3}', 'aaa'],
    ['x{', 'x{', 'x'],
    ['a]}', 'a]}', 'a'],
    [String.raw`\_\:\-\/\@`, '_:-/@', String.raw`\_`],
    ['[a-c-e]+', 'b-e', 'd'],
    ['[]a]+', ']a]', 'b'],
    ['[^]a]', 'b', ']'],
    ['[[:alpha:]][[:^digit:]]', 'a!', 'a1'],
    [String.raw`\Qa.b*\E+`, 'a.b**', 'axb*'],
    [String.raw`\x41\x{1F600}\101\0`, 'A😀A\0', 'A😀A'],
    [String.raw`\pL\p{Greek}\P{Greek}\p{^Greek}`, 'aαbc', 'aαbα'],
    ['(?P<a>x)(?<b>y)', 'xy', 'x'],
    ['x^*y', 'xy', 'x^y'],
    ['(?U)a+?b', 'aab', 'b'],
  ])(
    'should accept the RE2 syntax %j that a u-flag RegExp would refuse as written',
    (pattern, matching, other) => {
      // Prepare
      const matcher = parseMatcher(`a=~${quote(pattern)}`);

      // Act & Assess
      expect(matcher.matches(matching)).toBe(true);
      expect(matcher.matches(other)).toBe(false);
    },
  );
});

describe('Method: Matcher.toString', () => {
  it('should print the canonical form with a double-quoted value', () => {
    // Act
    const printed = ['severity =~ critical|page', 'team!="sandbox"', 'a=', 'a!~".+"'].map((s) =>
      parseMatcher(s).toString(),
    );

    // Assess
    expect(printed).toEqual(['severity=~"critical|page"', 'team!="sandbox"', 'a=""', 'a!~".+"']);
  });

  it('should escape double quotes, backslashes and line feeds', () => {
    // Prepare
    const matcher = parseMatcher(String.raw`a=~"say \"hi\"\n\d"`);

    // Act
    const printed = matcher.toString();

    // Assess
    expect(printed).toBe(String.raw`a=~"say \"hi\"\n\\d"`);
    expect(fieldsOf(parseMatcher(printed))).toEqual(fieldsOf(matcher));
  });
});

describe('Function: parseMatchers', () => {
  it('should parse every entry in order', () => {
    // Act
    const matchers = parseMatchers(['severity=~"critical|page"', 'team!="sandbox"']);

    // Assess
    expect(matchers.map(String)).toEqual(['severity=~"critical|page"', 'team!="sandbox"']);
  });

  it('should give an empty list for no entries', () => {
    // Act
    const matchers = parseMatchers([]);

    // Assess
    expect(matchers).toEqual([]);
  });

  it('should name the index of the bad entry at the start of the message', () => {
    // Act
    const act = () => parseMatchers(['team="sre"', 'severity="critical']);

    // Assess
    expect(act).toThrow(MatcherParseError);
    expect(act).toThrow(/^\[1\]: unterminated quoted value$/);
  });
});

describe('Function: matchesAll', () => {
  it('should match only when every matcher matches', () => {
    // Prepare
    const matchers = parseMatchers(['severity=~"critical|page"', 'team!="sandbox"']);

    // Act & Assess
    expect(matchesAll(matchers, { severity: 'page', team: 'sre' })).toBe(true);
    expect(matchesAll(matchers, { severity: 'page', team: 'sandbox' })).toBe(false);
    expect(matchesAll(matchers, { severity: 'info', team: 'sre' })).toBe(false);
    expect(matchesAll(matchers, { team: 'sre' })).toBe(false);
  });

  it('should match any labels with an empty list', () => {
    // Act & Assess
    expect(matchesAll([], {})).toBe(true);
    expect(matchesAll([], { severity: 'info' })).toBe(true);
  });

  it('should treat a missing label as empty even when its name is an Object.prototype member', () => {
    // Prepare
    const matchers = parseMatchers(['constructor=""', 'toString!~".+"', '__proto__=""']);

    // Act
    const matched = matchesAll(matchers, {});

    // Assess
    expect(matched).toBe(true);
  });
});

/** Strings made of regex syntax pieces, so random input reaches deep into the RE2 translation. */
function regexLike(): fc.Arbitrary<string> {
  const piece = fc.constantFrom(
    'a',
    'B',
    '1',
    '.',
    '|',
    '*',
    '+',
    '?',
    '(',
    ')',
    '(?:',
    '(?i)',
    '(?-i)',
    '(?s:',
    '(?m)',
    '(?P<n>',
    '[',
    ']',
    '[^',
    '-',
    '^',
    '$',
    '{',
    '}',
    '{2}',
    '{1,3}',
    ',',
    '\\',
    '\\d',
    '\\S',
    '\\w',
    '\\b',
    '\\pL',
    '\\p{Greek}',
    '\\Q',
    '\\E',
    '\\x41',
    '\\x{1F600}',
    '\\0',
    '\\1',
    '[:alpha:]',
    '[[:^space:]]',
    '"',
    ' ',
    '\n',
    'é',
    '😀',
  );
  return fc.array(piece, { maxLength: 12 }).map((pieces) => pieces.join(''));
}

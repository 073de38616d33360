/**
 * Label matchers in Alertmanager's own syntax (`severity=~"critical|page"`, `team!="sandbox"`), so a
 * relay config can say which alerts a destination receives in the words Alertmanager users already know.
 *
 * Alertmanager 0.25 parses matchers with the classic parser (pkg/labels/parse.go); 0.27 and later try the
 * UTF-8 parser (matcher/parse/) first and fall back to the classic one, keeping the classic result when
 * the two disagree. We accept the ordinary input both parsers agree on, and where only the classic parser
 * gives an answer (quoted values with unknown escapes such as `"\d+"`) we follow it, because that is what
 * every version does by default. Unquoted values that the two parsers would read differently are rejected
 * with a hint to double-quote them.
 *
 * Regular expressions are RE2 in Alertmanager, compiled as `^(?:value)$` (pkg/labels/matcher.go). Here they
 * run on re2js, a port of Go's regexp package: the same syntax, the same errors and the same linear-time
 * matching, so a config that works here works in Alertmanager and the other way round, and a label value
 * that an alert's author controls cannot make a matcher backtrack for seconds (JavaScript's RegExp takes
 * exponential time on `([a-z0-9]+[.-]?)+:9100` against a few dozen characters).
 */

import { RE2JS, RE2JSSyntaxException } from 're2js';

export type MatchType = '=' | '!=' | '=~' | '!~';

export class MatcherParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MatcherParseError';
  }
}

export interface Matcher {
  readonly name: string;
  readonly type: MatchType;
  /** The unescaped value: the literal to compare, or the RE2 pattern for `=~` and `!~`. */
  readonly value: string;
  /** An absent label (undefined) is matched as the empty string, as Alertmanager does. */
  matches(labelValue: string | undefined): boolean;
  /** Canonical form, e.g. `severity=~"critical|page"`; parseMatcher(m.toString()) gives m back. */
  toString(): string;
}

/** Parses one matcher such as `severity=~"critical|page"`. Throws MatcherParseError only. */
export function parseMatcher(input: string): Matcher {
  if (typeof input !== 'string') throw new MatcherParseError('matcher must be a string');
  const scanner = new Scanner(input);
  scanner.skipSpace();
  if (scanner.atEnd()) throw new MatcherParseError('empty matcher');

  const name = readLabelName(scanner);
  scanner.skipSpace();
  const type = readOperator(scanner);
  scanner.skipSpace();
  const value = readValue(scanner);

  const re = type === '=~' || type === '!~' ? compileRe2(value) : undefined;
  return new LabelMatcher(name, type, value, re);
}

/**
 * Parses a config's list of matchers, one matcher per entry. The error names the bad entry as `[i]: `
 * so the config loader can prefix its own path (`destinations[1].matchers[0]: ...`).
 */
export function parseMatchers(inputs: readonly string[]): Matcher[] {
  if (!Array.isArray(inputs)) throw new MatcherParseError('matchers must be a list of strings');
  return inputs.map((input, i) => {
    try {
      return parseMatcher(input);
    } catch (err) {
      if (err instanceof MatcherParseError) throw new MatcherParseError(`[${i}]: ${err.message}`);
      throw err;
    }
  });
}

/** True when every matcher matches the label set (an empty list matches everything). */
export function matchesAll(matchers: readonly Matcher[], labels: Readonly<Record<string, string>>): boolean {
  // Own properties only: `constructor` and `__proto__` are valid label names, and an alert without
  // them must not pick up Object.prototype's members as values.
  return matchers.every((m) => m.matches(Object.hasOwn(labels, m.name) ? labels[m.name] : undefined));
}

class LabelMatcher implements Matcher {
  readonly name: string;
  readonly type: MatchType;
  readonly value: string;
  readonly #re: RE2JS | undefined;

  constructor(name: string, type: MatchType, value: string, re: RE2JS | undefined) {
    this.name = name;
    this.type = type;
    this.value = value;
    this.#re = re;
  }

  matches(labelValue: string | undefined): boolean {
    const actual = labelValue ?? '';
    switch (this.type) {
      case '=':
        return actual === this.value;
      case '!=':
        return actual !== this.value;
      case '=~':
        return (this.#re as RE2JS).testExact(actual);
      case '!~':
        return !(this.#re as RE2JS).testExact(actual);
    }
  }

  toString(): string {
    // The same three escapes Alertmanager's own String() uses, which both of its parsers read back.
    const escaped = this.value.replace(/[\\\n"]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
    return `${this.name}${this.type}"${escaped}"`;
  }
}

// ---------------------------------------------------------------------------------------------------
// Matcher syntax

// The classic parser trims with RE2's \s, which is ASCII only; other Unicode spaces are rejected below
// rather than trimmed, because the UTF-8 parser would trim them and the classic one would keep them.
const SPACE = new Set(['\t', '\n', '\f', '\r', ' ']);

// Characters the UTF-8 parser does not allow in an unquoted value (its isReserved). The classic parser
// reads most of them as part of the value, so an unquoted value containing one means different things
// to different Alertmanager versions, or is split apart by the config loader (`,`, `{`, `}`).
const RESERVED_IN_UNQUOTED = new Set(['{', '}', '!', '=', '~', ',', '\\', '"', "'", '`']);
const UNICODE_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

const LABEL_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const OPERATORS: readonly string[] = ['=', '!=', '=~', '!~'];

class Scanner {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos];
  }

  skipSpace(): void {
    while (!this.atEnd() && SPACE.has(this.peek())) this.pos++;
  }

  takeWhile(keep: (c: string) => boolean): string {
    const start = this.pos;
    while (!this.atEnd() && keep(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }
}

function readLabelName(s: Scanner): string {
  const first = s.peek();
  if (first === '"') throw new MatcherParseError('quoted label names are not supported');
  if (first === '{') throw new MatcherParseError('braces are not supported, write one matcher per entry');
  const name = s.takeWhile((c) => !SPACE.has(c) && c !== '=' && c !== '!' && c !== '~');
  if (name === '') throw new MatcherParseError('missing label name');
  if (!LABEL_NAME.test(name)) throw new MatcherParseError(`invalid label name ${JSON.stringify(name)}`);
  return name;
}

function readOperator(s: Scanner): MatchType {
  const op = s.takeWhile((c) => c === '=' || c === '!' || c === '~');
  if (op === '') throw new MatcherParseError('missing operator');
  if (!OPERATORS.includes(op)) throw new MatcherParseError(`invalid operator ${JSON.stringify(op)}`);
  return op as MatchType;
}

function readValue(s: Scanner): string {
  // `name=` is the classic parser's empty value; the quoted `name=""` is the portable spelling.
  if (s.atEnd()) return '';
  const first = s.peek();
  if (first === '"') return readQuotedValue(s);
  if (first === "'") throw new MatcherParseError('single-quoted values are not supported, use double quotes');
  return readUnquotedValue(s);
}

function readQuotedValue(s: Scanner): string {
  s.pos++;
  let value = '';
  for (;;) {
    if (s.atEnd()) throw new MatcherParseError('unterminated quoted value');
    const c = s.text[s.pos];
    if (c === '"') break;
    if (c === '\\') {
      if (s.pos + 1 >= s.text.length) throw new MatcherParseError('unterminated quoted value');
      const next = s.text[s.pos + 1];
      // Only \n, \" and \\ are escapes to the classic parser; any other backslash is kept, which is
      // what makes the common `=~"\d+"` mean the RE2 digit class.
      if (next === 'n') value += '\n';
      else if (next === '"' || next === '\\') value += next;
      else value += `\\${next}`;
      s.pos += 2;
      continue;
    }
    value += c;
    s.pos++;
  }
  s.pos++;
  s.skipSpace();
  if (!s.atEnd()) throw new MatcherParseError('unexpected character after quoted value');
  return value;
}

function readUnquotedValue(s: Scanner): string {
  const value = s.takeWhile((c) => !SPACE.has(c));
  for (const c of value) {
    if (RESERVED_IN_UNQUOTED.has(c) || UNICODE_SPACE.test(c)) {
      throw new MatcherParseError(`unexpected ${describeChar(c)} in unquoted value, double-quote the value`);
    }
  }
  s.skipSpace();
  if (!s.atEnd())
    throw new MatcherParseError('unexpected character after unquoted value, double-quote the value');
  return value;
}

function describeChar(c: string): string {
  const cp = c.codePointAt(0) as number;
  // Not JSON.stringify: a user who typed \ or " should see that character, not its JSON escape.
  if (c === '"') return `'"'`;
  if (cp > 0x20 && cp < 0x7f) return `"${c}"`;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

// ---------------------------------------------------------------------------------------------------
// Regular expressions

/**
 * Compiles a matcher's pattern the way Alertmanager does: `^(?:value)$` with Go's regexp, whose errors
 * re2js reproduces (reason and offending piece). Wrapping first, as Alertmanager does, keeps even odd
 * values such as `a)|(b` meaning the same in both.
 */
function compileRe2(value: string): RE2JS {
  try {
    return RE2JS.compile(`^(?:${value})$`);
  } catch (err) {
    if (err instanceof RE2JSSyntaxException) {
      // The reason quotes pieces of the pattern; escape control characters so the message stays on one line.
      const reason = Array.from(describeSyntaxError(err, value), (c) =>
        c < ' ' || c === '\x7f' ? JSON.stringify(c).slice(1, -1) : c,
      ).join('');
      throw new MatcherParseError(`invalid regular expression ${JSON.stringify(value)}: ${reason}`);
    }
    throw err;
  }
}

/**
 * RE2's reason and the piece it names, e.g. `invalid repeat count {1001}`. A piece that reaches into the
 * `^(?:` `)$` wrapper is left out (it would show text the user never wrote). Lookaround and
 * backreferences, which JavaScript and PCRE users expect to work, are named as such rather than with
 * RE2's generic reason.
 */
function describeSyntaxError(err: RE2JSSyntaxException, value: string): string {
  const piece = err.input ?? '';
  if (/^\(\?[=!]/.test(piece)) return `lookahead ${piece.slice(0, 3)} is not supported`;
  const lookbehind = /^\(\?<[=!]/.exec(piece);
  if (lookbehind) return `lookbehind ${lookbehind[0]} is not supported`;
  if (/^\\[1-9]$/.test(piece)) return `backreference ${piece} is not supported`;
  return piece !== '' && value.includes(piece) ? `${err.error} ${piece}` : err.error;
}

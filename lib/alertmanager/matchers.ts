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
 * Regular expressions are RE2 in Alertmanager. They are translated here into an equivalent JavaScript
 * RegExp, and the constructs RE2 refuses (lookaround, backreferences) are refused too, so a config that
 * works here works in Alertmanager and the other way round.
 */

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

  let re: RegExp | undefined;
  if (type === '=~' || type === '!~') {
    try {
      re = compileRe2(value);
    } catch (err) {
      if (err instanceof Re2SyntaxError) {
        // The reason quotes pieces of the pattern; escape control characters so the message stays on one line.
        const reason = Array.from(err.message, (c) =>
          c < ' ' || c === '\x7f' ? JSON.stringify(c).slice(1, -1) : c,
        ).join('');
        throw new MatcherParseError(`invalid regular expression ${JSON.stringify(value)}: ${reason}`);
      }
      throw err;
    }
  }
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
  readonly #re: RegExp | undefined;

  constructor(name: string, type: MatchType, value: string, re: RegExp | undefined) {
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
        return (this.#re as RegExp).test(actual);
      case '!~':
        return !(this.#re as RegExp).test(actual);
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
// RE2 to JavaScript RegExp
//
// The pattern is rewritten piece by piece rather than handed to RegExp as it is, because the two
// dialects disagree on valid input in both directions. RE2 accepts `a{`, `]`, `\_`, `\Q..\E`, `(?s)`,
// POSIX classes and octal escapes that a `u` RegExp refuses; JavaScript without `u` accepts
// lookaround and backreferences that RE2 refuses, and reads `.` as one UTF-16 unit, not one character.
// The output always uses the `u` flag and only syntax that is valid under it. Semantics kept from RE2:
// `.` excludes only \n, `\s` `\d` `\w` and POSIX classes are ASCII, `^` `$` are text anchors unless
// (?m), and the whole value must match (Alertmanager anchors it as ^(?:value)$).

class Re2SyntaxError extends Error {}

const MAX_CODE_POINT = 0x10ffff;
const MAX_REPEAT = 1000;

type Range = readonly [number, number];

const PERL_CLASSES: Readonly<Record<string, readonly Range[]>> = {
  d: [[0x30, 0x39]],
  s: [
    [0x09, 0x0a],
    [0x0c, 0x0d],
    [0x20, 0x20],
  ],
  w: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
};

const POSIX_CLASSES: Readonly<Record<string, readonly Range[]>> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: PERL_CLASSES.w,
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

// Go's general categories; any other \p name is a script (JavaScript wants those as Script=Name).
const GENERAL_CATEGORIES = new Set(
  'L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs Cc Cf Co Cs'.split(
    ' ',
  ),
);

// Case-insensitivity that starts anywhere but the beginning needs RegExp modifiers `(?i:...)`, which
// arrived in V8 12.5 (Node 23); the Lambda runtime is Node 24, but the check keeps older Nodes honest.
const SUPPORTS_MODIFIERS = (() => {
  // Built from a variable: as a literal, an older V8 would refuse to load this whole module.
  const probe = '(?i:a)';
  try {
    new RegExp(probe, 'u');
    return true;
  } catch {
    return false;
  }
})();

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
}

interface Atom {
  src: string;
  /** Needs a (?:...) around it before a quantifier can follow. */
  wrap: boolean;
  /** Product of counted repetitions inside, for RE2's limit of 1000 copies. */
  weight: number;
}

interface Frame {
  alternatives: string[];
  seq: Atom[];
  weight: number;
  /** Flags to restore when the group closes; undefined for the whole pattern. */
  outerFlags: Flags | undefined;
}

function compileRe2(pattern: string): RegExp {
  const { source, ignoreCase } = translateRe2(pattern);
  try {
    return new RegExp(`^(?:${source})$`, ignoreCase ? 'iu' : 'u');
  } catch (err) {
    // Everything RE2 accepts should translate; this reports the translation's own gaps honestly.
    throw new Re2SyntaxError(`not supported here: ${(err as Error).message}`);
  }
}

function translateRe2(pattern: string): { source: string; ignoreCase: boolean } {
  return new Re2Translator(pattern).translate();
}

class Re2Translator {
  readonly cps: string[];
  i = 0;
  flags: Flags = { i: false, m: false, s: false };
  readonly ignoreCase: boolean;
  stack: Frame[] = [{ alternatives: [], seq: [], weight: 1, outerFlags: undefined }];
  lastWasRepeat = false;

  constructor(pattern: string) {
    this.cps = Array.from(pattern);
    // A leading (?i) becomes the RegExp's own i flag; other case changes need (?i:...) modifiers.
    this.ignoreCase = /^\(\?[msU]*i[imsU]*(?:-[imsU]+)?\)/.test(pattern);
  }

  translate(): { source: string; ignoreCase: boolean } {
    while (this.i < this.cps.length) {
      const wasRepeat = this.step();
      this.lastWasRepeat = wasRepeat;
    }
    if (this.stack.length > 1) throw new Re2SyntaxError('missing closing )');
    const root = this.stack[0];
    return { source: this.closeFrame(root), ignoreCase: this.ignoreCase };
  }

  get frame(): Frame {
    return this.stack[this.stack.length - 1];
  }

  /** Consumes one piece of the pattern; returns whether it was a repetition operator. */
  step(): boolean {
    const c = this.cps[this.i];
    switch (c) {
      case '(':
        this.openGroup();
        return false;
      case ')':
        this.closeGroup();
        return false;
      case '|':
        this.i++;
        this.frame.alternatives.push(this.seqSource(this.frame));
        this.frame.seq = [];
        return false;
      case '^':
        this.i++;
        this.push(this.flags.m ? '(?<![^\\n])' : '(?:^)', true, false);
        return false;
      case '$':
        this.i++;
        this.push(this.flags.m ? '(?![^\\n])' : '(?:$)', true, false);
        return false;
      case '.':
        this.i++;
        this.push(this.flags.s ? '[^]' : '[^\\n]', false, false);
        return false;
      case '[':
        this.parseClass();
        return false;
      case '*':
      case '+':
      case '?':
        this.i++;
        this.repeat(c, c === '+' ? 1 : 0, c === '?' ? 1 : -1, false);
        return true;
      case '{': {
        const counted = this.parseRepeatCount();
        if (counted === undefined) {
          this.i++;
          this.pushLiteral(0x7b);
          return false;
        }
        this.repeat(counted.text, counted.min, counted.max, true);
        return true;
      }
      case '\\':
        this.parseEscapeOutsideClass();
        return false;
      default:
        this.i++;
        this.pushLiteral(c.codePointAt(0) as number);
        return false;
    }
  }

  push(src: string, wrap: boolean, caseSensitive: boolean, weight = 1): void {
    let out = src;
    if (caseSensitive && this.flags.i !== this.ignoreCase) {
      if (!SUPPORTS_MODIFIERS) {
        throw new Re2SyntaxError(
          '(?i) is only supported at the start of the pattern on this Node.js version',
        );
      }
      out = `(?${this.flags.i ? 'i' : '-i'}:${src})`;
    }
    this.frame.seq.push({ src: out, wrap, weight });
  }

  pushLiteral(cp: number): void {
    this.push(literalOutsideClass(cp), false, true);
  }

  seqSource(frame: Frame): string {
    for (const atom of frame.seq) frame.weight = Math.max(frame.weight, atom.weight);
    return frame.seq.map((a) => a.src).join('');
  }

  closeFrame(frame: Frame): string {
    frame.alternatives.push(this.seqSource(frame));
    return frame.alternatives.join('|');
  }

  openGroup(): void {
    const start = this.i;
    if (this.cps[this.i + 1] !== '?') {
      this.i++;
      this.stack.push({ alternatives: [], seq: [], weight: 1, outerFlags: { ...this.flags } });
      return;
    }
    const next = this.cps[this.i + 2];
    if (next === '=' || next === '!') throw new Re2SyntaxError(`lookahead (?${next} is not supported`);
    const afterLt = this.cps[this.i + 3];
    if (next === '<' && (afterLt === '=' || afterLt === '!')) {
      throw new Re2SyntaxError(`lookbehind (?<${afterLt} is not supported`);
    }
    if ((next === 'P' && afterLt === '<') || next === '<') {
      // Named captures: RE2 accepts (?P<name>re) and (?<name>re); capturing is irrelevant to matching.
      const nameStart = this.i + (next === 'P' ? 4 : 3);
      const end = this.cps.indexOf('>', nameStart);
      const name = end < 0 ? '' : this.cps.slice(nameStart, end).join('');
      if (end < 0 || !/^[A-Za-z0-9_]+$/.test(name)) {
        throw new Re2SyntaxError(
          `invalid named capture ${this.cps.slice(start, end < 0 ? undefined : end + 1).join('')}`,
        );
      }
      this.i = end + 1;
      this.stack.push({ alternatives: [], seq: [], weight: 1, outerFlags: { ...this.flags } });
      return;
    }

    const flags = { ...this.flags };
    let negate = false;
    let sawFlag = false;
    for (let j = this.i + 2; j < this.cps.length; j++) {
      const f = this.cps[j];
      if (f === 'i' || f === 'm' || f === 's' || f === 'U') {
        // U only swaps greedy and lazy, which cannot change whether a whole-string match exists.
        if (f !== 'U') flags[f] = !negate;
        sawFlag = true;
        continue;
      }
      if (f === '-' && !negate) {
        negate = true;
        sawFlag = false;
        continue;
      }
      if ((f === ':' || f === ')') && !(negate && !sawFlag)) {
        this.i = j + 1;
        if (f === ':') {
          this.stack.push({ alternatives: [], seq: [], weight: 1, outerFlags: { ...this.flags } });
        }
        this.flags = flags;
        return;
      }
      throw new Re2SyntaxError(`invalid or unsupported perl syntax ${this.cps.slice(start, j + 1).join('')}`);
    }
    throw new Re2SyntaxError(`invalid or unsupported perl syntax ${this.cps.slice(start).join('')}`);
  }

  closeGroup(): void {
    this.i++;
    if (this.stack.length === 1) throw new Re2SyntaxError('unexpected )');
    const frame = this.stack.pop() as Frame;
    const src = this.closeFrame(frame);
    this.flags = frame.outerFlags as Flags;
    this.frame.seq.push({ src: `(?:${src})`, wrap: false, weight: frame.weight });
  }

  /** Parses {n}, {n,} or {n,m} at the cursor; undefined when it is not one (then `{` is a literal). */
  parseRepeatCount(): { text: string; min: number; max: number } | undefined {
    const rest = this.cps.slice(this.i).join('');
    const m = /^\{(0|[1-9][0-9]*)(?:(,)(0|[1-9][0-9]*)?)?\}/.exec(rest);
    if (!m) return undefined;
    this.i += Array.from(m[0]).length;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === undefined ? -1 : Number(m[3]);
    if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) {
      throw new Re2SyntaxError(`invalid repeat count ${m[0]}`);
    }
    return { text: m[0], min, max };
  }

  repeat(op: string, min: number, max: number, counted: boolean): void {
    let text = op;
    if (this.cps[this.i] === '?') {
      this.i++;
      text += '?';
    }
    if (this.lastWasRepeat) throw new Re2SyntaxError(`invalid nested repetition operator ${text}`);
    const seq = this.frame.seq;
    const atom = seq.pop();
    if (atom === undefined) throw new Re2SyntaxError(`missing argument to repetition operator ${text}`);
    let weight = atom.weight;
    if (counted) {
      const copies = max === -1 ? min : max;
      if ((min >= 2 || max >= 2) && max !== 0 && copies * weight > MAX_REPEAT) {
        throw new Re2SyntaxError(`invalid repeat count ${op}`);
      }
      weight = max === 0 ? 1 : Math.max(1, copies) * weight;
    }
    const base = atom.wrap ? `(?:${atom.src})` : atom.src;
    seq.push({ src: base + text, wrap: true, weight });
  }

  parseEscapeOutsideClass(): void {
    const c = this.cps[this.i + 1];
    switch (c) {
      case 'A':
        this.i += 2;
        this.push('(?:^)', true, false);
        return;
      case 'z':
        this.i += 2;
        this.push('(?:$)', true, false);
        return;
      case 'b':
      case 'B':
        this.i += 2;
        this.push(`\\${c}`, true, false);
        return;
      case 'C':
        throw new Re2SyntaxError('invalid escape sequence \\C');
      case 'Q': {
        this.i += 2;
        while (this.i < this.cps.length) {
          if (this.cps[this.i] === '\\' && this.cps[this.i + 1] === 'E') {
            this.i += 2;
            break;
          }
          this.pushLiteral(this.cps[this.i].codePointAt(0) as number);
          this.i++;
        }
        return;
      }
    }
    const items = this.parseClassEscape();
    if (items !== undefined) {
      this.push(`[${items.join('')}]`, false, true);
      return;
    }
    this.pushLiteral(this.parseEscape());
  }

  /** \d \s \w (and negations) and \p{...}; undefined when the escape at the cursor is neither. */
  parseClassEscape(): string[] | undefined {
    const c = this.cps[this.i + 1];
    if (c === undefined) return undefined;
    const perl = PERL_CLASSES[c.toLowerCase()];
    if (perl !== undefined && (c === c.toLowerCase() || 'DSW'.includes(c))) {
      this.i += 2;
      return rangesToClassItems(c === c.toLowerCase() ? perl : complement(perl));
    }
    if (c === 'p' || c === 'P') return this.parseUnicodeClass();
    return undefined;
  }

  parseUnicodeClass(): string[] {
    const start = this.i;
    let negate = this.cps[this.i + 1] === 'P';
    let name: string;
    if (this.cps[this.i + 2] === '{') {
      const end = this.cps.indexOf('}', this.i + 3);
      if (end < 0)
        throw new Re2SyntaxError(`invalid character class range ${this.cps.slice(start).join('')}`);
      name = this.cps.slice(this.i + 3, end).join('');
      this.i = end + 1;
    } else {
      name = this.cps[this.i + 2] ?? '';
      this.i += 3;
    }
    const seq = this.cps.slice(start, this.i).join('');
    if (name.startsWith('^')) {
      negate = !negate;
      name = name.slice(1);
    }
    let items: string[];
    if (name === 'C') {
      // Go's C (Other) leaves out unassigned code points (Cn), JavaScript's includes them.
      items = negate ? ['\\P{C}', '\\p{Cn}'] : ['\\p{Cc}', '\\p{Cf}', '\\p{Co}', '\\p{Cs}'];
    } else {
      const property =
        GENERAL_CATEGORIES.has(name) || name === 'Any' || name === 'ASCII' || name === 'Assigned'
          ? name
          : `Script=${name}`;
      items = [`\\${negate ? 'P' : 'p'}{${property}}`];
    }
    if (name === '' || !/^[A-Za-z_]+$/.test(name) || !isValidClass(items)) {
      throw new Re2SyntaxError(`invalid character class range ${seq}`);
    }
    return items;
  }

  /** A single-character escape (\n, \x41, \x{1F600}, \101, \.) at the cursor; returns its code point. */
  parseEscape(): number {
    const start = this.i;
    const c = this.cps[this.i + 1];
    if (c === undefined) throw new Re2SyntaxError('trailing backslash at end of expression');
    this.i += 2;
    const isOctal = (d: string | undefined) => d !== undefined && d >= '0' && d <= '7';
    if (c >= '1' && c <= '9' && !(isOctal(c) && isOctal(this.cps[this.i]))) {
      throw new Re2SyntaxError(`backreference \\${c} is not supported`);
    }
    if (c >= '0' && c <= '7') {
      let value = Number(c);
      for (let n = 1; n < 3 && isOctal(this.cps[this.i]); n++) value = value * 8 + Number(this.cps[this.i++]);
      return value;
    }
    if (c === 'x') {
      if (this.cps[this.i] === '{') {
        const end = this.cps.indexOf('}', this.i + 1);
        const hex = end < 0 ? '' : this.cps.slice(this.i + 1, end).join('');
        if (/^[0-9A-Fa-f]+$/.test(hex) && Number.parseInt(hex, 16) <= MAX_CODE_POINT) {
          this.i = end + 1;
          return Number.parseInt(hex, 16);
        }
      } else {
        const hex = this.cps.slice(this.i, this.i + 2).join('');
        if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
          this.i += 2;
          return Number.parseInt(hex, 16);
        }
      }
      throw new Re2SyntaxError(`invalid escape sequence ${this.cps.slice(start, this.i + 2).join('')}`);
    }
    const control: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
    if (control[c] !== undefined) return control[c];
    const cp = c.codePointAt(0) as number;
    // RE2 lets any ASCII punctuation be escaped (including \_ since Go 1.x); letters and digits must
    // be a known escape.
    if (cp < 0x80 && !/[A-Za-z0-9]/.test(c)) return cp;
    throw new Re2SyntaxError(`invalid escape sequence \\${c}`);
  }

  parseClass(): void {
    this.i++;
    let negate = false;
    if (this.cps[this.i] === '^') {
      negate = true;
      this.i++;
    }
    const items: string[] = [];
    let first = true;
    while (this.i >= this.cps.length || this.cps[this.i] !== ']' || first) {
      if (this.i >= this.cps.length) throw new Re2SyntaxError('missing closing ]');
      first = false;

      if (this.cps[this.i] === '[' && this.cps[this.i + 1] === ':' && this.i + 2 < this.cps.length) {
        const rest = this.cps.slice(this.i + 2).join('');
        const end = rest.indexOf(':]');
        if (end >= 0) {
          const name = rest.slice(0, end);
          const bare = name.replace(/^\^/, '');
          const positive = Object.hasOwn(POSIX_CLASSES, bare) ? POSIX_CLASSES[bare] : undefined;
          if (positive === undefined) throw new Re2SyntaxError(`invalid character class range [:${name}:]`);
          items.push(...rangesToClassItems(name.startsWith('^') ? complement(positive) : positive));
          this.i += 2 + Array.from(rest.slice(0, end)).length + 2;
          continue;
        }
      }
      if (this.cps[this.i] === '\\') {
        const escaped = this.parseClassEscape();
        if (escaped !== undefined) {
          items.push(...escaped);
          continue;
        }
      }

      const rangeStart = this.i;
      const lo = this.parseClassChar();
      let hi = lo;
      if (this.cps[this.i] === '-' && this.i + 1 < this.cps.length && this.cps[this.i + 1] !== ']') {
        this.i++;
        hi = this.parseClassChar();
        if (hi < lo) {
          throw new Re2SyntaxError(
            `invalid character class range ${this.cps.slice(rangeStart, this.i).join('')}`,
          );
        }
      }
      items.push(...rangesToClassItems([[lo, hi]]));
    }
    this.i++;
    this.push(`[${negate ? '^' : ''}${items.join('')}]`, false, true);
  }

  parseClassChar(): number {
    if (this.i >= this.cps.length) throw new Re2SyntaxError('missing closing ]');
    if (this.cps[this.i] === '\\') return this.parseEscape();
    return this.cps[this.i++].codePointAt(0) as number;
  }
}

function literalOutsideClass(cp: number): string {
  const c = String.fromCodePoint(cp);
  if ('^$\\.*+?()[]{}|/'.includes(c)) return `\\${c}`;
  if (/[A-Za-z0-9_ ]/.test(c) || cp > 0x7f) return c;
  return classCodePoint(cp);
}

function classCodePoint(cp: number): string {
  return /[A-Za-z0-9]/.test(String.fromCodePoint(cp)) ? String.fromCodePoint(cp) : `\\u{${cp.toString(16)}}`;
}

function rangesToClassItems(ranges: readonly Range[]): string[] {
  return ranges.map(([lo, hi]) =>
    lo === hi ? classCodePoint(lo) : `${classCodePoint(lo)}-${classCodePoint(hi)}`,
  );
}

function complement(ranges: readonly Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of ranges) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

function isValidClass(items: readonly string[]): boolean {
  try {
    new RegExp(`[${items.join('')}]`, 'u');
    return true;
  } catch {
    return false;
  }
}

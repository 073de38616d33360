/**
 * Where a rendering has links, and whether a value from the notification landed in one.
 *
 * The engine knows, for every character of a rendering, whether the template wrote it (its own
 * text, or a link built by `| link`) or a value did (`{{ ... }}`, `{% echo %}`, escaped or not).
 * This module reads the rendering the way the destination will, finds every construct that
 * makes a link there, and reports the first one a value took part in:
 *
 * - `<...>` tokens (Slack mrkdwn, Google Chat): `<url|text>`, `<url>`, and mentions;
 * - Markdown (Teams, Discord, ilert, Mattermost): `[text](url)`, `![alt](url)`, `[text][ref]`,
 *   reference definitions `[ref]: url` (and then any `[text]`), autolinks and HTML tags `<...>`;
 * - in both, bare URLs the vendor turns into links (`https://...`, `www.`, `mailto:`, `tel:`),
 *   when the template writes part of one and a value the rest: a value that is a whole URL on
 *   its own is shown as itself (the format's escape stops the auto-link where it can).
 *
 * A value anywhere inside a construct (its text, its target, a delimiter) counts: a label
 * that writes the text of a link to the author's dashboard is as much a lie as one that picks
 * the host. Links from the notification are made with `| link`, which checks the URL and
 * escapes the label.
 */

/** The link syntax of a format: `markdown`, `angle` (`<url|text>`), or none. */
export type LinkSyntax = 'markdown' | 'angle';

/** A range of a rendering written by one value, and where that value is in the template. */
export interface ValueSpan {
  start: number;
  end: number;
  /** 1-based line and column of the `{{ ... }}` or tag that wrote it. */
  line?: number;
  column?: number;
}

/** A value found inside a link: the construct and the value's position in the template. */
export interface TurnedLink {
  /** What kind of construct, for the message: `Markdown link [text](url)`, `<...> token`, `bare URL`. */
  construct: string;
  line?: number;
  column?: number;
}

interface Construct {
  start: number;
  end: number;
  kind: string;
}

// CommonMark: any ASCII punctuation can be backslash-escaped.
const ESCAPABLE = /[!-/:-@[-`{-~]/;

function isEscape(text: string, i: number): boolean {
  return text[i] === '\\' && i + 1 < text.length && ESCAPABLE.test(text[i + 1]);
}

/** Index of the `close` matching the `open` at `from`, nesting and backslash escapes respected, or -1. */
function matching(text: string, from: number, open: string, close: string): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    if (isEscape(text, i)) {
      i++;
      continue;
    }
    const c = text[i];
    if (c === open) depth++;
    else if (c === close) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** End (exclusive) of a link destination `(...)` opening at `from`, or -1. */
function destinationEnd(text: string, from: number): number {
  let i = from + 1;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  if (text[i] === '<') {
    // `(<url with spaces>)`: the angle form ends at its `>`.
    for (let j = i + 1; j < text.length; j++) {
      if (isEscape(text, j)) {
        j++;
        continue;
      }
      if (text[j] === '>') {
        const close = text.indexOf(')', j);
        return close === -1 ? -1 : close + 1;
      }
      if (text[j] === '\n') break;
    }
  }
  const close = matching(text, from, '(', ')');
  return close === -1 ? -1 : close + 1;
}

const DEFINITION = /^ {0,3}\[(?:\\.|[^\\\]])+\]:.*$/gm;

function markdownConstructs(text: string): Construct[] {
  const found: Construct[] = [];
  for (const definition of text.matchAll(DEFINITION))
    found.push({
      start: definition.index,
      end: definition.index + definition[0].length,
      kind: 'Markdown link reference definition [ref]: url',
    });
  const references = found.length > 0;
  for (let i = 0; i < text.length; i++) {
    if (isEscape(text, i)) {
      i++;
      continue;
    }
    const c = text[i];
    if (c === '[') {
      const close = matching(text, i, '[', ']');
      if (close === -1) continue;
      const start = i > 0 && text[i - 1] === '!' && !isEscape(text, i - 2) ? i - 1 : i;
      const image = start < i;
      const next = text[close + 1];
      if (next === '(') {
        const end = destinationEnd(text, close + 1);
        if (end !== -1) {
          found.push({
            start,
            end,
            kind: image ? 'Markdown image ![alt](url)' : 'Markdown link [text](url)',
          });
          i = end - 1;
          continue;
        }
      }
      if (next === '[') {
        const end = matching(text, close + 1, '[', ']');
        if (end !== -1) {
          found.push({ start, end: end + 1, kind: 'Markdown reference link [text][ref]' });
          i = end;
          continue;
        }
      }
      if (references) found.push({ start, end: close + 1, kind: 'Markdown reference link [text]' });
      // Not a link: a link may still start inside the brackets.
      continue;
    }
    if (c === '<' && /[A-Za-z/!?]/.test(text[i + 1] ?? '')) {
      const end = text.indexOf('>', i + 1);
      if (end === -1) continue;
      found.push({ start: i, end: end + 1, kind: 'Markdown autolink or HTML tag <...>' });
      i = end;
    }
  }
  return found;
}

function angleConstructs(text: string): Construct[] {
  const found: Construct[] = [];
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i + 1)) {
    const end = text.indexOf('>', i + 1);
    if (end === -1) break;
    found.push({ start: i, end: end + 1, kind: '<url|text> token' });
    i = end;
  }
  return found;
}

// Where a vendor starts an auto-link: a scheme and `//`, `www.`, or the schemes Mattermost and Slack link bare.
const URL_START = /[A-Za-z][A-Za-z0-9+.-]*:\/\/|\bwww\.|\b(?:mailto|tel):/gi;
// A bare link runs until whitespace or an angle bracket.
const RUN = /[^\s<>]+/g;

// What an auto-linker leaves off the end of a URL (GFM's rule, which the chat apps follow closely).
const TRAILING = /[?!.,:;*_~'"]/;

/** End of the URL starting at `from` in a run: trailing punctuation and an unbalanced `)` left off. */
function urlEnd(run: string, from: number): number {
  let end = run.length;
  for (;;) {
    const last = run[end - 1];
    if (end > from && TRAILING.test(last)) end--;
    else if (last === ')' && count(run, '(', from, end) < count(run, ')', from, end)) end--;
    else return end;
  }
}

function count(text: string, char: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text[i] === char) n++;
  return n;
}

/** The first value span that meets [start, end), or undefined. */
function firstValueIn(spans: readonly ValueSpan[], start: number, end: number): ValueSpan | undefined {
  // Spans are in output order and do not overlap: binary search the first that ends after start.
  let low = 0;
  let high = spans.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (spans[mid].end <= start) low = mid + 1;
    else high = mid;
  }
  const span = spans[low];
  return span !== undefined && span.start < end ? span : undefined;
}

/** Whether [start, end) holds a character no value wrote. */
function hasTemplateText(spans: readonly ValueSpan[], start: number, end: number): boolean {
  let at = start;
  for (let span = firstValueIn(spans, start, end); span && at < end; span = firstValueIn(spans, at, end)) {
    if (span.start > at) return true;
    at = span.end;
  }
  return at < end;
}

/**
 * The first link in `output` that a value took part in, or undefined. `spans` are the ranges
 * values wrote, in output order.
 *
 * @example
 * turnedLink('<https://g.example/d/x|Dash>', [{ start: 21, end: 22, line: 1, column: 22 }], 'angle')
 * // { construct: '<url|text> token', line: 1, column: 22 }
 */
export function turnedLink(
  output: string,
  spans: readonly ValueSpan[],
  syntax: LinkSyntax,
): TurnedLink | undefined {
  if (spans.length === 0) return undefined;
  const constructs = syntax === 'markdown' ? markdownConstructs(output) : angleConstructs(output);
  const found: { construct: string; span: ValueSpan }[] = [];
  for (const { start, end, kind } of constructs) {
    const span = firstValueIn(spans, start, end);
    if (span) found.push({ construct: kind, span });
  }
  for (const run of output.matchAll(RUN)) {
    URL_START.lastIndex = 0;
    const url = URL_START.exec(run[0]);
    if (!url) continue;
    const start = run.index + url.index;
    const end = run.index + urlEnd(run[0], url.index);
    const span = firstValueIn(spans, start, end);
    // A value that is the whole URL shows as itself; a value in the template's URL, or the
    // template's text in a value's URL, makes a link neither of them shows.
    if (span && hasTemplateText(spans, start, end)) found.push({ construct: 'bare URL', span });
  }
  if (found.length === 0) return undefined;
  // The one whose value comes first in the rendering: what the author reads first in the template.
  const { construct, span } = found.reduce((a, b) => (b.span.start < a.span.start ? b : a));
  return span.line === undefined ? { construct } : { construct, line: span.line, column: span.column };
}

/** The link syntax of a format from the link openers it declares (`](` Markdown, `<` angle tokens). */
export function linkSyntaxOf(linkTargets: readonly string[]): LinkSyntax | undefined {
  if (linkTargets.includes('](')) return 'markdown';
  if (linkTargets.includes('<')) return 'angle';
  return undefined;
}

import { neutraliseMentions } from './mentions.ts';
import { terminal } from './terminal.ts';
import { safeHttpUrl } from './url.ts';

/**
 * Markdown (CommonMark and its chat dialects: ilert's alert details, Teams, Discord; Google
 * Chat's text format is not Markdown and has its own rule in lib/sinks/googlechat/text.ts). Alert text must stay text: no link or image (`[x](u)`, `![x](u)`, `<u>`), no
 * heading (`#`, or a `===` line under it), no emphasis, list, quote, table, code or raw HTML.
 * CommonMark lets any ASCII punctuation be escaped with a backslash, so every character
 * that opens one of those is escaped; `@everyone`, `@here` and handles get a zero-width
 * space after the `@`, and a bare `scheme://` one after its colon. Links are only built by `markdownLink`, from a URL that passed
 * `safeHttpUrl`.
 */

// Every punctuation character that starts or ends a Markdown construct in CommonMark or GFM.
// `:` and quotes stay: they only matter inside a link or after a scheme, both already broken.
const SPECIAL = /[\\`*_{}[\]()#+\-.!|<>~&=]/g;

/**
 * Alert text as Markdown that renders as the same text.
 *
 * @example
 * markdown('[login](https://evil.example) # @everyone') // '\\[login\\]\\(https:\u200b//evil\\.example\\) \\# @\u200beveryone'
 */
export function markdown(text: string): string {
  // Controls and bidi overrides go too (lib/format/terminal.ts): an RLO reorders what follows.
  const plain = terminal(text, { multiline: true }).replace(SCHEME_SEPARATOR, ':\u200b');
  return neutraliseMentions(plain.replace(SPECIAL, (c) => `\\${c}`));
}

// Discord and Teams turn a bare `https://…` into a link whatever the escaping around it; a
// zero-width space after the colon keeps the text as it reads and stops the auto-link.
const SCHEME_SEPARATOR = /:(?=\/\/)/g;

/**
 * `[text](url)` for an http(s) URL that passed `safeHttpUrl`, or undefined. Parentheses and
 * spaces in the URL are percent-encoded so the destination cannot end early.
 *
 * @example
 * markdownLink('https://prom.example/graph?g0.expr=rate(x[5m])', 'Graph') // '[Graph](https://prom.example/graph?g0.expr=rate%28x[5m]%29)'
 */
export function markdownLink(url: string | undefined, text: string, maxLength?: number): string | undefined {
  const safe = safeHttpUrl(url, maxLength === undefined ? {} : { maxLength });
  if (safe === undefined) return undefined;
  const href = safe.replace(/\(/g, '%28').replace(/\)/g, '%29');
  return `[${markdown(text)}](${href})`;
}

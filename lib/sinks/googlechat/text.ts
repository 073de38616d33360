import { neutraliseMentions } from '../../format/mentions.ts';
import { safeHttpUrl } from '../../format/url.ts';
import type { OutputFormat } from '../../templates/formats.ts';

/**
 * Google Chat's text-message formatting (https://developers.google.com/workspace/chat/format-messages):
 * `*bold*`, `_italic_`, `~strike~`, `` `monospace` `` and ``` blocks, `* ` / `- ` lists, links
 * `<url|text>`, mentions `<users/123>` and `<users/all>`, and Chat links bare URLs and domain
 * names on its own. Unlike Markdown there is no backslash escape: a backslash shows as
 * itself. So alert text is made inert by replacing each control character with the look-alike
 * that Chat does not parse:
 *
 * | character | becomes | so that |
 * | --- | --- | --- |
 * | `<` `>` | `‹` `›` (U+2039, U+203A) | no `<users/all>` mention, no `<url\|text>` link |
 * | `*` `_` `~` `` ` `` | `∗` `ˍ` `∼` `ˋ` (U+2217, U+02CD, U+223C, U+02CB) | no bold, italic, strike or code |
 * | `.` between letters or digits | `․` (U+2024) | `evil.example` is not a domain Chat links |
 * | `://` | `∶//` (U+2236) | `https://...` is not a URL Chat links |
 * | word-initial `@` | `@` + zero-width space | no handle-style mention |
 * | control, bidi and terminal escape characters | removed | no reordering, no hidden text |
 *
 * The text reads the same to a person. The only links in a message are the ones `chatLink`
 * builds from a URL that passed `safeHttpUrl`.
 */

const LOOK_ALIKE: Record<string, string> = {
  '<': '\u2039',
  '>': '\u203a',
  '*': '\u2217',
  _: '\u02cd',
  '~': '\u223c',
  '`': '\u02cb',
};

/**
 * Alert text as Google Chat text: shown literally on one line, mentioning no one, linking
 * nowhere, formatting nothing.
 *
 * @example
 * chatText('<users/all> *now* see evil.example') // '‹users/all› ∗now∗ see evil․example'
 */
export function chatText(value: string): string {
  const plain = value
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are what is removed
    .replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
    .replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  const inert = plain
    .replace(/[<>*_~`]/g, (c) => LOOK_ALIKE[c])
    .replace(/:\/\//g, '\u2236//')
    .replace(/(?<=[\p{L}\p{N}])\.(?=[\p{L}\p{N}])/gu, '\u2024');
  return neutraliseMentions(inert);
}

/**
 * `<url|label>` for an http(s) URL that passed `safeHttpUrl`, or undefined (the caller shows no
 * link). The label is ours, escaped like alert text all the same.
 *
 * @example
 * chatLink('http://am:9093/#/silences/new', 'Silence') // '<http://am:9093/#/silences/new|Silence>'
 */
export function chatLink(url: string | undefined, label: string): string | undefined {
  const safe = safeHttpUrl(url);
  return safe === undefined ? undefined : `<${safe}|${chatText(label).replace(/\|/g, '¦')}>`;
}

/**
 * Google Chat's output format for templates (docs/templates.md): values escaped with chatText
 * (one line each, look-alikes for markup), links only from `| link` through chatLink, and no
 * value inside a `<...>` token.
 */
export const googleChatFormat: OutputFormat = {
  name: 'googlechat',
  escape: chatText,
  link: chatLink,
  linkTargets: ['<'],
};

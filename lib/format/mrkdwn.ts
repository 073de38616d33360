import { neutraliseMentions } from './mentions.ts';
import { terminal } from './terminal.ts';
import { safeHttpUrl } from './url.ts';

/**
 * Slack mrkdwn (https://docs.slack.dev/messaging/formatting-message-text): `&`, `<` and `>`
 * are its control characters, and everything special is a `<...>` token: links
 * `<url|text>`, user and channel mentions `<@U...>`, `<#C...>`, broadcasts `<!channel>`,
 * `<!here>`, `<!everyone>`, user groups `<!subteam^S...>`. Escaping the three characters
 * as `&amp;`, `&lt;`, `&gt;` (the entities Slack decodes for display) means alert text can
 * open no token at all; bare `@channel` or `@group` (parsed when a message sets
 * `link_names`) gets a zero-width space after the `@`. The only links in a message are the
 * ones built by `mrkdwnLink` from a URL that passed `safeHttpUrl`.
 *
 * Not neutralised on purpose: `*bold*`, `_italic_`, `~strike~` and backticks (Slack has no
 * escape for them, and they can neither ping nor link), and bare URLs, which Slack shows as
 * themselves, so they cannot pass one address off as another.
 */

/**
 * Alert text as mrkdwn: shown literally, pinging no one, linking nowhere.
 *
 * @example
 * mrkdwn('pod=<!channel> <https://evil.example|click>') // 'pod=&lt;!channel&gt; &lt;https://evil.example|click&gt;'
 */
export function mrkdwn(text: string): string {
  // Controls and bidi overrides go too: a chat app shows no escape sequence, but an RLO
  // reorders what follows it, and "exe.txt" reads as something else.
  const plain = terminal(text, { multiline: true });
  return neutraliseMentions(plain.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
}

/**
 * `<url|text>` for an http(s) URL that passed `safeHttpUrl`, or undefined (the caller shows
 * no link, or the text alone). The text is escaped like any mrkdwn and cannot hold `|`; an
 * `&` of the URL that would read as an entity (`&lt;`) is percent-encoded, the others stay
 * raw (Slack's mobile apps keep a `&amp;` literally in the link they open).
 *
 * @example
 * mrkdwnLink('https://prom.example/graph?g0.expr=up', 'graph') // '<https://prom.example/graph?g0.expr=up|graph>'
 * mrkdwnLink('javascript:alert(1)', 'graph')                  // undefined
 */
export function mrkdwnLink(url: string | undefined, text: string, maxLength?: number): string | undefined {
  const safe = safeHttpUrl(url, maxLength === undefined ? {} : { maxLength });
  if (safe === undefined) return undefined;
  const href = safe.replace(/&(?=#?[A-Za-z0-9]+;)/g, '%26');
  return `<${href}|${mrkdwn(text).replace(/\|/g, '¦')}>`;
}

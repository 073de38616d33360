import { markdownViolations } from '../../support/conformance.ts';

/**
 * What Mattermost would make of alert content in a post's Markdown beyond what
 * markdownViolations finds: its mentions (`@here`, `@all`, `@channel`, `@user`, also after
 * `.`, `-` or `_`, which it trims off a word), `~channel` links, `#hashtag` searches, the
 * schemes it autolinks without `//` (`mailto:`, `tel:`), an image, and a heading that is not
 * the relay's own `#### ` title line. Backslash escapes are read first, as Mattermost does:
 * they hide markup, not mentions.
 */
export function mattermostViolations(text: string): string[] {
  const found = markdownViolations(text);
  // The relay's own links ([label](checked URL), checked by markdownViolations) are not text.
  const plain = text.replace(/\[([^\]]*)\]\((https?:[^)\s]*)\)/g, ' $1 ').replace(/\\([\s\S])/g, '$1');
  const checks: [RegExp, string][] = [
    [/(^|[^\p{L}\p{N}])@[\p{L}\p{N}_.-]+/gu, 'mention'],
    [/(^|[^\p{L}\p{N}])~[\p{L}\p{N}_-]+/gu, 'channel link'],
    [/(^|[^\p{L}\p{N}])#\p{L}[\p{L}\p{N}_.-]*/gu, 'hashtag'],
    [/\b(mailto|tel|javascript|mms|ftp|https?):(?!\u200b)\S+/giu, 'autolink'],
  ];
  for (const [pattern, what] of checks)
    for (const [whole] of plain.matchAll(pattern)) found.push(`${what} ${whole.trim().slice(0, 40)}`);
  if (/(^|[^\\])!\[/.test(text)) found.push('image');
  for (const line of text.split('\n'))
    if (/^ {0,3}#/.test(line) && !/^#### (🔥|✅|🚨) /.test(line) && !/ \(continued\)$/.test(line))
      found.push(`heading ${line.slice(0, 40)}`);
  return found;
}

/** Every text of a post Mattermost renders as Markdown: the message and its attachments' text. */
export function postTexts(body: unknown): string[] {
  const post = body as { message?: string; props?: { attachments?: { text?: string }[] } };
  return [post.message ?? '', ...(post.props?.attachments ?? []).map((a) => a.text ?? '')];
}

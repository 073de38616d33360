/**
 * Chat services turn a bare `@word` into a mention: Slack links user groups by handle and
 * `@channel`, `@here`, `@everyone` when a message asks for `link_names`; Discord pings on
 * `@everyone` and `@here` in plain text; Teams and Google Chat do similar with their own
 * keywords. Text from an alert must never ping anyone, so an `@` that starts a word gets an
 * invisible zero-width space after it: it reads the same and no longer parses as a mention.
 * An `@` inside a word (`ops@example.com`) is left alone: no service parses that as one.
 */

/** U+200B ZERO WIDTH SPACE, the usual way to defuse `@everyone` in Discord, Slack and Teams. */
export const MENTION_BREAK = '\u200b';

/**
 * The text with every word-initial `@` followed by a zero-width space.
 *
 * @example
 * neutraliseMentions('ping @channel now') // 'ping @\u200bchannel now'
 */
export function neutraliseMentions(text: string): string {
  return text.replace(/(^|[^\p{L}\p{N}_.+-])@(?=[\p{L}\p{N}_!-])/gu, `$1@${MENTION_BREAK}`);
}

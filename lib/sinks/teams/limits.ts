/**
 * How big a message Teams takes, declared once: the card builder keeps to it and the fake
 * Teams workflow (test/support/fake-teams.ts) refuses past it.
 *
 * Teams' "Post card in a chat or channel" action, which a workflow started by "When a Teams
 * webhook request is received" runs after it answered 202, refuses a message over about 28 KB
 * with "Request Entity Too Large"; the limit covers everything in the message: text, links,
 * tables, mentions (https://learn.microsoft.com/en-us/connectors/teams/#known-issues-and-limitations).
 * The run's own error gives the exact number, in bytes: "MessageSizeExceeded-Message properties
 * size exceeded. Actual message properties size: 28897 bytes, whereas max allowed size is 28672
 * bytes" (https://github.com/MicrosoftDocs/msteams-docs/issues/11274).
 *
 * What Teams measures is the message it builds from the card, not the HTTP body: in that
 * report a 24,453-byte body (UTF-8 JSON) counted 28,897 bytes. Microsoft documents neither
 * the encoding nor what is added. So the relay measures the whole body it posts, wrapper,
 * facts and buttons included, in UTF-8 bytes of its JSON, and keeps every card to
 * TEAMS_CARD_BUDGET_BYTES, which leaves room for what Teams added in that report both as
 * bytes (+4,444) and as a ratio (x1.18).
 */

/** Teams' limit for one posted message, in bytes (28 KiB). */
export const TEAMS_MESSAGE_LIMIT_BYTES = 28 * 1024;

/**
 * What the relay allows one card's message, in UTF-8 bytes of its JSON: 22 KiB, 6 KiB under
 * the limit (22,528 + 4,444 and 22,528 x 1.18 both stay under 28,672).
 */
export const TEAMS_CARD_BUDGET_BYTES = 22 * 1024;

/** Bytes of a message as posted: the UTF-8 JSON of the whole body. */
export function teamsMessageBytes(message: unknown): number {
  return Buffer.byteLength(JSON.stringify(message));
}

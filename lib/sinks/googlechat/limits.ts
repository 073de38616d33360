/**
 * Google Chat's limits on one message, declared once and measured the way Chat measures them.
 * The renderers (message.ts, digest.ts) keep every message within them; the sink checks again
 * before it posts (googlechat.ts).
 *
 * - The text: 4,096 characters. Chat answers a longer `text` with 400 INVALID_ARGUMENT
 *   "Message is longer than 4096 characters" (quoted in the mr-karan/calert issue 17 and pull
 *   request 9 threads), earlier worded "Maximum length of the field is 4096. Field:
 *   apps.dynamite.CreateMessageInfo.text_body" (cloudflare/GHC-Errbot issue 10,
 *   googleworkspace/hubot-google-hangouts-chat issue 12). Google's reference does not say how
 *   it counts. The relay counts UTF-16 code units (JavaScript's `String.length`), because:
 *   the check is a length check on a protobuf string field of Google's server (`text_body`),
 *   whose string length is UTF-16 code units in Java; and it is the stricter of the two
 *   "character" counts (an astral character such as 🔥 is one code point but two code units),
 *   so a text within 4,096 code units is within 4,096 code points too, whichever Chat uses.
 *   (calert's pull request 10 calls the limit "4096-bytes", but Chat's own error says
 *   characters in both wordings, so bytes are not what it counts.)
 * - The whole request body: "The maximum message size, including text and cards, is 32,000
 *   bytes" (Google's spaces.messages.create reference): the UTF-8 bytes of the JSON sent.
 */

/** Longest `text` Chat takes, in UTF-16 code units (see above). */
export const MAX_TEXT_CHARS = 4096;

/** Largest request body Chat takes, in UTF-8 bytes of the JSON. */
export const MAX_MESSAGE_BYTES = 32_000;

/**
 * The length of `text` as Chat counts it against MAX_TEXT_CHARS: UTF-16 code units.
 *
 * @example chatLength('🔥 up') // 5
 */
export const chatLength = (text: string): number => text.length;

/** The UTF-8 bytes of `message` as the JSON body of a request. */
export const messageBytes = (message: object): number => Buffer.byteLength(JSON.stringify(message));

/**
 * Why Chat would refuse `message` for its size, or undefined when it takes it.
 *
 * @example
 * oversize({ text: 'x'.repeat(5000), thread: { threadKey: 'k' } }) // 'its text is 5000 characters, over ...'
 */
export function oversize(message: { text: string; thread?: { threadKey: string } }): string | undefined {
  const chars = chatLength(message.text);
  if (chars > MAX_TEXT_CHARS)
    return `its text is ${chars} characters (UTF-16 code units), over Chat's ${MAX_TEXT_CHARS}`;
  const bytes = messageBytes(message);
  if (bytes > MAX_MESSAGE_BYTES) return `it is ${bytes} bytes, over Chat's ${MAX_MESSAGE_BYTES}-byte limit`;
  return undefined;
}

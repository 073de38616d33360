/**
 * Cuts `text` to at most `max` characters (code points, so a surrogate pair is never split),
 * marking the cut with "…". Cut before escaping: an escape is never split either.
 *
 * @example cutChars('HighLatency', 5) // 'High…'
 */
export function cutChars(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

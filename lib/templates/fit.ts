/**
 * Cutting rendered text to a vendor's limit. A template can render up to
 * TEMPLATE_LIMITS.outputChars, far more than a title or a card holds, so each sink cuts what
 * it got to its field's limit, measured the way the vendor measures it, at a grapheme
 * boundary (no half emoji), with "…" where it cut.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Code points, the way most vendors count "characters". */
export const codePoints = (text: string): number => Array.from(text).length;

/** UTF-8 bytes of the text as a JSON string (escapes included): what a body's size limit sees. */
export const jsonBytes = (text: string): number => Buffer.byteLength(JSON.stringify(text));

/**
 * `text` if `measure(text) <= max`, else its longest grapheme prefix that fits with "…" after it.
 *
 * @example
 * fitRendered('👍🏽 disk full', 4) // '👍🏽 …' (👍🏽 is two code points)
 */
export function fitRendered(
  text: string,
  max: number,
  measure: (text: string) => number = codePoints,
): string {
  if (measure(text) <= max) return text;
  const graphemes = Array.from(segmenter.segment(text), (s) => s.segment);
  // The longest prefix that fits: binary search, since measuring is linear in the text.
  let low = 0;
  let high = graphemes.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (measure(`${graphemes.slice(0, mid).join('')}…`) <= max) low = mid;
    else high = mid - 1;
  }
  return `${graphemes.slice(0, low).join('')}…`;
}

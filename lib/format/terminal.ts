/**
 * Plain text for a terminal: what an operator's shell shows in `npm run dlq -- list` and what
 * the console sink prints. Alert names, labels and group keys come from alert rules, and a
 * terminal obeys what it is sent: an OSC sequence retitles the window or plants a hyperlink
 * (OSC 8), CSI 2J clears the screen, C1 controls do the same in one byte, and bidi overrides
 * make `rm -rf` read backwards. So every escape sequence is removed whole, every remaining
 * control character dropped, and the bidi controls removed.
 */

// ESC-introduced sequences (7-bit) and their 8-bit C1 forms:
// OSC/DCS/SOS/PM/APC ... up to BEL or ST; CSI params + final byte; any other ESC + one char.
const SEQUENCES = new RegExp(
  [
    '(?:\\u001b[\\]PX^_]|[\\u0090\\u0098\\u009d\\u009e\\u009f])[^\\u0007\\u001b\\u009c]*(?:\\u0007|\\u001b\\\\|\\u009c)?',
    '(?:\\u001b\\[|\\u009b)[\\u0030-\\u003f]*[\\u0020-\\u002f]*[\\u0040-\\u007e]?',
    '\\u001b[\\u0020-\\u002f]*[\\u0030-\\u007e]?',
  ].join('|'),
  'g',
);

// C0 (except tab and newline, handled below), DEL, C1.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Bidi controls: LRE RLE PDF LRO RLO (U+202A-202E), LRI RLI FSI PDI (U+2066-2069), the marks
 * LRM RLM (U+200E, U+200F) and the Arabic letter mark (U+061C).
 */
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

// Line and paragraph separators end a line in some terminals and most pagers.
const LINE_BREAKS = /\r\n|[\n\t\u2028\u2029]/g;

export interface TerminalOptions {
  /** Keep newlines (a multi-line block); by default they become spaces, for one table cell or line. */
  multiline?: boolean;
}

/**
 * The text with nothing a terminal would interpret: escape sequences removed whole, other
 * control characters and bidi controls dropped, tabs and (unless `multiline`) newlines as
 * spaces.
 *
 * @example
 * terminal('Disk\u001b]0;pwned\u0007Full\u001b[2J') // 'DiskFull'
 */
export function terminal(text: string, options: TerminalOptions = {}): string {
  const withoutSequences = text.replace(SEQUENCES, '').replace(BIDI, '');
  const spaced = withoutSequences.replace(LINE_BREAKS, (c) =>
    c === '\t' || !options.multiline ? ' ' : '\n',
  );
  return spaced.replace(CONTROLS, '');
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { terminal } from '../../lib/format/terminal.ts';

const ESC = '\u001b';
// C0 except newline (kept with multiline), DEL, C1, bidi controls and marks.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const FORBIDDEN = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;

describe('Function: terminal', () => {
  it('should remove OSC, CSI and other escape sequences whole', () => {
    // Prepare
    const text = `Disk${ESC}]0;pwned\u0007Full${ESC}[2J${ESC}]8;;https://evil.example${ESC}\\here${ESC}]8;;${ESC}\\${ESC}c!`;

    // Act
    const shown = terminal(text);

    // Assess
    expect(shown).toBe('DiskFullhere!');
  });

  it('should remove 8-bit C1 sequences and controls', () => {
    // Prepare
    const text = 'a\u009b2Jb\u009d0;title\u009cc\u0085d';

    // Act
    const shown = terminal(text);

    // Assess
    expect(shown).toBe('abcd');
  });

  it('should drop bidi overrides, isolates and marks', () => {
    // Prepare
    const text = 'x\u202egnp.exe\u202c \u2066a\u2069 \u200e\u200f\u061cz';

    // Act
    const shown = terminal(text);

    // Assess
    expect(shown).toBe('xgnp.exe a z');
  });

  it('should turn newlines and tabs into spaces unless asked to keep lines', () => {
    // Prepare
    const text = 'one\r\ntwo\tthree\u2028four';

    // Act
    const single = terminal(text);
    const multi = terminal(text, { multiline: true });

    // Assess
    expect(single).toBe('one two three four');
    expect(multi).toBe('one\ntwo three\nfour');
  });

  it('should keep printable text, accents and emoji as they are', () => {
    // Prepare
    const text = 'Überlast: 95% on node-1 🔥 — 東京';

    // Act
    const shown = terminal(text);

    // Assess
    expect(shown).toBe(text);
  });

  it('should never output a control character, ESC or bidi control', () => {
    const unit = fc.oneof(
      fc.constantFrom(
        ESC,
        '[',
        ']',
        '\u0007',
        '\u009b',
        '\u009d',
        '\u009c',
        '\\',
        ';',
        '2',
        'J',
        '\u202e',
        '\u2066',
        '\n',
      ),
      fc.string({ unit: 'binary', maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 40 }), fc.boolean(), (parts, multiline) => {
        // Act
        const shown = terminal(parts.join(''), { multiline });

        // Assess
        expect(shown).not.toMatch(FORBIDDEN);
        if (!multiline) expect(shown).not.toContain('\n');
      }),
    );
  });
});

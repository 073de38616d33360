import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { markdown, markdownLink } from '../../lib/format/markdown.ts';
import { MENTION_BREAK } from '../../lib/format/mentions.ts';

const SPECIAL = '\\`*_{}[]()#+-.!|<>~&=';
const hostileUnit = fc.oneof(
  fc.constantFrom(...SPECIAL.split(''), '@everyone', '@here', '\n', ' ', 'https://evil.example', '\\'),
  fc.string({ maxLength: 3 }),
);
const hostileText = fc.array(hostileUnit, { maxLength: 30 }).map((parts) => parts.join(''));

/** The text with every backslash escape removed: what is left must hold no Markdown syntax. */
function unescapedRest(text: string): string {
  return text.replace(/\\[\s\S]/g, '');
}

describe('Function: markdown', () => {
  it('should escape links, images, headings and emphasis', () => {
    // Act
    const text = markdown(
      '# Title\n![x](https://evil.example/a.png) [login](https://evil.example) **bold** _i_',
    );

    // Assess
    expect(text).toBe(
      '\\# Title\n\\!\\[x\\]\\(https:\u200b//evil\\.example/a\\.png\\) \\[login\\]\\(https:\u200b//evil\\.example\\) \\*\\*bold\\*\\* \\_i\\_',
    );
  });

  it('should escape raw HTML, autolinks, setext underlines and tables', () => {
    // Act
    const text = markdown('<img src=x> <https://evil.example>\n===\n| a | b |');

    // Assess
    expect(unescapedRest(text)).not.toMatch(/[<>=|]/);
  });

  it('should stop a bare URL from becoming an auto-link', () => {
    // Act
    const text = markdown('see https://evil.example/login and ftp://x.example');

    // Assess
    expect(text).not.toMatch(/[a-z]:\/\//i);
    expect(text).toContain('https:\u200b//evil\\.example/login');
  });

  it('should break @everyone and @here', () => {
    // Act
    const text = markdown('@everyone look @here');

    // Assess
    expect(text).toBe(`@${MENTION_BREAK}everyone look @${MENTION_BREAK}here`);
  });

  it('should leave no unescaped Markdown character and no live mention, from any string', () => {
    fc.assert(
      fc.property(hostileText, (raw) => {
        // Act
        const text = markdown(raw);

        // Assess
        expect(unescapedRest(text)).not.toMatch(/[\\`*_{}[\]()#+\-.!|<>~&=]/);
        expect(text).not.toMatch(/(^|[^\p{L}\p{N}_.+-])@(everyone|here)/iu);
      }),
    );
  });
});

describe('Function: markdownLink', () => {
  it('should build a link whose destination cannot end early', () => {
    // Act
    const link = markdownLink('https://prom.example/graph?g0.expr=rate(x[5m]) > 1', 'Graph [1]');

    // Assess
    expect(link).toBe('[Graph \\[1\\]](https://prom.example/graph?g0.expr=rate%28x[5m]%29%20%3E%201)');
  });

  it('should give no link for a URL that is not http(s)', () => {
    // Act
    const link = markdownLink('javascript:alert(1)', 'x');

    // Assess
    expect(link).toBeUndefined();
  });
});

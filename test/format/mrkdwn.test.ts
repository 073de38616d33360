import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MENTION_BREAK } from '../../lib/format/mentions.ts';
import { mrkdwn, mrkdwnLink } from '../../lib/format/mrkdwn.ts';

const hostileUnit = fc.oneof(
  fc.constantFrom(
    '<',
    '>',
    '&',
    '|',
    '!',
    '@',
    '#',
    'channel',
    'here',
    'everyone',
    'subteam^S1',
    'http',
    '://',
  ),
  fc.constantFrom('U0123', 'C0123', 'amp;', 'lt;', ' ', '\n', 'https://evil.example'),
  fc.string({ maxLength: 3 }),
);
const hostileText = fc.array(hostileUnit, { maxLength: 30 }).map((parts) => parts.join(''));

describe('Function: mrkdwn', () => {
  it('should escape the three control characters', () => {
    // Act
    const text = mrkdwn('a < b && c > d');

    // Assess
    expect(text).toBe('a &lt; b &amp;&amp; c &gt; d');
  });

  it('should turn every kind of mention and link into literal text', () => {
    // Prepare
    const hostile =
      '<!channel> <!here> <!everyone> <@U012AB> <#C012AB> <!subteam^S012|@oncall> <https://evil.example|docs>';

    // Act
    const text = mrkdwn(hostile);

    // Assess
    expect(text).not.toMatch(/<[!@#h]/);
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).toContain(`&lt;!subteam^S012|@${MENTION_BREAK}oncall&gt;`);
  });

  it('should break bare @channel, @here, @everyone and handles but leave e-mail addresses', () => {
    // Act
    const text = mrkdwn('@channel @here (@everyone) @oncall-team ops@example.com');

    // Assess
    expect(text).toBe(
      ['@channel', '@here', '(@everyone)', '@oncall-team']
        .map((word) => word.replace('@', `@${MENTION_BREAK}`))
        .concat('ops@example.com')
        .join(' '),
    );
  });

  it('should never yield a token Slack parses, from any string', () => {
    fc.assert(
      fc.property(hostileText, (raw) => {
        // Act
        const text = mrkdwn(raw);

        // Assess
        expect(text).not.toMatch(/<[!@#]|<http|</);
        expect(text).not.toMatch(/(^|[^\p{L}\p{N}_.+-])@(channel|here|everyone)/iu);
        // Entities come only from our escaping: removing them leaves no & at all.
        expect(text.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
      }),
    );
  });
});

describe('Function: mrkdwnLink', () => {
  it('should build a link from a validated URL with escaped text', () => {
    // Act
    const link = mrkdwnLink('https://prom.example/graph?g0.expr=up&g0.tab=1', 'graph <b> | x');

    // Assess
    expect(link).toBe('<https://prom.example/graph?g0.expr=up&g0.tab=1|graph &lt;b&gt; ¦ x>');
  });

  it('should encode a URL that tries to close the link and open another', () => {
    // Act
    const link = mrkdwnLink('https://prom.example/g#> <!channel> <https://evil.example/phish|Open', 'graph');

    // Assess
    expect(link).toBe(
      '<https://prom.example/g#%3E%20%3C!channel%3E%20%3Chttps://evil.example/phish%7COpen|graph>',
    );
  });

  it('should encode an & that Slack would read as an entity', () => {
    // Act
    const link = mrkdwnLink('https://prom.example/g?a=&lt;!channel&gt;', 'graph');

    // Assess
    expect(link).toBe('<https://prom.example/g?a=%26lt;!channel%26gt;|graph>');
  });

  it('should give no link for a URL that is not http(s)', () => {
    // Act
    const links = ['javascript:alert(1)', 'slack://channel', '', undefined].map((url) =>
      mrkdwnLink(url, 'x'),
    );

    // Assess
    expect(links).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('should make exactly one token, ending at its own >, from any URL and text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.webUrl({ withQueryParameters: true, withFragments: true }),
          hostileText.map((t) => `https://prom.example/${t}`),
        ),
        hostileText,
        (url, label) => {
          // Act
          const link = mrkdwnLink(url, label);

          // Assess
          if (link === undefined) return;
          expect(link).toMatch(/^<https?:\/\/[^<>|\s]+\|[^<>|]*>$/);
        },
      ),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_URL_LENGTH, safeHttpUrl } from '../../lib/format/url.ts';

describe('Function: safeHttpUrl', () => {
  it('should return the normalised href of an http or https URL', () => {
    // Prepare
    const urls = ['https://prom.example/graph?g0.expr=up', 'http://am.example:9093/#/alerts'];

    // Act
    const safe = urls.map((url) => safeHttpUrl(url));

    // Assess
    expect(safe).toEqual(urls);
  });

  it('should refuse other schemes, credentials, junk and empty input', () => {
    // Prepare
    const urls = [
      'javascript:alert(1)',
      'slack://open',
      'mailto:ops@example.com',
      'data:text/html,<b>x</b>',
      'https://user:pass@prom.example/',
      'https://token@prom.example/',
      'not a url',
      '',
      undefined,
    ];

    // Act
    const safe = urls.map((url) => safeHttpUrl(url));

    // Assess
    expect(safe).toEqual(urls.map(() => undefined));
  });

  it('should refuse a URL longer than the cap', () => {
    // Prepare
    const long = `https://prom.example/${'a'.repeat(MAX_URL_LENGTH)}`;

    // Act
    const safe = [safeHttpUrl(long), safeHttpUrl('https://prom.example/abc', { maxLength: 10 })];

    // Assess
    expect(safe).toEqual([undefined, undefined]);
  });

  it('should percent-encode everything that could close the markup it goes into', () => {
    // Prepare
    const hostile = 'https://prom.example/g?x=1 "2" \'3\'#> <!channel> <https://evil.example/phish|Open`';

    // Act
    const safe = safeHttpUrl(hostile);

    // Assess
    expect(safe).toBe(
      'https://prom.example/g?x=1%20%222%22%20%273%27#%3E%20%3C!channel%3E%20%3Chttps://evil.example/phish%7COpen%60',
    );
  });

  it('should never return whitespace, quotes, angle brackets, pipes or a non-http scheme', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string()),
        (raw) => {
          // Act
          const safe = safeHttpUrl(raw);

          // Assess
          if (safe === undefined) return;
          expect(safe).toMatch(/^https?:\/\/[^\s"'`<>|\\]+$/);
          expect(safe.length).toBeLessThanOrEqual(MAX_URL_LENGTH);
        },
      ),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../lib/delivery/errors.ts';
import { checkedHttpUrl } from '../../lib/delivery/vendor-url.ts';

const TOKEN = 's3cr3t-t0ken-in-the-path';

describe('Function: checkedHttpUrl', () => {
  it('should give back an http(s) URL, trimmed', () => {
    expect(checkedHttpUrl(` https://hooks.example/${TOKEN}\n`, 'webhook url').href).toBe(
      `https://hooks.example/${TOKEN}`,
    );
    expect(checkedHttpUrl('http://127.0.0.1:8080/x', 'webhook url').host).toBe('127.0.0.1:8080');
  });

  it.each([
    ['not a URL', `not a url ${TOKEN}`, /webhook url is not a valid URL/],
    ['another scheme', `ftp://files.example/${TOKEN}`, /must be http or https/],
    ['javascript:', `javascript:alert('${TOKEN}')`, /must be http or https/],
    ['user-info', `https://user:${TOKEN}@hooks.example/x`, /must not contain credentials/],
  ])('should refuse %s permanently, naming what it checked and never quoting the URL', (_case, raw, why) => {
    // Act
    let thrown: unknown;
    try {
      checkedHttpUrl(raw, 'webhook url');
    } catch (error) {
      thrown = error;
    }

    // Assess
    expect(thrown).toBeInstanceOf(PermanentError);
    expect((thrown as Error).message).toMatch(why);
    expect((thrown as Error).message).not.toContain(TOKEN);
  });
});

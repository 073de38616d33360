import { describe, expect, it } from 'vitest';
import { RetryableError } from '../../lib/sinks/errors.ts';
import { answered, joinUrl, parseBaseUrl, postJson } from '../../lib/sinks/http.ts';

describe('JSON POST for vendor sinks', () => {
  describe('Method: joinUrl', () => {
    it('should keep a base path prefix (a proxy mount point) and drop any query', () => {
      // Assess
      expect(joinUrl(new URL('https://events.eu.pagerduty.com'), '/v2/enqueue').href).toBe(
        'https://events.eu.pagerduty.com/v2/enqueue',
      );
      expect(joinUrl(new URL('http://proxy:8080/pd/?x=1'), '/v2/enqueue').href).toBe(
        'http://proxy:8080/pd/v2/enqueue',
      );
    });
  });

  describe('Method: parseBaseUrl', () => {
    it('should refuse what is not an http(s) URL', () => {
      // Assess
      expect(() => parseBaseUrl('ftp://x', 'pagerduty')).toThrow(/must be http or https/);
      expect(() => parseBaseUrl('not a url', 'ilert')).toThrow(/not a valid URL/);
      expect(parseBaseUrl('https://api.ilert.com', 'ilert').host).toBe('api.ilert.com');
    });
  });

  describe('Method: postJson', () => {
    it('should turn a fetch failure into a RetryableError that names the label, not the URL', async () => {
      // Prepare
      const failing: typeof fetch = async () => {
        throw Object.assign(new TypeError('fetch failed https://x/api/v1/events/prometheus/SECRETKEY'), {
          cause: { code: 'ECONNREFUSED' },
        });
      };

      // Act
      const error = await postJson(new URL('https://x/api/v1/events/prometheus/SECRETKEY'), '{}', {
        label: 'ilert x',
        timeoutSeconds: 1,
        fetch: failing,
      }).catch((e: unknown) => e as Error);

      // Assess
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as Error).message).toBe('ilert x could not be reached (ECONNREFUSED)');
    });

    it('should send JSON with the relay user agent and without following redirects', async () => {
      // Prepare
      let seen: RequestInit | undefined;
      const capture: typeof fetch = async (_input, init) => {
        seen = init;
        return new Response(null, { status: 202 });
      };

      // Act
      const response = await postJson(new URL('https://x/v2/enqueue'), '{"a":1}', {
        label: 'pagerduty x',
        timeoutSeconds: 1,
        fetch: capture,
      });

      // Assess
      expect(response.status).toBe(202);
      expect(seen?.redirect).toBe('manual');
      expect(seen?.headers).toMatchObject({
        'content-type': 'application/json',
        'user-agent': 'alertmanager-relay',
      });
      expect(answered('pagerduty x', 429)).toBe('pagerduty x answered 429 Too Many Requests');
    });
  });
});

import { describe, expect, it } from 'vitest';
import {
  DeferredError,
  PermanentError,
  RateLimitedError,
  RetryableError,
} from '../../lib/delivery/errors.ts';
import { answered, joinUrl, parseBaseUrl, postJson, statusError } from '../../lib/delivery/http.ts';
import { DELIVERY_POLICY } from '../../lib/delivery/policy.ts';

describe('Module: vendor HTTP (lib/delivery/http.ts)', () => {
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

describe('Function: statusError', () => {
  const NOW = Date.parse('2026-11-21T12:00:00Z');
  const options = {
    label: 'vendor api.example.com',
    redactions: ['tok-secret-123'],
    now: NOW,
    redirectHint: 'check baseUrl',
  };

  it.each([
    [301, 'PermanentError'],
    [308, 'PermanentError'],
    [400, 'PermanentError'],
    [401, 'PermanentError'],
    [404, 'PermanentError'],
    [413, 'PermanentError'],
    [422, 'PermanentError'],
    [408, 'RetryableError'],
    [425, 'RetryableError'],
    [429, 'RateLimitedError'],
    [500, 'RetryableError'],
    [503, 'RetryableError'],
    [599, 'RetryableError'],
  ])('should classify %i as a %s, the same for every sink', async (status, name) => {
    // Act
    const error = await statusError(new Response(null, { status }), options);

    // Assess
    expect(error.name).toBe(name);
    expect(error).toMatchObject({ statusCode: status });
  });

  it('should make a 3xx permanent and say redirects are not followed', async () => {
    // Act
    const error = await statusError(new Response(null, { status: 301 }), options);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toBe(
      'vendor api.example.com answered 301 Moved Permanently: redirects are not followed, check baseUrl',
    );
  });

  it('should make a 503 retryable with the vendor Retry-After, quoting the redacted body', async () => {
    // Act
    const error = await statusError(
      new Response('down for tok-secret-123', { status: 503, headers: { 'retry-after': '7' } }),
      options,
    );

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterSeconds).toBe(7);
    expect(error.message).toBe(
      'vendor api.example.com answered 503 Service Unavailable (retry after 7 s): down for [redacted]',
    );
  });

  it.each([
    ['its Retry-After', { 'retry-after': '7' }, 7],
    ['an HTTP-date Retry-After', { 'retry-after': new Date(NOW + 45_000).toUTCString() }, 45],
    ['the policy’s 60 s without Retry-After', {}, DELIVERY_POLICY.rateLimitWaitSeconds],
    ['at least a second for Retry-After: 0', { 'retry-after': '0' }, 1],
  ])('should make a 429 a wait (RateLimitedError) for %s', async (_, headers, seconds) => {
    // Act
    const error = await statusError(new Response('slow down', { status: 429, headers }), options);

    // Assess
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toBeInstanceOf(DeferredError);
    expect(error).toMatchObject({ statusCode: 429, retryAfterSeconds: seconds });
    expect(error.message).toBe(
      `vendor api.example.com answered 429 Too Many Requests (rate limited; retry after ${seconds} s): slow down`,
    );
  });

  it.each([408, 425, 500, 503])('should keep %i a retryable failure, not a wait', async (status) => {
    // Act
    const error = await statusError(new Response(null, { status, headers: { 'retry-after': '3' } }), options);

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).not.toBeInstanceOf(DeferredError);
  });

  it('should wait at least the rate limit minimum on a 429, and the default without Retry-After', async () => {
    // Prepare
    const rateLimit = { minSeconds: 10, defaultSeconds: 20 };

    // Act
    const short = await statusError(new Response('', { status: 429, headers: { 'retry-after': '2' } }), {
      ...options,
      rateLimit,
    });
    const none = await statusError(new Response('', { status: 429 }), { ...options, rateLimit });

    // Assess
    expect(short).toBeInstanceOf(RateLimitedError);
    expect((short as RetryableError).retryAfterSeconds).toBe(10);
    expect((none as RetryableError).retryAfterSeconds).toBe(20);
    expect(none.message).toBe(
      'vendor api.example.com answered 429 Too Many Requests (rate limited; retry after 20 s)',
    );
  });

  it("should prefer the vendor's own rate-limit header over Retry-After on a 429", async () => {
    // Prepare
    const rateLimit = { minSeconds: 0, defaultSeconds: 60 };
    const answer = () => new Response('slow down', { status: 429, headers: { 'retry-after': '5' } });

    // Act
    const vendor = await statusError(answer(), {
      ...options,
      rateLimit: { ...rateLimit, vendorSeconds: 30 },
    });
    const header = await statusError(answer(), { ...options, rateLimit });

    // Assess
    expect(vendor).toBeInstanceOf(RetryableError);
    expect(vendor).toMatchObject({ statusCode: 429, retryAfterSeconds: 30 });
    expect(vendor.message).toBe(
      'vendor api.example.com answered 429 Too Many Requests (rate limited; retry after 30 s): slow down',
    );
    expect((header as RetryableError).retryAfterSeconds).toBe(5);
  });

  it('should make another 4xx permanent with the sink hint for that status', async () => {
    // Act
    const error = await statusError(new Response('gone', { status: 410 }), {
      ...options,
      permanentHint: (status) => (status === 410 ? ': the receiver asked for no more deliveries' : undefined),
    });

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(410);
    expect(error.message).toBe(
      'vendor api.example.com answered 410 Gone: the receiver asked for no more deliveries: gone',
    );
  });
});

describe('Function: answered', () => {
  it("should word every 3xx, 4xx and 5xx status with node:http's reason phrase", async () => {
    // Prepare
    const { STATUS_CODES } = await import('node:http');
    const statuses = Object.keys(STATUS_CODES)
      .map(Number)
      .filter((status) => status >= 300);

    // Act
    const words = statuses.map((status) => answered('vendor example.com', status));

    // Assess
    expect(words).toEqual(
      statuses.map((status) => `vendor example.com answered ${status} ${STATUS_CODES[status]}`),
    );
    expect(answered('vendor example.com', 599)).toBe('vendor example.com answered 599');
  });
});

import { describe, expect, it } from 'vitest';
import { DeferredError, RateLimitedError, RetryableError } from '../../../lib/delivery/errors.ts';
import { classifySlackError, SlackApi, slackErrorCode } from '../../../lib/sinks/slack/api.ts';

const TOKEN = 'xoxb-rate-limit-test-token-123';

function answering(status: number, body: unknown, headers: Record<string, string> = {}) {
  return (async () =>
    new Response(typeof body === 'string' ? body : JSON.stringify(body), {
      status,
      headers,
    })) as typeof globalThis.fetch;
}

async function callError(fetch: typeof globalThis.fetch): Promise<unknown> {
  return new SlackApi({ token: TOKEN, fetch }).call('chat.postMessage', {}).catch((error: unknown) => error);
}

/** Slack's "too many requests", in each of its forms, is a wait (no attempt counted), not a failure. */
describe('Slack rate limits are waits', () => {
  it.each([
    [
      'HTTP 429 with Retry-After: 4',
      answering(429, { ok: false, error: 'ratelimited' }, { 'retry-after': '4' }),
      4,
    ],
    ['HTTP 429 without Retry-After (Slack’s usual 30 s)', answering(429, ''), 30],
    [
      'ok:false ratelimited with Retry-After: 2',
      answering(200, { ok: false, error: 'ratelimited' }, { 'retry-after': '2' }),
      2,
    ],
    ['ok:false ratelimited without Retry-After', answering(200, { ok: false, error: 'ratelimited' }), 30],
    ['ok:false rate_limited', answering(200, { ok: false, error: 'rate_limited' }), 30],
  ])('should make %s a RateLimitedError for its wait', async (_, fetch, seconds) => {
    // Act
    const error = await callError(fetch);

    // Assess
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toBeInstanceOf(DeferredError);
    expect((error as RateLimitedError).retryAfterSeconds).toBe(seconds);
    expect((error as Error).message).toContain(`retry after ${seconds} s`);
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it('should keep the Slack code of an ok:false rate limit readable for the sink', async () => {
    // Act
    const error = await callError(answering(200, { ok: false, error: 'ratelimited' }));

    // Assess
    expect(slackErrorCode(error)).toBe('ratelimited');
  });

  it.each(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout'])(
    'should keep %s a retryable failure, not a wait',
    (code) => {
      // Act
      const error = classifySlackError('chat.postMessage', code, { retryAfterSeconds: 5 });

      // Assess
      expect(error).toBeInstanceOf(RetryableError);
      expect(error).not.toBeInstanceOf(DeferredError);
    },
  );

  it('should keep a 503 a retryable failure, not a wait', async () => {
    // Act
    const error = await callError(answering(503, 'busy', { 'retry-after': '3' }));

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).not.toBeInstanceOf(DeferredError);
    expect((error as RetryableError).retryAfterSeconds).toBe(3);
  });
});

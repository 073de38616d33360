import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import { classifySlackError, SlackApi, slackErrorCode } from '../../../lib/sinks/slack/api.ts';

const TOKEN = 'xoxb-unit-test-token-123';

function answering(status: number, body: unknown, headers: Record<string, string> = {}) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch = (async (url: string | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

describe('Function: classifySlackError', () => {
  it.each([
    'invalid_auth',
    'not_authed',
    'account_inactive',
    'token_revoked',
    'channel_not_found',
    'not_in_channel',
    'is_archived',
    'invalid_blocks',
    'msg_too_long',
    'missing_scope',
    'some_new_error',
  ])('should treat %s as permanent', (code) => {
    expect(classifySlackError('chat.postMessage', code)).toBeInstanceOf(PermanentError);
  });

  it.each(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout'])(
    'should treat %s as retryable',
    (code) => {
      expect(classifySlackError('chat.postMessage', code)).toBeInstanceOf(RetryableError);
    },
  );

  it('should name the method, the code and a hint', () => {
    expect(classifySlackError('chat.postMessage', 'not_in_channel').message).toBe(
      'Slack chat.postMessage: not_in_channel (invite the app to the channel (/invite @app))',
    );
  });
});

describe('Class: SlackApi', () => {
  it('should send JSON with the bearer token and return the ok answer', async () => {
    // Prepare
    const { fetch, calls } = answering(200, { ok: true, ts: '1.2', channel: 'C0123456789' });
    const api = new SlackApi({ token: TOKEN, baseUrl: 'https://slack.test/api/', fetch });

    // Act
    const answer = await api.call('chat.postMessage', { channel: 'C0123456789', text: 'hi' });

    // Assess
    expect(answer.ts).toBe('1.2');
    expect(calls[0].url).toBe('https://slack.test/api/chat.postMessage');
    expect((calls[0].init.headers as Record<string, string>).authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ channel: 'C0123456789', text: 'hi' });
  });

  it('should form-encode when asked, with objects as JSON', async () => {
    // Prepare
    const { fetch, calls } = answering(200, { ok: true });
    const api = new SlackApi({ token: TOKEN, fetch });

    // Act
    await api.call(
      'files.getUploadURLExternal',
      { filename: 'a.png', length: 12, skip: undefined },
      { form: true },
    );

    // Assess
    expect(String(calls[0].init.body)).toBe('filename=a.png&length=12');
    expect(calls[0].url).toBe('https://slack.com/api/files.getUploadURLExternal');
  });

  it('should turn ok:false into a typed error that keeps the Slack code', async () => {
    // Prepare
    const { fetch } = answering(200, { ok: false, error: 'message_not_found' });
    const api = new SlackApi({ token: TOKEN, fetch });

    // Act
    const error = await api.call('chat.update', {}).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(slackErrorCode(error)).toBe('message_not_found');
  });

  it('should honour Retry-After on a 429 and default to 30 s without it', async () => {
    // Prepare
    const withHeader = new SlackApi({
      token: TOKEN,
      fetch: answering(429, '', { 'retry-after': '4' }).fetch,
    });
    const without = new SlackApi({ token: TOKEN, fetch: answering(429, '').fetch });

    // Act
    const a = (await withHeader.call('chat.postMessage', {}).catch((e: unknown) => e)) as RetryableError;
    const b = (await without.call('chat.postMessage', {}).catch((e: unknown) => e)) as RetryableError;

    // Assess
    expect(a).toBeInstanceOf(RetryableError);
    expect(a.retryAfterSeconds).toBe(4);
    expect(b.retryAfterSeconds).toBe(30);
  });

  it('should never quote the token from an echoed error page', async () => {
    // Prepare
    const api = new SlackApi({ token: TOKEN, fetch: answering(502, `bad gateway for ${TOKEN}`).fetch });

    // Act
    const error = (await api.call('chat.postMessage', {}).catch((e: unknown) => e)) as Error;

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).not.toContain(TOKEN);
    expect(error.message).toContain('502');
  });

  it('should retry a 200 that is not JSON (a proxy page)', async () => {
    // Prepare
    const api = new SlackApi({ token: TOKEN, fetch: answering(200, '<html>').fetch });

    // Act
    const error = await api.call('chat.postMessage', {}).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
  });
});

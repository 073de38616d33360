import { describe, expect, it, vi } from 'vitest';
import { lazySentry, loadSentry, type SentrySdk, sentryReporter, withSentry } from '../lib/sentry.ts';

function fakeSdk() {
  const events: { error: unknown; tags?: Record<string, string> }[] = [];
  let flushed = 0;
  const sdk: SentrySdk = {
    init: vi.fn(),
    captureException: (error, hint) => events.push({ error, tags: hint?.tags }),
    flush: async () => {
      flushed++;
      return true;
    },
  };
  const load = vi.fn(async () => sdk);
  return { sdk, load, events, flushed: () => flushed };
}

describe('Function: loadSentry', () => {
  it('should give nothing without SENTRY_DSN', async () => {
    // Act / Assess
    expect(await loadSentry({})).toBeUndefined();
    expect(await loadSentry({ SENTRY_DSN: '' })).toBeUndefined();
  });
});

describe('Function: lazySentry', () => {
  it('should not load the SDK until an error is captured, then load and initialise it once', async () => {
    // Prepare
    const fake = fakeSdk();
    const sentry = lazySentry(fake.load, { dsn: 'http://k@127.0.0.1:9/1', environment: 'ci' });

    // Act
    await sentry.flush();
    const loadedBefore = fake.load.mock.calls.length;
    sentry.capture(new Error('one'), { stage: 'deliver' });
    sentry.capture(new Error('two'));
    await sentry.flush();

    // Assess
    expect(loadedBefore).toBe(0);
    expect(fake.load).toHaveBeenCalledTimes(1);
    expect(fake.sdk.init).toHaveBeenCalledWith({
      dsn: 'http://k@127.0.0.1:9/1',
      sendDefaultPii: false,
      tracesSampleRate: 0,
      environment: 'ci',
    });
    expect(fake.events.map((e) => (e.error as Error).message)).toEqual(['one', 'two']);
    expect(fake.events[0].tags).toEqual({ stage: 'deliver' });
    expect(fake.flushed()).toBe(1);
  });

  it('should never throw into the relay when the SDK cannot be loaded', async () => {
    // Prepare
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const sentry = lazySentry(
      async () => {
        throw new Error('no such module');
      },
      { dsn: 'http://k@127.0.0.1:9/1' },
    );

    // Act
    sentry.capture(new Error('boom'));
    await sentry.flush();

    // Assess
    expect(error).toHaveBeenCalledWith('could not load Sentry: no such module');
    error.mockRestore();
  });
});

describe('Function: withSentry', () => {
  it('should capture what the handler throws, throw it on, and send it before returning', async () => {
    // Prepare
    const fake = fakeSdk();
    const sentry = lazySentry(fake.load, { dsn: 'http://k@127.0.0.1:9/1' });
    const handler = withSentry(sentry, async (_event: unknown) => {
      throw new Error('handler failed');
    });

    // Act
    const outcome = await handler({}).catch((e: Error) => e.message);

    // Assess
    expect(outcome).toBe('handler failed');
    expect(fake.events.map((e) => (e.error as Error).message)).toEqual(['handler failed']);
    expect(fake.flushed()).toBe(1);
  });

  it("should send a batch's per-record reports before the handler returns, and load nothing on a clean run", async () => {
    // Prepare
    const fake = fakeSdk();
    const sentry = lazySentry(fake.load, { dsn: 'http://k@127.0.0.1:9/1' });
    const reporter = sentryReporter(sentry);
    let fail = true;
    const handler = withSentry(sentry, async (_event: unknown) => {
      if (fail) reporter?.captureException(new Error('record 2 failed'), { tags: { sink: 'webhook' } });
      return { batchItemFailures: [] };
    });

    // Act
    await handler({});
    const afterReport = { events: fake.events.length, flushed: fake.flushed() };
    fail = false;
    const clean = lazySentry(fake.load, { dsn: 'x' });
    await withSentry(clean, async () => 'ok')();

    // Assess
    expect(afterReport).toEqual({ events: 1, flushed: 1 });
    expect(fake.events[0].tags).toEqual({ sink: 'webhook' });
    expect(fake.load).toHaveBeenCalledTimes(1);
  });

  it('should return the handler itself without Sentry', () => {
    // Prepare
    const handler = async () => 'ok';

    // Act / Assess
    expect(withSentry(undefined, handler)).toBe(handler);
  });
});

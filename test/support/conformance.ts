import { describe, expect, it } from 'vitest';
import type { Notification } from '../../lib/alertmanager/types.ts';
import type { DestinationConfig } from '../../lib/config/types.ts';
import {
  DeferredError,
  PermanentError,
  RateLimitedError,
  RetryableError,
} from '../../lib/delivery/errors.ts';
import type { Sink } from '../../lib/delivery/sink.ts';
import { hostileNotification } from './conformance/hostile.ts';
import { errorTexts, expectNoSecret } from './conformance/leaks.ts';
import {
  describeOutcome,
  type Outcome,
  type VendorAnswer,
  type VendorCase,
  vendorCases,
} from './conformance/vendor-answers.ts';
import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';
import { makeNotification } from './notifications.ts';
import { capturingLogger, memoryState, vendorDelivery } from './vendor-delivery.ts';
import { closedPort } from './webhook-receiver.ts';

/**
 * The sink conformance kit, after Alertmanager's notify/test (RetryTests,
 * AssertNotifyLeaksNoSecret): one call in a sink's contract test runs the same table of
 * vendor answers against it (every 2xx, 3xx, 4xx and 5xx class, 408/425/429 and 5xx with and
 * without Retry-After, a timeout, a reset and a refused connection; a 429 must be a wait,
 * RateLimitedError, the rest retryable failures or permanent), checks that no secret
 * ends up in an error or a log line, and delivers hostile content. A new sink gets all of it
 * by describing how it is built and pointed at a vendor.
 *
 * @example
 * describeSinkConformance({
 *   name: 'webhook',
 *   sink: ({ now }) => createWebhookSink({ now }),
 *   destination: (vendor) => ({ name: 'hook', sink: 'webhook', url: `${vendor.url}/hooks/t0ken`, timeoutSeconds: vendor.timeoutSeconds }),
 *   leaks: ['t0ken'],
 *   http: { label: (vendor) => `webhook ${vendor.host}` },
 *   hostile: ({ requests }) => expect(JSON.parse(requests[0].text)).toEqual(hostileNotification()),
 * });
 */

export {
  ATTACKER_HOST,
  HOSTILE,
  HOSTILE_TEXT,
  HOSTILE_URLS,
  hostileNotification,
  jsonStrings,
  markdownViolations,
  plainTextViolations,
} from './conformance/hostile.ts';
export type { Outcome, VendorCase } from './conformance/vendor-answers.ts';

/** The kit's scripted vendor, as a harness sees it when it builds a destination. */
export interface ConformanceVendor {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** `127.0.0.1:<port>`: how sinks name the vendor in errors. */
  host: string;
  /** The destination's timeout: the kit's hang case waits this long, on the sink's own timer. */
  timeoutSeconds: number;
}

/** What a sink gets from the kit when it is built: a fixed clock, and where to put output that is not HTTP. */
export interface ConformanceContext {
  /** Epoch ms, a whole second, fixed for the case (an HTTP-date Retry-After is exact against it). */
  now: () => number;
  /** For a sink whose vendor is not an HTTP server (console): record what it wrote. */
  received: (text: string) => void;
}

/** What the vendor got from a delivery of hostile content, for a sink's test to assert escaping. */
export interface HostileDelivery {
  outcome: Outcome;
  /** The requests the scripted vendor read (HTTP sinks). */
  requests: readonly FakeRequest[];
  /** Every request body, then every text the sink recorded through `received`. */
  texts: readonly string[];
}

export interface SinkConformance<C extends DestinationConfig> {
  /** Names the describe block: `Sink conformance: <name>`. */
  name: string;
  /** A new sink for every case (some remember a vendor's rate limit between deliveries). */
  sink: (context: ConformanceContext) => Sink<C>;
  /** The destination pointing at the scripted vendor, with its short timeout. */
  destination: (vendor: ConformanceVendor) => C;
  /** Secret values by name, as the secret reader hands them out. None of them may ever show. */
  secrets?: (vendor: ConformanceVendor) => Record<string, string>;
  /**
   * More text that must never show, which a vendor's error page may echo: tokens in the URL,
   * the DSN's key. The scripted vendor quotes these, the secrets and the request URL in every
   * refusal.
   */
  leaks?: (vendor: ConformanceVendor) => string[];
  /** Text that must never show although no vendor would echo it alone (a path prefix). */
  hidden?: readonly string[];
  /** The notification's status (a resolve may take another path to the vendor). Default firing. */
  status?: 'firing' | 'resolved';
  /** The sink talks HTTP to its vendor: run the table of vendor answers. Without it, only delivery and hostile content. */
  http?: {
    /** How the sink names the vendor in an error: `webhook 127.0.0.1:8080`, `Slack chat.postMessage`. */
    label: (vendor: ConformanceVendor) => string;
    /** The JSON body of a 2xx (a 204 has none). Default `{}`. */
    accepted?: Record<string, unknown>;
  };
  /**
   * Where the sink legitimately differs from the standard (a minimum wait on 429, a 204 that
   * is not the vendor's answer): the outcome it ends in instead. Never a reason to skip a case.
   */
  expect?: (vendorCase: VendorCase, standard: Outcome) => Outcome;
  /**
   * Assertions on what the vendor received from the hostile delivery (issue 10): nothing from
   * alert content interpreted in the vendor's format (markdownViolations, plainTextViolations in
   * ./conformance/hostile.ts). Required: a sink without it fails to compile and fails its run.
   */
  hostile: (delivered: HostileDelivery) => void;
}

/** The destination timeout the kit configures: the smallest every sink's schema accepts. */
export const CONFORMANCE_TIMEOUT_SECONDS = 1;

/** Words in every refusal of the scripted vendor; a sink quotes them, redacted. */
export const VENDOR_WORDS = 'the conformance vendor says no';

const REDACTED = '[redacted]';

/** Runs the conformance table against one sink, one `it` per case. */
export function describeSinkConformance<C extends DestinationConfig>(harness: SinkConformance<C>): void {
  describe(`Sink conformance: ${harness.name}`, () => {
    const { http } = harness;
    if (http) {
      for (const vendorCase of vendorCases()) {
        const expected = harness.expect?.(vendorCase, vendorCase.standard) ?? vendorCase.standard;
        it(`should ${describeOutcome(expected)} when the vendor answers ${vendorCase.name}`, async () => {
          await runVendorCase(harness, http, vendorCase, expected);
        });
      }
    } else {
      it('should deliver a notification', async () => {
        const result = await deliverOnce(harness, notificationFor(harness.status), 'accepted');
        expect(result.thrown, describeThrown(result.thrown)).toBeUndefined();
        expect(result.texts.length).toBeGreaterThan(0);
      });
    }
    it('should deliver hostile content or fail with RetryableError/PermanentError, leaking nothing', async () => {
      const result = await deliverOnce(harness, hostileNotification(harness.status), 'accepted');
      const { thrown } = result;
      expect(
        thrown === undefined || thrown instanceof RetryableError || thrown instanceof PermanentError,
        describeThrown(thrown),
      ).toBe(true);
      // Required by the type; a harness written in plain JS, or cast, still fails here.
      expect(
        typeof harness.hostile,
        'the harness has no hostile hook: say what must not reach the vendor',
      ).toBe('function');
      harness.hostile({ outcome: outcomeOf(thrown), requests: result.requests, texts: result.texts });
    });
  });
}

interface DeliveryResult {
  thrown: unknown;
  requests: readonly FakeRequest[];
  texts: string[];
  /** Requests to the host a redirect pointed at. */
  redirected: readonly FakeRequest[];
  vendor: ConformanceVendor;
}

/** One delivery against a scripted vendor, with the secret-leak checks every case shares. */
async function deliverOnce<C extends DestinationConfig>(
  harness: SinkConformance<C>,
  notification: Notification,
  answer: VendorAnswer | 'accepted',
): Promise<DeliveryResult> {
  const now = Math.floor(Date.now() / 1000) * 1000;
  const servers: FakeServer[] = [];
  try {
    let vendor: ConformanceVendor;
    let server: FakeServer | undefined;
    let elsewhere: FakeServer | undefined;
    if (answer === 'refused') {
      const port = await closedPort();
      vendor = conformanceVendor(`http://127.0.0.1:${port}`);
    } else {
      elsewhere = await startFakeServer({ handle: () => ({ status: 200, body: 'followed' }) });
      servers.push(elsewhere);
      const redirectTo = elsewhere.url;
      // The answer echoes secrets that may name the vendor's own address (Sentry's DSN): set once it listens.
      let script: (request: FakeRequest) => FakeAnswer = () => ({ status: 500 });
      server = await startFakeServer({ handle: (request) => script(request) });
      servers.push(server);
      vendor = conformanceVendor(server.url);
      const echoed = [...Object.values(harness.secrets?.(vendor) ?? {}), ...(harness.leaks?.(vendor) ?? [])];
      script = (request) =>
        scriptedAnswer(answer, { request, now, echoed, redirectTo, accepted: harness.http?.accepted });
    }

    const texts: string[] = [];
    const sink = harness.sink({ now: () => now, received: (text) => void texts.push(text) });
    const destination = harness.destination(vendor);
    const secrets = harness.secrets?.(vendor) ?? {};
    const { logger, lines } = capturingLogger();
    const described = sink.describe?.(destination) ?? [];
    let thrown: unknown;
    try {
      await sink.deliver(
        vendorDelivery(destination, notification, {
          secrets,
          logger,
          state: memoryState(),
          idempotencyKey: `idem-conformance-${harness.name.replace(/\W+/g, '-')}`,
        }),
      );
    } catch (error) {
      thrown = error;
    }

    const mustNotShow = [
      ...Object.values(secrets),
      ...(harness.leaks?.(vendor) ?? []),
      ...(harness.hidden ?? []),
    ];
    expectNoSecret('the error', errorTexts(thrown), mustNotShow);
    expectNoSecret('the log', lines, mustNotShow);
    expectNoSecret('what the sink says at start', described, mustNotShow);

    const requests = server ? [...server.requests] : [];
    return {
      thrown,
      requests,
      texts: [...requests.map((r) => r.text), ...texts],
      redirected: elsewhere ? [...elsewhere.requests] : [],
      vendor,
    };
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
}

async function runVendorCase<C extends DestinationConfig>(
  harness: SinkConformance<C>,
  http: NonNullable<SinkConformance<C>['http']>,
  vendorCase: VendorCase,
  expected: Outcome,
): Promise<void> {
  const result = await deliverOnce(harness, notificationFor(harness.status), vendorCase.answer);
  const { thrown, vendor } = result;
  const label = http.label(vendor);

  // The outcome: class, status and wait.
  if ('delivered' in expected) {
    expect(thrown, describeThrown(thrown)).toBeUndefined();
  } else {
    expect(thrown, describeThrown(thrown)).toBeInstanceOf(ERROR_CLASSES[expected.error]);
    // A wait counts no attempt; a retryable failure must not pass for one.
    expect(thrown instanceof DeferredError, describeThrown(thrown)).toBe(
      expected.error === 'RateLimitedError',
    );
    const error = thrown as RetryableError | PermanentError;
    expect(error.statusCode).toBe(expected.statusCode);
    expect((error as RetryableError).retryAfterSeconds).toBe(expected.retryAfterSeconds);
  }

  // One request per delivery of one alert; a redirect is never followed.
  const { answer } = vendorCase;
  if (answer !== 'refused') {
    const outcome = typeof answer === 'string' ? answer : answer.status;
    expect(result.requests.map((r) => r.outcome)).toEqual([outcome]);
  }
  expect(result.redirected).toEqual([]);

  // The wording: the vendor named by host, what it answered, its words quoted but redacted.
  if (thrown === undefined) return;
  const message = (thrown as Error).message;
  if (answer === 'hang') {
    expect(message).toBe(`${label} did not answer within ${CONFORMANCE_TIMEOUT_SECONDS} s`);
  } else if (answer === 'reset') {
    expect(message.startsWith(`${label} could not be reached`), message).toBe(true);
  } else if (answer === 'refused') {
    expect(message).toBe(`${label} could not be reached (ECONNREFUSED)`);
  } else {
    expect(message).toContain(`${label} answered ${answer.status}`);
    if (answer.status >= 400) {
      expect(message).toContain(VENDOR_WORDS);
      if (harness.secrets || harness.leaks) expect(message).toContain(REDACTED);
    }
    // Every sink words its errors through the delivery core's statusError.
    if (!('delivered' in expected)) {
      if (answer.status >= 300 && answer.status < 400)
        expect(message).toContain('redirects are not followed');
      if (expected.retryAfterSeconds !== undefined)
        expect(message).toContain(`retry after ${expected.retryAfterSeconds} s`);
    }
  }
  // Transport errors name the host only: undici's causes can quote the URL.
  if (typeof answer === 'string') expect((thrown as Error).cause).toBeUndefined();
}

function scriptedAnswer(
  answer: Exclude<VendorAnswer, 'refused'> | 'accepted',
  context: {
    request: FakeRequest;
    now: number;
    echoed: readonly string[];
    redirectTo: string;
    accepted?: Record<string, unknown>;
  },
): FakeAnswer {
  if (answer === 'hang') return { hang: true };
  if (answer === 'reset') return { reset: true };
  const status = answer === 'accepted' ? 200 : answer.status;
  if (status >= 200 && status < 300) {
    return status === 204 ? { status } : { status, body: context.accepted ?? {} };
  }
  // Error pages echo what they were sent: the secrets and the path (with any token in it).
  // Secrets first, so they fall within the part of the body a sink quotes.
  const { request } = context;
  const echo = [...context.echoed, request.url, safeDecode(request.url)].join(' ');
  const headers: Record<string, string> = {};
  if (status >= 300 && status < 400) headers.location = `${context.redirectTo}${request.url}`;
  if (typeof answer === 'object' && answer.retryAfter)
    headers['retry-after'] = answer.retryAfter(context.now);
  return { status, headers, body: `${VENDOR_WORDS}: ${echo}` };
}

function conformanceVendor(url: string): ConformanceVendor {
  return { url, host: new URL(url).host, timeoutSeconds: CONFORMANCE_TIMEOUT_SECONDS };
}

function notificationFor(status: 'firing' | 'resolved' = 'firing'): Notification {
  return makeNotification({ count: 1, status });
}

const ERROR_CLASSES = {
  RetryableError,
  RateLimitedError,
  PermanentError,
} as const satisfies Record<Exclude<Outcome, { delivered: true }>['error'], unknown>;

function outcomeOf(thrown: unknown): Outcome {
  if (thrown === undefined) return { delivered: true };
  const error = thrown as RetryableError;
  return {
    error:
      thrown instanceof PermanentError
        ? 'PermanentError'
        : thrown instanceof RateLimitedError
          ? 'RateLimitedError'
          : 'RetryableError',
    statusCode: error.statusCode,
    retryAfterSeconds: error.retryAfterSeconds,
  };
}

function describeThrown(thrown: unknown): string {
  return thrown === undefined ? 'delivered' : `threw ${String((thrown as Error)?.stack ?? thrown)}`;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

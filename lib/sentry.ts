import type { ErrorReporter } from './telemetry.ts';

/** What the relay uses of the Sentry SDK (@sentry/aws-serverless satisfies it). */
export interface SentrySdk {
  init(options: {
    dsn: string;
    sendDefaultPii: boolean;
    tracesSampleRate: number;
    environment?: string;
  }): unknown;
  captureException(error: unknown, hint?: { tags?: Record<string, string> }): unknown;
  flush(timeoutMs?: number): PromiseLike<boolean>;
}

/**
 * Sentry for the relay's OWN errors, loaded at the first error rather than at cold start:
 * importing and initialising @sentry/aws-serverless took about 130 ms of every function's cold
 * import (BENCHMARKS.md, cold start), paid by every container although most never report
 * anything. `capture` imports and initialises the SDK on first use; `flush` waits for what was
 * captured to be sent (a Lambda is frozen when its handler returns).
 */
export interface LazySentry {
  capture(error: unknown, tags?: Record<string, string>): void;
  /** Resolves once every capture so far reached the SDK and the SDK sent it (or timed out). Nothing to do when nothing was captured. */
  flush(timeoutMs?: number): Promise<void>;
}

/** How long a handler waits for Sentry before it returns (as the SDK's own wrapHandler: 2 s). */
export const SENTRY_FLUSH_MS = 2_000;

/** A LazySentry when SENTRY_DSN is set; nothing is imported until an error is captured. */
export async function loadSentry(env: NodeJS.ProcessEnv): Promise<LazySentry | undefined> {
  const dsn = env.SENTRY_DSN;
  if (!dsn) return undefined;
  return lazySentry(async () => (await import('@sentry/aws-serverless')) as unknown as SentrySdk, {
    dsn,
    environment: env.RELAY_STAGE,
  });
}

/**
 * @example
 * const sentry = lazySentry(() => import('@sentry/aws-serverless'), { dsn });
 * sentry.capture(new Error('boom')); // imports and initialises the SDK now
 * await sentry.flush();
 */
export function lazySentry(
  load: () => Promise<SentrySdk>,
  options: { dsn: string; environment?: string },
): LazySentry {
  let sdk: Promise<SentrySdk | undefined> | undefined;
  const pending = new Set<Promise<void>>();
  const loaded = () => {
    sdk ??= load().then(
      (Sentry) => {
        Sentry.init({
          dsn: options.dsn,
          sendDefaultPii: false,
          tracesSampleRate: 0,
          environment: options.environment,
        });
        return Sentry;
      },
      (error: unknown) => {
        // The relay's error reporting must never fail a delivery; the error itself is logged by
        // the caller (Telemetry.reportError logs before it reports).
        console.error(`could not load Sentry: ${(error as Error)?.message ?? String(error)}`);
        return undefined;
      },
    );
    return sdk;
  };
  return {
    capture(error, tags) {
      const captured = loaded().then((Sentry) => {
        Sentry?.captureException(error, tags ? { tags } : undefined);
      });
      pending.add(captured);
      void captured.finally(() => pending.delete(captured));
    },
    async flush(timeoutMs = SENTRY_FLUSH_MS) {
      if (!sdk) return;
      await Promise.all(pending);
      const Sentry = await sdk;
      await Promise.resolve(Sentry?.flush(timeoutMs)).catch(() => false);
    },
  };
}

/** Per-record failures inside a batch never reach the handler's catch: they are captured through this. */
export function sentryReporter(sentry: LazySentry | undefined): ErrorReporter | undefined {
  if (!sentry) return undefined;
  return { captureException: (error, hint) => sentry.capture(error, hint?.tags) };
}

/**
 * The handler with Sentry when it is on: an error the handler throws is captured (and thrown on),
 * and whatever was captured during the invocation is sent before it returns.
 */
export function withSentry<H extends (...args: never[]) => unknown>(
  sentry: LazySentry | undefined,
  handler: H,
): H {
  if (!sentry) return handler;
  const wrapped = async (...args: Parameters<H>) => {
    try {
      return await handler(...args);
    } catch (error) {
      sentry.capture(error);
      throw error;
    } finally {
      await sentry.flush();
    }
  };
  return wrapped as unknown as H;
}

import type { ErrorReporter } from './telemetry.ts';

type SentryModule = typeof import('@sentry/aws-serverless');

/**
 * The relay's OWN errors go to Sentry when SENTRY_DSN is set. The SDK is imported only
 * then, so a function without a DSN doesn't pay its cold-start cost.
 */
export async function loadSentry(env: NodeJS.ProcessEnv): Promise<SentryModule | undefined> {
  const dsn = env.SENTRY_DSN;
  if (!dsn) return undefined;
  const Sentry = await import('@sentry/aws-serverless');
  Sentry.init({ dsn, sendDefaultPii: false, tracesSampleRate: 0, environment: env.RELAY_STAGE });
  return Sentry;
}

/** Per-record failures inside a batch never reach wrapHandler: they are captured through this. */
export function sentryReporter(sentry: SentryModule | undefined): ErrorReporter | undefined {
  if (!sentry) return undefined;
  return { captureException: (error, hint) => sentry.captureException(error, { tags: hint?.tags }) };
}

/** Sentry.wrapHandler when Sentry is on (it flushes before the function returns). */
export function withSentry<H extends (...args: never[]) => unknown>(
  sentry: SentryModule | undefined,
  handler: H,
): H {
  return sentry ? (sentry.wrapHandler(handler as never) as unknown as H) : handler;
}

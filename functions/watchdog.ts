import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsWatchdog } from '../lib/lambda.ts';
import { loadSentry, sentryReporter, withSentry } from '../lib/sentry.ts';

// Every minute (EventBridge), only in a stack whose relay.yaml has `watchdog:`: page when
// Alertmanager's always-firing alert stopped arriving, resolve when it is back (lib/watchdog).
const sentry = await loadSentry(process.env);
const { handler: watchdog, telemetry } = awsWatchdog(process.env, sentryReporter(sentry));

export const handler = withSentry(sentry, middy(watchdog).use(injectLambdaContext(telemetry.logger)));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsSink } from '../../lib/lambda.ts';
import { loadSentry, sentryReporter, withSentry } from '../../lib/sentry.ts';
import { consoleSink } from '../../lib/sinks/console/console.ts';

// The console sink's SQS FIFO queue -> lib/sinks/console/console.ts, with partial batch responses.
const sentry = await loadSentry(process.env);
const { handler: deliver, telemetry } = awsSink(consoleSink, process.env, sentryReporter(sentry));

export const handler = withSentry(sentry, middy(deliver).use(injectLambdaContext(telemetry.logger)));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsSink } from '../../lib/lambda.ts';
import { loadSentry, sentryReporter, withSentry } from '../../lib/sentry.ts';
import { webhookSink } from '../../lib/sinks/webhook/webhook.ts';

// The webhook sink's SQS FIFO queue -> lib/sinks/webhook/webhook.ts, with partial batch responses.
const sentry = await loadSentry(process.env);
const { handler: deliver, telemetry } = awsSink(webhookSink, process.env, sentryReporter(sentry));

export const handler = withSentry(sentry, middy(deliver).use(injectLambdaContext(telemetry.logger)));

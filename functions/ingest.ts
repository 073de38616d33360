import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsIngest } from '../lib/lambda.ts';
import { loadSentry, sentryReporter, withSentry } from '../lib/sentry.ts';

// POST /alertmanager: authenticate, validate, route, enqueue (lib/ingest/ingest.ts).
const sentry = await loadSentry(process.env);
const { handler: ingest, telemetry } = awsIngest(process.env, sentryReporter(sentry));

export const handler = withSentry(sentry, middy(ingest).use(injectLambdaContext(telemetry.logger)));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsSink } from '../../lib/lambda.ts';
import { loadSentry, sentryReporter, withSentry } from '../../lib/sentry.ts';
import { mattermostSink } from '../../lib/sinks/mattermost/mattermost.ts';

// The mattermost sink's SQS FIFO queue -> lib/sinks/mattermost/mattermost.ts, with partial batch responses.
const sentry = await loadSentry(process.env);
const { handler: deliver, telemetry } = awsSink(mattermostSink, process.env, sentryReporter(sentry));

export const handler = withSentry(sentry, middy(deliver).use(injectLambdaContext(telemetry.logger)));

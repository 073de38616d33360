import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsSink } from '../../lib/lambda.ts';
import { loadSentry, sentryReporter, withSentry } from '../../lib/sentry.ts';
import { teamsSink } from '../../lib/sinks/teams/teams.ts';

// The teams sink's SQS FIFO queue -> lib/sinks/teams/teams.ts, with partial batch responses.
const sentry = await loadSentry(process.env);
const { handler: deliver, telemetry } = awsSink(teamsSink, process.env, sentryReporter(sentry));

export const handler = withSentry(sentry, middy(deliver).use(injectLambdaContext(telemetry.logger)));

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { awsSink } from '../../lib/lambda.ts';
import { loadSentry, sentryReporter, withSentry } from '../../lib/sentry.ts';
import { discordSink } from '../../lib/sinks/discord/discord.ts';

// The discord sink's SQS FIFO queue -> lib/sinks/discord/discord.ts, with partial batch responses.
const sentry = await loadSentry(process.env);
const { handler: deliver, telemetry } = awsSink(discordSink, process.env, sentryReporter(sentry));

export const handler = withSentry(sentry, middy(deliver).use(injectLambdaContext(telemetry.logger)));

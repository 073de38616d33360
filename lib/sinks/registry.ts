import type { Sink } from '../delivery/sink.ts';
import { consoleSink } from './console/console.ts';
import { discordSink } from './discord/discord.ts';
import { googlechatSink } from './googlechat/googlechat.ts';
import { ilertSink } from './ilert/ilert.ts';
import { mattermostSink } from './mattermost/mattermost.ts';
import { opsgenieSink } from './opsgenie/opsgenie.ts';
import { pagerdutySink } from './pagerduty/pagerduty.ts';
import { sentrySink } from './sentry/sentry.ts';
import { slackSink } from './slack/slack.ts';
import { sysdigSink } from './sysdig/sysdig.ts';
import { teamsSink } from './teams/teams.ts';
import { webhookSink } from './webhook/webhook.ts';

/**
 * Every sink the relay knows: one line each. Ingest routes to these, the build makes one
 * Lambda, FIFO queue and DLQ per entry, and the local runtime one embedded queue per entry.
 */
export const sinks: readonly Sink[] = [
  consoleSink,
  discordSink,
  googlechatSink,
  ilertSink,
  mattermostSink,
  opsgenieSink,
  pagerdutySink,
  sentrySink,
  slackSink,
  sysdigSink,
  teamsSink,
  webhookSink,
];

export function findSink(name: string): Sink | undefined {
  return sinks.find((sink) => sink.name === name);
}

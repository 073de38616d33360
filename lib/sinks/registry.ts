import { consoleSink } from './console.ts';
import { ilertSink } from './ilert.ts';
import { pagerdutySink } from './pagerduty.ts';
import { sentrySink } from './sentry.ts';
import type { Sink } from './sink.ts';
import { slackSink } from './slack.ts';
import { sysdigSink } from './sysdig.ts';
import { webhookSink } from './webhook.ts';

/**
 * Every sink the relay knows: one line each. Ingest routes to these, the build makes one
 * Lambda, FIFO queue and DLQ per entry, and the local runtime one embedded queue per entry.
 */
export const sinks: readonly Sink[] = [
  consoleSink,
  ilertSink,
  pagerdutySink,
  sentrySink,
  slackSink,
  sysdigSink,
  webhookSink,
] as Sink[];

export function findSink(name: string): Sink | undefined {
  return sinks.find((sink) => sink.name === name);
}

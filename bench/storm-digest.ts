import { RetryableError } from '../lib/delivery/errors.ts';
import { DELIVERY_POLICY } from '../lib/delivery/policy.ts';
import { backfillMessage, type QueueMessage, shareMessage } from '../lib/queue/message.ts';
import { createSlackSink, type SlackDestination } from '../lib/sinks/slack/slack.ts';
import { SqliteStateStore } from '../lib/state/sqlite.ts';
import { type FakeSlack, startFakeSlack } from '../test/support/fake-slack.ts';
import { makeNotification } from '../test/support/notifications.ts';
import { captureLogger, slackDelivery } from '../test/support/slack-delivery.ts';
import { type BenchResult, result } from './measure.ts';

/**
 * Issue 15's storm, measured in Slack calls and virtual time: 1,000 distinct alert groups
 * within 60 s into one Slack channel (the fake Slack with its rate limits on), each delivered by
 * the real Slack sink over a node:sqlite state store. A small discrete-event loop stands in
 * for the queue: a delivery handed back with `retryAfterSeconds` (channel pacing, the storm's
 * flusher and watcher) comes back that much later on the virtual clock, so the figures do not
 * depend on the machine. Once with storm mode (the default), once with `storm.afterwards:
 * backfill` (after the calm every group still firing gets its own message: the loop takes the
 * backfill's requeued messages as the queue would), and once with `storm: false`, one message
 * per group, which is what the channel got before.
 */

const GROUPS = 1000;
const SPREAD_MS = 59_000;
const TOKEN = 'xoxb-bench-storm-digest';
const CHANNEL = 'C0BENCHSTRM';

interface Pending {
  at: number;
  index: number;
  receivedAt: string;
  failures: number;
  /** A backfill message the storm's end put back on the queue. */
  message?: QueueMessage;
}

type Mode = 'digest' | 'backfill' | 'per-group';

interface Outcome {
  calls: number;
  callsInFiveMinutes: number;
  /** Virtual seconds from the first notification until the channel shows every group. */
  fullCountSeconds: number;
  /** Virtual seconds from the first notification until every group has a message of its own. */
  ownMessageSeconds: number;
  /** The most posts of one virtual second. */
  busiestSecond: number;
  /** Deliveries that failed more often than the record handler allows: dead-lettered in production. */
  overAttempts: number;
}

function group(i: number) {
  const alertname = i % 2 === 0 ? 'NodeDown' : 'DiskFull';
  const n = makeNotification({ groupKey: `{}:{alertname="${alertname}", instance="host-${i}"}` });
  n.groupLabels = { alertname, instance: `host-${i}` };
  n.alerts = n.alerts.map((a) => ({ ...a, labels: { ...a.labels, alertname, instance: `host-${i}` } }));
  return n;
}

async function run(mode: Mode, slack: FakeSlack, clock: { now: number }): Promise<Outcome> {
  const storm = mode !== 'per-group';
  const t0 = clock.now;
  const state = new SqliteStateStore(':memory:', { now: () => clock.now });
  const sink = createSlackSink({ now: () => clock.now });
  const destination: SlackDestination = {
    name: 'bench-slack',
    sink: 'slack',
    tokenSecret: 'SLACK_TOKEN',
    channel: CHANNEL,
    baseUrl: slack.apiUrl,
    ...(mode === 'per-group' ? { storm: false as const } : {}),
    ...(mode === 'backfill' ? { storm: { afterwards: 'backfill' as const } } : {}),
  };
  const queue: Pending[] = Array.from({ length: GROUPS }, (_, index) => {
    const at = t0 + Math.floor((index * SPREAD_MS) / GROUPS);
    return { at, index, receivedAt: new Date(at).toISOString(), failures: 0 };
  });
  const before = slack.requests.length;
  const topBefore = slack.topLevel(CHANNEL).length;
  // The channel shows every group: the digest's count, or a message per group.
  const showsAll = () =>
    storm
      ? slack.topLevel(CHANNEL).some((m) => JSON.stringify(m.blocks).includes(`in ${GROUPS} groups`))
      : slack.topLevel(CHANNEL).length - topBefore >= GROUPS;
  // Every group has a message of its own (besides the digest).
  const ownAll = () => slack.topLevel(CHANNEL).length - topBefore >= GROUPS + (storm ? 1 : 0);
  let shownAt: number | undefined;
  let ownAt: number | undefined;
  const postsPerSecond = new Map<number, number>();
  let callsInFiveMinutes = 0;
  let overAttempts = 0;
  try {
    while (queue.length > 0) {
      queue.sort((a, b) => a.at - b.at || a.index - b.index);
      const next = queue.shift() as Pending;
      clock.now = Math.max(clock.now, next.at);
      if (clock.now < t0 + 300_000) callsInFiveMinutes = slack.requests.length - before;
      const topBeforeCall = slack.topLevel(CHANNEL).length;
      try {
        const delivery = slackDelivery(destination, next.message?.notification ?? group(next.index), {
          state,
          secrets: { SLACK_TOKEN: TOKEN },
          receivedAt: next.receivedAt,
          attempt: next.failures + 1,
          logger: captureLogger(),
        });
        await sink.deliver(
          { ...delivery, ...(next.message ? { idempotencyKey: next.message.idempotencyKey } : {}) },
          {
            ...(next.message?.backfill !== undefined ? { backfillOf: next.message.backfill } : {}),
            backfill: async (shares, stormId) => {
              for (const share of shares) {
                const message = backfillMessage(shareMessage(destination.name, 'slack', share), stormId);
                queue.push({
                  at: clock.now,
                  index: next.index,
                  receivedAt: message.receivedAt,
                  failures: 0,
                  message,
                });
              }
            },
          },
        );
      } catch (error) {
        if (!(error instanceof RetryableError)) throw error;
        next.failures++;
        if (next.failures === DELIVERY_POLICY.maxAttempts) overAttempts++;
        queue.push({ ...next, at: clock.now + (error.retryAfterSeconds ?? 5) * 1000 });
      }
      const posted = slack.topLevel(CHANNEL).length - topBeforeCall;
      if (posted > 0) {
        const second = Math.floor(clock.now / 1000);
        postsPerSecond.set(second, (postsPerSecond.get(second) ?? 0) + posted);
      }
      if (shownAt === undefined && showsAll()) shownAt = clock.now;
      if (ownAt === undefined && ownAll()) ownAt = clock.now;
    }
  } finally {
    state.close();
  }
  if (clock.now < t0 + 300_000) callsInFiveMinutes = slack.requests.length - before;
  return {
    calls: slack.requests.length - before,
    callsInFiveMinutes,
    fullCountSeconds: ((shownAt ?? Number.NaN) - t0) / 1000,
    ownMessageSeconds: ((ownAt ?? Number.NaN) - t0) / 1000,
    busiestSecond: Math.max(0, ...postsPerSecond.values()),
    overAttempts,
  };
}

export async function benchStormDigest(): Promise<BenchResult[]> {
  const clock = { now: Date.UTC(2026, 10, 21, 12) };
  const slack = await startFakeSlack({ token: TOKEN, channels: [CHANNEL], now: () => clock.now });
  try {
    const digest = await run('digest', slack, clock);
    if (Number.isNaN(digest.fullCountSeconds))
      throw new Error('the digest never showed every group of the storm');
    clock.now += 24 * 3600 * 1000;
    const backfill = await run('backfill', slack, clock);
    clock.now += 24 * 3600 * 1000;
    const perGroup = await run('per-group', slack, clock);
    const label = `storm of ${GROUPS.toLocaleString('en')} new groups in 60 s into one Slack channel`;
    return [
      result({
        name: `${label}: Slack calls (digest vs a message per group)`,
        value: digest.calls,
        unit: 'calls',
        baseline: perGroup.calls,
        target: '<= 30 in the first 5 min',
        met: digest.callsInFiveMinutes <= 30,
      }),
      result({
        name: `${label}: time until the channel shows every group (virtual clock)`,
        value: digest.fullCountSeconds,
        unit: 's',
        baseline: perGroup.fullCountSeconds,
        target: null,
        met: null,
      }),
      result({
        name: `${label}: deliveries that would be dead-lettered (over ${DELIVERY_POLICY.maxAttempts} attempts)`,
        value: digest.overAttempts,
        unit: 'deliveries',
        baseline: perGroup.overAttempts,
        target: '0',
        met: digest.overAttempts === 0,
      }),
      result({
        name: `${label}, afterwards: backfill: time until every group has a message of its own (virtual clock; vs a message per group)`,
        value: backfill.ownMessageSeconds,
        unit: 's',
        baseline: perGroup.ownMessageSeconds,
        target: `every group, none dead-lettered, <= 3 posts in any second (the channel's pace)`,
        met:
          !Number.isNaN(backfill.ownMessageSeconds) &&
          backfill.overAttempts === 0 &&
          backfill.busiestSecond <= 3,
      }),
      result({
        name: `${label}, afterwards: backfill: Slack calls (vs a message per group)`,
        value: backfill.calls,
        unit: 'calls',
        baseline: perGroup.calls,
        target: '<= 30 in the first 5 min',
        met: backfill.callsInFiveMinutes <= 30,
      }),
    ];
  } finally {
    await slack.close();
  }
}

if (import.meta.main) console.table(await benchStormDigest());

import { describe, expect, it, vi } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { DELIVERY_POLICY } from '../../../lib/delivery/policy.ts';
import {
  type FakeSlack,
  type FakeSlackMessage,
  type FakeSlackOptions,
  startFakeSlack,
} from '../../support/fake-slack.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';
import { drainSink, namesHost, postStorm, STORM_T0, useStormClock } from '../../support/storm.ts';

const SLACK_TOKEN = 'xoxb-waits-0000-slack';
const CHANNEL = 'C0WAITSCHN1';
const DESTINATION = 'waits-slack';

/**
 * Waiting is not failing, through the local runtime on the virtual clock (test/support/storm.ts):
 * Slack's 429s and the relay's own channel pacing are waits, which count no attempt and never
 * reach the queue's receive limit (a message handed back there is renewed), so neither a
 * rate-limited backfill nor a group that takes hundreds of paced posts loses anything to the DLQ.
 */
describe('Sink: slack waits through the local runtime', () => {
  const local = useLocalRelay('slack-waits');
  useStormClock();
  let slack: FakeSlack;

  async function start(
    slackOptions: Partial<FakeSlackOptions>,
    storm?: Record<string, unknown>,
  ): Promise<LocalRelay> {
    slack = local.own(
      await startFakeSlack({
        token: SLACK_TOKEN,
        channels: [CHANNEL],
        now: () => Date.now(),
        ...slackOptions,
      }),
    );
    return local.start({
      destinations: [
        {
          name: DESTINATION,
          sink: 'slack',
          tokenSecret: 'SLACK_BOT_TOKEN',
          channel: CHANNEL,
          baseUrl: slack.apiUrl,
          ...(storm ? { storm } : {}),
        },
      ],
      secrets: { SLACK_BOT_TOKEN: SLACK_TOKEN },
    });
  }

  /** Moves the virtual clock a second at a time, draining Slack's queue at each, until `done` (at most `limitMs`). */
  async function advanceUntil(relay: LocalRelay, done: () => boolean, limitMs: number): Promise<void> {
    const until = Date.now() + limitMs;
    await drainSink(relay, 'slack');
    while (!done() && Date.now() < until) {
      vi.setSystemTime(Date.now() + 1000);
      await drainSink(relay, 'slack');
    }
  }

  it('should backfill every folded group of a storm through a Slack whose Retry-After: 1 undersells its limit, dead-lettering none', async () => {
    // Prepare: storm mode from the 4th new group; a Slack stricter than the relay's pacing (a
    // burst of 1, then one message per 2 s) that answers each 429 with Retry-After: 1, so a
    // retry at the time it names often meets another 429. Before 429 was a wait, 5 of those in
    // a row (5 s) dead-lettered backfilled groups.
    const relay = await start(
      { burst: 1, intervalSeconds: 2, retryAfterSeconds: 1 },
      { threshold: 3, afterwards: 'backfill' },
    );
    const groups = 12;
    const textOf = (m: FakeSlackMessage) => `${m.text} ${JSON.stringify(m.blocks ?? [])}`;
    const groupMessages = () => slack.topLevel(CHANNEL).filter((m) => !textOf(m).includes('Alert storm'));
    const mentions = (i: number) => groupMessages().filter((m) => namesHost(i, textOf(m)));

    // Act: 12 new groups within a minute; the storm calms about 6 minutes later and is backfilled.
    await postStorm(relay, groups);
    const backfilled = groups - 3;
    await advanceUntil(
      relay,
      () =>
        relay.telemetry.get('GroupsBackfilled', DESTINATION) === backfilled &&
        relay.queue.nextVisibleAt('slack') === undefined,
      1_800_000,
    );

    // Assess: each group has exactly one message of its own (3 before the storm, 9 backfilled),
    // after 429s that cost no attempt; nothing was dead-lettered.
    expect(slack.rateLimited).toBeGreaterThan(0);
    expect(groupMessages()).toHaveLength(groups);
    for (let i = 0; i < groups; i++) expect(mentions(i), `group ${i}`).toHaveLength(1);
    expect(relay.telemetry.get('GroupsBackfilled', DESTINATION)).toBe(backfilled);
    expect(relay.telemetry.get('DeadLettered', DESTINATION)).toBe(0);
    expect(relay.deadLetters('slack')).toEqual([]);
    expect(relay.telemetry.get('Retried', DESTINATION)).toBe(0);
    expect(slack.violations).toEqual([]);
  });

  it('should deliver a 17,000-alert group in 3 queue parts at the channel pace, renewing what waits past the receive limit, dead-lettering nothing', async () => {
    // Prepare: the default Slack stand-in (a burst of 3, then one message a second). The group
    // needs about 200 posts, each paced: the parts wait, deferral after deferral, and parts 2 and
    // 3 are received behind part 1 and 2 at every turn, far more than the queue's 50 receives.
    // The alerts are kept small so that 17,000 fit ingest's 2.75 MiB body and 3 queue messages.
    const relay = await start({});
    const alerts = 17_000;
    const group = bigGroup(alerts);

    // Act
    expect((await relay.post(group)).status).toBe(202);
    const { visible, inFlight } = relay.queue.depth('slack');
    const parts = visible + inFlight;
    await advanceUntil(relay, () => relay.telemetry.get('Delivered', DESTINATION) === parts, 3_600_000);

    // Assess: all three parts delivered, every alert shown, the waits renewed, none dead-lettered.
    expect(parts).toBe(3);
    expect(relay.telemetry.get('Delivered', DESTINATION)).toBe(3);
    expect(relay.telemetry.get('DeadLettered', DESTINATION)).toBe(0);
    expect(relay.deadLetters('slack')).toEqual([]);
    expect(relay.telemetry.get('Retried', DESTINATION)).toBe(0);
    const shown = new Set<string>();
    for (const message of slack.messages)
      for (const [host] of JSON.stringify(message.blocks ?? []).matchAll(/\bh\d+\b/g)) shown.add(host);
    expect(shown.size).toBe(alerts);
    expect(slack.topLevel(CHANNEL)).toHaveLength(1);
    const renewals = relay.logs().filter((line) => line.includes('"message":"renewed:'));
    expect(renewals.length).toBeGreaterThan(0);
    expect(relay.queue.depth('slack')).toEqual({ visible: 0, inFlight: 0 });
    // It took far less than the wait budget.
    expect(Date.now() - STORM_T0).toBeLessThan(DELIVERY_POLICY.waitBudgetSeconds * 1000);
  });
});

/** One firing group of `count` small alerts (one short label each, no annotations). */
function bigGroup(count: number): Notification {
  const notification = makeNotification({ groupKey: '{}:{alertname="Lat"}' });
  notification.groupLabels = { alertname: 'Lat' };
  notification.commonLabels = { alertname: 'Lat' };
  notification.alerts = Array.from({ length: count }, (_, i) => ({
    status: 'firing',
    labels: { host: `h${i}` },
    annotations: {},
    startsAt: '2026-11-21T11:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: '',
    fingerprint: i.toString(16).padStart(4, '0'),
  }));
  return notification;
}

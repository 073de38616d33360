import { beforeEach, describe, expect, it } from 'vitest';
import { type FakeSlack, type FakeSlackMessage, startFakeSlack } from '../../support/fake-slack.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import {
  advanceClock,
  drainSink,
  namesHost,
  postStorm,
  resolvedGroup,
  STORM_T0,
  stormGroup,
  useStormClock,
} from '../../support/storm.ts';

const SLACK_TOKEN = 'xoxb-storm-0000-slack';
const CHANNEL = 'C0STORMCHN1';
const T0 = STORM_T0;
const GROUPS = 1000;

const textOf = (message: FakeSlackMessage) => JSON.stringify(message.blocks ?? []);

/**
 * Issue 15's storm through the local runtime on a virtual clock: Date is faked (only Date:
 * timers stay real, so the workers and HTTP run as usual), and every part of the relay (the
 * queue's visibility, the state store's TTLs, the sink's pacing and storm windows) and the fake
 * Slack's rate limit read it. Time moves only when the test moves it.
 */
describe.each([
  { limits: 'without', burst: 1_000_000 },
  { limits: 'with', burst: 3 },
])('Sink: slack storm digest through the local runtime ($limits the fake rate limits)', ({ burst }) => {
  const local = useLocalRelay('slack-storm');
  useStormClock();
  let slack: FakeSlack;

  beforeEach(async () => {
    slack = local.own(
      await startFakeSlack({ token: SLACK_TOKEN, channels: [CHANNEL], burst, now: () => Date.now() }),
    );
  });

  function start(storm?: Record<string, unknown>): Promise<LocalRelay> {
    return local.start({
      destinations: [
        {
          name: 'storm-slack',
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

  const drain = (relay: LocalRelay) => drainSink(relay, 'slack');
  const advance = (relay: LocalRelay, until: number) => advanceClock(relay, 'slack', until);

  it('should fold 1,000 new groups into one digest within 30 calls, count them all, and give a later group its own message', async () => {
    // Prepare
    const relay = await start();

    // Act: 1,000 distinct groups within 60 s.
    await postStorm(relay, GROUPS);
    await drain(relay);
    await advance(relay, T0 + 300_000);
    const callsInFiveMinutes = slack.requests.length;
    await advance(relay, T0 + 480_000);
    const topBefore = slack.topLevel(CHANNEL).length;
    await relay.post(stormGroup(GROUPS));
    await drain(relay);

    // Assess
    expect(callsInFiveMinutes).toBeLessThanOrEqual(30);
    expect(relay.telemetry.get('DeadLettered', 'storm-slack')).toBe(0);
    const digests = slack.topLevel(CHANNEL).filter((m) => textOf(m).includes('Alert storm'));
    expect(digests).toHaveLength(1);
    const [digest] = digests;
    expect(textOf(digest)).toContain(`${GROUPS} firing, 0 resolved alerts in ${GROUPS} groups`);
    expect(textOf(digest)).toContain('*NodeDown* (critical): 500 firing, 0 resolved');
    expect(textOf(digest)).toContain('*DiskFull* (warning): 500 firing, 0 resolved');
    expect(textOf(digest)).toContain('Alert storm over');
    // While the storm lasted the digest showed it as live, and it was edited, not reposted.
    expect(digest.edits.some((e) => JSON.stringify(e.blocks).includes(':rotating_light:'))).toBe(true);
    const top = slack.topLevel(CHANNEL);
    expect(top).toHaveLength(topBefore + 1);
    expect(top[top.length - 1].text).toContain('NodeDown');
    expect(relay.telemetry.get('StormStarted', 'storm-slack')).toBe(1);
    expect(relay.telemetry.get('GroupsFolded', 'storm-slack')).toBeGreaterThanOrEqual(GROUPS - 11);
    expect(slack.violations).toEqual([]);
  });

  it('should give each folded group still firing its own message after the storm, at the channel pace (afterwards: backfill)', async () => {
    // Prepare
    const relay = await start({ afterwards: 'backfill' });
    const count = 200;
    const resolvedDuringStorm = Array.from({ length: 10 }, (_, k) => 20 + k);
    const mentions = (i: number) =>
      slack.topLevel(CHANNEL).filter((m) => namesHost(i, `${m.text} ${JSON.stringify(m.blocks ?? [])}`));

    // Act: 200 groups within 60 s, 10 of the folded ones resolve during the storm; then the
    // storm calms and is backfilled; later group 40 (backfilled) sends its next notification.
    await postStorm(relay, count);
    for (const i of resolvedDuringStorm) expect((await relay.post(resolvedGroup(i))).status).toBe(202);
    await drain(relay);
    const topInStorm = slack.topLevel(CHANNEL).length;
    await advance(relay, T0 + 900_000);
    const topAfter = slack.topLevel(CHANNEL);
    await relay.post(resolvedGroup(40));
    await drain(relay);

    // Assess: 10 groups had their own message before the storm, 1 digest, then the 180 folded
    // groups still firing, each once; the 10 resolved ones none.
    const backfilled = topAfter.slice(topInStorm);
    expect(topInStorm).toBe(11);
    expect(backfilled).toHaveLength(count - 10 - resolvedDuringStorm.length);
    for (let i = 10; i < count; i++)
      expect(mentions(i)).toHaveLength(resolvedDuringStorm.includes(i) ? 0 : 1);
    expect(relay.telemetry.get('GroupsBackfilled', 'storm-slack')).toBe(backfilled.length);
    expect(relay.telemetry.get('DeadLettered', 'storm-slack')).toBe(0);
    // At the channel's pace: a burst of 3, then about one a second.
    const seconds = Number(backfilled[backfilled.length - 1].ts) - Number(backfilled[0].ts);
    expect(seconds).toBeGreaterThanOrEqual(backfilled.length - 3);
    const [digest] = slack.topLevel(CHANNEL).filter((m) => textOf(m).includes('Alert storm'));
    expect(textOf(digest)).toContain('Each group still firing gets its own message now');
    // Group 40's resolve edited the message the backfill posted.
    expect(slack.topLevel(CHANNEL)).toHaveLength(topAfter.length);
    expect(mentions(40)[0].edits.length).toBeGreaterThan(0);
    expect(slack.violations).toEqual([]);
  });
});

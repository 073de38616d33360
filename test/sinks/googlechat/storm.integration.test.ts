import { beforeEach, describe, expect, it } from 'vitest';
import { groupThreadKey } from '../../../lib/sinks/googlechat/message.ts';
import {
  type FakeChatMessage,
  type FakeGoogleChat,
  startFakeGoogleChat,
} from '../../support/fake-googlechat.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import {
  BACKFILL_STORM,
  backfilledMessages,
  namesHost,
  runBackfillStorm,
  runDigestStorm,
  STORM_T0,
  stormGroup,
  useStormClock,
} from '../../support/storm.ts';

const WEBHOOK = {
  space: 'AAAAstorm01',
  key: 'AIzaSyStormKey0000000000000000000000000',
  token: 'stormToken0123456789abcdef',
};
const _T0 = STORM_T0;
const GROUPS = 120;

const isDigest = (m: FakeChatMessage) => /^(🚨|✅) \*Alert storm/.test(m.text ?? '');
const shown = (m: FakeChatMessage) => m.text ?? '';

/**
 * Issue 15's storm mode on Google Chat, through the local runtime on a virtual clock (only Date
 * is faked). A webhook cannot edit a message, so the digest is a new message in the storm's own
 * thread at most every digest interval, and the last one is the final summary.
 */
describe('Sink: googlechat storm digest through the local runtime', () => {
  const local = useLocalRelay('gchat-storm');
  useStormClock();
  let chat: FakeGoogleChat;

  beforeEach(async () => {
    chat = local.own(await startFakeGoogleChat({ webhooks: [WEBHOOK], now: () => Date.now() }));
  });

  function start(storm?: Record<string, unknown>): Promise<LocalRelay> {
    return local.start({
      destinations: [
        {
          name: 'storm-chat',
          sink: 'googlechat',
          webhookUrlSecret: 'GCHAT_WEBHOOK_URL',
          ...(storm ? { storm } : {}),
        },
      ],
      secrets: { GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK) },
    });
  }

  it('should fold 120 new groups into digest messages of one thread at most every 10 s, count them all, end with a final summary, and give a later group its own thread', async () => {
    // Prepare
    const relay = await start();

    // Act: 120 distinct groups within 60 s, then a resolve of a group that had its own thread.
    const { callsDuringStorm, before } = await runDigestStorm(relay, 'googlechat', GROUPS, {
      calls: () => chat.requests.length,
      before: () => chat.messages.length,
    });

    // Assess
    expect(relay.telemetry.get('DeadLettered', 'storm-chat')).toBe(0);
    expect(chat.requests.filter((q) => q.outcome !== 200)).toEqual([]);
    expect(callsDuringStorm).toBeLessThan(GROUPS / 3);
    const digests = chat.messages.filter(isDigest);
    expect(digests.length).toBeGreaterThanOrEqual(2);
    // Every digest message is in one thread of the storm's own.
    expect(new Set(digests.map((d) => d.thread)).size).toBe(1);
    expect(chat.thread(digests[0].thread)).toEqual(digests);
    expect(shown(digests[0])).toContain('🚨 *Alert storm:');
    const last = digests[digests.length - 1];
    expect(shown(last)).toContain('✅ *Alert storm over');
    expect(shown(last)).toContain(`${GROUPS - 1} firing, 1 resolved alerts in ${GROUPS} groups`);
    expect(shown(last)).toContain(`*NodeDown* (critical): ${GROUPS / 2 - 1} firing, 1 resolved`);
    expect(shown(last)).toContain(`*DiskFull* (warning): ${GROUPS / 2} firing, 0 resolved`);
    // Digest messages are at least the digest interval apart, and none repeats a state.
    const gaps = digests.slice(1).map((d, i) => d.postedAt - digests[i].postedAt);
    expect(gaps.filter((gap) => gap < 10_000)).toEqual([]);
    expect(new Set(digests.map(shown)).size).toBe(digests.length);
    // The groups that started the storm kept their own threads; the first one got its resolve.
    const own = chat.messages.slice(0, before).filter((m) => !isDigest(m));
    expect(own).toHaveLength(11);
    expect(new Set(own.map((m) => m.thread)).size).toBe(10);
    expect(own[10].threadKey).toBe(groupThreadKey('storm-chat', stormGroup(0).groupKey));
    expect(own[10].text).toContain('RESOLVED');
    expect(chat.messages).toHaveLength(before + 1);
    expect(shown(chat.messages[before])).toContain(`host-${GROUPS}`);
    expect(relay.telemetry.get('StormStarted', 'storm-chat')).toBe(1);
    expect(relay.telemetry.get('GroupsFolded', 'storm-chat')).toBe(GROUPS - 10);
  });

  it('should give each folded group still firing its own thread after the storm, at the space pace, and none to the groups resolved during it (afterwards: backfill)', async () => {
    // Prepare
    const relay = await start({ afterwards: 'backfill' });
    const { count, ownBeforeStorm } = BACKFILL_STORM;
    const about = (i: number, messages: readonly FakeChatMessage[]) =>
      messages.filter((m) => !isDigest(m) && namesHost(i, shown(m)));

    // Act: the backfill storm; after the calm the backfill goes out at the space's pace.
    const inStorm = await runBackfillStorm(relay, 'googlechat', () => chat.messages.length);

    // Assess: 10 groups had their own thread before the storm; after the storm the 45 folded
    // groups still firing got one message each, starting a thread of the group's own; the 5
    // resolved ones none.
    const before = chat.messages.slice(0, inStorm);
    const after = chat.messages.slice(inStorm);
    const backfilled = after.filter((m) => !isDigest(m));
    expect(before.filter((m) => !isDigest(m))).toHaveLength(ownBeforeStorm);
    expect(backfilled).toHaveLength(BACKFILL_STORM.backfilled);
    for (let i = 0; i < count; i++) {
      const messages = about(i, after);
      expect(messages, `messages of host-${i} after the storm`).toHaveLength(backfilledMessages(i));
      if (messages.length === 0) continue;
      const [message] = messages;
      expect(message.threadKey).toBe(groupThreadKey('storm-chat', stormGroup(i).groupKey));
      expect(chat.thread(message.thread)).toEqual([message]);
      expect(shown(message)).toContain('FIRING');
    }
    // The groups that had their own thread kept it, and got nothing extra.
    for (let i = 0; i < ownBeforeStorm; i++)
      expect(about(i, chat.messages), `messages of host-${i}`).toHaveLength(1);
    // The final summary came before the backfilled messages and says they come.
    const digests = chat.messages.filter(isDigest);
    const last = digests[digests.length - 1];
    expect(shown(last)).toContain('✅ *Alert storm over');
    expect(shown(last)).toContain('Each group still firing gets its own thread now.');
    expect(shown(last)).toContain(BACKFILL_STORM.totals);
    expect(chat.messages.indexOf(last)).toBeLessThan(chat.messages.indexOf(backfilled[0]));
    // At the space's pace: at most one write a second, and Chat never had to refuse one for its quota.
    const gaps = backfilled.slice(1).map((m, k) => m.postedAt - backfilled[k].postedAt);
    expect(gaps.filter((gap) => gap < 1000)).toEqual([]);
    expect(chat.requests.filter((q) => q.outcome !== 200)).toEqual([]);
    expect(relay.telemetry.get('GroupsFolded', 'storm-chat')).toBe(count - ownBeforeStorm);
    expect(relay.telemetry.get('GroupsBackfilled', 'storm-chat')).toBe(BACKFILL_STORM.backfilled);
    expect(relay.telemetry.get('DeadLettered', 'storm-chat')).toBe(0);
  });
});

import { beforeEach, describe, expect, it } from 'vitest';
import { type FakeDiscord, type FakeDiscordMessage, startFakeDiscord } from '../../support/fake-discord.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import {
  BACKFILL_STORM,
  backfilledMessages,
  namesHost,
  runBackfillStorm,
  runDigestStorm,
  STORM_T0,
  useStormClock,
} from '../../support/storm.ts';

const WEBHOOK = { id: '1234567890123456789', token: 'dscStormToken-0a9b8c7d' };
const _T0 = STORM_T0;
const GROUPS = 120;

/** Discord's red of a firing group (lib/sinks/discord/embeds.ts DISCORD_COLORS.firing). */
const FIRING_COLOR = 0x992d22;

const isDigest = (m: FakeDiscordMessage) => (m.embeds[0]?.title ?? '').startsWith('Alert storm');
const shown = (m: { embeds: FakeDiscordMessage['embeds'] }) => JSON.stringify(m.embeds);

/**
 * Issue 15's storm mode on Discord, through the local runtime on a virtual clock (only Date is
 * faked: the workers and HTTP run as usual, and the queue, the state store and the storm's
 * windows read it). Time moves only when the test moves it.
 */
describe.each([
  { limits: 'without', rateLimit: undefined },
  // What Discord's X-RateLimit headers report for a webhook: 5 calls per 2 s.
  { limits: 'with', rateLimit: { limit: 5, windowMs: 2000 } },
])('Sink: discord storm digest through the local runtime ($limits the fake rate limits)', ({ rateLimit }) => {
  const local = useLocalRelay('discord-storm');
  useStormClock();
  let discord: FakeDiscord;

  beforeEach(async () => {
    discord = local.own(
      await startFakeDiscord({
        webhooks: [WEBHOOK],
        now: () => Date.now(),
        ...(rateLimit ? { rateLimit } : {}),
      }),
    );
  });

  function start(storm?: Record<string, unknown>): Promise<LocalRelay> {
    return local.start({
      destinations: [
        {
          name: 'storm-discord',
          sink: 'discord',
          webhookUrlSecret: 'DISCORD_WEBHOOK_URL',
          ...(storm ? { storm } : {}),
        },
      ],
      secrets: { DISCORD_WEBHOOK_URL: discord.webhookUrl(WEBHOOK) },
    });
  }

  it('should fold 120 new groups into one edited digest message, count them all, and give a later group its own message', async () => {
    // Prepare
    const relay = await start();

    // Act: 120 distinct groups within 60 s, then an update of a group that had its own message.
    const { callsDuringStorm, before } = await runDigestStorm(relay, 'discord', GROUPS, {
      calls: () => discord.requests.length,
      before: () => discord.visible().length,
    });

    // Assess
    expect(relay.telemetry.get('DeadLettered', 'storm-discord')).toBe(0);
    expect(callsDuringStorm).toBeLessThan(GROUPS / 3);
    const digests = discord.visible().filter(isDigest);
    expect(digests).toHaveLength(1);
    const [digest] = digests;
    expect(digest.embeds[0].title).toBe('Alert storm over');
    expect(digest.embeds[0].footer?.text).toBe(`${GROUPS - 1} firing, 1 resolved alerts in ${GROUPS} groups`);
    expect(shown(digest)).toContain(`**NodeDown** (critical): ${GROUPS / 2 - 1} firing, 1 resolved`);
    expect(shown(digest)).toContain(`**DiskFull** (warning): ${GROUPS / 2} firing, 0 resolved`);
    // While the storm lasted the digest was edited in place, showing it live.
    expect(digest.edits.some((e) => shown(e).includes('"title":"Alert storm"'))).toBe(true);
    // The groups that started the storm kept their own messages; the first one was edited to resolved.
    const own = discord.messages.filter((m) => !isDigest(m));
    expect(own).toHaveLength(11);
    expect(own[0].edits).toHaveLength(1);
    expect(discord.visible()).toHaveLength(before + 1);
    expect(shown(discord.visible()[before])).toContain(`host-${GROUPS}`);
    expect(relay.telemetry.get('StormStarted', 'storm-discord')).toBe(1);
    expect(relay.telemetry.get('GroupsFolded', 'storm-discord')).toBe(GROUPS - 10);
  });

  it('should give each folded group still firing its own message after the storm, and none to the groups resolved during it (afterwards: backfill)', async () => {
    // Prepare
    const relay = await start({ afterwards: 'backfill' });
    const { count, ownBeforeStorm } = BACKFILL_STORM;
    const about = (i: number, messages: FakeDiscordMessage[]) =>
      messages.filter((m) => !isDigest(m) && namesHost(i, `${m.content} ${shown(m)}`));

    // Act: the backfill storm; after the calm the backfill goes out at the webhook's pace (the
    // sink's own: a burst of 5, then one call every 2 s).
    const inStorm = await runBackfillStorm(relay, 'discord', () => discord.messages.length);

    // Assess: 10 groups had their own message before the storm, then 1 digest; after the storm
    // the 45 folded groups still firing got one message each, the 5 resolved ones none.
    const before = discord.messages.slice(0, inStorm);
    const after = discord.messages.slice(inStorm);
    expect(before.filter((m) => !isDigest(m))).toHaveLength(ownBeforeStorm);
    expect(before.filter(isDigest)).toHaveLength(1);
    expect(after).toHaveLength(BACKFILL_STORM.backfilled);
    for (let i = 0; i < count; i++)
      expect(about(i, after), `messages of host-${i} after the storm`).toHaveLength(backfilledMessages(i));
    // The groups that had their own message kept it, untouched, and got nothing extra.
    for (let i = 0; i < ownBeforeStorm; i++) {
      const own = about(i, discord.messages);
      expect(own, `messages of host-${i}`).toHaveLength(1);
      expect(own[0].edits).toEqual([]);
    }
    // Each backfilled message is the group's firing message, posted once and not edited since.
    for (const message of after) {
      expect(message.deleted).toBe(false);
      expect(message.edits).toEqual([]);
      expect(message.embeds[0].color).toBe(FIRING_COLOR);
    }
    const [digest] = discord.messages.filter(isDigest);
    expect(digest.embeds[0].title).toBe('Alert storm over');
    expect(digest.embeds[0].description).toContain('Each group still firing gets its own message now.');
    expect(digest.embeds[0].footer?.text).toBe(BACKFILL_STORM.totals);
    expect(relay.telemetry.get('GroupsFolded', 'storm-discord')).toBe(count - ownBeforeStorm);
    expect(relay.telemetry.get('GroupsBackfilled', 'storm-discord')).toBe(BACKFILL_STORM.backfilled);
    expect(relay.telemetry.get('DeadLettered', 'storm-discord')).toBe(0);
    expect(relay.telemetry.get('Retried', 'storm-discord')).toBe(0);
    // Discord refused nothing: every call was a valid 200 or 204, under its rate limit too.
    expect(discord.requests.filter((q) => q.outcome !== 200 && q.outcome !== 204)).toEqual([]);
  });
});

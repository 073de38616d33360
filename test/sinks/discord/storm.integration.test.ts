import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FakeDiscord, type FakeDiscordMessage, startFakeDiscord } from '../../support/fake-discord.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import { advanceClock, drainSink, postStorm, STORM_T0, stormGroup } from '../../support/storm.ts';

const WEBHOOK = { id: '1234567890123456789', token: 'dscStormToken-0a9b8c7d' };
const T0 = STORM_T0;
const GROUPS = 120;

const isDigest = (m: FakeDiscordMessage) => (m.embeds[0]?.title ?? '').startsWith('Alert storm');
const shown = (m: { embeds: FakeDiscordMessage['embeds'] }) => JSON.stringify(m.embeds);

/**
 * Issue 15's storm mode on Discord, through the local runtime on a virtual clock (only Date is
 * faked: the workers and HTTP run as usual, and the queue, the state store and the storm's
 * windows read it). Time moves only when the test moves it.
 */
describe('Sink: discord storm digest through the local runtime', () => {
  const local = useLocalRelay('discord-storm');
  let discord: FakeDiscord;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    discord = local.own(await startFakeDiscord({ webhooks: [WEBHOOK], now: () => Date.now() }));
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function start(): Promise<LocalRelay> {
    return local.start({
      destinations: [{ name: 'storm-discord', sink: 'discord', webhookUrlSecret: 'DISCORD_WEBHOOK_URL' }],
      secrets: { DISCORD_WEBHOOK_URL: discord.webhookUrl(WEBHOOK) },
    });
  }

  const drain = (relay: LocalRelay) => drainSink(relay, 'discord');
  const advance = (relay: LocalRelay, until: number) => advanceClock(relay, 'discord', until);

  it('should fold 120 new groups into one edited digest message, count them all, and give a later group its own message', async () => {
    // Prepare
    const relay = await start();

    // Act: 120 distinct groups within 60 s, then an update of a group that had its own message.
    await postStorm(relay, GROUPS);
    const resolvedFirst = stormGroup(0);
    resolvedFirst.status = 'resolved';
    resolvedFirst.alerts = resolvedFirst.alerts.map((a) => ({ ...a, status: 'resolved' }));
    await relay.post(resolvedFirst);
    await drain(relay);
    await advance(relay, T0 + 480_000);
    const callsDuringStorm = discord.requests.length;
    const before = discord.visible().length;
    await relay.post(stormGroup(GROUPS));
    await drain(relay);

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
});

import { beforeEach, describe, expect, it } from 'vitest';
import { DISCORD_COLORS } from '../../../lib/sinks/discord/embeds.ts';
import { type FakeDiscord, startFakeDiscord } from '../../support/fake-discord.ts';
import { useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';

const TOKEN = 'ingest-token-discord-7c1d';
const WEBHOOK = { id: '1234567890123456789', token: 'dscIntegrationToken-0a9b8c7d' };

describe('Local runtime: POST /alertmanager -> discord sink -> fake Discord', () => {
  const local = useLocalRelay('discord');
  let discord: FakeDiscord;

  beforeEach(async () => {
    discord = local.own(await startFakeDiscord({ webhooks: [WEBHOOK] }));
  });

  function start(webhookUrl = discord.webhookUrl(WEBHOOK)) {
    return local.start({
      token: TOKEN,
      destinations: [{ name: 'ops-discord', sink: 'discord', webhookUrlSecret: 'DISCORD_WEBHOOK_URL' }],
      secrets: { DISCORD_WEBHOOK_URL: webhookUrl },
    });
  }

  it('should create one message for a firing group and edit it to resolved (green)', async () => {
    // Prepare
    const r = await start();

    // Act
    await r.post(makeNotification({ count: 2 }));
    await r.until(() => r.telemetry.get('Delivered', 'ops-discord') === 1);
    await r.post(makeNotification({ count: 2, status: 'resolved' }));
    await r.until(() => r.telemetry.get('Delivered', 'ops-discord') === 2);

    // Assess
    expect(discord.requests.map((r) => `${r.method} ${r.outcome}`)).toEqual(['POST 200', 'PATCH 200']);
    expect(discord.visible()).toHaveLength(1);
    expect(discord.visible()[0].edits[0].embeds[0].color).toBe(DISCORD_COLORS.firing);
    expect(discord.visible()[0].embeds[0].color).toBe(DISCORD_COLORS.resolved);
  });

  it('should put a notification for a deleted webhook in the DLQ with the reason', async () => {
    // Prepare
    const r = await start(discord.webhookUrl({ id: '999999999999999999', token: WEBHOOK.token }));

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.deadLetters('discord').length === 1);

    // Assess
    const [dead] = r.deadLetters('discord');
    expect(JSON.stringify(dead)).toContain('answered 404 Not Found');
    expect(JSON.stringify(dead)).not.toContain(WEBHOOK.token);
  });
});

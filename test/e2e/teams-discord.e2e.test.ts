import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { DISCORD_COLORS } from '../../lib/sinks/discord/embeds.ts';
import { type FakeDiscord, startFakeDiscord } from '../support/fake-discord.ts';
import { type FakeTeams, startFakeTeams } from '../support/fake-teams.ts';
import { postAlerts, resolveAlerts } from './support/alerts.ts';
import { useE2EStack } from './support/stack.ts';

/**
 * Teams and Discord end to end: the real Alertmanager posts a group's firing and resolved
 * notifications to the relay (`node lib/local/main.ts`), which delivers to a fake Teams
 * workflow and a fake Discord webhook: Teams shows two cards (firing, then resolved), Discord
 * one message, edited from red to green.
 */

const ingestToken = `e2e-${randomUUID()}`;
const WORKFLOW = 'e2e0a1b2c3d4e5f60718293a4b5c6d7e';
const SIG = `e2eSig${randomUUID().replaceAll('-', '')}`;
const WEBHOOK = { id: '1234567890123456789', token: `e2eToken${randomUUID().replaceAll('-', '')}` };
const ALERT = 'RelayE2EChat';

const stack = useE2EStack('teams-discord');
let teams: FakeTeams;
let discord: FakeDiscord;
let alertmanagerUrl: string;

// The bound only turns a hang into a failure that lists what did arrive.
const WAIT = { timeoutMs: 60_000 };

beforeAll(async () => {
  teams = stack.own(await startFakeTeams({ workflowId: WORKFLOW, sig: SIG }));
  discord = stack.own(await startFakeDiscord({ webhooks: [WEBHOOK] }));
  const relay = await stack.startRelay({
    config: {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [
        { name: 'ops-teams', sink: 'teams', webhookUrlSecret: 'TEAMS_WEBHOOK_URL' },
        { name: 'ops-discord', sink: 'discord', webhookUrlSecret: 'DISCORD_WEBHOOK_URL' },
      ],
    },
    env: {
      INGEST_TOKEN: ingestToken,
      TEAMS_WEBHOOK_URL: teams.workflowUrl,
      DISCORD_WEBHOOK_URL: discord.webhookUrl(WEBHOOK),
    },
  });
  const alertmanager = await stack.startAlertmanager({
    webhooks: [{ url: `${relay.url}/alertmanager`, bearerToken: ingestToken }],
  });
  alertmanagerUrl = alertmanager.url;
});

describe('Alertmanager -> relay -> Teams and Discord', () => {
  test('a group that fires and resolves is two Teams cards and one Discord message edited to green', async () => {
    // Prepare
    const alerts = await postAlerts(alertmanagerUrl, [
      {
        labels: { alertname: ALERT, severity: 'critical', instance: 'e2e-a' },
        annotations: { summary: 'chat e2e', runbook_url: 'https://runbooks.example/chat' },
        generatorURL: 'http://prometheus.example:9090/graph?g0.expr=up%3D%3D0',
      },
    ]);

    // Act: firing
    await teams.waitFor(() => teams.cards.length === 1, WAIT);
    await discord.waitFor(() => discord.visible().length === 1, WAIT);

    // Assess: firing
    expect(teams.cards[0].texts[0]).toContain(`FIRING:1\\] ${ALERT}`);
    expect(teams.cards[0].buttons.map((b) => b.title)).toEqual(['Graph', 'Runbook', 'Silence']);
    expect(discord.visible()[0].embeds[0].color).toBe(DISCORD_COLORS.firing);

    // Act: resolved
    await resolveAlerts(alertmanagerUrl, alerts);
    await teams.waitFor(() => teams.cards.length === 2, WAIT);
    await discord.waitFor(() => discord.visible()[0]?.embeds[0].color === DISCORD_COLORS.resolved, WAIT);

    // Assess: resolved, nothing refused, no run failed, one Discord message
    expect(teams.cards[1].texts[0]).toContain(`RESOLVED\\] ${ALERT}`);
    expect(teams.failedRuns).toEqual([]);
    expect(teams.requests.map((r) => r.outcome)).toEqual([202, 202]);
    expect(discord.messages).toHaveLength(1);
    expect(discord.requests.map((r) => `${r.method} ${r.outcome}`)).toEqual(['POST 200', 'PATCH 200']);
    expect(discord.messages[0].allowedMentions).toEqual({ parse: [] });
  });
});

import { beforeEach, describe, expect, it } from 'vitest';
import { type FakeTeams, startFakeTeams } from '../../support/fake-teams.ts';
import { useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';

const TOKEN = 'ingest-token-teams-3e8a';
const WORKFLOW = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const SIG = 'teamsIntegrationSig-5d4c3b2a1';

describe('Local runtime: POST /alertmanager -> teams sink -> fake Teams workflow', () => {
  const local = useLocalRelay('teams');
  let teams: FakeTeams;

  beforeEach(async () => {
    teams = local.own(await startFakeTeams({ workflowId: WORKFLOW, sig: SIG }));
  });

  function start(webhookUrl = teams.workflowUrl) {
    return local.start({
      token: TOKEN,
      destinations: [{ name: 'ops-teams', sink: 'teams', webhookUrlSecret: 'TEAMS_WEBHOOK_URL' }],
      secrets: { TEAMS_WEBHOOK_URL: webhookUrl },
    });
  }

  it('should post a firing card and then a resolved card for one group', async () => {
    // Prepare
    const r = await start();

    // Act
    await r.post(makeNotification({ count: 2 }));
    await r.until(() => r.telemetry.get('Delivered', 'ops-teams') === 1);
    await r.post(makeNotification({ count: 2, status: 'resolved' }));
    await r.until(() => r.telemetry.get('Delivered', 'ops-teams') === 2);

    // Assess
    expect(teams.failedRuns).toEqual([]);
    expect(teams.cards.map((c) => (c.card as { body: { style: string }[] }).body[0].style)).toEqual([
      'attention',
      'good',
    ]);
    expect(teams.cards[0].texts[0]).toContain('FIRING:2');
    expect(teams.cards[1].texts[0]).toContain('RESOLVED');
  });

  it('should put a notification for a wrong signature in the DLQ with the reason, not the signature', async () => {
    // Prepare
    const r = await start(teams.workflowUrl.replace(SIG, 'staleSignature999'));

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.deadLetters('teams').length === 1);

    // Assess
    const text = JSON.stringify(r.deadLetters('teams')[0]);
    expect(text).toContain('answered 401 Unauthorized');
    expect(text).not.toContain('staleSignature999');
  });
});

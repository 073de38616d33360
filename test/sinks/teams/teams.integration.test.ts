import { beforeEach, describe, expect, it } from 'vitest';
import { markdown } from '../../../lib/format/markdown.ts';
import { TEAMS_MESSAGE_LIMIT_BYTES } from '../../../lib/sinks/teams/limits.ts';
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

  it('should carry a group with 60 labels of 300 characters and one of 300 alerts whole, in cards within the limit', async () => {
    // Prepare: every alert carries the long labels, as Alertmanager sends the labels they share.
    const r = await start();
    const labels: Record<string, string> = { alertname: 'HighLatency' };
    for (let i = 0; i < 60; i++) labels[`label_${String(i).padStart(2, '0')}`] = `${i}-`.padEnd(300, 'v.');
    const wide = makeNotification({ count: 3, labels: () => labels });
    wide.commonLabels = labels;
    const many = makeNotification({
      count: 300,
      groupKey: '{}:{alertname="DiskFull"}',
      labels: () => ({ alertname: 'DiskFull' }),
    });
    many.commonLabels = { alertname: 'DiskFull', severity: 'critical' };

    // Act
    await r.post(wide);
    await r.until(() => r.telemetry.get('Delivered', 'ops-teams') === 1);
    const wideCards = teams.cards.length;
    await r.post(many);
    await r.until(() => r.telemetry.get('Delivered', 'ops-teams') === 2);

    // Assess
    expect(teams.failedRuns).toEqual([]);
    expect(wideCards).toBeGreaterThan(1);
    expect(teams.cards.length).toBeGreaterThan(wideCards + 1);
    for (const card of teams.cards) expect(card.messageBytes).toBeLessThanOrEqual(TEAMS_MESSAGE_LIMIT_BYTES);
    const wideTexts = teams.cards.slice(0, wideCards).flatMap((c) => c.texts);
    for (const [name, value] of Object.entries(labels))
      expect(wideTexts).toContain(`${markdown(name)}: ${markdown(value)}`);
    expect(wideTexts.filter((t) => t.startsWith('🔴'))).toHaveLength(3);
    const lines = teams.cards.slice(wideCards).flatMap((c) => c.texts.filter((t) => t.startsWith('🔴')));
    expect(lines).toHaveLength(300);
    expect(new Set(lines).size).toBe(300);
    expect(teams.cards[wideCards].texts[0]).toContain('FIRING:300');
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

import { beforeEach, describe, expect, it } from 'vitest';
import { type FakeTeams, type FakeTeamsCard, startFakeTeams } from '../../support/fake-teams.ts';
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

const WORKFLOW = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const SIG = 'teamsStormSig-5d4c3b2a1';
const _T0 = STORM_T0;
const GROUPS = 120;

const isDigest = (c: FakeTeamsCard) => c.texts[0]?.includes('Alert storm') ?? false;
const shown = (c: FakeTeamsCard) => c.texts.join('\n');

/**
 * Issue 15's storm mode on Teams, through the local runtime on a virtual clock (only Date is
 * faked). A workflow cannot edit a card, so the digest is a new card at most every digest
 * interval, and the last one is the final summary.
 */
describe.each([
  { limits: 'without', rateLimit: undefined },
  // The 4 a second Teams connectors allowed (a workflow's own throttling depends on its licence).
  { limits: 'with', rateLimit: { limit: 4, windowMs: 1000 } },
])('Sink: teams storm digest through the local runtime ($limits the fake rate limits)', ({ rateLimit }) => {
  const local = useLocalRelay('teams-storm');
  useStormClock();
  let teams: FakeTeams;

  beforeEach(async () => {
    teams = local.own(
      await startFakeTeams({
        workflowId: WORKFLOW,
        sig: SIG,
        now: () => Date.now(),
        ...(rateLimit ? { rateLimit } : {}),
      }),
    );
  });

  function start(storm?: Record<string, unknown>): Promise<LocalRelay> {
    return local.start({
      destinations: [
        {
          name: 'storm-teams',
          sink: 'teams',
          webhookUrlSecret: 'TEAMS_WEBHOOK_URL',
          ...(storm ? { storm } : {}),
        },
      ],
      secrets: { TEAMS_WEBHOOK_URL: teams.workflowUrl },
    });
  }

  it('should fold 120 new groups into digest cards at most every 10 s, count them all, end with a final summary, and give a later group its own card', async () => {
    // Prepare
    const relay = await start();

    // Act: 120 distinct groups within 60 s, then a resolve of a group that had its own card.
    const { callsDuringStorm, before } = await runDigestStorm(relay, 'teams', GROUPS, {
      calls: () => teams.requests.length,
      before: () => teams.cards.length,
    });

    // Assess
    expect(relay.telemetry.get('DeadLettered', 'storm-teams')).toBe(0);
    expect(teams.failedRuns).toEqual([]);
    expect(callsDuringStorm).toBeLessThan(GROUPS / 3);
    const digests = teams.cards.filter(isDigest);
    expect(digests.length).toBeGreaterThanOrEqual(2);
    expect(shown(digests[0])).toContain('🚨 Alert storm:');
    const last = digests[digests.length - 1];
    expect(shown(last)).toContain('✅ Alert storm over');
    expect(shown(last)).toContain(`${GROUPS - 1} firing, 1 resolved alerts in ${GROUPS} groups`);
    expect(shown(last)).toContain(`**NodeDown** (critical): ${GROUPS / 2 - 1} firing, 1 resolved`);
    expect(shown(last)).toContain(`**DiskFull** (warning): ${GROUPS / 2} firing, 0 resolved`);
    // Digest cards are at least the digest interval apart, and none repeats a state.
    const gaps = digests.slice(1).map((d, i) => d.postedAt - digests[i].postedAt);
    expect(gaps.filter((gap) => gap < 10_000)).toEqual([]);
    expect(new Set(digests.map(shown)).size).toBe(digests.length);
    // The groups that started the storm kept their own cards, and the first one its resolve.
    const own = teams.cards.slice(0, before).filter((c) => !isDigest(c));
    expect(own).toHaveLength(11);
    expect(own.filter((c) => shown(c).includes('RESOLVED'))).toHaveLength(1);
    expect(teams.cards).toHaveLength(before + 1);
    expect(shown(teams.cards[before])).toContain(`host-${GROUPS}`);
    expect(relay.telemetry.get('StormStarted', 'storm-teams')).toBe(1);
    expect(relay.telemetry.get('GroupsFolded', 'storm-teams')).toBe(GROUPS - 10);
  });

  it('should give each folded group still firing its own card after the storm, and none to the groups resolved during it (afterwards: backfill)', async () => {
    // Prepare
    const relay = await start({ afterwards: 'backfill' });
    const { count, ownBeforeStorm } = BACKFILL_STORM;
    const about = (i: number, cards: FakeTeamsCard[]) =>
      cards.filter((c) => !isDigest(c) && namesHost(i, shown(c)));

    // Act: the backfill storm; after the calm the backfill goes out at the workflow's pace (the
    // sink's own: a burst of 4, then one post every 2 s).
    const inStorm = await runBackfillStorm(relay, 'teams', () => teams.cards.length);

    // Assess: 10 groups had their own card before the storm; after the storm the 45 folded
    // groups still firing got one card each, the 5 resolved ones none.
    const before = teams.cards.slice(0, inStorm);
    const after = teams.cards.slice(inStorm);
    const backfilled = after.filter((c) => !isDigest(c));
    expect(before.filter((c) => !isDigest(c))).toHaveLength(ownBeforeStorm);
    expect(backfilled).toHaveLength(BACKFILL_STORM.backfilled);
    for (let i = 0; i < count; i++)
      expect(about(i, after), `cards of host-${i} after the storm`).toHaveLength(backfilledMessages(i));
    // The groups that had their own card kept it, and got nothing extra.
    for (let i = 0; i < ownBeforeStorm; i++)
      expect(about(i, teams.cards), `cards of host-${i}`).toHaveLength(1);
    // Each backfilled card is the group's firing card.
    for (const card of backfilled) {
      expect(shown(card)).toContain('FIRING');
      expect(shown(card)).not.toContain('RESOLVED');
    }
    // The final summary came before the backfilled cards and says they come.
    const digests = teams.cards.filter(isDigest);
    const last = digests[digests.length - 1];
    expect(shown(last)).toContain('✅ Alert storm over');
    expect(shown(last)).toContain('Each group still firing gets its own card now.');
    expect(shown(last)).toContain(BACKFILL_STORM.totals);
    expect(teams.cards.indexOf(last)).toBeLessThan(teams.cards.indexOf(backfilled[0]));
    expect(relay.telemetry.get('GroupsFolded', 'storm-teams')).toBe(count - ownBeforeStorm);
    expect(relay.telemetry.get('GroupsBackfilled', 'storm-teams')).toBe(BACKFILL_STORM.backfilled);
    expect(relay.telemetry.get('DeadLettered', 'storm-teams')).toBe(0);
    expect(relay.telemetry.get('Retried', 'storm-teams')).toBe(0);
    expect(teams.failedRuns).toEqual([]);
    expect(teams.requests.filter((q) => q.outcome !== 202)).toEqual([]);
  });
});

import { beforeEach, describe, expect, it } from 'vitest';
import { MATTERMOST_COLORS } from '../../../lib/sinks/mattermost/render.ts';
import {
  type FakeMattermost,
  type FakeMattermostPost,
  startFakeMattermost,
} from '../../support/fake-mattermost.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import {
  BACKFILL_STORM,
  backfilledMessages,
  namesHost,
  runBackfillStorm,
  runDigestStorm,
  useStormClock,
} from '../../support/storm.ts';

const TOKEN = 'mmstormtoken0a9b8c7d6e5f4a3b';
const CHANNEL = 'c4xp9fdt77pncbef59f4k1qe83';
const BOT = 'b4xp9fdt77pncbef59f4k1qe83';
const GROUPS = 120;

/** What a person reads of a post: its message and its attachment's text, escapes read. */
const shown = (p: FakeMattermostPost) =>
  `${p.message}\n${p.props.attachments?.[0].text ?? ''}`.replace(/\\(.)/g, '$1');
const isDigest = (p: FakeMattermostPost) => /^#### (🚨 Alert storm|✅ Alert storm over)\n/.test(p.message);

/**
 * Storm mode on Mattermost, through the local runtime on a virtual clock (only Date is faked: the
 * workers and HTTP run as usual, and the queue, the state store and the storm's windows read it).
 * The chat stage runs it; these tests show Mattermost's adapter carries it: the digest is one
 * post, patched in place.
 */
describe.each([
  { limits: 'without', rateLimit: undefined },
  // Stricter than Mattermost's default (10 a second, burst 100): 20 in any second.
  { limits: 'with', rateLimit: { limit: 20, windowMs: 1000 } },
])(
  'Sink: mattermost storm digest through the local runtime ($limits the fake rate limit)',
  ({ rateLimit }) => {
    const local = useLocalRelay('mattermost-storm');
    useStormClock();
    let mattermost: FakeMattermost;

    beforeEach(async () => {
      mattermost = local.own(
        await startFakeMattermost({
          bots: { [TOKEN]: { userId: BOT } },
          channels: { [CHANNEL]: { members: [BOT] } },
          now: () => Date.now(),
          ...(rateLimit ? { rateLimit } : {}),
        }),
      );
    });

    function start(storm?: Record<string, unknown>): Promise<LocalRelay> {
      return local.start({
        destinations: [
          {
            name: 'storm-mm',
            sink: 'mattermost',
            baseUrl: mattermost.url,
            tokenSecret: 'MATTERMOST_BOT_TOKEN',
            channelId: CHANNEL,
            ...(storm ? { storm } : {}),
          },
        ],
        secrets: { MATTERMOST_BOT_TOKEN: TOKEN },
      });
    }

    it('should fold 120 new groups into one patched digest post, count them all, and give a later group its own post', async () => {
      // Prepare
      const relay = await start();

      // Act: 120 distinct groups within 60 s, then an update of a group that had its own post.
      const { callsDuringStorm, before } = await runDigestStorm(relay, 'mattermost', GROUPS, {
        calls: () => mattermost.requests.length,
        before: () => mattermost.visible().length,
      });

      // Assess
      expect(relay.telemetry.get('DeadLettered', 'storm-mm')).toBe(0);
      expect(callsDuringStorm).toBeLessThan(GROUPS / 3);
      const digests = mattermost.visible().filter(isDigest);
      expect(digests).toHaveLength(1);
      const [digest] = digests;
      expect(digest.message.split('\n')[0]).toBe('#### ✅ Alert storm over');
      expect(digest.props.attachments?.[0].footer).toBe(
        `${GROUPS - 1} firing, 1 resolved alerts in ${GROUPS} groups`,
      );
      expect(digest.message).toContain(`**NodeDown** (critical): ${GROUPS / 2 - 1} firing, 1 resolved`);
      expect(digest.message).toContain(`**DiskFull** (warning): ${GROUPS / 2} firing, 0 resolved`);
      // While the storm lasted the digest was patched in place, showing it live.
      expect(digest.edits.some((e) => e.message.startsWith('#### 🚨 Alert storm\n'))).toBe(true);
      // The groups that started the storm kept their own posts; the first one was patched to resolved.
      const own = mattermost.posts.filter((p) => !isDigest(p));
      expect(own).toHaveLength(11);
      expect(own[0].edits).toHaveLength(1);
      expect(own[0].props.attachments?.[0].color).toBe(MATTERMOST_COLORS.resolved);
      expect(mattermost.visible()).toHaveLength(before + 1);
      expect(shown(mattermost.visible()[before])).toContain(`host-${GROUPS}`);
      expect(relay.telemetry.get('StormStarted', 'storm-mm')).toBe(1);
      expect(relay.telemetry.get('GroupsFolded', 'storm-mm')).toBe(GROUPS - 10);
      expect(mattermost.requests.filter((r) => r.outcome !== 200 && r.outcome !== 201)).toEqual([]);
    });

    it('should give each folded group still firing its own post after the storm, and none to the groups resolved during it (afterwards: backfill)', async () => {
      // Prepare
      const relay = await start({ afterwards: 'backfill' });
      const { count, ownBeforeStorm } = BACKFILL_STORM;
      const about = (i: number, posts: FakeMattermostPost[]) =>
        posts.filter((p) => !isDigest(p) && namesHost(i, shown(p)));

      // Act: the backfill storm; after the calm the backfill goes out at the channel's pace.
      const inStorm = await runBackfillStorm(relay, 'mattermost', () => mattermost.posts.length);

      // Assess
      const before = mattermost.posts.slice(0, inStorm);
      const after = mattermost.posts.slice(inStorm);
      expect(before.filter((p) => !isDigest(p))).toHaveLength(ownBeforeStorm);
      expect(before.filter(isDigest)).toHaveLength(1);
      expect(after).toHaveLength(BACKFILL_STORM.backfilled);
      for (let i = 0; i < count; i++)
        expect(about(i, after), `posts of host-${i} after the storm`).toHaveLength(backfilledMessages(i));
      for (let i = 0; i < ownBeforeStorm; i++) {
        const own = about(i, mattermost.posts);
        expect(own, `posts of host-${i}`).toHaveLength(1);
        expect(own[0].edits).toEqual([]);
      }
      for (const post of after) {
        expect(post.deleted).toBe(false);
        expect(post.edits).toEqual([]);
        expect(post.rootId).toBe('');
        // NodeDown is critical (red), DiskFull a warning (orange).
        const warning = shown(post).includes('DiskFull');
        expect(post.props.attachments?.[0].color).toBe(MATTERMOST_COLORS[warning ? 'warning' : 'firing']);
      }
      const [digest] = mattermost.posts.filter(isDigest);
      expect(digest.message).toContain('Each group still firing gets its own post now.');
      expect(digest.props.attachments?.[0].footer).toBe(BACKFILL_STORM.totals);
      expect(relay.telemetry.get('GroupsBackfilled', 'storm-mm')).toBe(BACKFILL_STORM.backfilled);
      expect(relay.telemetry.get('DeadLettered', 'storm-mm')).toBe(0);
      expect(relay.telemetry.get('Retried', 'storm-mm')).toBe(0);
      expect(mattermost.requests.filter((r) => r.outcome !== 200 && r.outcome !== 201)).toEqual([]);
    });
  },
);

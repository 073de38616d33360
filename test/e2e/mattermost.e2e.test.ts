import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { MATTERMOST_COLORS } from '../../lib/sinks/mattermost/render.ts';
import { type FakeMattermost, startFakeMattermost } from '../support/fake-mattermost.ts';
import { postAlerts, resolveAlerts } from './support/alerts.ts';
import { useE2EStack } from './support/stack.ts';

/**
 * Mattermost end to end: the real Alertmanager posts a group's firing and resolved
 * notifications to the relay (`node lib/local/main.ts`), which delivers to a fake Mattermost
 * server with a bot's token: one post, patched from red to green; and a group too large for one
 * post arrives whole, as a post and replies in its thread.
 */

const ingestToken = `e2e-${randomUUID()}`;
const TOKEN = `e2emm${randomUUID().replaceAll('-', '')}`;
const CHANNEL = 'e2e9fdt77pncbef59f4k1qe83o';
const BOT = 'e2ebot77pncbef59f4k1qe83oo';

const stack = useE2EStack('mattermost');
let mattermost: FakeMattermost;
let alertmanagerUrl: string;

// The bound only turns a hang into a failure that lists what did arrive.
const WAIT = { timeoutMs: 60_000 };

beforeAll(async () => {
  mattermost = stack.own(
    await startFakeMattermost({
      bots: { [TOKEN]: { userId: BOT } },
      channels: { [CHANNEL]: { members: [BOT] } },
    }),
  );
  const relay = await stack.startRelay({
    config: {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [
        {
          name: 'ops-mattermost',
          sink: 'mattermost',
          baseUrl: mattermost.url,
          tokenSecret: 'MATTERMOST_BOT_TOKEN',
          channelId: CHANNEL,
        },
      ],
    },
    env: { INGEST_TOKEN: ingestToken, MATTERMOST_BOT_TOKEN: TOKEN },
  });
  const alertmanager = await stack.startAlertmanager({
    webhooks: [{ url: `${relay.url}/alertmanager`, bearerToken: ingestToken }],
  });
  alertmanagerUrl = alertmanager.url;
});

describe('Alertmanager -> relay -> Mattermost', () => {
  test('a group that fires and resolves is one post, patched from red to green', async () => {
    // Prepare
    const alerts = await postAlerts(alertmanagerUrl, [
      {
        labels: { alertname: 'RelayE2EMattermost', severity: 'critical', instance: 'e2e-a' },
        annotations: { summary: 'mattermost e2e @channel', runbook_url: 'https://runbooks.example/mm' },
        generatorURL: 'http://prometheus.example:9090/graph?g0.expr=up%3D%3D0',
      },
    ]);
    const isOurs = () => mattermost.roots().filter((p) => p.message.includes('RelayE2EMattermost'));

    // Act: firing
    await mattermost.waitFor(() => isOurs().length === 1, WAIT);

    // Assess: firing
    const [post] = isOurs();
    expect(post.message).toContain('🔥 \\[FIRING:1\\] RelayE2EMattermost');
    expect(post.message).toContain('mattermost e2e @\u200bchannel');
    expect(post.props.attachments?.[0].color).toBe(MATTERMOST_COLORS.firing);
    expect(post.props.attachments?.[0].text).toContain('[Runbook](https://runbooks.example/mm)');

    // Act: resolved
    await resolveAlerts(alertmanagerUrl, alerts);
    await mattermost.waitFor(() => post.props.attachments?.[0].color === MATTERMOST_COLORS.resolved, WAIT);

    // Assess: one post, patched; every call accepted with the bot's token
    expect(isOurs()).toEqual([post]);
    expect(post.message).toContain('✅ \\[RESOLVED\\] RelayE2EMattermost');
    expect(post.edits).toHaveLength(1);
    expect(mattermost.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(mattermost.requests.every((r) => r.outcome === 200 || r.outcome === 201)).toBe(true);
  });

  test('a group too large for one post arrives whole: a post and replies in its thread', async () => {
    // Prepare: 120 alerts with long labels, some 40,000 runes of alert lines
    const count = 120;
    const detail = 'd'.repeat(300);

    // Act
    await postAlerts(
      alertmanagerUrl,
      Array.from({ length: count }, (_, i) => ({
        labels: {
          alertname: 'RelayE2EBigGroup',
          severity: 'warning',
          instance: `big-${i}`,
          zdetail: `${i} ${detail}`,
        },
      })),
    );
    const root = () => mattermost.roots().find((p) => p.message.includes('RelayE2EBigGroup'));
    const thread = () => {
      const first = root();
      return first ? [first, ...mattermost.replies(first.id)] : [];
    };
    const listed = () => thread().flatMap((p) => p.message.match(/instance\\=big\\-\d+/g) ?? []).length;
    await mattermost.waitFor(() => listed() === count, WAIT);

    // Assess
    const posts = thread();
    expect(posts.length).toBeGreaterThan(1);
    for (const post of posts) expect(Array.from(post.message).length).toBeLessThanOrEqual(16_383);
    expect(posts[1].message).toMatch(/^#### RelayE2EBigGroup: alerts \d+-\d+ of 120 \(continued\)/);
    expect(posts.every((p) => p.props.attachments?.[0].color === MATTERMOST_COLORS.warning)).toBe(true);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { chatGroupKey } from '../../../lib/chat/stage.ts';
import { DeferredError, PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import {
  createMattermostSink,
  type MattermostDestination,
} from '../../../lib/sinks/mattermost/mattermost.ts';
import { MATTERMOST_COLORS } from '../../../lib/sinks/mattermost/render.ts';
import { describeSinkConformance, jsonStrings, plainTextViolations } from '../../support/conformance.ts';
import { type FakeMattermost, startFakeMattermost } from '../../support/fake-mattermost.ts';
import { makeNotification } from '../../support/notifications.ts';
import { capturingLogger, failure, memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';
import { mattermostViolations, postTexts } from './inert.ts';

const TOKEN = 'mmbottoken4f1e9a0c7b2d8e6f5a';
const SECRET = 'MATTERMOST_BOT_TOKEN';
const CHANNEL = 'c4xp9fdt77pncbef59f4k1qe83';
const BOT = 'b4xp9fdt77pncbef59f4k1qe83';

describeSinkConformance<MattermostDestination>({
  name: 'mattermost',
  sink: ({ now }) => createMattermostSink({ now }),
  destination: (vendor) => ({
    name: 'ops-mattermost',
    sink: 'mattermost',
    baseUrl: vendor.url,
    tokenSecret: SECRET,
    channelId: CHANNEL,
    timeoutSeconds: vendor.timeoutSeconds,
  }),
  secrets: () => ({ [SECRET]: TOKEN }),
  leaks: () => [TOKEN],
  http: {
    label: (vendor) => `mattermost ${vendor.host}`,
    accepted: { id: 'p0000000000000000000000001', channel_id: CHANNEL },
  },
  hostile: ({ requests }) => {
    const body = requests[0]?.body as {
      channel_id?: string;
      props?: { attachments?: { fallback: string }[] };
    };
    expect(body.channel_id).toBe(CHANNEL);
    for (const text of postTexts(body)) expect(mattermostViolations(text)).toEqual([]);
    expect(jsonStrings(body).flatMap(plainTextViolations)).toEqual([]);
    expect(body.props?.attachments?.[0].fallback).not.toMatch(/(^|[^\p{L}\p{N}])@(here|channel|everyone)/u);
    expect(postTexts(body).join('\n')).toContain('reset your password');
  },
});

/** A group of `statuses.length` alerts (firing unless said). */
function group(statuses: Notification['status'][], extra: Partial<Notification> = {}): Notification {
  const n = makeNotification({ count: statuses.length });
  n.alerts = n.alerts.map((alert, i) => ({
    ...alert,
    status: statuses[i],
    endsAt: statuses[i] === 'resolved' ? '2026-11-21T11:30:00.000Z' : '0001-01-01T00:00:00Z',
  }));
  n.status = statuses.includes('firing') ? 'firing' : 'resolved';
  n.commonLabels = { alertname: 'HighLatency', severity: 'critical' };
  n.commonAnnotations = { summary: 'Latency is high', runbook_url: 'https://runbooks.example/latency' };
  return { ...n, ...extra };
}

const many = (count: number, status: Notification['status'] = 'firing') =>
  group(Array.from({ length: count }, () => status));

describe('Sink: mattermost (contract with the fake Mattermost)', () => {
  let mattermost: FakeMattermost;
  let state: ReturnType<typeof memoryState>;
  let destination: MattermostDestination;

  beforeEach(async () => {
    mattermost = await startFakeMattermost({
      bots: { [TOKEN]: { userId: BOT } },
      channels: { [CHANNEL]: { members: [BOT] } },
    });
    state = memoryState();
    destination = {
      name: 'ops-mm',
      sink: 'mattermost',
      baseUrl: mattermost.url,
      tokenSecret: SECRET,
      channelId: CHANNEL,
    };
  });

  afterEach(async () => {
    await mattermost.close();
  });

  function deliver(
    notification: Notification,
    options: {
      receivedAt?: string;
      token?: string;
      maxRunes?: number;
      logger?: ReturnType<typeof capturingLogger>;
    } = {},
  ) {
    const delivery = vendorDelivery(destination, notification, {
      state,
      secrets: { [SECRET]: options.token ?? TOKEN },
      idempotencyKey: `idem-${notification.status}-${notification.alerts.length}-${options.receivedAt ?? ''}`,
      logger: options.logger?.logger,
    });
    return createMattermostSink({ maxRunes: options.maxRunes }).deliver({
      ...delivery,
      receivedAt: options.receivedAt ?? delivery.receivedAt,
    });
  }
  const calls = () =>
    mattermost.requests.map((r) => `${r.method} ${r.path.replace(/[a-z0-9]{26}/g, ':id')} ${r.outcome}`);

  it('should post one red post with the bot token and patch it green on the resolve', async () => {
    // Act
    await deliver(group(['firing', 'firing']), { receivedAt: '2026-11-21T11:00:00.000Z' });
    await deliver(group(['resolved', 'resolved']), { receivedAt: '2026-11-21T11:31:00.000Z' });

    // Assess
    expect(calls()).toEqual(['POST /api/v4/posts 201', 'PUT /api/v4/posts/:id/patch 200']);
    expect(mattermost.requests[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(mattermost.visible()).toHaveLength(1);
    const [post] = mattermost.visible();
    expect(post.channelId).toBe(CHANNEL);
    expect(post.props.attachments?.[0].color).toBe(MATTERMOST_COLORS.resolved);
    expect(post.message).toContain('✅ \\[RESOLVED\\] HighLatency');
    expect(post.edits[0].props.attachments?.[0].color).toBe(MATTERMOST_COLORS.firing);
    expect(
      await state.get(chatGroupKey('mattermostgroup', 'ops-mm', group(['firing']).groupKey)),
    ).toMatchObject({
      messages: [post.id],
      status: 'resolved',
    });
  });

  it('should post a new post when the group fires again after it resolved', async () => {
    // Prepare
    await deliver(group(['firing']), { receivedAt: '2026-11-21T11:00:00.000Z' });
    await deliver(group(['resolved']), { receivedAt: '2026-11-21T11:31:00.000Z' });

    // Act
    await deliver(group(['firing']), { receivedAt: '2026-11-21T12:00:00.000Z' });

    // Assess
    expect(mattermost.roots().map((p) => p.props.attachments?.[0].color)).toEqual([
      MATTERMOST_COLORS.resolved,
      MATTERMOST_COLORS.firing,
    ]);
  });

  it('should split a large group into a post and replies in its thread, within the limit, dropping no alert', async () => {
    // Act
    await deliver(many(150), { maxRunes: 3000 });

    // Assess
    const [root, ...others] = mattermost.roots();
    expect(others).toEqual([]);
    const replies = mattermost.replies(root.id);
    expect(replies.length).toBeGreaterThan(1);
    expect(mattermost.requests.every((r) => r.outcome === 201)).toBe(true);
    const text = [root, ...replies]
      .map((p) => p.message)
      .join('\n')
      .replace(/\\(.)/g, '$1');
    for (let i = 0; i < 150; i++) expect(text).toContain(`instance=web-${i}:9100**`);
    expect(replies[0].message).toMatch(/^#### HighLatency: alerts \d+-\d+ of 150 \(continued\)/);
  });

  it('should post groups at the full limit, and the fake should refuse a rune more as Mattermost does', async () => {
    // Prepare: a group whose first post is filled close to 16,383 runes
    const big = many(400);
    big.alerts = big.alerts.map((a) => ({ ...a, labels: { ...a.labels, zz: '😀'.repeat(300) } }));

    // Act
    await deliver(big);
    const tooLong = await fetch(`${mattermost.url}/api/v4/posts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel_id: CHANNEL, message: '😀'.repeat(16_384) }),
    });

    // Assess
    const sizes = mattermost.visible().map((p) => Array.from(p.message).length);
    expect(Math.max(...sizes)).toBeGreaterThan(15_000);
    expect(mattermost.requests.slice(0, -1).every((r) => r.outcome === 201)).toBe(true);
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({
      id: 'model.post.is_valid.message_length.app_error',
      status_code: 400,
    });
  });

  it('should patch the thread with the group and delete the replies it no longer needs', async () => {
    // Prepare
    await deliver(many(60), { maxRunes: 3000, receivedAt: '2026-11-21T11:00:00.000Z' });
    const [root] = mattermost.roots();
    const before = mattermost.replies(root.id).length;

    // Act
    await deliver(group(['resolved']), { maxRunes: 3000, receivedAt: '2026-11-21T11:30:00.000Z' });

    // Assess
    expect(before).toBeGreaterThan(0);
    expect(mattermost.visible()).toEqual([root]);
    expect(root.props.attachments?.[0].color).toBe(MATTERMOST_COLORS.resolved);
    expect(calls().filter((c) => c.startsWith('DELETE'))).toHaveLength(before);
  });

  it('should post a new post when a person deleted the group post (Mattermost answers the patch 403)', async () => {
    // Prepare
    await deliver(group(['firing', 'firing']), { receivedAt: '2026-11-21T11:00:00.000Z' });
    mattermost.deletePost(mattermost.posts[0].id);
    const log = capturingLogger();

    // Act
    await deliver(group(['firing', 'resolved']), { receivedAt: '2026-11-21T11:10:00.000Z', logger: log });

    // Assess: the old thread is gone, so the new post starts one of its own (never a reply to the deleted one)
    expect(calls()).toEqual([
      'POST /api/v4/posts 201',
      'PUT /api/v4/posts/:id/patch 403',
      'GET /api/v4/posts/:id 404',
      'POST /api/v4/posts 201',
    ]);
    expect(mattermost.roots()).toHaveLength(1);
    expect(log.lines.some((l) => l.includes('was deleted in Mattermost'))).toBe(true);
  });

  it('should re-post a deleted thread whole: its root anew, its replies under the new root', async () => {
    // Prepare
    await deliver(many(60), { maxRunes: 3000, receivedAt: '2026-11-21T11:00:00.000Z' });
    const replies = mattermost.replies(mattermost.roots()[0].id).length;
    mattermost.deletePost(mattermost.roots()[0].id);

    // Act
    await deliver(many(60), { maxRunes: 3000, receivedAt: '2026-11-21T11:10:00.000Z' });

    // Assess
    const [root, ...others] = mattermost.roots();
    expect(others).toEqual([]);
    expect(mattermost.replies(root.id)).toHaveLength(replies);
    expect(mattermost.requests.filter((r) => r.outcome !== 201 && r.outcome !== 200).length).toBeGreaterThan(
      0,
    );
  });

  it('should post a new post when the server no longer lets the bot edit the old one (PostEditTimeLimit)', async () => {
    // Prepare
    await mattermost.close();
    let clock = Date.parse('2026-11-21T11:00:00Z');
    mattermost = await startFakeMattermost({
      bots: { [TOKEN]: { userId: BOT } },
      channels: { [CHANNEL]: { members: [BOT] } },
      editTimeLimitMs: 300_000,
      now: () => clock,
    });
    destination = { ...destination, baseUrl: mattermost.url };
    await deliver(group(['firing']), { receivedAt: '2026-11-21T11:00:00.000Z' });
    clock += 600_000;

    // Act
    await deliver(group(['resolved']), { receivedAt: '2026-11-21T11:10:00.000Z' });

    // Assess
    expect(calls()).toEqual([
      'POST /api/v4/posts 201',
      'PUT /api/v4/posts/:id/patch 400',
      'POST /api/v4/posts 201',
    ]);
  });

  it('should dead-letter a post to a channel the bot is not in, naming the channel and the secret, not the token', async () => {
    // Prepare
    mattermost.removeFromChannel(CHANNEL);

    // Act
    const error = await failure(deliver(group(['firing'])));

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(403);
    expect(error.message).toContain(`check channelId, add the bot to it, check ${SECRET}`);
    expect(error.message).toContain(CHANNEL);
    expect(error.message).not.toContain(TOKEN);
  });

  it('should dead-letter a patch the bot may no longer make, after checking that the post is still there', async () => {
    // Prepare
    await deliver(group(['firing']), { receivedAt: '2026-11-21T11:00:00.000Z' });
    mattermost.removeFromChannel(CHANNEL);

    // Act
    const error = await failure(deliver(group(['resolved']), { receivedAt: '2026-11-21T11:30:00.000Z' }));

    // Assess
    expect(calls()).toEqual([
      'POST /api/v4/posts 201',
      'PUT /api/v4/posts/:id/patch 403',
      'GET /api/v4/posts/:id 403',
    ]);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(403);
  });

  it('should dead-letter a wrong token (401) naming the secret, never the token', async () => {
    // Act
    const error = await failure(deliver(group(['firing']), { token: 'wrongtoken123456' }));

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(401);
    expect(error.message).toContain(`put a bot access token in ${SECRET}`);
    expect(error.message).not.toContain('wrongtoken123456');
  });

  it('should refuse a secret that is not a token without calling Mattermost or quoting it', async () => {
    // Act
    const error = await failure(deliver(group(['firing']), { token: 'two words' }));

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toBe(`mattermost: the secret ${SECRET} does not hold an access token`);
    expect(mattermost.requests).toHaveLength(0);
  });

  it("should wait a 429's Retry-After, or its X-RateLimit-Reset when it has no Retry-After", async () => {
    // Prepare
    mattermost.respondWith([
      { status: 429, headers: { 'retry-after': '2', 'x-ratelimit-reset': '9' }, body: 'limit exceeded\n' },
      { status: 429, headers: { 'x-ratelimit-reset': '7' }, body: 'limit exceeded\n' },
    ]);

    // Act
    const first = await failure(deliver(group(['firing'])));
    const second = await failure(deliver(group(['firing'])));

    // Assess
    expect(first).toBeInstanceOf(RetryableError);
    expect((first as RetryableError).retryAfterSeconds).toBe(2);
    expect((second as RetryableError).retryAfterSeconds).toBe(7);
    expect(second.message).toContain('answered 429 Too Many Requests (rate limited; retry after 7 s)');
  });

  it('should be rate limited by the fake past its limit and wait what it says', async () => {
    // Prepare
    await mattermost.close();
    const clock = Date.parse('2026-11-21T12:00:00Z');
    mattermost = await startFakeMattermost({
      bots: { [TOKEN]: { userId: BOT } },
      channels: { [CHANNEL]: { members: [BOT] } },
      rateLimit: { limit: 1, windowMs: 3000 },
      now: () => clock,
    });
    destination = { ...destination, baseUrl: mattermost.url };
    await deliver(group(['firing']));

    // Act
    const error = await failure(deliver(group(['resolved'])));

    // Assess
    expect(mattermost.rateLimited).toBe(1);
    expect(mattermost.requests[1].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect((error as RetryableError).retryAfterSeconds).toBe(3);
  });

  it('should pace the channel: a burst of 10 calls, then the next comes back later, counting no attempt', async () => {
    // Prepare: twelve groups at the same instant
    const now = Date.parse('2026-11-21T12:00:00.000Z');
    const sink = createMattermostSink({ now: () => now });
    const deliverGroup = (i: number) =>
      sink.deliver(
        vendorDelivery(destination, group(['firing'], { groupKey: `{}:{instance="host-${i}"}` }), {
          state,
          secrets: { [SECRET]: TOKEN },
          idempotencyKey: `idem-paced-${i}`,
        }),
      );
    for (let i = 0; i < 10; i++) await deliverGroup(i);

    // Act
    const eleventh = await failure(deliverGroup(10));

    // Assess
    expect(mattermost.requests).toHaveLength(10);
    expect(eleventh).toBeInstanceOf(DeferredError);
    expect(eleventh.message).toBe("Mattermost channel pacing: this notification's message may go out in 1 s");
  });

  it('should post only what an earlier attempt did not, when a retry follows a failure mid-way', async () => {
    // Prepare: a group of several posts, the second answered 502 once
    const attempt = () => deliver(many(60), { maxRunes: 3000, receivedAt: '2026-11-21T11:00:00.000Z' });
    mattermost.respondWith([]);
    const first = attempt();
    await mattermost.waitFor(1);
    mattermost.respondWith([{ status: 502 }]);
    const error = await failure(first);

    // Act
    await attempt();

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    const posts = mattermost.requests.filter((r) => r.method === 'POST').map((r) => r.outcome);
    expect(posts.slice(0, 2)).toEqual([201, 502]);
    expect(mattermost.visible()).toHaveLength(posts.filter((o) => o === 201).length);
    const [root] = mattermost.roots();
    expect(mattermost.replies(root.id)).toHaveLength(mattermost.visible().length - 1);
  });
});

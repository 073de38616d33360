import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { chatGroupKey } from '../../../lib/chat/stage.ts';
import { DeferredError, PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import { createDiscordSink, type DiscordDestination } from '../../../lib/sinks/discord/discord.ts';
import { DISCORD_COLORS } from '../../../lib/sinks/discord/embeds.ts';
import {
  describeSinkConformance,
  jsonStrings,
  markdownViolations,
  plainTextViolations,
} from '../../support/conformance.ts';
import { type FakeDiscord, startFakeDiscord } from '../../support/fake-discord.ts';
import { makeNotification } from '../../support/notifications.ts';
import { capturingLogger, failure, memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';

const WEBHOOK = { id: '1234567890123456789', token: 'dscWebhookToken-4f1e9a0c7b2d' };
const SECRET = 'DISCORD_WEBHOOK_URL';

describeSinkConformance<DiscordDestination>({
  name: 'discord',
  sink: ({ now }) => createDiscordSink({ now }),
  destination: (vendor) => ({
    name: 'ops-discord',
    sink: 'discord',
    webhookUrlSecret: SECRET,
    timeoutSeconds: vendor.timeoutSeconds,
  }),
  secrets: (vendor) => ({ [SECRET]: `${vendor.url}/api/webhooks/${WEBHOOK.id}/${WEBHOOK.token}` }),
  leaks: () => [WEBHOOK.token],
  http: {
    label: (vendor) => `discord ${vendor.host}`,
    accepted: { id: '1300000000000000001', channel_id: '1100000000000000001' },
  },
  hostile: ({ requests }) => {
    const body = requests[0]?.body as { allowed_mentions?: unknown; embeds?: unknown[] } | undefined;
    expect(body?.allowed_mentions).toEqual({ parse: [] });
    const embeds = (body?.embeds ?? []) as {
      title?: string;
      description?: string;
      fields?: { value: string }[];
    }[];
    const text = embeds
      .flatMap((e) => [e.title ?? '', e.description ?? '', ...(e.fields ?? []).map((f) => f.value)])
      .join('\n');
    expect(markdownViolations(text)).toEqual([]);
    expect(jsonStrings(body).flatMap(plainTextViolations)).toEqual([]);
    // Every markup character of the alert's text arrives escaped: no link, tag or ping.
    expect(text).not.toMatch(/(^|[^\\])\]\(https:\/\/evil/);
    expect(text).not.toMatch(/(^|[^\\])<https:\/\/evil/);
    expect(text).not.toMatch(/(^|[^\\])<!channel>/);
    expect(text).not.toContain('@here');
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('reset your password');
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

describe('Sink: discord (contract with the fake Discord)', () => {
  let discord: FakeDiscord;
  let state: ReturnType<typeof memoryState>;
  let url: string;

  beforeEach(async () => {
    discord = await startFakeDiscord({ webhooks: [WEBHOOK] });
    state = memoryState();
    url = discord.webhookUrl(WEBHOOK);
  });

  afterEach(async () => {
    await discord.close();
  });

  const destination: DiscordDestination = { name: 'ops-discord', sink: 'discord', webhookUrlSecret: SECRET };

  function deliver(
    notification: Notification,
    options: {
      receivedAt?: string;
      secret?: string;
      maxChars?: number;
      logger?: ReturnType<typeof capturingLogger>;
    } = {},
  ) {
    const delivery = vendorDelivery(destination, notification, {
      state,
      secrets: { [SECRET]: options.secret ?? url },
      idempotencyKey: `idem-${notification.status}-${notification.alerts.length}-${options.receivedAt ?? ''}`,
      logger: options.logger?.logger,
    });
    return createDiscordSink({ maxChars: options.maxChars }).deliver({
      ...delivery,
      receivedAt: options.receivedAt ?? delivery.receivedAt,
    });
  }

  it('should pace the webhook: a burst of 5 calls, then the next call comes back in 2 s, through a thread URL too', async () => {
    // Prepare: seven groups at the same instant, the last through the webhook's thread URL.
    const now = Date.parse('2026-11-21T12:00:00.000Z');
    const sink = createDiscordSink({ now: () => now });
    const deliverGroup = (i: number, secret = url) =>
      sink.deliver(
        vendorDelivery(destination, group(['firing'], { groupKey: `{}:{instance="host-${i}"}` }), {
          state,
          secrets: { [SECRET]: secret },
          idempotencyKey: `idem-paced-${i}`,
        }),
      );
    for (let i = 0; i < 5; i++) await deliverGroup(i);

    // Act
    const sixth = await failure(deliverGroup(5));
    const thread = await failure(deliverGroup(6, `${url}?thread_id=1200000000000000001`));

    // Assess
    expect(discord.requests).toHaveLength(5);
    expect(sixth).toBeInstanceOf(DeferredError);
    expect(sixth.message).toBe("Discord webhook pacing: this notification's message may go out in 2 s");
    expect((thread as DeferredError).retryAfterSeconds).toBe(4);
  });

  it('should post one message with wait=true and edit it to resolved (green) on the resolve', async () => {
    // Prepare
    const firing = group(['firing', 'firing']);
    const resolved = group(['resolved', 'resolved']);

    // Act
    await deliver(firing, { receivedAt: '2026-11-21T11:00:00.000Z' });
    await deliver(resolved, { receivedAt: '2026-11-21T11:31:00.000Z' });

    // Assess
    expect(discord.requests.map((r) => `${r.method} ${r.query.get('wait') ?? ''} ${r.outcome}`)).toEqual([
      'POST true 200',
      'PATCH  200',
    ]);
    expect(discord.visible()).toHaveLength(1);
    const [message] = discord.visible();
    expect(message.embeds[0].color).toBe(DISCORD_COLORS.resolved);
    expect(message.embeds[0].title).toContain('RESOLVED');
    expect(message.edits[0].embeds[0].color).toBe(DISCORD_COLORS.firing);
    expect(message.allowedMentions).toEqual({ parse: [] });
    expect(await state.get(chatGroupKey('discordgroup', 'ops-discord', firing.groupKey))).toMatchObject({
      messages: [message.id],
      status: 'resolved',
    });
  });

  it('should post a new message when the group fires again after it resolved', async () => {
    // Prepare
    await deliver(group(['firing']), { receivedAt: '2026-11-21T11:00:00.000Z' });
    await deliver(group(['resolved']), { receivedAt: '2026-11-21T11:31:00.000Z' });

    // Act
    await deliver(group(['firing']), { receivedAt: '2026-11-21T12:00:00.000Z' });

    // Assess
    expect(discord.visible().map((m) => m.embeds[0].color)).toEqual([
      DISCORD_COLORS.resolved,
      DISCORD_COLORS.firing,
    ]);
  });

  it('should post a new message when a person deleted the group message', async () => {
    // Prepare
    await deliver(group(['firing', 'firing']), { receivedAt: '2026-11-21T11:00:00.000Z' });
    discord.deleteMessage(discord.messages[0].id);
    const log = capturingLogger();

    // Act
    await deliver(group(['firing', 'resolved']), { receivedAt: '2026-11-21T11:10:00.000Z', logger: log });

    // Assess
    expect(discord.requests.map((r) => `${r.method} ${r.outcome}`)).toEqual([
      'POST 200',
      'PATCH 404',
      'POST 200',
    ]);
    expect(discord.visible()).toHaveLength(1);
    expect(log.lines.some((l) => l.includes('was deleted in Discord'))).toBe(true);
  });

  it("should honour a 429's JSON retry_after (float seconds), rounded up", async () => {
    // Prepare
    discord.respondWith([
      {
        status: 429,
        headers: { 'retry-after': '2', 'x-ratelimit-scope': 'shared' },
        body: { message: 'You are being rate limited.', retry_after: 2.347, global: false },
      },
    ]);

    // Act
    const error = await failure(deliver(group(['firing'])));

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).statusCode).toBe(429);
    expect((error as RetryableError).retryAfterSeconds).toBe(3);
  });

  it('should be rate limited by the fake past its per-webhook limit and wait what it says', async () => {
    // Prepare
    await discord.close();
    const clock = Date.parse('2026-11-21T12:00:00Z');
    discord = await startFakeDiscord({
      webhooks: [WEBHOOK],
      rateLimit: { limit: 1, windowMs: 2000 },
      now: () => clock,
    });
    url = discord.webhookUrl(WEBHOOK);
    await deliver(group(['firing']));

    // Act
    const error = await failure(deliver(group(['resolved'])));

    // Assess
    expect(discord.rateLimited).toBe(1);
    expect((error as RetryableError).retryAfterSeconds).toBe(2);
  });

  it('should dead-letter a deleted webhook (404 Unknown Webhook) naming the secret, not the token', async () => {
    // Prepare
    const deleted = discord.webhookUrl({ id: '999999999999999999', token: WEBHOOK.token });

    // Act
    const error = await failure(deliver(group(['firing']), { secret: deleted }));

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(404);
    expect(error.message).toContain(`put its URL in ${SECRET}`);
    expect(error.message).not.toContain(WEBHOOK.token);
  });

  it('should dead-letter a wrong token (401 Invalid Webhook Token)', async () => {
    // Act
    const error = await failure(
      deliver(group(['firing']), { secret: discord.webhookUrl({ ...WEBHOOK, token: 'wrongtoken123' }) }),
    );

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(401);
    expect(error.message).not.toContain('wrongtoken123');
  });

  it('should refuse a secret that is not a webhook URL without quoting it', async () => {
    // Act
    const error = await failure(
      deliver(group(['firing']), { secret: 'https://discord.com/channels/123/456' }),
    );

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain(SECRET);
    expect(error.message).not.toContain('channels/123');
    expect(discord.requests).toHaveLength(0);
  });

  it('should split a large group into messages within every limit the fake enforces, and drop no alert', async () => {
    // Prepare
    const big = group(Array.from({ length: 150 }, () => 'firing' as const));

    // Act
    await deliver(big);

    // Assess
    expect(discord.requests.every((r) => r.outcome === 200)).toBe(true);
    expect(discord.visible().length).toBeGreaterThan(1);
    const text = discord
      .visible()
      .flatMap((m) => m.embeds.map((e) => e.description ?? ''))
      .join('\n');
    const plain = text.replace(/\\(.)/g, '$1');
    for (let i = 0; i < 150; i++) expect(plain).toContain(`instance=web-${i}:9100**`);
  });

  it('should post only what an earlier attempt did not, when a retry follows a failure mid-way', async () => {
    // Prepare: a group of two messages, the second answered 502 once
    const big = group(Array.from({ length: 60 }, () => 'firing' as const));
    const attempt = () => deliver(big, { maxChars: 3000, receivedAt: '2026-11-21T11:00:00.000Z' });
    discord.respondWith([]);
    const first = attempt();
    await discord.waitFor(1);
    discord.respondWith([{ status: 502 }]);
    const error = await failure(first);

    // Act
    await attempt();

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    const posts = discord.requests.filter((r) => r.method === 'POST').map((r) => r.outcome);
    expect(posts.slice(0, 2)).toEqual([200, 502]);
    expect(discord.visible().length).toBe(posts.filter((o) => o === 200).length);
    expect(new Set(discord.visible().map((m) => m.embeds[0].title)).size).toBe(discord.visible().length);
  });

  it('should delete the continuation messages a group no longer needs', async () => {
    // Prepare
    const big = group(Array.from({ length: 60 }, () => 'firing' as const));
    await deliver(big, { maxChars: 3000, receivedAt: '2026-11-21T11:00:00.000Z' });
    const before = discord.visible().length;

    // Act
    await deliver(group(['resolved']), { maxChars: 3000, receivedAt: '2026-11-21T11:30:00.000Z' });

    // Assess
    expect(before).toBeGreaterThan(1);
    expect(discord.visible()).toHaveLength(1);
    expect(discord.visible()[0].embeds[0].color).toBe(DISCORD_COLORS.resolved);
  });
});

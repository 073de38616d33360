import { afterEach, describe, expect, it } from 'vitest';
import { DeferredError, PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import {
  createGoogleChatSink,
  type GoogleChatDestination,
  MESSAGE_REPLY_OPTION,
} from '../../../lib/sinks/googlechat/googlechat.ts';
import { buildMessages, groupThreadKey, messageRequestId } from '../../../lib/sinks/googlechat/message.ts';
import { chatText } from '../../../lib/sinks/googlechat/text.ts';
import {
  describeSinkConformance,
  HOSTILE_TEXT,
  jsonStrings,
  plainTextViolations,
} from '../../support/conformance.ts';
import { type FakeGoogleChat, startFakeGoogleChat } from '../../support/fake-googlechat.ts';
import { makeNotification } from '../../support/notifications.ts';
import { capturingLogger, failure, memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';
import { largeGroup, largeGroupLabels } from './large-group.ts';

// The relay's own links only: an encoded href on the alert's hosts, and one of its own labels.
const OWN_LINK =
  /^<https:\/\/(prometheus|alertmanager|runbook)\.example\/[^\s<>|]*\|(graph|runbook|Silence this group)>$/;

const KEY = 'AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI';
const TOKEN = 'kZq3xVtQ0p9bYt4mW8nR2sJ6uL1cF5hD7gA0eI3oU9y';
const SPACE = 'AAAAt9xR0Ek';
const WEBHOOK = { space: SPACE, key: KEY, token: TOKEN };

describeSinkConformance<GoogleChatDestination>({
  name: 'googlechat',
  sink: ({ now }) => createGoogleChatSink({ now }),
  destination: (vendor) => ({
    name: 'ops-chat',
    sink: 'googlechat',
    webhookUrlSecret: 'GCHAT_WEBHOOK_URL',
    timeoutSeconds: vendor.timeoutSeconds,
  }),
  secrets: (vendor) => ({
    GCHAT_WEBHOOK_URL: `${vendor.url}/v1/spaces/${SPACE}/messages?key=${KEY}&token=${TOKEN}`,
  }),
  leaks: () => [KEY, TOKEN],
  http: {
    label: (vendor) => `googlechat ${vendor.host}`,
    accepted: { name: `spaces/${SPACE}/messages/1`, thread: { name: `spaces/${SPACE}/threads/1` } },
  },
  hostile: ({ texts }) => {
    const body = JSON.parse(texts[0]) as { text: string };
    expect(jsonStrings(body).flatMap(plainTextViolations)).toEqual([]);
    for (const raw of Object.values(HOSTILE_TEXT)) expect(body.text).not.toContain(raw);
    for (const token of body.text.match(/<[^>]*>/g) ?? []) expect(token).toMatch(OWN_LINK);
    expect(body.text.replace(/<http[^>]*>/g, '')).not.toContain('evil.example');
  },
});

describe('Sink: googlechat', () => {
  let chat: FakeGoogleChat;

  afterEach(async () => {
    await chat?.close();
  });

  const destination = (extra: Partial<GoogleChatDestination> = {}): GoogleChatDestination => ({
    name: 'ops-chat',
    sink: 'googlechat',
    webhookUrlSecret: 'GCHAT_WEBHOOK_URL',
    ...extra,
  });

  it('should post every notification of a group into one thread, and other groups into their own', async () => {
    // Prepare
    chat = await startFakeGoogleChat({ webhooks: [WEBHOOK] });
    const secrets = { GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK) };
    const sink = createGoogleChatSink();
    const state = memoryState();
    let clock = Date.parse('2026-11-21T12:00:00.000Z');
    const paced = createGoogleChatSink({ now: () => clock });
    const deliver = (notification: ReturnType<typeof makeNotification>, key: string) =>
      paced.deliver(vendorDelivery(destination(), notification, { secrets, state, idempotencyKey: key }));

    // Act
    await deliver(makeNotification({ count: 2 }), 'k1');
    clock += 1000;
    await deliver(makeNotification({ count: 2, status: 'resolved' }), 'k2');
    clock += 1000;
    await deliver(makeNotification({ groupKey: '{}:{alertname="Other"}' }), 'k3');

    // Assess
    expect(sink.name).toBe('googlechat');
    expect(chat.messages).toHaveLength(3);
    const [firing, resolved, other] = chat.messages;
    expect(resolved.thread).toBe(firing.thread);
    expect(other.thread).not.toBe(firing.thread);
    expect(firing.threadKey).toBe(groupThreadKey('ops-chat', '{}:{alertname="HighLatency"}'));
    expect(chat.requests.map((r) => r.query.get('messageReplyOption'))).toEqual([
      MESSAGE_REPLY_OPTION,
      MESSAGE_REPLY_OPTION,
      MESSAGE_REPLY_OPTION,
    ]);
    expect(firing.text).toMatch(/^🔥 \*\[FIRING:2\] HighLatency\*/);
    expect(resolved.text).toMatch(/^✅ \*\[RESOLVED\] HighLatency\*/);
  });

  it('should hand the second message of a busy space back to the queue instead of posting it early', async () => {
    // Prepare
    chat = await startFakeGoogleChat({ webhooks: [WEBHOOK] });
    const secrets = { GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK) };
    const state = memoryState();
    const clock = Date.parse('2026-11-21T12:00:00.000Z');
    const sink = createGoogleChatSink({ now: () => clock });
    await sink.deliver(
      vendorDelivery(destination({ writesPerMinute: 30 }), makeNotification({}), { secrets, state }),
    );

    // Act
    const error = await failure(
      sink.deliver(
        vendorDelivery(destination({ writesPerMinute: 30 }), makeNotification({ groupKey: 'other' }), {
          secrets,
          state,
          idempotencyKey: 'second',
        }),
      ),
    );

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterSeconds).toBe(2);
    expect(chat.messages).toHaveLength(1);
  });

  it('should not post twice when a delivery is retried after Chat took the message', async () => {
    // Prepare: the first post is made, but the journal that would say so is lost
    chat = await startFakeGoogleChat({ webhooks: [WEBHOOK] });
    const secrets = { GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK) };
    const sink = createGoogleChatSink();
    const notification = makeNotification({});
    await sink.deliver(vendorDelivery(destination(), notification, { secrets }));

    // Act
    await sink.deliver(vendorDelivery(destination(), notification, { secrets }));

    // Assess
    expect(chat.requests.map((r) => r.outcome)).toEqual([200, 200]);
    expect(chat.messages).toHaveLength(1);
  });

  it("should retry Chat's 429 RESOURCE_EXHAUSTED", async () => {
    // Prepare
    chat = await startFakeGoogleChat({ webhooks: [WEBHOOK] });
    chat.rateLimit({ after: 0, times: 1 });
    const secrets = { GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK) };

    // Act
    const error = await failure(
      createGoogleChatSink().deliver(vendorDelivery(destination(), makeNotification({}), { secrets })),
    );

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toContain('answered 429');
    expect(error.message).toContain('RESOURCE_EXHAUSTED');
  });

  it('should dead-letter a deleted webhook (404) and a revoked token (401) with the reason, never the URL', async () => {
    // Prepare
    chat = await startFakeGoogleChat({ webhooks: [WEBHOOK] });
    const { logger, lines } = capturingLogger();
    const gone = chat.webhookUrl({ ...WEBHOOK, space: 'AAAAgone000' });
    const revoked = chat.webhookUrl({ ...WEBHOOK, token: 'revokedTokenValue0123456789' });
    const sink = createGoogleChatSink();

    // Act
    const notFound = await failure(
      sink.deliver(
        vendorDelivery(destination(), makeNotification({}), { secrets: { GCHAT_WEBHOOK_URL: gone }, logger }),
      ),
    );
    const unauthorized = await failure(
      sink.deliver(
        vendorDelivery(destination(), makeNotification({}), {
          secrets: { GCHAT_WEBHOOK_URL: revoked },
          logger,
        }),
      ),
    );

    // Assess
    expect(notFound).toBeInstanceOf(PermanentError);
    expect(notFound.message).toContain('answered 404');
    expect(notFound.message).toContain('no such space or webhook');
    expect(unauthorized).toBeInstanceOf(PermanentError);
    expect(unauthorized.message).toContain('answered 401');
    for (const text of [notFound.message, unauthorized.message, ...lines]) {
      expect(text).not.toContain(KEY);
      expect(text).not.toContain('revokedTokenValue0123456789');
    }
  });

  it("should be refused by the fake as Chat refuses a text over 4,096 UTF-16 code units, with Google's error", async () => {
    // Prepare
    chat = await startFakeGoogleChat({ webhooks: [WEBHOOK] });
    const post = (text: string) =>
      fetch(chat.webhookUrl(WEBHOOK), {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=UTF-8' },
        body: JSON.stringify({ text }),
      });

    // Act
    const atLimit = await post('x'.repeat(4096));
    const over = await post('x'.repeat(4097));
    // 2,049 code points, 4,098 UTF-16 code units
    const astral = await post('🔥'.repeat(2049));

    // Assess
    expect(atLimit.status).toBe(200);
    for (const refused of [over, astral]) {
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({
        error: { code: 400, message: 'Message is longer than 4096 characters', status: 'INVALID_ARGUMENT' },
      });
    }
    expect(chat.messages).toHaveLength(1);
  });

  it('should post a 40-alert group whole, in as many messages of its thread as needed, each at its turn in the space', async () => {
    // Prepare
    chat = await startFakeGoogleChat({ webhooks: [WEBHOOK] });
    const secrets = { GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK) };
    const notification = largeGroup(40);
    const expected = buildMessages(notification, 'ops-chat');

    // Act
    const deferrals = await deliverUntilDone(notification, secrets, memoryState());

    // Assess
    expect(expected.length).toBeGreaterThan(1);
    expect(chat.requests.map((r) => r.outcome)).toEqual(expected.map(() => 200));
    expect(chat.messages.map((m) => m.text)).toEqual(expected.map((m) => m.text));
    expect(new Set(chat.messages.map((m) => m.thread)).size).toBe(1);
    expect(chat.messages[0].threadKey).toBe(groupThreadKey('ops-chat', notification.groupKey));
    for (const message of chat.messages) expect(message.text?.length).toBeLessThanOrEqual(4096);
    const all = chat.messages.map((m) => m.text).join('\n');
    for (let i = 0; i < 40; i++) expect(all).toContain(chatText(`pod=${largeGroupLabels(i).pod}`));
    // Every message took its own turn in the space: the delivery came back for each one after the first.
    expect(deferrals).toBe(expected.length - 1);
    // The first message keeps the requestId a delivery had before messages were split; each has its own.
    const ids = chat.requests.map((r) => r.query.get('requestId'));
    expect(ids[0]).toBe(
      messageRequestId('ops-chat', 'idem-3f9a0c', '2026-11-21T12:00:00.000Z', { index: 1, count: 1 }),
    );
    expect(new Set(ids).size).toBe(expected.length);
  });

  it('should not post any message of a split group twice when the delivery is retried after Chat took them', async () => {
    // Prepare: every message is posted, but the journal that would say so is lost
    chat = await startFakeGoogleChat({ webhooks: [WEBHOOK] });
    const secrets = { GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK) };
    const notification = largeGroup(20);
    await deliverUntilDone(notification, secrets, memoryState());
    const posted = chat.messages.length;

    // Act
    await deliverUntilDone(notification, secrets, memoryState());

    // Assess
    expect(posted).toBeGreaterThan(1);
    expect(chat.requests).toHaveLength(2 * posted);
    expect(chat.requests.map((r) => r.outcome)).toEqual(chat.requests.map(() => 200));
    expect(chat.messages).toHaveLength(posted);
  });

  /**
   * Delivers `notification` as the queue would: each time the space's pacing hands it back, the
   * clock moves on to when it may go out and it is delivered again. Resolves with how many times
   * it was handed back.
   */
  async function deliverUntilDone(
    notification: ReturnType<typeof largeGroup>,
    secrets: Record<string, string>,
    state: ReturnType<typeof memoryState>,
  ): Promise<number> {
    let clock = Date.parse('2026-11-21T12:00:00.000Z');
    const sink = createGoogleChatSink({ now: () => clock });
    for (let deferrals = 0; deferrals <= 100; deferrals++) {
      try {
        await sink.deliver(vendorDelivery(destination(), notification, { secrets, state }));
        return deferrals;
      } catch (error) {
        if (!(error instanceof DeferredError)) throw error;
        clock += error.retryAfterSeconds * 1000;
      }
    }
    throw new Error('the delivery was still handed back after 100 turns');
  }

  it('should refuse a secret that is not a space webhook URL without quoting it', async () => {
    // Act
    const error = await failure(
      createGoogleChatSink().deliver(
        vendorDelivery(destination(), makeNotification({}), {
          secrets: {
            GCHAT_WEBHOOK_URL: `https://chat.googleapis.com/v1/spaces/${SPACE}/messages?key=${KEY}`,
          },
        }),
      ),
    );

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('lacks its key or token');
    expect(error.message).not.toContain(KEY);
  });
});

import { beforeEach, describe, expect, it, vi } from 'vitest';
import { sinkQueueName } from '../../../lib/queue/local.ts';
import { groupThreadKey } from '../../../lib/sinks/googlechat/message.ts';
import { chatText } from '../../../lib/sinks/googlechat/text.ts';
import { type FakeGoogleChat, startFakeGoogleChat } from '../../support/fake-googlechat.ts';
import { useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';
import { drainSink, useStormClock } from '../../support/storm.ts';
import { largeGroup, largeGroupLabels } from './large-group.ts';

const TOKEN = 'ingest-token-gchat-7c21';
const WEBHOOK = {
  space: 'AAAAintegr8',
  key: 'AIzaSyIntegrationKey000000000000000000',
  token: 'integrationToken0123456789abcdef',
};

describe('Local runtime: POST /alertmanager -> googlechat sink -> fake Google Chat', () => {
  const local = useLocalRelay('gchat');
  let chat: FakeGoogleChat;

  beforeEach(async () => {
    chat = local.own(await startFakeGoogleChat({ webhooks: [WEBHOOK] }));
  });

  it('should post the firing and the resolved notification of a group as two messages in one thread', async () => {
    // Prepare
    const r = await local.start({
      token: TOKEN,
      destinations: [{ name: 'ops-chat', sink: 'googlechat', webhookUrlSecret: 'GCHAT_WEBHOOK_URL' }],
      secrets: { GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK) },
    });

    // Act
    await r.post(makeNotification({ count: 2 }));
    await chat.waitFor(() => chat.messages.length === 1);
    await r.post(makeNotification({ count: 2, status: 'resolved' }));
    await r.until(() => r.telemetry.get('Delivered', 'ops-chat') === 2);

    // Assess
    expect(chat.messages).toHaveLength(2);
    const [firing, resolved] = chat.messages;
    expect(resolved.thread).toBe(firing.thread);
    expect(firing.threadKey).toBe(groupThreadKey('ops-chat', '{}:{alertname="HighLatency"}'));
    expect(firing.text).toMatch(/^🔥 \*\[FIRING:2\] HighLatency\*/);
    expect(resolved.text).toMatch(/^✅ \*\[RESOLVED\] HighLatency\*/);
    expect(chat.requests.filter((q) => q.outcome !== 200)).toEqual([]);
  });

  it('should dead-letter a deleted webhook at once with the reason, never the key or token', async () => {
    // Prepare
    const r = await local.start({
      token: TOKEN,
      destinations: [{ name: 'ops-chat', sink: 'googlechat', webhookUrlSecret: 'GCHAT_WEBHOOK_URL' }],
      secrets: { GCHAT_WEBHOOK_URL: chat.webhookUrl({ ...WEBHOOK, space: 'AAAAdeleted' }) },
    });

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('DeadLettered', 'ops-chat') === 1);

    // Assess
    const [dead] = r.deadLetters('googlechat');
    expect(dead.attributes).toMatchObject({
      statusCode: '404',
      destination: 'ops-chat',
      errorType: 'permanent',
    });
    expect(dead.attributes.reason).toContain('no such space or webhook');
    for (const text of [dead.attributes.reason, ...r.logs()]) {
      expect(text).not.toContain(WEBHOOK.key);
      expect(text).not.toContain(WEBHOOK.token);
    }
  });
});

describe('Local runtime: a group over one Google Chat message -> fake Google Chat', () => {
  const local = useLocalRelay('gchat-split');
  // The virtual clock (only Date is faked): the space's pacing hands each further message back
  // to the queue for a second, and the test moves the clock on instead of waiting.
  useStormClock();
  let chat: FakeGoogleChat;

  beforeEach(async () => {
    chat = local.own(await startFakeGoogleChat({ webhooks: [WEBHOOK], now: () => Date.now() }));
  });

  it('should bring a 40-alert group of real-shaped alerts to the space whole, in replies of one thread each within 4,096 characters, nothing dead-lettered', async () => {
    // Prepare
    const r = await local.start({
      token: TOKEN,
      destinations: [{ name: 'ops-chat', sink: 'googlechat', webhookUrlSecret: 'GCHAT_WEBHOOK_URL' }],
      secrets: { GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK) },
    });
    const notification = largeGroup(40);
    const queue = sinkQueueName('googlechat');
    const pending = () => {
      const depth = r.queue.depth(queue);
      return depth.visible + depth.inFlight;
    };

    // Act: one second of the virtual clock per turn, until the queue is empty.
    await r.post(notification);
    await drainSink(r, 'googlechat');
    for (let turn = 0; turn < 120 && pending() > 0; turn++) {
      vi.setSystemTime(Date.now() + 1000);
      await drainSink(r, 'googlechat');
    }

    // Assess
    expect(pending()).toBe(0);
    expect(r.telemetry.get('DeadLettered', 'ops-chat')).toBe(0);
    expect(r.deadLetters('googlechat')).toEqual([]);
    expect(chat.requests.filter((q) => q.outcome !== 200)).toEqual([]);
    expect(chat.messages.length).toBeGreaterThan(1);
    expect(new Set(chat.messages.map((m) => m.thread)).size).toBe(1);
    expect(new Set(chat.messages.map((m) => m.threadKey))).toEqual(
      new Set([groupThreadKey('ops-chat', notification.groupKey)]),
    );
    for (const message of chat.messages) expect((message.text ?? '').length).toBeLessThanOrEqual(4096);
    const lines = chat.messages.flatMap((m) => (m.text ?? '').split('\n')).filter((l) => l.startsWith('• '));
    expect(lines).toHaveLength(40);
    for (let i = 0; i < 40; i++) {
      const { alertname, ...labels } = largeGroupLabels(i);
      const line = lines.find((l) => l.includes(chatText(`pod=${labels.pod} `)));
      expect(line, `the line of alert ${i}`).toBeDefined();
      expect(line?.startsWith(`• *${alertname}* `)).toBe(true);
      for (const [name, value] of Object.entries(labels))
        expect(line).toContain(chatText(`${name}=${value}`));
    }
  });
});

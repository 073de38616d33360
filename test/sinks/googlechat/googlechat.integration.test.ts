import { beforeEach, describe, expect, it } from 'vitest';
import { groupThreadKey } from '../../../lib/sinks/googlechat/message.ts';
import { type FakeGoogleChat, startFakeGoogleChat } from '../../support/fake-googlechat.ts';
import { useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';

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

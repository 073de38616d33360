import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createGoogleChatSink,
  type GoogleChatDestination,
} from '../../../lib/sinks/googlechat/googlechat.ts';
import { chatText } from '../../../lib/sinks/googlechat/text.ts';
import { type FakeGoogleChat, startFakeGoogleChat } from '../../support/fake-googlechat.ts';
import { makeNotification } from '../../support/notifications.ts';
import { memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';

const WEBHOOK = {
  space: 'AAAAtpl0001',
  key: 'AIzaSyTemplatesKey0123456789',
  token: 'tplToken-0123456789abcdef',
};
const TEAM = '<users/all> *now* see evil.example';

describe('Sink: googlechat (templates, at the fake Google Chat)', () => {
  let chat: FakeGoogleChat;

  beforeEach(async () => {
    chat = await startFakeGoogleChat({ webhooks: [WEBHOOK] });
  });

  afterEach(async () => {
    await chat.close();
  });

  async function deliver(templates: GoogleChatDestination['templates']) {
    const destination: GoogleChatDestination = {
      name: 'ops-chat',
      sink: 'googlechat',
      webhookUrlSecret: 'GCHAT_WEBHOOK_URL',
      templates,
    };
    const counted: string[] = [];
    await createGoogleChatSink().deliver({
      ...vendorDelivery(destination, makeNotification({ count: 2, labels: () => ({ team: TEAM }) }), {
        state: memoryState(),
        secrets: { GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK) },
      }),
      count: (name) => void counted.push(name),
    });
    return counted;
  }

  it('should post the templated headline and alert list, values made inert', async () => {
    // Act
    const counted = await deliver({
      title: '*{{ status | upcase }}* {{ commonLabels.alertname }} for {{ destination.name }}',
      text: '{% for a in alerts %}• {{ a.labels.team }} {{ a.links.graph | link: "graph" }}\n{% endfor %}',
    });

    // Assess
    const text = chat.messages[0].text ?? '';
    const [headline, first] = text.split('\n');
    expect(headline).toBe('*FIRING* HighLatency for ops-chat');
    expect(first).toBe(
      `• ${chatText(TEAM)} <http://prometheus:9090/graph?g0.expr=latency+%3E+1&g0.tab=1|graph>`,
    );
    expect(text).not.toContain('<users/all>');
    expect(counted).toEqual([]);
  });

  it('should keep the default message with a note when a template fails, and count it', async () => {
    // Act
    const counted = await deliver({ text: '{% for i in (1..100000000) %}{% endfor %}' });

    // Assess
    const text = chat.messages[0].text ?? '';
    expect(text).toContain('*HighLatency*');
    expect(text).toContain('template "text" failed: line 1, column 1: memory alloc limit exceeded');
    expect(counted).toEqual(['TemplateFailed']);
  });
});

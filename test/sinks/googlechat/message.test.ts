import { describe, expect, it } from 'vitest';
import {
  buildMessages,
  type ChatMessage,
  groupThreadKey,
  messageRequestId,
  splitRequestId,
} from '../../../lib/sinks/googlechat/message.ts';
import { chatLink, chatText } from '../../../lib/sinks/googlechat/text.ts';
import { HOSTILE, HOSTILE_TEXT, hostileNotification } from '../../support/conformance.ts';
import { makeNotification } from '../../support/notifications.ts';
import { largeGroup, largeGroupLabels } from './large-group.ts';

// The relay's own links only: an encoded href on the alert's hosts, and one of its own labels.
const OWN_LINK =
  /^<https:\/\/(prometheus|alertmanager|runbook)\.example\/[^\s<>|]*\|(graph|runbook|Silence this group)>$/;

describe('Function: chatText', () => {
  it('should leave no character Google Chat reads as a mention, link or formatting', () => {
    // Prepare
    const value = `<users/all> <https://evil.example|click> *bold* _it_ ~s~ \`code\` ${HOSTILE}`;

    // Act
    const text = chatText(value);

    // Assess
    expect(text).not.toMatch(/[<>*_~`]/);
    expect(text).not.toContain('://');
    expect(text).not.toContain('evil.example');
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('@\u200bhere');
    expect(text).toContain('‹users/all›');
  });

  it('should keep ordinary text readable on one line', () => {
    // Act
    const text = chatText('Latency high\non web-0:9100 (p99 > 1s)');

    // Assess
    expect(text).toBe('Latency high on web-0:9100 (p99 › 1s)');
  });
});

describe('Function: chatLink', () => {
  it('should link only http(s) URLs, encoding what would close the link', () => {
    // Act
    const good = chatLink('http://prom:9090/graph?g0.expr=up|x>0', 'graph');
    const bad = chatLink('javascript:alert(1)', 'graph');

    // Assess
    expect(good).toBe('<http://prom:9090/graph?g0.expr=up%7Cx%3E0|graph>');
    expect(bad).toBeUndefined();
  });
});

describe('Function: groupThreadKey', () => {
  it('should give a group the same thread in a destination and another one elsewhere', () => {
    // Act
    const a = groupThreadKey('ops-chat', '{}:{alertname="A"}');
    const again = groupThreadKey('ops-chat', '{}:{alertname="A"}');
    const other = groupThreadKey('ops-chat', '{}:{alertname="B"}');
    const elsewhere = groupThreadKey('dev-chat', '{}:{alertname="A"}');

    // Assess
    expect(a).toBe(again);
    expect(new Set([a, other, elsewhere]).size).toBe(3);
    expect(a).not.toContain('alertname');
    expect(a.length).toBeLessThanOrEqual(4000);
  });
});

describe('Function: messageRequestId', () => {
  it('should be the same for a retry of a message and differ for another part or receipt', () => {
    // Act
    const first = messageRequestId('ops', 'idem', '2026-11-21T12:00:00.000Z', { index: 1, count: 2 });
    const retry = messageRequestId('ops', 'idem', '2026-11-21T12:00:00.000Z', { index: 1, count: 2 });
    const part2 = messageRequestId('ops', 'idem', '2026-11-21T12:00:00.000Z', { index: 2, count: 2 });
    const later = messageRequestId('ops', 'idem', '2026-11-21T13:00:00.000Z', { index: 1, count: 2 });

    // Assess
    expect(first).toBe(retry);
    expect(new Set([first, part2, later]).size).toBe(3);
  });
});

describe('Function: splitRequestId', () => {
  it("should keep the first message's requestId and give every other message one of its own", () => {
    // Prepare
    const first = messageRequestId('ops', 'idem', '2026-11-21T12:00:00.000Z', { index: 1, count: 1 });

    // Act
    const ids = [1, 2, 3].map((index) => splitRequestId(first, index));
    const again = [1, 2, 3].map((index) => splitRequestId(first, index));

    // Assess
    expect(ids[0]).toBe(first);
    expect(again).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^alertmanager-relay-[0-9a-f]{40}$/);
  });
});

/**
 * Every message within Chat's limits, as Chat counts them: 4,096 UTF-16 code units of text,
 * 32,000 UTF-8 bytes of body (the numbers themselves, not the sink's constants).
 */
function expectWithinLimits(messages: readonly ChatMessage[]) {
  for (const message of messages) {
    expect(message.text.length).toBeLessThanOrEqual(4096);
    expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThanOrEqual(32_000);
    expect(message.text.isWellFormed()).toBe(true);
  }
}

const alertLines = (messages: readonly ChatMessage[]) =>
  messages.flatMap((m) => m.text.split('\n')).filter((line) => /^[•✓] /.test(line));

describe('Function: buildMessages', () => {
  it('should head a firing group with its status and list each alert with its links', () => {
    // Prepare
    const notification = makeNotification({ count: 2 });
    notification.commonAnnotations = { summary: 'Latency high' };

    // Act
    const [{ text, thread }, ...more] = buildMessages(notification, 'ops-chat');

    // Assess
    expect(more).toEqual([]);
    const lines = text.split('\n');
    expect(lines[0]).toBe('🔥 *[FIRING:2] HighLatency* — Latency high');
    expect(lines[1]).toContain('• *HighLatency* instance=web-0:9100');
    expect(lines[1]).toContain('<http://prometheus:9090/graph?g0.expr=latency+%3E+1&g0.tab=1|graph>');
    expect(lines.at(-1)).toMatch(
      /^<http:\/\/alertmanager:9093\/#\/silences\/new\?filter=.*\|Silence this group>$/,
    );
    expect(thread.threadKey).toBe(groupThreadKey('ops-chat', notification.groupKey));
  });

  it('should say resolved without a silence link', () => {
    // Act
    const [{ text }, ...more] = buildMessages(makeNotification({ count: 1, status: 'resolved' }), 'ops-chat');

    // Assess
    expect(more).toEqual([]);
    expect(text.split('\n')[0]).toBe('✅ *[RESOLVED] HighLatency*');
    expect(text).toContain('✓ *HighLatency*');
    expect(text).not.toContain('silences/new');
  });

  it('should list every alert of a 45-alert group, with no cap on the number of lines', () => {
    // Act
    const messages = buildMessages(makeNotification({ count: 45 }), 'ops-chat');

    // Assess
    expect(alertLines(messages).map((line) => /instance=web-(\d+):/.exec(line)?.[1])).toEqual(
      Array.from({ length: 45 }, (_, i) => String(i)),
    );
    expect(messages.map((m) => m.text).join('\n')).not.toContain('not listed here');
    expectWithinLimits(messages);
  });

  it('should split 40 real-shaped alerts over as many messages of one thread as Chat needs, every alert in one of them', () => {
    // Prepare
    const notification = largeGroup(40);

    // Act
    const messages = buildMessages(notification, 'ops-chat');

    // Assess
    expect(messages.length).toBeGreaterThan(1);
    expectWithinLimits(messages);
    expect(new Set(messages.map((m) => m.thread.threadKey))).toEqual(
      new Set([groupThreadKey('ops-chat', notification.groupKey)]),
    );
    const lines = alertLines(messages);
    expect(lines).toHaveLength(40);
    for (let i = 0; i < 40; i++) {
      const labels = largeGroupLabels(i);
      const line = lines[i];
      expect(line.startsWith('• *KubePodCrashLooping* ')).toBe(true);
      for (const name of [
        'cluster',
        'container',
        'instance',
        'job',
        'namespace',
        'pod',
        'region',
        'service',
        'severity',
      ])
        expect(line).toContain(chatText(`${name}=${labels[name]}`));
    }
    // The first message is the group's headline; the others say they go on from it.
    const n = messages.length;
    expect(messages[0].text.split('\n')[0]).toBe(
      `🔥 *[FIRING:40] KubePodCrashLooping* _(message 1 of ${n})_`,
    );
    for (const [i, message] of messages.slice(1).entries())
      expect(message.text.split('\n')[0]).toBe(
        `🔥 *[FIRING:40] KubePodCrashLooping* _(continued, message ${i + 2} of ${n})_`,
      );
    // The silence link closes the last message, as it closed the one message before.
    expect(messages[n - 1].text.split('\n').at(-1)).toMatch(/\|Silence this group>$/);
    expect(messages.slice(0, -1).some((m) => m.text.includes('Silence this group'))).toBe(false);
  });

  it('should mark the messages of a part the relay split for the queue with the part and the message', () => {
    // Act
    const messages = buildMessages(largeGroup(20), 'ops-chat', { index: 2, count: 3 });

    // Assess
    const n = messages.length;
    expect(n).toBeGreaterThan(1);
    expect(messages[0].text.split('\n')[0]).toBe(
      `🔥 *[FIRING:20] KubePodCrashLooping* _(part 2 of 3, message 1 of ${n})_`,
    );
    expect(messages[n - 1].text.split('\n')[0]).toBe(
      `🔥 *[FIRING:20] KubePodCrashLooping* _(part 2 of 3, continued, message ${n} of ${n})_`,
    );
  });

  it('should fill a message to exactly 4,096 UTF-16 code units and start the next one a unit later', () => {
    // Prepare: "T" + "\n" + 2,000 + "\n" + the second line
    const deliver = (second: string) =>
      // Resolved: no silence link after the lines.
      buildMessages(makeNotification({ count: 1, status: 'resolved' }), 'ops-chat', undefined, {
        title: 'T',
        text: `${'a'.repeat(2000)}\n${second}`,
      });

    // Act
    const atLimit = deliver('b'.repeat(2093));
    const overLimit = deliver('b'.repeat(2094));

    // Assess
    expect(atLimit.map((m) => m.text.length)).toEqual([4096]);
    expect(overLimit.map((m) => m.text)).toEqual([
      `T _(message 1 of 2)_\n${'a'.repeat(2000)}`,
      `T _(continued, message 2 of 2)_\n${'b'.repeat(2094)}`,
    ]);
  });

  it('should count an astral character as two, the way Chat counts, and never split one', () => {
    // Prepare: 🔥 is one code point but two UTF-16 code units.
    const deliver = (fires: number) =>
      // Resolved: no silence link after the lines.
      buildMessages(makeNotification({ count: 1, status: 'resolved' }), 'ops-chat', undefined, {
        title: 'T',
        text: `${'a'.repeat(2000)}\n${'🔥'.repeat(fires)}`,
      });

    // Act
    const atLimit = deliver(1046);
    const overLimit = deliver(1047);

    // Assess: 1 + 1 + 2,000 + 1 + 2 × 1,046 = 4,095; one 🔥 more is 4,097 code units (3,050 code points).
    expect(atLimit).toHaveLength(1);
    expect(overLimit).toHaveLength(2);
    expect(overLimit[1].text).toBe(`T _(continued, message 2 of 2)_\n${'🔥'.repeat(1047)}`);
    expectWithinLimits([...atLimit, ...overLimit]);
  });

  it('should keep alert lines of astral text whole and well-formed in every message', () => {
    // Prepare
    const notification = makeNotification({ count: 40 });
    for (const alert of notification.alerts) alert.annotations.summary = '𝔏𝔞𝔱𝔢𝔫𝔠𝔶 🔥'.repeat(100);

    // Act
    const messages = buildMessages(notification, 'ops-chat');

    // Assess
    expect(messages.length).toBeGreaterThan(1);
    expectWithinLimits(messages);
    expect(alertLines(messages)).toHaveLength(40);
  });

  it('should keep a huge group within both limits, listing every alert instead of leaving any out', () => {
    // Prepare
    const notification = makeNotification({ count: 40 });
    for (const alert of notification.alerts) alert.annotations.summary = '界'.repeat(2000);

    // Act
    const messages = buildMessages(notification, 'ops-chat');

    // Assess
    expectWithinLimits(messages);
    expect(alertLines(messages)).toHaveLength(40);
    expect(messages.map((m) => m.text).join('\n')).not.toContain('not listed here');
  });

  it('should put the links of an alert line too long for a message on lines of their own, whole', () => {
    // Prepare: two 2,900-character links
    const notification = makeNotification({ count: 3 });
    const long = `https://prometheus.example/graph?g0.expr=${'x'.repeat(2860)}`;
    notification.alerts[1].generatorURL = long;
    notification.alerts[1].annotations.runbook_url = long.replace('prometheus', 'runbook');

    // Act
    const messages = buildMessages(notification, 'ops-chat');

    // Assess
    expectWithinLimits(messages);
    const lines = messages.flatMap((m) => m.text.split('\n'));
    expect(lines).toContain(`   ↳ <${long}|graph>`);
    expect(lines).toContain(`   ↳ <${long.replace('prometheus', 'runbook')}|runbook>`);
    expect(alertLines(messages)).toHaveLength(3);
  });

  it("should carry no hostile text as markup, only the relay's own links", () => {
    // Act
    const [{ text }, ...more] = buildMessages(hostileNotification(), 'ops-chat');

    // Assess
    expect(more).toEqual([]);
    for (const raw of Object.values(HOSTILE_TEXT)) expect(text).not.toContain(raw);
    // Outside the relay's own links (whose hrefs percent-encode the label values), no address at all.
    expect(text.replace(/<http[^>]*>/g, '')).not.toContain('evil.example');
    const tokens = text.match(/<[^>]*>/g) ?? [];
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(token).toMatch(OWN_LINK);
  });

  it('should escape hostile content in every message of a split group, and its continuation headlines', () => {
    // Prepare: thirty hostile alerts, far over one message
    const notification = hostileNotification();
    const [alert] = notification.alerts;
    notification.alerts = Array.from({ length: 30 }, (_, i) => ({ ...alert, fingerprint: `h${i}` }));

    // Act
    const messages = buildMessages(notification, 'ops-chat');

    // Assess
    expect(messages.length).toBeGreaterThan(1);
    expectWithinLimits(messages);
    expect(alertLines(messages)).toHaveLength(30);
    for (const { text } of messages) {
      for (const raw of Object.values(HOSTILE_TEXT)) expect(text).not.toContain(raw);
      expect(text.replace(/<http[^>]*>/g, '')).not.toContain('evil.example');
      for (const token of text.match(/<[^>]*>/g) ?? []) expect(token).toMatch(OWN_LINK);
      expect(text.split('\n')[0]).toContain(chatText(`[FIRING:30] Hostile ${HOSTILE}`).slice(0, 40));
    }
  });
});

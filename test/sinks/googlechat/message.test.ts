import { describe, expect, it } from 'vitest';
import {
  buildMessage,
  groupThreadKey,
  MAX_ALERT_LINES,
  messageRequestId,
} from '../../../lib/sinks/googlechat/message.ts';
import { chatLink, chatText } from '../../../lib/sinks/googlechat/text.ts';
import { HOSTILE, HOSTILE_TEXT, hostileNotification } from '../../support/conformance.ts';
import { makeNotification } from '../../support/notifications.ts';

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

describe('Function: buildMessage', () => {
  it('should head a firing group with its status and list each alert with its links', () => {
    // Prepare
    const notification = makeNotification({ count: 2 });
    notification.commonAnnotations = { summary: 'Latency high' };

    // Act
    const { text, thread } = buildMessage(notification, 'ops-chat');

    // Assess
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
    const { text } = buildMessage(makeNotification({ count: 1, status: 'resolved' }), 'ops-chat');

    // Assess
    expect(text.split('\n')[0]).toBe('✅ *[RESOLVED] HighLatency*');
    expect(text).toContain('✓ *HighLatency*');
    expect(text).not.toContain('silences/new');
  });

  it('should list at most 40 alerts and say how many more there are', () => {
    // Act
    const { text } = buildMessage(makeNotification({ count: MAX_ALERT_LINES + 5 }), 'ops-chat');

    // Assess
    expect(text.split('\n').filter((l) => l.startsWith('• '))).toHaveLength(MAX_ALERT_LINES);
    expect(text).toContain('… and 5 more alert(s) not listed here');
  });

  it('should keep a huge group under the 32,000-byte message limit, saying what it left out', () => {
    // Prepare
    const notification = makeNotification({ count: 40 });
    for (const alert of notification.alerts) alert.annotations.summary = '界'.repeat(2000);

    // Act
    const { text } = buildMessage(notification, 'ops-chat');

    // Assess
    expect(Buffer.byteLength(text)).toBeLessThan(30_000);
    expect(text).toMatch(/… and \d+ more alert\(s\) not listed here/);
  });

  it("should carry no hostile text as markup, only the relay's own links", () => {
    // Act
    const { text } = buildMessage(hostileNotification(), 'ops-chat');

    // Assess
    for (const raw of Object.values(HOSTILE_TEXT)) expect(text).not.toContain(raw);
    // Outside the relay's own links (whose hrefs percent-encode the label values), no address at all.
    expect(text.replace(/<http[^>]*>/g, '')).not.toContain('evil.example');
    const tokens = text.match(/<[^>]*>/g) ?? [];
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(token).toMatch(OWN_LINK);
  });
});

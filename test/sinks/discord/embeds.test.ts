import { describe, expect, it } from 'vitest';
import { runbookUrl, silenceUrl } from '../../../lib/alertmanager/links.ts';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import {
  buildDiscordMessages,
  DISCORD_COLORS,
  DISCORD_LIMITS,
  discordTextWithin,
  embedChars,
} from '../../../lib/sinks/discord/embeds.ts';
import { discordBodyViolation } from '../../support/fake-discord.ts';
import { makeNotification } from '../../support/notifications.ts';

const links = { silenceUrl, runbookUrl };

function notification(count: number, status: Notification['status'] = 'firing'): Notification {
  const n = makeNotification({ count, status });
  n.commonLabels = { alertname: 'HighLatency', severity: 'critical', cluster: 'eu-1' };
  n.commonAnnotations = { summary: 'Latency is high', runbook_url: 'https://runbooks.example/latency' };
  return n;
}

describe('Function: buildDiscordMessages', () => {
  it('should build one red message with the title, summary, links, shared labels and one line per alert', () => {
    // Act
    const [message, ...rest] = buildDiscordMessages(notification(2), { links });

    // Assess
    expect(rest).toEqual([]);
    expect(message.allowed_mentions).toEqual({ parse: [] });
    const [embed] = message.embeds;
    expect(embed.title).toBe('🔥 \\[FIRING:2\\] HighLatency');
    expect(embed.color).toBe(DISCORD_COLORS.firing);
    expect(embed.description).toContain('**Latency is high**');
    expect(embed.description).toContain('[Runbook](https://runbooks.example/latency)');
    expect(embed.description).toContain('[Silence](http://alertmanager:9093/#/silences/new?filter=');
    expect(embed.description).toContain('🔴 **instance\\=web\\-1:9100**');
    expect(embed.fields).toEqual([
      { name: 'cluster', value: 'eu\\-1', inline: true },
      { name: 'severity', value: 'critical', inline: true },
    ]);
    expect(embed.footer?.text).toBe('2 firing, 0 resolved · alertmanager-relay');
    expect(embed.timestamp).toBe('2026-11-21T11:00:00.000Z');
  });

  it('should make a resolved group green, without a silence link, stamped with when it resolved', () => {
    // Act
    const [message] = buildDiscordMessages(notification(1, 'resolved'), { links });

    // Assess
    expect(message.embeds[0].color).toBe(DISCORD_COLORS.resolved);
    expect(message.embeds[0].title).toContain('RESOLVED');
    expect(message.embeds[0].description).not.toContain('Silence');
    expect(message.embeds[0].timestamp).toBe('2026-11-21T11:30:00.000Z');
  });

  it('should list a large group compactly and split it into messages within every Discord limit, dropping no alert', () => {
    // Prepare
    const big = notification(400);

    // Act
    const messages = buildDiscordMessages(big, { links });

    // Assess
    expect(messages.length).toBeGreaterThan(1);
    for (const message of messages) {
      expect(discordBodyViolation(message)).toBeUndefined();
      expect(message.embeds.length).toBeLessThanOrEqual(DISCORD_LIMITS.embedsPerMessage);
      expect(message.embeds.reduce((n, e) => n + embedChars(e), 0)).toBeLessThanOrEqual(6000);
    }
    const lines = messages.flatMap((m) => m.embeds.flatMap((e) => (e.description ?? '').split('\n')));
    expect(lines.filter((l) => l.startsWith('🔴'))).toHaveLength(400);
    expect(lines.some((l) => l.includes('Latency high on'))).toBe(false);
    expect(messages[1].embeds[0].title).toMatch(/^HighLatency: alerts \d+\\-\d+ of 400 \\\(continued\\\)$/);
  });

  it('should say when Alertmanager left alerts out and which part of a split notification this is', () => {
    // Prepare
    const n = notification(1);
    n.truncatedAlerts = 3;

    // Act
    const [message] = buildDiscordMessages(n, { links, part: { index: 2, count: 3 } });

    // Assess
    expect(message.embeds[0].description).toContain('left out 3 more alerts');
    expect(message.embeds[0].description).toContain('Part 2 of 3');
    expect(message.embeds[0].footer?.text).toContain('part 2 of 3');
  });

  it('should link only http(s) URLs', () => {
    // Prepare
    const n = notification(2);
    n.alerts[0].generatorURL = 'javascript:alert(1)';
    n.commonAnnotations.runbook_url = 'data:text/html,hi';

    // Act
    const [message] = buildDiscordMessages(n, { links });

    // Assess
    const text = message.embeds.map((e) => e.description).join('\n');
    expect(text).not.toContain('javascript:');
    expect(text).not.toContain('(data:');
  });
});

describe('Function: discordTextWithin', () => {
  it('should cut the raw text so the escaped result fits, marking the cut', () => {
    // Act
    const cut = discordTextWithin('*'.repeat(100), 21);

    // Assess
    expect(cut).toBe(`${'\\*'.repeat(10)}…`);
  });
});

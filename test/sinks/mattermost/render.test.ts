import { describe, expect, it } from 'vitest';
import { runbookUrl, silenceUrl } from '../../../lib/alertmanager/links.ts';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import type { StormState } from '../../../lib/chat/storm/storm.ts';
import type { DigestTotals } from '../../../lib/chat/storm/tally.ts';
import {
  MATTERMOST_COLORS,
  MATTERMOST_MESSAGE_RUNES,
  mattermostDigest,
  mattermostFormat,
  mattermostText,
  renderPosts,
} from '../../../lib/sinks/mattermost/render.ts';
import { mattermostPropsViolation } from '../../support/fake-mattermost.ts';
import { makeNotification } from '../../support/notifications.ts';
import { mattermostViolations, postTexts } from './inert.ts';

const links = { silenceUrl, runbookUrl };
const runes = (text: string) => Array.from(text).length;
const plain = (text: string) => text.replace(/\\(.)/g, '$1');
const render = (n: Notification, extra: { maxRunes?: number; title?: string; text?: string } = {}) =>
  renderPosts(n, {
    links,
    part: { index: 1, count: 1 },
    templated: { title: extra.title, text: extra.text, notes: [] },
    maxRunes: extra.maxRunes,
  });

function group(count: number, status: Notification['status'] = 'firing'): Notification {
  const n = makeNotification({ count, status });
  n.commonLabels = { alertname: 'HighLatency', severity: 'critical', cluster: 'eu-1' };
  n.commonAnnotations = { summary: 'Latency is high', runbook_url: 'https://runbooks.example/latency' };
  return n;
}

/** A group whose alerts each carry `label` (a long value) so that few fit in a post. */
function wide(count: number, label: string): Notification {
  const n = group(count);
  n.alerts = n.alerts.map((a, i) => ({ ...a, labels: { ...a.labels, zz: `${i} ${label}` } }));
  return n;
}

describe('Function: renderPosts', () => {
  it('should render one red post: the title, summary and one line per alert in the message, labels and links in the attachment', () => {
    // Act
    const [post, ...rest] = render(group(2));

    // Assess
    expect(rest).toEqual([]);
    expect(post.message.split('\n')[0]).toBe('#### 🔥 \\[FIRING:2\\] HighLatency');
    expect(post.message).toContain('**Latency is high**');
    expect(post.message).toContain(
      '🔴 **instance\\=web\\-1:9100** · Latency high on web\\-1 · since 2026-11-21 11:00 UTC',
    );
    const [attachment] = post.props.attachments;
    expect(attachment.color).toBe(MATTERMOST_COLORS.firing);
    expect(attachment.text).toContain('**cluster** eu\\-1 · **severity** critical');
    expect(attachment.text).toContain('[Runbook](https://runbooks.example/latency)');
    expect(attachment.text).toContain('[Silence](http://alertmanager:9093/#/silences/new?filter=');
    expect(attachment.footer).toBe('2 firing, 0 resolved · alertmanager-relay');
    expect(attachment.fallback).toBe('[FIRING:2] HighLatency');
    expect(mattermostPropsViolation(post.props)).toBeUndefined();
  });

  it('should make a resolved group green without a silence link, and a firing warning orange', () => {
    // Prepare
    const warning = group(1);
    warning.commonLabels.severity = 'warning';

    // Act
    const [resolved] = render(group(1, 'resolved'));
    const [orange] = render(warning);

    // Assess
    expect(resolved.props.attachments[0].color).toBe(MATTERMOST_COLORS.resolved);
    expect(resolved.message).toContain('✅ \\[RESOLVED\\] HighLatency');
    expect(resolved.props.attachments[0].text).not.toContain('Silence');
    expect(orange.props.attachments[0].color).toBe(MATTERMOST_COLORS.warning);
  });

  it('should split a large group into posts of at most 16,383 runes, each filled before the next begins, dropping no alert', () => {
    // Prepare: 600 alerts of about 190 runes each (compact lines), some 110,000 runes in all
    const big = wide(600, 'x'.repeat(400));

    // Act
    const posts = render(big);

    // Assess
    expect(posts.length).toBeGreaterThan(5);
    const sizes = posts.map((p) => runes(p.message));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MATTERMOST_MESSAGE_RUNES);
    // Every post but the last is full: the next line would not have fitted (lines are ~170 runes).
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThan(MATTERMOST_MESSAGE_RUNES - 200 - 400);
    const text = plain(posts.map((p) => p.message).join('\n'));
    for (let i = 0; i < 600; i++) expect(text).toContain(`instance=web-${i}:9100`);
    expect(posts[1].message.split('\n')[0]).toMatch(
      /^#### HighLatency: alerts \d+-\d+ of 600 \(continued\)$/,
    );
    expect(posts.at(-1)?.message.split('\n')[0]).toMatch(/alerts \d+-600 of 600 \(continued\)$/);
    // Continuations are coloured too, and say the counts.
    for (const post of posts) expect(post.props.attachments[0].color).toBe(MATTERMOST_COLORS.firing);
    expect(posts[1].props.attachments[0].text).toBeUndefined();
  });

  it('should count runes, not UTF-16 units: astral characters fill a post as one each', () => {
    // Prepare: 12 alerts (listed in full) whose labels and summaries are astral characters
    const n = group(12);
    n.alerts = n.alerts.map((a) => ({
      ...a,
      labels: { ...a.labels, emoji: '😀'.repeat(400) },
      annotations: { summary: '𝔸'.repeat(500) },
    }));

    // Act
    const posts = render(n);

    // Assess: one post of about 12,000 runes, over 16,383 in UTF-16 units, no surrogate split
    expect(posts).toHaveLength(1);
    expect(runes(posts[0].message)).toBeLessThanOrEqual(MATTERMOST_MESSAGE_RUNES);
    expect(posts[0].message.length).toBeGreaterThan(MATTERMOST_MESSAGE_RUNES);
    expect(posts[0].message.isWellFormed()).toBe(true);
  });

  it('should keep every post within a smaller limit too, and start a continuation when a line would not fit', () => {
    // Act
    const posts = render(wide(30, 'y'.repeat(250)), { maxRunes: 2000 });

    // Assess
    expect(posts.length).toBeGreaterThan(3);
    for (const post of posts) expect(runes(post.message)).toBeLessThanOrEqual(2000);
    expect(plain(posts.map((p) => p.message).join('\n')).match(/🔴/g)).toHaveLength(30);
  });

  it('should put a templated text in the first post, cut only when it alone is over the limit', () => {
    // Act
    const [short] = render(group(2), { title: 'Custom **title**', text: 'line one\nline two' });
    const long = render(group(2), { text: 'z'.repeat(40_000) });

    // Assess
    expect(short.message).toBe('#### Custom **title**\n\nline one\nline two');
    expect(long).toHaveLength(1);
    expect(runes(long[0].message)).toBeLessThanOrEqual(MATTERMOST_MESSAGE_RUNES);
    expect(long[0].message.endsWith('z…')).toBe(true);
  });

  it('should say a notification is one part of several, and how many alerts Alertmanager left out', () => {
    // Prepare
    const n = { ...group(1), truncatedAlerts: 3 };

    // Act
    const [post] = renderPosts(n, { links, part: { index: 2, count: 3 }, templated: { notes: [] } });

    // Assess
    expect(post.message).toContain('Alertmanager left out 3 more alert(s) of this group (max_alerts)');
    expect(post.message).toContain('Part 2 of 3');
    expect(post.props.attachments[0].footer).toBe('1 firing, 0 resolved · part 2 of 3 · alertmanager-relay');
  });
});

describe('Function: mattermostText', () => {
  it.each([
    ['@channel please', '@\u200bchannel please'],
    ['ping @here and @all', 'ping @\u200bhere and @\u200ball'],
    ['.@here -@all _@someone', '\\.@\u200bhere \\-@\u200ball \\_@\u200bsomeone'],
    ['see ~town-square', 'see \\~\u200btown\\-square'],
    ['tag #incident', 'tag \\#\u200bincident'],
    ['<!here> <!channel>', '\\<\\!here\\> \\<\\!channel\\>'],
    ['[x](javascript:alert(1))', '\\[x\\]\\(javascript:\u200balert\\(1\\)\\)'],
    ['![img](http://evil.example/x.png)', '\\!\\[img\\]\\(http:\u200b//evil\\.example/x\\.png\\)'],
    ['go to https://evil.example/login', 'go to https:\u200b//evil\\.example/login'],
    ['www.evil.example', 'www\\.evil\\.example'],
    ['mailto:ops@evil.example tel:+15550100', 'mailto:\u200bops@evil\\.example tel:\u200b\\+15550100'],
    ['# heading\n===', '\\# heading \\=\\=\\='],
    ['ops@example.com web-0:9100', 'ops@example\\.com web\\-0:9100'],
  ])('should make %j inert', (raw, escaped) => {
    // Act
    const text = mattermostText(raw);

    // Assess
    expect(text).toBe(escaped);
    expect(mattermostViolations(text)).toEqual([]);
  });

  it('should escape template values the same way, keeping their lines', () => {
    // Act
    const value = mattermostFormat.escape('@here\n# big');

    // Assess
    expect(value).toBe('@\u200bhere\n\\# big');
    expect(mattermostFormat.link('javascript:alert(1)', 'x')).toBeUndefined();
    expect(mattermostFormat.link('https://grafana.example/d/1', 'dash')).toBe(
      '[dash](https://grafana.example/d/1)',
    );
  });

  it('should render hostile labels and annotations as text in every field of a post', () => {
    // Prepare
    const hostile =
      '@channel <!here> ~ops #war [x](javascript:alert(1)) ![i](http://evil.example/i.png) https://evil.example # Heading .@all';
    const n = group(3);
    n.commonLabels = { alertname: `Hostile ${hostile}`, team: hostile };
    n.commonAnnotations = { summary: hostile, description: hostile, runbook_url: 'javascript:alert(1)' };
    n.alerts = n.alerts.map((a) => ({
      ...a,
      labels: { ...a.labels, team: hostile },
      annotations: { summary: hostile },
    }));

    // Act
    const posts = render(n, { maxRunes: 1500 });

    // Assess
    expect(posts.length).toBeGreaterThan(1);
    for (const post of posts) {
      for (const text of postTexts(post)) expect(mattermostViolations(text)).toEqual([]);
      expect(post.props.attachments[0].fallback).not.toMatch(/@(channel|here|all)/);
    }
    expect(plain(posts[0].message)).toContain('[x](javascript:\u200balert(1))');
  });
});

describe('Function: mattermostDigest', () => {
  const storm: StormState = {
    id: 's1',
    startedAt: Date.UTC(2026, 10, 21, 12),
    overUntil: 0,
    revision: 3,
  } as unknown as StormState;

  it('should show the counts per alertname and stay within one post however many alertnames there are', () => {
    // Prepare
    const totals: DigestTotals = {
      groups: 5000,
      firingGroups: 5000,
      firing: 5000,
      resolved: 0,
      rows: Array.from({ length: 5000 }, (_, i) => [`Alert${i} @here`, 'critical', 1, 0]),
      newest: [{ title: 'HostDown ~ops', link: 'https://prometheus.example/graph', status: 'firing', at: 0 }],
      stillFiring: [],
    };

    // Act
    const post = mattermostDigest(storm, totals);

    // Assess
    expect(runes(post.message)).toBeLessThanOrEqual(MATTERMOST_MESSAGE_RUNES);
    expect(post.message.split('\n')[0]).toBe('#### 🚨 Alert storm');
    expect(post.message).toContain('**Alert0 @\u200bhere** (critical): 1 firing, 0 resolved');
    expect(post.message).toMatch(/… and \d+ more lines$/);
    expect(post.props.attachments[0]).toMatchObject({
      color: MATTERMOST_COLORS.firing,
      footer: '5000 firing, 0 resolved alerts in 5000 groups',
    });
    expect(mattermostViolations(post.message)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { runbookUrl, silenceUrl } from '../../../lib/alertmanager/links.ts';
import {
  BLOCK_LIMITS,
  type Block,
  blockTextLength,
  buildGroupMessage,
  escapeMrkdwn,
  packLines,
  slackDate,
} from '../../../lib/sinks/slack/blocks.ts';
import { blockKitViolation } from '../../support/fake-slack.ts';
import { makeNotification } from '../../support/notifications.ts';

const links = { silenceUrl, runbookUrl };

const textOf = (blocks: Block[]) => JSON.stringify(blocks);

describe('Function: buildGroupMessage', () => {
  it('should lay out a single firing alert as header, summary, fields, context and buttons', () => {
    // Prepare
    const notification = makeNotification({ count: 1 });
    notification.commonLabels = { ...notification.alerts[0].labels, cluster: 'eu-1' };
    notification.alerts[0].labels.cluster = 'eu-1';

    // Act
    const { main, continuations } = buildGroupMessage(notification, { links });

    // Assess
    expect(main.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context', 'actions']);
    expect(main.blocks[0]).toMatchObject({
      text: { type: 'plain_text', text: ':fire: [FIRING:1] HighLatency' },
    });
    expect(textOf([main.blocks[3]])).toContain('cluster: *eu-1*');
    expect(textOf([main.blocks[3]])).toContain('instance: *web-0:9100*');
    expect(textOf([main.blocks[3]])).toContain('Started <!date^');
    expect(main.text).toBe('[FIRING:1] HighLatency: Latency high on web-0');
    expect(continuations).toEqual([]);
    expect(blockKitViolation(main.blocks)).toBeUndefined();
  });

  it('should list the alerts of a group one line each, firing first', () => {
    // Prepare
    const notification = makeNotification({ count: 3 });
    notification.commonLabels.severity = 'critical';
    notification.alerts[0].status = 'resolved';
    notification.alerts[0].endsAt = '2026-11-21T11:10:00Z';

    // Act
    const { main } = buildGroupMessage(notification, { links });

    // Assess
    const list = main.blocks.find((b) => JSON.stringify(b).includes('web-1')) as { text: { text: string } };
    const lines = list.text.text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^:red_circle: \*instance=web-1:9100\*/);
    expect(lines[2]).toMatch(/^:large_green_circle: \*instance=web-0:9100\*.*resolved <!date\^/);
    expect(textOf(main.blocks)).toContain('2 firing, 1 resolved');
  });

  it('should say the group resolved with its resolved time', () => {
    // Prepare
    const notification = makeNotification({ count: 2, status: 'resolved' });

    // Act
    const { main } = buildGroupMessage(notification, { links });

    // Assess
    expect(main.blocks[0]).toMatchObject({ text: { text: ':white_check_mark: [RESOLVED] HighLatency' } });
    expect(textOf(main.blocks)).toContain(`Resolved <!date^${Date.parse('2026-11-21T11:30:00Z') / 1000}^`);
    expect(textOf(main.blocks)).not.toContain('"Silence"');
  });

  it('should say how many alerts Alertmanager left out', () => {
    // Prepare
    const notification = makeNotification({ count: 2 });
    notification.truncatedAlerts = 1;

    // Act
    const { main } = buildGroupMessage(notification, { links });

    // Assess
    expect(textOf(main.blocks)).toContain('Alertmanager left out 1 more alert of this group (max_alerts)');
  });

  it('should keep every message within 50 blocks and move the rest of the alerts to continuations', () => {
    // Prepare
    const notification = makeNotification({ count: 600 });
    for (const alert of notification.alerts) alert.annotations.summary = 'y'.repeat(600);

    // Act
    const { main, continuations } = buildGroupMessage(notification, { links });

    // Assess
    const all = [main, ...continuations];
    for (const message of all) {
      expect(message.blocks.length).toBeLessThanOrEqual(BLOCK_LIMITS.blocksPerMessage);
      expect(blockTextLength(message.blocks)).toBeLessThanOrEqual(BLOCK_LIMITS.messageTextChars);
      expect(blockKitViolation(message.blocks)).toBeUndefined();
    }
    const lines = all.flatMap((m) =>
      m.blocks
        .filter((b) => b.type === 'section' && JSON.stringify(b).includes('instance='))
        .flatMap((b) => (b as { text: { text: string } }).text.text.split('\n')),
    );
    expect(lines).toHaveLength(600);
    expect(continuations[0].text).toMatch(/^HighLatency: alerts \d+-\d+ of 600 \(continued\)$/);
  });

  it('should split at a smaller block and text budget too, counting the alerts of each part', () => {
    // Prepare
    const notification = makeNotification({ count: 20 });
    for (const alert of notification.alerts) alert.annotations.summary = 'z'.repeat(1400);

    // Act
    const { main, continuations } = buildGroupMessage(notification, { links, maxBlocks: 8 });

    // Assess
    for (const message of [main, ...continuations]) {
      expect(message.blocks.length).toBeLessThanOrEqual(8);
      expect(blockTextLength(message.blocks)).toBeLessThanOrEqual(BLOCK_LIMITS.messageTextChars);
    }
    const ranges = continuations.map((c) => /alerts (\d+)-(\d+) of 20/.exec(c.text)?.slice(1).map(Number));
    expect(ranges.length).toBeGreaterThan(0);
    expect(ranges.at(-1)?.[1]).toBe(20);
    const lines = [main, ...continuations].flatMap((m) =>
      m.blocks
        .filter((b) => b.type === 'section' && JSON.stringify(b).includes('instance='))
        .flatMap((b) => (b as { text: { text: string } }).text.text.split('\n')),
    );
    expect(lines).toHaveLength(20);
  });

  it('should list a group of more than 20 alerts compactly, without summaries', () => {
    // Prepare
    const notification = makeNotification({ count: 21 });

    // Act
    const { main } = buildGroupMessage(notification, { links });

    // Assess
    expect(textOf(main.blocks)).toContain('instance=web-20:9100');
    expect(textOf(main.blocks)).not.toContain('Latency high on web-20');
  });

  it('should escape label values and annotations so they cannot inject links or mentions', () => {
    // Prepare
    const notification = makeNotification({ count: 2 });
    notification.alerts[0].labels.instance = '<!channel> & <https://evil.example|click>';

    // Act
    const { main } = buildGroupMessage(notification, { links });

    // Assess
    expect(textOf(main.blocks)).not.toContain('<!channel>');
    expect(textOf(main.blocks)).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
  });

  it('should keep the header within 150 characters and drop buttons whose URL is not http(s)', () => {
    // Prepare
    const notification = makeNotification({ count: 1 });
    notification.groupLabels.alertname = 'A'.repeat(300);
    notification.alerts[0].generatorURL = 'javascript:alert(1)';

    // Act
    const { main } = buildGroupMessage(notification, { links });

    // Assess
    const header = (main.blocks[0] as { text: { text: string } }).text.text;
    expect(Array.from(header)).toHaveLength(150);
    expect(textOf(main.blocks)).not.toContain('javascript:');
  });
});

describe('Function: buildGroupMessage (summary and fallback cut before escaping)', () => {
  const chars = (text: string) => Array.from(text).length;
  // Every `&` of escaped mrkdwn starts a whole entity: none was cut in half.
  const partialEntity = /&(?!amp;|lt;|gt;)/;

  it('should cut the summary before escaping it: no half entity, the closing * kept, within 3000', () => {
    // Prepare
    const notification = makeNotification({ count: 1 });
    notification.alerts[0].annotations.summary = `${'x'.repeat(2996)}&&& <b>`;

    // Act
    const { main } = buildGroupMessage(notification, { links });

    // Assess
    const about = (main.blocks[1] as { text: { text: string } }).text.text;
    expect(about).toBe(`*${'x'.repeat(2996)}…*`);
    expect(about).not.toMatch(partialEntity);
    expect(chars(about)).toBeLessThanOrEqual(BLOCK_LIMITS.sectionText);
  });

  it('should keep the escaped summary and description together within 3000, cutting the description', () => {
    // Prepare
    const notification = makeNotification({ count: 1 });
    notification.alerts[0].annotations.summary = 'Disk <full> & slow';
    notification.alerts[0].annotations.description = `yy${'<&>'.repeat(1000)}`;

    // Act
    const { main } = buildGroupMessage(notification, { links });

    // Assess
    const about = (main.blocks[1] as { text: { text: string } }).text.text;
    expect(about.startsWith('*Disk &lt;full&gt; &amp; slow*\nyy&lt;&amp;&gt;')).toBe(true);
    expect(about.endsWith('…')).toBe(true);
    expect(about).not.toMatch(partialEntity);
    expect(chars(about)).toBeLessThanOrEqual(BLOCK_LIMITS.sectionText);
    expect(chars(about)).toBeGreaterThan(BLOCK_LIMITS.sectionText - 10);
  });

  it('should keep the escaped fallback text within 3000 characters, ending on a whole entity', () => {
    // Prepare
    const notification = makeNotification({ count: 1 });
    notification.alerts[0].annotations.summary = '<>'.repeat(2000);

    // Act
    const { main } = buildGroupMessage(notification, { links });

    // Assess
    expect(main.text.startsWith('[FIRING:1] HighLatency: &lt;&gt;&lt;')).toBe(true);
    expect(main.text).toMatch(/(&lt;|&gt;)…$/);
    expect(main.text).not.toMatch(partialEntity);
    expect(chars(main.text)).toBeLessThanOrEqual(BLOCK_LIMITS.fallbackText);
    expect(chars(main.text)).toBeGreaterThan(BLOCK_LIMITS.fallbackText - 5);
  });
});

describe('Function: buildGroupMessage (verbatim text)', () => {
  it('should mark every mrkdwn text verbatim, so Slack links no bare URL, channel or mention from alert content', () => {
    // Prepare
    const notification = makeNotification({
      count: 30,
      labels: (i) => ({ alertname: 'Bare', instance: `evil${i}.example.com:9100`, pod: '#general @channel' }),
    });

    // Act
    const { main, continuations } = buildGroupMessage(notification, { links, maxBlocks: 8 });
    const texts: { type?: string; verbatim?: boolean }[] = [];
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(collect);
      else if (value && typeof value === 'object') {
        const object = value as Record<string, unknown>;
        if (object.type === 'mrkdwn') texts.push(object);
        Object.values(object).forEach(collect);
      }
    };
    collect([main, ...continuations]);

    // Assess
    expect(texts.length).toBeGreaterThan(3);
    expect(texts.filter((text) => text.verbatim !== true)).toEqual([]);
  });
});

describe('Function: packLines', () => {
  it('should fill sections up to the limit without splitting a line', () => {
    // Prepare
    const lines = Array.from({ length: 10 }, (_, i) => `${i}`.repeat(1000));

    // Act
    const sections = packLines(lines, 3000);

    // Assess
    expect(sections.map((s) => s.split('\n').length)).toEqual(Array(5).fill(2));
    expect(sections.every((s) => s.length <= 3000)).toBe(true);
  });
});

describe('Function: escapeMrkdwn / slackDate', () => {
  it('should escape &, < and >', () => {
    expect(escapeMrkdwn('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
  });

  it('should give Slack a date token with a UTC fallback', () => {
    expect(slackDate('2026-11-21T11:00:00Z')).toBe(
      `<!date^${Date.parse('2026-11-21T11:00:00Z') / 1000}^{date_short_pretty} {time}|2026-11-21 11:00 UTC>`,
    );
  });
});

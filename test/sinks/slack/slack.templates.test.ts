import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mrkdwn } from '../../../lib/format/mrkdwn.ts';
import { createSlackSink, type SlackDestination } from '../../../lib/sinks/slack/slack.ts';
import { type FakeSlack, startFakeSlack } from '../../support/fake-slack.ts';
import { makeNotification } from '../../support/notifications.ts';
import { captureLogger, memoryState, slackDelivery } from '../../support/slack-delivery.ts';

const TOKEN = 'xoxb-1111-2222-templates-token';
const CHANNEL = 'C0123456789';
const TEAM = '<!channel> <https://evil.example|login> @here & co';

describe('Sink: slack (templates, at the fake Slack)', () => {
  let slack: FakeSlack;

  beforeEach(async () => {
    slack = await startFakeSlack({ token: TOKEN, channels: [CHANNEL] });
  });

  afterEach(async () => {
    await slack.close();
  });

  async function deliver(templates: SlackDestination['templates']) {
    const destination: SlackDestination = {
      name: 'ops-slack',
      sink: 'slack',
      tokenSecret: 'SLACK_TOKEN',
      channel: CHANNEL,
      baseUrl: slack.apiUrl,
      templates,
    };
    const notification = makeNotification({ count: 2, labels: () => ({ team: TEAM }) });
    const logger = captureLogger();
    const counted: string[] = [];
    await createSlackSink().deliver({
      ...slackDelivery(destination, notification, {
        state: memoryState(),
        secrets: { SLACK_TOKEN: TOKEN },
        logger,
      }),
      count: (name) => void counted.push(name),
    });
    const [message] = slack.topLevel(CHANNEL);
    const blocks = (message.blocks ?? []) as { type: string; text?: { type: string; text: string } }[];
    return { counted, logger, message, blocks };
  }

  it('should send a custom title and text, with label values escaped', async () => {
    // Act
    const { blocks, message, counted } = await deliver({
      title: '{{ status | upcase }}: {{ commonLabels.alertname }} for {{ alerts[0].labels.team }}',
      text: '*{{ alerts | size }} alerts* {% for a in alerts %}{{ a.labels.team }} {{ a.links.graph | link: "graph" }} {% endfor %}',
    });

    // Assess
    expect(blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: `FIRING: HighLatency for ${TEAM}`, emoji: true },
    });
    const summary = blocks[1].text?.text ?? '';
    expect(blocks[1].text?.type).toBe('mrkdwn');
    expect(summary.startsWith(`*2 alerts* ${mrkdwn(TEAM)} <http://prometheus:9090/graph?`)).toBe(true);
    expect(summary).not.toContain('<!channel>');
    expect(summary).not.toContain('<https://evil');
    expect(message.text).toBe(mrkdwn(`FIRING: HighLatency for ${TEAM}`));
    expect(slack.violations).toEqual([]);
    expect(counted).toEqual([]);
  });

  it('should keep the default header with a note when the title fails, and count it', async () => {
    // Act
    const { blocks, counted, logger } = await deliver({
      title: '{% for i in (1..100000000) %}x{% endfor %}',
    });

    // Assess
    expect(blocks[0].text?.text).toBe(':fire: [FIRING:2] HighLatency');
    expect(JSON.stringify(blocks)).toContain(
      '(template \\"title\\" failed: line 1, column 1: memory alloc limit exceeded; showing the default)',
    );
    expect(counted).toEqual(['TemplateFailed']);
    expect(
      logger.lines.some((line) => line.level === 'warn' && line.message.startsWith('template failed')),
    ).toBe(true);
  });
});

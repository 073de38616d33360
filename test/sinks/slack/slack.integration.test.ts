import { beforeEach, describe, expect, it } from 'vitest';
import { type FakePrometheus, startFakePrometheus } from '../../support/fake-prometheus.ts';
import { type FakeSlack, startFakeSlack } from '../../support/fake-slack.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';

const TOKEN = 'ingest-token-slack-int';
const SLACK_TOKEN = 'xoxb-integration-0000-slack';
const CHANNEL = 'C0INTEGRAT1';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('Sink: slack through the local runtime', () => {
  const local = useLocalRelay('slack-int');
  let slack: FakeSlack;
  let prometheus: FakePrometheus;

  beforeEach(async () => {
    slack = local.own(
      await startFakeSlack({ token: SLACK_TOKEN, channels: [CHANNEL], notIn: ['C0NOTINCHN'] }),
    );
    // The alert's generatorURL says `latency > 1`: the graph queries `latency` and draws the threshold.
    prometheus = local.own(
      await startFakePrometheus({
        series: () => [
          { labels: { __name__: 'latency', instance: 'web-0:9100' }, value: (t) => 1 + (t % 600) / 300 },
        ],
      }),
    );
  });

  // Retries come back at once unless Slack or the pacing says how long to wait.
  function start(channel = CHANNEL): Promise<LocalRelay> {
    return local.start({
      token: TOKEN,
      destinations: [
        {
          name: 'team-slack',
          sink: 'slack',
          tokenSecret: 'SLACK_BOT_TOKEN',
          channel,
          baseUrl: slack.apiUrl,
          graph: { prometheusUrl: prometheus.url },
        },
      ],
      secrets: { SLACK_BOT_TOKEN: SLACK_TOKEN },
    });
  }

  it('should post one message for the group, edit it to resolved and thread the graph and the change', async () => {
    // Prepare
    const r = await start();
    const firing = makeNotification({ count: 1 });
    const resolved = makeNotification({ count: 1, status: 'resolved' });

    // Act
    await r.post(firing);
    await r.until(() => r.telemetry.get('Delivered', 'team-slack') === 1);
    await r.post(resolved);
    await r.until(() => r.telemetry.get('Delivered', 'team-slack') === 2);

    // Assess
    const top = slack.topLevel(CHANNEL);
    expect(top).toHaveLength(1);
    expect(top[0].text).toMatch(/^\[RESOLVED\] HighLatency/);
    expect(top[0].edits).toHaveLength(1);
    const thread = slack.replies(CHANNEL, top[0].ts);
    expect(thread.map((m) => (m.files ? 'file' : m.text))).toEqual([
      'file',
      ':white_check_mark: All 1 alert resolved at 2026-11-21 11:30 UTC.',
    ]);
    const file = slack.files.get(thread[0].files?.[0].id as string);
    expect(file?.bytes?.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(prometheus.queries.length).toBeGreaterThan(0);
  });

  it('should post a notification sent twice (an Alertmanager HA pair) once', async () => {
    // Prepare
    const r = await start();
    const firing = makeNotification({ count: 2 });

    // Act
    await r.post(firing);
    await r.post(firing);
    await r.settled('slack', () => r.telemetry.get('Delivered', 'team-slack') === 1);

    // Assess
    expect(slack.topLevel(CHANNEL)).toHaveLength(1);
  });

  it('should not post twice when Slack posted the message but its answer was lost', async () => {
    // Prepare
    const r = await start();
    slack.breakAfter('chat.postMessage');

    // Act
    await r.post(makeNotification({ count: 1 }));
    await r.until(() => r.telemetry.get('Delivered', 'team-slack') === 1);

    // Assess
    expect(r.telemetry.get('Retried', 'team-slack')).toBe(1);
    expect(slack.topLevel(CHANNEL)).toHaveLength(1);
    expect(slack.requests.filter((q) => q.path === '/api/conversations.history')).toHaveLength(1);
  });

  it('should come back after Slack answers 429 with Retry-After, and post once', async () => {
    // Prepare
    const r = await start();
    slack.failNext('chat.postMessage', {
      status: 429,
      headers: { 'retry-after': '1' },
      body: { ok: false, error: 'ratelimited' },
    });

    // Act
    await r.post(makeNotification({ count: 1 }));
    await r.until(() => r.telemetry.get('Delivered', 'team-slack') === 1);

    // Assess
    // A 429 is a wait, not a failed attempt.
    expect(r.telemetry.get('Retried', 'team-slack')).toBe(0);
    expect(slack.topLevel(CHANNEL)).toHaveLength(1);
  });

  it('should dead-letter at once when the app is not in the channel, without the token in the reason', async () => {
    // Prepare
    const r = await start('C0NOTINCHN');

    // Act
    await r.post(makeNotification({ count: 1 }));
    await r.until(() => r.telemetry.get('DeadLettered', 'team-slack') === 1);

    // Assess
    const [dead] = r.deadLetters('slack');
    expect(dead.attributes.errorType).toBe('permanent');
    expect(dead.attributes.reason).toContain('not_in_channel');
    expect(dead.attributes.reason).not.toContain(SLACK_TOKEN);
    expect(slack.messages).toHaveLength(0);
  });
});

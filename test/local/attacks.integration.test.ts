import { describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.ts';
import { useLocalRelay } from '../support/local-relay.ts';
import { makeNotification } from '../support/notifications.ts';
import { runScript } from '../support/run-script.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

/**
 * The attacks of the hostile-content issue, against the running local relay (unit and
 * contract tests cover each defence on its own): a label that tries to ping a channel and
 * plant a link, a matcher that backtracks catastrophically on JavaScript's regex engine, and
 * escape sequences aimed at the terminal of whoever runs `npm run dlq -- list`.
 */
const SLACK_TOKEN = 'xoxb-attacks-0000-slack';
// biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may reach the terminal
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const CHANNEL = 'C0ATTACKS01';

describe('Hostile content through the running local relay', () => {
  const local = useLocalRelay('attacks');

  it('should let no mention or link from alert content reach Slack', async () => {
    // Prepare
    const slack: FakeSlack = local.own(await startFakeSlack({ token: SLACK_TOKEN, channels: [CHANNEL] }));
    const relay = await local.start({
      destinations: [
        {
          name: 'team',
          sink: 'slack',
          tokenSecret: 'SLACK_BOT_TOKEN',
          channel: CHANNEL,
          baseUrl: slack.apiUrl,
        },
      ],
      secrets: { SLACK_BOT_TOKEN: SLACK_TOKEN },
    });
    const notification = makeNotification({
      count: 2,
      labels: (i) => ({
        alertname: 'Phish',
        pod: `<!channel> <https://evil.example|click me> @here ${i}`,
        instance: `<@U0123ABCD> <#C0123ABCD> evil${i}.example.com`,
      }),
    });
    notification.externalURL = 'http://alertmanager:9093/#> <!channel> <https://evil.example/phish|Open';
    for (const alert of notification.alerts) {
      alert.generatorURL =
        'http://prometheus:9090/graph?g0.expr=up#> <!channel> <https://evil.example/phish|Open the graph';
      alert.annotations.runbook_url = 'javascript:alert(1)';
      alert.annotations.summary = '<!here> *urgent* <https://evil.example|reset your password>';
    }

    // Act
    const answer = await relay.post(notification);
    await relay.until(() => relay.telemetry.get('Delivered', 'team') === 1);

    // Assess
    expect(answer.status).toBe(202);
    expect(slack.messages.length).toBeGreaterThan(0);
    expect(slack.violations).toEqual([]);
  });

  it('should answer at once for a catastrophic matcher on a long label value (RE2: linear time)', async () => {
    // Prepare: on a backtracking engine 32 characters already take seconds, 10,000 forever.
    const receiver = local.own(await startWebhookReceiver());
    const relay = await local.start({
      destinations: [
        {
          name: 'node-exporters',
          sink: 'webhook',
          url: receiver.url,
          matchers: ['instance=~"([a-z0-9]+[.-]?)+:9100"'],
        },
      ],
    });
    const matching = makeNotification({
      groupKey: 'match',
      labels: () => ({ instance: `${'a'.repeat(10_000)}:9100` }),
    });
    const missing = makeNotification({
      groupKey: 'miss',
      labels: () => ({ instance: `${'a'.repeat(10_000)}!` }),
    });

    // Act
    const routed = await relay.post(matching);
    const unrouted = await relay.post(missing);

    // Assess
    expect(routed.status).toBe(202);
    expect(routed.body).toMatchObject({ destinations: [{ name: 'node-exporters', alerts: 1 }] });
    expect(unrouted.status).toBe(202);
    expect(unrouted.body).toMatchObject({ destinations: [] });
  });

  it('should print no escape sequence, control or bidi character from alert content in `dlq list`', async () => {
    // Prepare: a receiver that refuses, so the notification is dead-lettered with its content.
    const receiver = local.own(await startWebhookReceiver());
    receiver.respondWith([{ status: 400 }]);
    const relay = await local.start({
      destinations: [{ name: 'audit', sink: 'webhook', url: receiver.url }],
    });
    const hostile =
      '\u001b]0;pwned\u0007\u001b[2J\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\\u009b31m\u202etxt.exe';
    const notification = makeNotification({
      groupKey: `{}:{alertname="${hostile}"}`,
      labels: () => ({ alertname: hostile }),
    });
    await relay.post(notification);
    await relay.until(() => relay.telemetry.get('DeadLettered', 'audit') === 1);

    // Act
    const listed = await runScript('scripts/dlq.ts', [
      'list',
      '--local',
      '--data-dir',
      local.dataDir,
      '--wide',
    ]);

    // Assess
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('clicktxt.exe');
    expect(listed.stdout).not.toMatch(TERMINAL_CONTROLS);
  });
});

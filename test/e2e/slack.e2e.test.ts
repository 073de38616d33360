import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { type FakeServer, startFakeServer } from '../support/fake-server.ts';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.ts';
import { useE2EStack } from './support/stack.ts';

/**
 * The Slack sink end to end: Prometheus 2.42 evaluates a rule on a gauge the test serves,
 * Alertmanager 0.25 posts the group's firing and resolved notifications to the relay
 * (`node lib/local/main.ts`), and the fake Slack shows one message for the group, edited to
 * resolved, with a thread holding the PNG chart of the rule's data (queried from the same
 * Prometheus) and the resolve line.
 *
 * `SAVE_SLACK_CHART=1 npm run test:e2e` writes the uploaded chart to docs/slack-graph-example.png.
 */

const ingestToken = `e2e-${randomUUID()}`;
const slackToken = `xoxb-e2e-${randomUUID()}`;
const CHANNEL = 'C0E2ESLACK1';
const METRIC = 'relay_e2e_queue_depth';
const ALERT = 'RelayE2ESlackQueueDeep';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const stack = useE2EStack('slack');
let slack: FakeSlack;
let target: FakeServer;
let prometheusProxy: FakeServer;
let prometheusUrl = '';
let on = false;

beforeAll(async () => {
  slack = stack.own(await startFakeSlack({ token: slackToken, channels: [CHANNEL] }));
  // A gauge that wobbles above the threshold while "on", so the chart has a shape.
  target = await startFakeServer({
    handle: () => {
      const t = Date.now() / 1000;
      const value = on ? 60 + 20 * Math.sin(t / 2) : 12 + 4 * Math.sin(t / 3);
      return {
        status: 200,
        headers: { 'content-type': 'text/plain; version=0.0.4' },
        body: `# TYPE ${METRIC} gauge\n${METRIC}{queue="orders"} ${value.toFixed(2)}\n`,
      };
    },
  });
  stack.own(target);
  // The relay's config needs Prometheus's URL before Prometheus can start (it needs
  // Alertmanager's, which needs the relay's): the relay queries through this forwarder.
  prometheusProxy = await startFakeServer({
    handle: async (request) => {
      const response = await fetch(`${prometheusUrl}${request.url}`, {
        method: request.method,
        headers: request.headers['content-type'] ? { 'content-type': request.headers['content-type'] } : {},
        body: request.method === 'POST' ? request.rawBody : undefined,
      });
      return {
        status: response.status,
        headers: { 'content-type': response.headers.get('content-type') ?? 'application/json' },
        body: Buffer.from(await response.arrayBuffer()),
      };
    },
  });
  stack.own(prometheusProxy);
  const relay = await stack.startRelay({
    config: {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [
        {
          name: 'team-slack',
          sink: 'slack',
          tokenSecret: 'SLACK_BOT_TOKEN',
          channel: CHANNEL,
          baseUrl: slack.apiUrl,
          graph: { prometheusUrl: prometheusProxy.url, windowSeconds: 60, points: 60 },
        },
      ],
    },
    env: { INGEST_TOKEN: ingestToken, SLACK_BOT_TOKEN: slackToken },
  });
  const alertmanager = await stack.startAlertmanager({
    webhooks: [{ url: `${relay.url}/alertmanager`, bearerToken: ingestToken }],
  });
  const prometheus = await stack.startPrometheus({
    alertmanagerUrl: alertmanager.url,
    scrape: { jobName: 'e2e-slack', targets: [`127.0.0.1:${target.port}`] },
    rules: {
      groups: [
        {
          name: 'relay-e2e-slack',
          rules: [
            {
              alert: ALERT,
              expr: `${METRIC} > 30`,
              // A `for` as real rules have: the chart then shows the rise it waited for.
              for: '5s',
              labels: { severity: 'warning' },
              annotations: {
                summary: 'the orders queue is deep',
                runbook_url: 'https://runbooks.example/queue-depth',
              },
            },
          ],
        },
      ],
    },
  });
  prometheusUrl = prometheus.url;
});

const ofAlert = () => slack.topLevel(CHANNEL).filter((m) => m.text?.includes(ALERT));

describe('Prometheus -> Alertmanager -> relay -> Slack', () => {
  test('a rule that fires and resolves is one message, edited to resolved, with the chart and the resolve in its thread', async () => {
    // Prepare: some history below the threshold first, so the chart shows the crossing.
    await target.waitFor(15);
    on = true;

    // Act: firing, with the chart uploaded into the thread.
    await slack.waitFor(() => ofAlert().some((m) => slack.replies(CHANNEL, m.ts).some((r) => r.files)));
    on = false;
    await slack.waitFor(() => ofAlert().some((m) => m.text?.startsWith('[RESOLVED]')));
    await slack.waitFor(() =>
      ofAlert().some((m) => slack.replies(CHANNEL, m.ts).some((r) => r.text?.includes('resolved'))),
    );

    // Assess
    const messages = ofAlert();
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(message.edits.length).toBeGreaterThanOrEqual(1);
    expect(message.edits[0].text).toMatch(new RegExp(`^\\[FIRING:1\\] ${ALERT}: the orders queue is deep`));
    expect(message.text).toMatch(new RegExp(`^\\[RESOLVED\\] ${ALERT}`));
    const blocks = JSON.stringify(message.blocks);
    expect(blocks).toContain('https://runbooks.example/queue-depth');
    expect(blocks).toContain('Resolved <!date^');

    const thread = slack.replies(CHANNEL, message.ts);
    const shares = thread.filter((m) => m.files);
    expect(shares).toHaveLength(1);
    const file = slack.files.get(shares[0].files?.[0].id as string);
    expect(file?.completed).toBe(true);
    expect(file?.bytes?.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(file?.bytes?.byteLength).toBeGreaterThan(2000);
    expect(shares[0].files?.[0].title).toContain(METRIC);
    expect(thread.filter((m) => m.text?.startsWith(':white_check_mark: All 1 alert resolved'))).toHaveLength(
      1,
    );
    expect(
      slack.requests.every(
        (r) => r.path.startsWith('/upload/') || r.headers.authorization === `Bearer ${slackToken}`,
      ),
    ).toBe(true);
    expect(stack.logs(400)).not.toContain(slackToken);

    if (process.env.SAVE_SLACK_CHART === '1' && file?.bytes) {
      await writeFile(resolve(import.meta.dirname, '../../docs/slack-graph-example.png'), file.bytes);
    }
  });
});

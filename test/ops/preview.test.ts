import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import type { RelayConfig } from '../../lib/config/types.ts';
import { formatPreview, maskSecrets, parsePayload, previewNotification } from '../../lib/ops/preview.ts';
import { blockKitBuilderUrl } from '../../lib/sinks/slack/preview.ts';
import { makeNotification, payloadText } from '../support/notifications.ts';

const config: RelayConfig = {
  ingest: {},
  destinations: [
    {
      name: 'ops-teams',
      sink: 'teams',
      webhookUrlSecret: 'TEAMS_URL',
      templates: { title: '{{ status | upcase }}: {{ commonLabels.alertname }}' },
    },
    { name: 'ops-slack', sink: 'slack', tokenSecret: 'SLACK_TOKEN', channel: 'C0123456789' },
    { name: 'oncall', sink: 'opsgenie', apiKeySecret: 'OG_KEY' },
    { name: 'pager', sink: 'pagerduty', routingKeySecret: 'PD_KEY' },
    { name: 'hook', sink: 'webhook', url: 'https://hooks.example/alerts', signingSecret: 'HOOK_KEY' },
    { name: 'stdout', sink: 'console', file: '/nonexistent/dir/alerts.jsonl' },
    { name: 'only-db', sink: 'discord', webhookUrlSecret: 'DISCORD_URL', matchers: ['team="db"'] },
  ],
};

describe('Function: previewNotification', () => {
  const realFetch = globalThis.fetch;
  const forbidden = vi.fn(async () => {
    throw new Error('a preview must not fetch');
  });
  let connect: ReturnType<typeof vi.spyOn>;

  beforeEach(() => {
    globalThis.fetch = forbidden as unknown as typeof fetch;
    connect = vi.spyOn(net.Socket.prototype, 'connect');
  });

  afterEach(() => {
    globalThis.fetch = realFetch;
    connect.mockRestore();
    forbidden.mockClear();
  });

  it('should show each routed destination its requests, send nothing and restore fetch', async () => {
    // Prepare
    const notification = parsePayload(payloadText('am-0.25-prom-group-firing-3alerts.json'));

    // Act
    const previews = await previewNotification(config, notification);

    // Assess
    expect(previews.map((p) => `${p.destination}:${p.requests.length > 0 || p.printed.length > 0}`)).toEqual([
      'ops-teams:true',
      'ops-slack:true',
      'oncall:true',
      'pager:true',
      'hook:true',
      'stdout:true',
    ]);
    expect(previews.map((p) => p.error)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(forbidden).not.toHaveBeenCalled();
    expect(connect).not.toHaveBeenCalled();
    expect(globalThis.fetch).toBe(forbidden);
  });

  it('should mask every secret in URLs, headers and bodies', async () => {
    // Prepare
    const notification = parsePayload(payloadText('am-0.25-firing.json'));

    // Act
    const text = formatPreview(await previewNotification(config, notification));

    // Assess
    expect(text).not.toContain('PREVIEW_SECRET_');
    expect(text).toContain('invoke?sig=<SECRET TEAMS_URL>');
    expect(text).toContain('authorization: Bearer <SECRET SLACK_TOKEN>');
    expect(text).toContain('authorization: GenieKey <SECRET OG_KEY>');
    expect(text).toContain('"routing_key": "<SECRET PD_KEY>"');
    expect(text).toMatch(/^POST https:\/\/hooks\.example\/alerts$/m);
  });

  it('should render the destination templates and link Slack blocks to the Block Kit Builder', async () => {
    // Prepare
    const notification = parsePayload(payloadText('am-0.25-firing.json'));

    // Act
    const previews = await previewNotification(config, notification, { destination: 'ops-slack' });
    const teams = await previewNotification(config, notification, { destination: 'ops-teams' });

    // Assess
    const blocks = (JSON.parse(previews[0].requests[0].body) as { blocks: unknown[] }).blocks;
    expect(formatPreview(previews)).toContain(`Block Kit Builder: ${blockKitBuilderUrl(blocks)}`);
    expect(blockKitBuilderUrl([{ type: 'divider' }])).toBe(
      'https://app.slack.com/block-kit-builder/#%7B%22blocks%22%3A%5B%7B%22type%22%3A%22divider%22%7D%5D%7D',
    );
    expect(teams[0].requests[0].body).toContain('"text":"FIRING: RelayE2ESwitchOn"');
  });

  it('should print what the console would, appending to no file', async () => {
    // Prepare
    const notification = parsePayload(payloadText('am-0.25-firing.json'));

    // Act
    const [stdout] = await previewNotification(config, notification, { destination: 'stdout' });

    // Assess
    expect(stdout.error).toBeUndefined();
    expect(stdout.printed.join('')).toContain('[FIRING] RelayE2ESwitchOn');
  });

  it('should show every message of a notification too long for one, without waiting for the vendor pace', async () => {
    // Prepare: Google Chat takes 4,096 characters a message and paces one write a second.
    const chat: RelayConfig = {
      ingest: {},
      destinations: [{ name: 'ops-chat', sink: 'googlechat', webhookUrlSecret: 'CHAT_URL' }],
    };
    const notification = makeNotification({ count: 40 });
    for (const alert of notification.alerts)
      alert.annotations.summary = `${alert.labels.instance} ${'x'.repeat(400)}`;

    // Act
    const [preview] = await previewNotification(chat, notification);

    // Assess
    expect(preview.error).toBeUndefined();
    expect(preview.requests.length).toBeGreaterThan(1);
    const texts = preview.requests.map((r) => (JSON.parse(r.body) as { text: string }).text);
    expect(texts.every((text) => text.length <= 4096)).toBe(true);
    for (const alert of notification.alerts)
      expect(texts.join('\n')).toContain(`${alert.labels.instance} xxx`);
  });

  it("should refuse issue 22's link repro when the config loads, and fall back with a warning naming where in a config given unchecked", async () => {
    // Prepare
    const text = 'Grafana: <https://grafana.example/d/{{ commonLabels.x }}|Dashboard>';
    const yaml = `destinations:\n  - name: ops-slack\n    sink: slack\n    tokenSecret: SLACK_TOKEN\n    channel: C0123456789\n    templates:\n      text: '${text}'\n`;
    const unchecked: RelayConfig = {
      ingest: {},
      destinations: [
        {
          name: 'ops-slack',
          sink: 'slack',
          tokenSecret: 'SLACK_TOKEN',
          channel: 'C0123456789',
          templates: { text },
        },
      ],
    };
    const notification = makeNotification({
      count: 1,
      labels: () => ({ x: 'foo|Your session expired - click to log in' }),
    });
    notification.commonLabels = notification.alerts[0].labels;
    const where =
      'destination "ops-slack" (slack) templates.text: line 1, column 37: a value in a link (<url|text> token, mrkdwn): links from alert data need | link: "label"';

    // Act
    const load = () => parseConfig(yaml, 'relay.yaml');
    const [preview] = await previewNotification(unchecked, notification);

    // Assess
    expect(load).toThrow(`destinations[0]: ${where}`);
    expect(preview.error).toBeUndefined();
    expect(preview.warnings).toEqual([
      `warn: template failed; the default rendering is used ${JSON.stringify({ destination: 'ops-slack', template: 'text', reason: where })}`,
    ]);
    const body = preview.requests.map((r) => r.body).join('\n');
    expect(body).not.toContain('Your session expired - click to log in|');
    expect(body).not.toContain('|Dashboard>');
  });

  it('should say so when the notification routes nowhere', async () => {
    // Prepare
    const notification = parsePayload(payloadText('am-0.25-firing.json'));

    // Act
    const text = formatPreview(await previewNotification(config, notification, { destination: 'only-db' }));

    // Assess
    expect(text).toBe('The notification routes to no destination: nothing would be sent.\n');
  });
});

describe('Function: parsePayload', () => {
  it.each([
    'am-0.25-api-firing-2alerts.json',
    'am-0.25-api-resolved.json',
    'am-0.25-api-some-resolved.json',
    'am-0.25-firing-1alert.json',
    'am-0.25-prom-group-all-resolved.json',
    'am-0.25-prom-single-resolved.json',
    'am-0.25-resolved.json',
  ])('should accept the real payload %s', (name) => {
    // Act
    const notification = parsePayload(payloadText(name));

    // Assess
    expect(notification.version).toBe('4');
  });

  it('should name the problems of a body that is not webhook v4', () => {
    // Act
    const act = () => parsePayload('{"version":"4"}');

    // Assess
    expect(act).toThrow(/not an Alertmanager webhook v4 body:\n {2}- \$/);
  });
});

describe('Function: maskSecrets', () => {
  it('should replace each placeholder with the secret name', () => {
    // Act
    const masked = maskSecrets('a=PREVIEW_SECRET_A_B&b=PREVIEW_SECRET_C');

    // Assess
    expect(masked).toBe('a=<SECRET A_B>&b=<SECRET C>');
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import type { RelayConfig } from '../../lib/config/types.ts';
import {
  formatPreview,
  maskSecrets,
  parsePayload,
  previewArguments,
  previewNotification,
  unmatchedDestinations,
} from '../../lib/ops/preview.ts';
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

describe('Function: unmatchedDestinations', () => {
  it('should list each destination the notification does not route to, with the matcher that turned it away', () => {
    // Prepare
    const notification = parsePayload(payloadText('am-0.25-firing.json'));

    // Act
    const unmatched = unmatchedDestinations(config, notification);

    // Assess
    expect(unmatched).toEqual([
      {
        destination: 'only-db',
        sink: 'discord',
        reason: 'team="db" fails for the only alert: no team label (1)',
      },
    ]);
  });

  it('should name every matcher that turned alerts away, how many, and the values they had', () => {
    // Prepare: each matcher passes some alerts, but no alert passes both.
    const notification = makeNotification({
      count: 6,
      labels: (i) => ({
        severity: i < 2 ? 'critical' : i < 4 ? 'warning' : 'info',
        team: i < 2 ? 'web' : 'db',
      }),
    });
    const routed: RelayConfig = {
      ingest: {},
      destinations: [
        {
          name: 'db-pager',
          sink: 'webhook',
          url: 'https://hooks.example/p',
          matchers: ['severity="critical"', 'team="db"'],
        },
        { name: 'all', sink: 'webhook', url: 'https://hooks.example/a' },
      ],
    };

    // Act
    const unmatched = unmatchedDestinations(routed, notification);

    // Assess
    expect(unmatched.map((u) => u.destination)).toEqual(['db-pager']);
    expect(unmatched[0].reason).toBe(
      'no alert passes every matcher. ' +
        'severity="critical" fails for 4 of 6 alerts: severity="warning" (2), severity="info" (2). ' +
        'team="db" fails for 2 of 6 alerts: team="web" (2).',
    );
  });

  it("should quote and cut the alert's label values, and show at most three", () => {
    // Prepare: label values are the alert author's, printed to a terminal.
    const values = ['\u001b[31mred', 'x'.repeat(100), 'a', 'b', 'c'];
    const notification = makeNotification({ count: 5, labels: (i) => ({ team: values[i] }) });
    const routed: RelayConfig = {
      ingest: {},
      destinations: [
        { name: 'db', sink: 'webhook', url: 'https://hooks.example/d', matchers: ['team="db"'] },
      ],
    };

    // Act
    const [{ reason }] = unmatchedDestinations(routed, notification);

    // Assess
    expect(reason).not.toContain('\u001b');
    expect(reason).toBe(
      `team="db" fails for all 5 alerts: team="\\u001b[31mred" (1), team="${'x'.repeat(60)}..." (1), team="a" (1), 2 other value(s)`,
    );
  });

  it('should look only at the destination asked for', () => {
    // Prepare
    const notification = parsePayload(payloadText('am-0.25-firing.json'));

    // Act
    const asked = unmatchedDestinations(config, notification, { destination: 'ops-slack' });

    // Assess
    expect(asked).toEqual([]);
  });
});

describe('Function: formatPreview, destinations that get nothing', () => {
  it('should list the destinations matched by no alert after what is sent, with the reason', async () => {
    // Prepare
    const notification = parsePayload(payloadText('am-0.25-firing.json'));
    const previews = await previewNotification(config, notification, { destination: 'stdout' });

    // Act
    const text = formatPreview(previews, unmatchedDestinations(config, notification));

    // Assess
    expect(text).toMatch(/^== stdout \(console\): 1 alert\(s\)$/m);
    expect(
      text.endsWith(
        "Nothing for these destinations: no alert passes the destination's matchers.\n" +
          '== only-db (discord): team="db" fails for the only alert: no team label (1)\n\n',
      ),
    ).toBe(true);
  });

  it('should say so when nothing routes anywhere, and then why', () => {
    // Prepare
    const notification = parsePayload(payloadText('am-0.25-firing.json'));
    const unmatched = unmatchedDestinations(config, notification, { destination: 'only-db' });

    // Act
    const text = formatPreview([], unmatched);

    // Assess
    expect(text.split('\n')).toEqual([
      'The notification routes to no destination: nothing would be sent.',
      '',
      "Nothing for these destinations: no alert passes the destination's matchers.",
      '== only-db (discord): team="db" fails for the only alert: no team label (1)',
      '',
      '',
    ]);
  });

  it('should say when a routed destination sends nothing', () => {
    // Act
    const text = formatPreview([
      { destination: 'quiet', sink: 'webhook', alerts: 1, requests: [], printed: [], warnings: [] },
    ]);

    // Assess
    expect(text).toContain(
      '== quiet (webhook): 1 alert(s)\nthe sink sends nothing for this notification (it made no request and printed nothing)\n',
    );
  });
});

describe('Function: previewArguments', () => {
  let dir: string;
  const payload = 'alert.json';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-preview-args-'));
    await writeFile(join(dir, payload), payloadText('am-0.25-firing.json'));
    await writeFile(join(dir, 'other.yaml'), 'destinations: []\n');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('should say what is missing, where it looked, and give the command with the flags given', () => {
    // Act
    const result = previewArguments({ destination: 'ops slack', positionals: [], env: {}, cwd: dir });

    // Assess
    expect(result.ok).toBe(false);
    expect((result as { message: string }).message.split('\n')).toEqual([
      `no config: --config was not given, RELAY_CONFIG is not set, and there is no relay.yaml in ${dir}. preview shows what your destinations would send, so it needs the relay.yaml that lists them.`,
      'no payload: give the file of an Alertmanager webhook body (JSON, as Alertmanager POSTs it) as the last argument (the files under events/alertmanager/ of this repository are such bodies).',
      '',
      'For example:',
      "  npm run preview -- --config path/to/relay.yaml --destination 'ops slack' FILE.json",
      '',
      'usage: npm run preview -- [--config relay.yaml] [--destination NAME] FILE.json',
    ]);
  });

  it('should find the config as npm start does: RELAY_CONFIG, else ./relay.yaml', async () => {
    // Act
    const named = previewArguments({ positionals: [payload], env: { RELAY_CONFIG: 'other.yaml' }, cwd: dir });
    const missing = previewArguments({
      positionals: [payload],
      env: { RELAY_CONFIG: 'gone.yaml' },
      cwd: dir,
    });
    await writeFile(join(dir, 'relay.yaml'), 'destinations: []\n');
    const local = previewArguments({ positionals: [payload], env: {}, cwd: dir });
    await rm(join(dir, 'relay.yaml'));

    // Assess
    expect(named).toEqual({
      ok: true,
      arguments: { configPath: join(dir, 'other.yaml'), payloadPath: payload },
    });
    expect((missing as { message: string }).message).toContain(
      `RELAY_CONFIG names ${join(dir, 'gone.yaml')}, which does not exist.\n\nFor example:\n  npm run preview -- --config path/to/relay.yaml alert.json\n`,
    );
    expect(local).toEqual({
      ok: true,
      arguments: { configPath: join(dir, 'relay.yaml'), payloadPath: payload },
    });
  });

  it('should name a --config or payload file that is not there, and more than one payload', () => {
    // Act
    const noConfig = previewArguments({ config: 'relay.yml', positionals: [payload], env: {}, cwd: dir });
    const noPayload = previewArguments({
      config: 'other.yaml',
      positionals: ['alerts.json'],
      env: {},
      cwd: dir,
    });
    const two = previewArguments({
      config: 'other.yaml',
      positionals: [payload, 'b c.json'],
      env: {},
      cwd: dir,
    });

    // Assess
    expect((noConfig as { message: string }).message).toMatch(
      new RegExp(`^--config relay\\.yml: there is no file ${join(dir, 'relay.yml')}\\.\n`),
    );
    expect((noPayload as { message: string }).message).toContain(
      `payload alerts.json: there is no file ${join(dir, 'alerts.json')}.\n\nFor example:\n  npm run preview -- --config other.yaml FILE.json\n`,
    );
    expect((two as { message: string }).message).toMatch(
      /^one payload file at a time, got 2: alert\.json 'b c\.json'\.\n\nFor example:\n {2}npm run preview -- --config other\.yaml alert\.json\n/,
    );
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

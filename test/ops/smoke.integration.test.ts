import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF } from '../../lib/delivery/policy.ts';
import { type LocalRelay, useLocalRelay } from '../support/local-relay.ts';
import { runScript } from '../support/run-script.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const TOKEN = 'smoke-ingest-token-51c2';

const runSmoke = (args: string[]) => runScript('scripts/smoke.ts', args);

describe('Smoke: against the local runtime', () => {
  const local = useLocalRelay('smoke');
  let tokenFile: string;
  let receiver: WebhookReceiver;
  let relay: LocalRelay;

  beforeEach(async () => {
    tokenFile = join(local.dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    receiver = local.own(await startWebhookReceiver());
    relay = await local.start({
      token: TOKEN,
      destinations: [
        { name: 'stdout', sink: 'console', file: join(local.dir, 'alerts.jsonl') },
        { name: 'audit', sink: 'webhook', url: receiver.url, matchers: ['severity="critical"'] },
      ],
    });
  });

  const args = () => [
    '--url',
    `${relay.url}/alertmanager`,
    '--token-file',
    tokenFile,
    '--local',
    '--data-dir',
    local.dataDir,
  ];

  it('should send a firing then a resolved notification and report each destination delivered', async () => {
    // Act
    const result = await runSmoke([...args(), '--label', 'severity=critical']);

    // Assess
    expect(result.code).toBe(0);
    const rows = result.stdout.split('\n').filter((line) => /^(firing|resolved)\s/.test(line));
    expect(rows.map((row) => row.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'firing stdout delivered',
      'firing audit delivered',
      'resolved stdout delivered',
      'resolved audit delivered',
    ]);
    expect(result.stdout).toContain('OK: every destination got the firing and the resolved notification.');
    const statuses = receiver.delivered().map((request) => (request.body as { status: string }).status);
    expect(statuses).toEqual(['firing', 'resolved']);
  });

  it('should report a dead-lettered destination with its status code and reason, and fail', async () => {
    // Prepare
    receiver.respondWith([{ status: 403, body: 'token revoked' }]);

    // Act
    const result = await runSmoke([...args(), '--label', 'severity=critical']);

    // Assess
    expect(result.code).toBe(1);
    const audit = result.stdout.split('\n').find((line) => /^firing\s+audit/.test(line));
    expect(audit).toMatch(/dead-lettered\s+-\s+403: PermanentError: webhook 127\.0\.0\.1:\d+ answered 403/);
    expect(result.stdout).toContain('FAILED');
  });

  it('should say when no destination matched the smoke alert and how to fix it', async () => {
    // Prepare
    await relay.close();
    relay = await local.start({
      destinations: [{ name: 'audit', sink: 'webhook', url: receiver.url, matchers: ['team="db"'] }],
      backoff: DEFAULT_BACKOFF,
    });

    // Act
    const result = await runSmoke([
      '--url',
      `${relay.url}/alertmanager`,
      '--local',
      '--data-dir',
      local.dataDir,
    ]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('firing: no destination matched the smoke alert');
    expect(result.stdout).toContain('pass --label name=value');
  });

  it('should report the answer when ingest refuses the token', async () => {
    // Prepare
    await writeFile(tokenFile, 'wrong-token\n');

    // Act
    const result = await runSmoke(args());

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('firing: POST');
    expect(result.stdout).toMatch(/firing: ingest answered 401: .*invalid token/);
  });
});

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Relay, startRelay } from '../../lib/local/runtime.ts';
import { LocalSecrets } from '../../lib/secrets.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const repoRoot = new URL('../..', import.meta.url).pathname;
const node = join(repoRoot, 'node_modules/.bin/node');
const TOKEN = 'smoke-ingest-token-51c2';

function runSmoke(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(node, [join(repoRoot, 'scripts/smoke.ts'), ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('Smoke: against the local runtime', () => {
  let dir: string;
  let dataDir: string;
  let tokenFile: string;
  let receiver: WebhookReceiver;
  let relay: Relay;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-smoke-'));
    dataDir = join(dir, 'data');
    tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    receiver = await startWebhookReceiver();
    relay = await startRelay({
      config: {
        ingest: { tokenSecret: 'INGEST_TOKEN' },
        destinations: [
          { name: 'stdout', sink: 'console', file: join(dir, 'alerts.jsonl') },
          { name: 'audit', sink: 'webhook', url: receiver.url, matchers: ['severity="critical"'] },
        ],
      },
      secrets: new LocalSecrets({ env: { INGEST_TOKEN: TOKEN } }),
      dataDir,
      port: 0,
      logger: new Logger({ logLevel: 'SILENT' }),
      backoff: { baseSeconds: 0, factor: 1, maxSeconds: 0 },
    });
  });

  afterEach(async () => {
    await relay.close();
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  const args = () => [
    '--url',
    `${relay.url}/alertmanager`,
    '--token-file',
    tokenFile,
    '--local',
    '--data-dir',
    dataDir,
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
    relay = await startRelay({
      config: {
        ingest: {},
        destinations: [{ name: 'audit', sink: 'webhook', url: receiver.url, matchers: ['team="db"'] }],
      },
      secrets: new LocalSecrets({ env: {} }),
      dataDir,
      port: 0,
      logger: new Logger({ logLevel: 'SILENT' }),
    });

    // Act
    const result = await runSmoke(['--url', `${relay.url}/alertmanager`, '--local', '--data-dir', dataDir]);

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

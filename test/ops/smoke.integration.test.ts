import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF } from '../../lib/delivery/policy.ts';
import { type LocalRelay, useLocalRelay } from '../support/local-relay.ts';
import { runScript } from '../support/run-script.ts';
import { closedPort, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const TOKEN = 'smoke-ingest-token-51c2';

const runSmoke = (args: string[], env?: NodeJS.ProcessEnv) => runScript('scripts/smoke.ts', args, { env });

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

describe('Smoke: --local when the relay does not answer', () => {
  const local = useLocalRelay('smoke-down');

  it('should name the URL it tried and the PORT it took, and ask whether npm start runs', async () => {
    // Prepare: the data dir of a relay that ran once and is stopped; nothing listens on PORT.
    const relay = await local.start({ destinations: [{ name: 'stdout', sink: 'console' }] });
    await relay.close();
    const port = await closedPort();

    // Act
    const result = await runSmoke(['--local', '--data-dir', local.dataDir, '--label', 'team=db'], {
      PORT: String(port),
    });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).not.toMatch(/^fetch failed$/m);
    expect(result.stderr).toContain(
      `could not reach the relay at http://127.0.0.1:${port}/alertmanager: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(result.stderr).toContain(
      `Is \`npm start\` running? smoke --local tried 127.0.0.1:${port}, from PORT=${port}; HOST not set: 127.0.0.1.`,
    );
    expect(result.stderr).toContain(
      `  PORT=<its port> npm run smoke -- --local --data-dir ${local.dataDir} --label team=db\n`,
    );
  });
});

describe('Smoke: against AWS without credentials or a stage', () => {
  let dir: string;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-smoke-aws-'));
  });

  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });

  afterEach(async () => {
    await receiver.close();
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The script with an `aws` on PATH that fails as the real CLI does, printing `stderr`. */
  async function runWithAws(stderr: string, exitCode: number, args: string[]) {
    const bin = await mkdtemp(join(dir, 'bin-'));
    await writeFile(join(bin, 'aws'), `#!/bin/sh\nprintf '%s\\n' '${stderr}' >&2\nexit ${exitCode}\n`);
    await chmod(join(bin, 'aws'), 0o755);
    return runScript('scripts/smoke.ts', args, {
      cwd: dir,
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir, AWS_EC2_METADATA_DISABLED: 'true' },
    });
  }

  it('should say there are no AWS credentials and give the same command with --local', async () => {
    // Prepare
    await writeFile(join(dir, 'relay token'), `${TOKEN}\n`);

    // Act
    const result = await runWithAws(
      'Unable to locate credentials. You can configure credentials by running "aws configure".',
      253,
      ['--token-file', 'relay token', '--label', 'severity=critical'],
    );

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'no usable AWS credentials to read stack alertmanager-relay-dev in eu-west-1 (the AWS CLI said: Unable to locate credentials.',
    );
    expect(result.stderr).toContain(
      "\n  npm run smoke -- --local --token-file 'relay token' --label severity=critical\n",
    );
  });

  it('should say the stage is not deployed and give the same command with --local', async () => {
    // Act
    const result = await runWithAws(
      'An error occurred (ValidationError) when calling the DescribeStacks operation: Stack with id alertmanager-relay-qa does not exist',
      254,
      ['--stage', 'qa', '--region', 'us-east-2'],
    );

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'stack alertmanager-relay-qa does not exist in us-east-2: stage qa is not deployed there',
    );
    expect(result.stderr).toContain('\n  npm run smoke -- --local\n');
  });

  it('should find the missing credentials before it posts, given --url and --table', async () => {
    // Act: an empty HOME (no ~/.aws), no AWS_* variables, and no EC2 instance metadata to ask.
    const result = await runSmoke(['--url', receiver.url, '--table', 'relay-state', '--timeout', '5'], {
      HOME: dir,
      AWS_EC2_METADATA_DISABLED: 'true',
    });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no usable AWS credentials to reach stage dev in eu-west-1');
    expect(result.stderr).toContain(`\n  npm run smoke -- --local --url ${receiver.url} --timeout 5\n`);
    expect(receiver.requests).toEqual([]);
  });
});

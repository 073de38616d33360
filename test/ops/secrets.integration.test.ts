import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSsm, startFakeSsm } from '../support/fake-ssm.ts';
import { runScript } from '../support/run-script.ts';

/**
 * `npm run secrets` as an operator runs it: scripts/secrets.ts with the AWS SDK pointed at the
 * fake SSM (AWS_ENDPOINT_URL_SSM), a value piped on stdin, relay.yaml from RELAY_CONFIG.
 */

const VALUE = 'piped-token-value-NEVER-PRINT';
let ssm: FakeSsm;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  ssm = await startFakeSsm();
  dir = await mkdtemp(join(tmpdir(), 'relay-secrets-'));
  const config = join(dir, 'relay.yaml');
  await writeFile(
    config,
    'ingest: { tokenSecret: INGEST_TOKEN }\ndestinations:\n  - { name: pager, sink: pagerduty, routingKeySecret: PD_KEY }\n',
  );
  env = {
    AWS_ENDPOINT_URL_SSM: ssm.url,
    AWS_ACCESS_KEY_ID: 'operator',
    AWS_SECRET_ACCESS_KEY: 'fake',
    RELAY_CONFIG: config,
  };
});

afterAll(async () => {
  await ssm?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Script: npm run secrets', () => {
  it('should store a value piped on stdin (without its newline) and never print it', async () => {
    // Act
    const result = await runScript('scripts/secrets.ts', ['set', 'INGEST_TOKEN', '--stage', 'ci'], {
      env,
      input: `${VALUE}\n`,
    });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Set /alertmanager-relay-ci/INGEST_TOKEN (version 1).');
    expect(ssm.parameters.get('/alertmanager-relay-ci/INGEST_TOKEN')).toEqual({
      type: 'SecureString',
      value: VALUE,
      version: 1,
    });
    expect(result.stdout + result.stderr).not.toContain(VALUE);
    // The deploy's region when none is given (serverless.yml's default).
    expect(ssm.requests.at(-1)?.headers.authorization).toContain('/eu-west-1/ssm/aws4_request');
  });

  it('should list what the config needs and exit 1 while a secret is missing', async () => {
    // Prepare
    ssm.parameters.set('/alertmanager-relay-ci/INGEST_TOKEN', {
      type: 'SecureString',
      value: VALUE,
      version: 1,
    });
    ssm.parameters.delete('/alertmanager-relay-ci/PD_KEY');

    // Act
    const result = await runScript('scripts/secrets.ts', ['check', '--stage', 'ci'], { env });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/INGEST_TOKEN\s+\/alertmanager-relay-ci\/INGEST_TOKEN\s+ingest\s+set/);
    expect(result.stdout).toMatch(/PD_KEY\s+\/alertmanager-relay-ci\/PD_KEY\s+pagerduty\s+missing/);
  });

  it('should migrate the old Secrets Manager secret, read with the AWS CLI, and say OK', async () => {
    // Prepare: an `aws` on PATH that answers get-secret-value as the CLI does (SecretString, text).
    const bin = join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    const old = JSON.stringify({ INGEST_TOKEN: VALUE, PD_KEY: 'pd-key-NEVER-PRINT' });
    await writeFile(
      join(bin, 'aws'),
      `#!/bin/sh\n[ "$1 $2 $4" = "secretsmanager get-secret-value alertmanager-relay-ci" ] || exit 9\nprintf '%s\\n' '${old}'\n`,
      { mode: 0o755 },
    );
    ssm.parameters.clear();

    // Act
    const result = await runScript('scripts/secrets.ts', ['migrate', '--stage', 'ci'], {
      env: { ...env, PATH: `${bin}:${process.env.PATH}` },
    });

    // Assess
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'From Secrets Manager secret alertmanager-relay-ci to SSM parameters under /alertmanager-relay-ci/:',
    );
    expect(ssm.parameters.get('/alertmanager-relay-ci/PD_KEY')?.value).toBe('pd-key-NEVER-PRINT');
    expect(result.stdout).not.toContain('NEVER-PRINT');
  });

  it('should refuse a command without a name with the usage', async () => {
    // Act
    const result = await runScript('scripts/secrets.ts', ['set', '--stage', 'ci'], { env, input: VALUE });

    // Assess
    expect(result.code).toBe(64);
    expect(result.stderr).toContain("set needs the secret's NAME");
  });
});

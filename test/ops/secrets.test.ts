import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RelayConfig } from '../../lib/config/types.ts';
import {
  checkSecrets,
  formatCheck,
  formatMigration,
  migrateSecrets,
  oldSecretId,
  readOldSecret,
  SecretsCommandError,
  secretReaders,
  setSecret,
  stageSecretsPath,
} from '../../lib/ops/secrets.ts';
import { ParameterStoreSecrets } from '../../lib/secrets.ts';
import { type FakeSsm, startFakeSsm } from '../support/fake-ssm.ts';

const STAGE = { service: 'alertmanager-relay', stage: 'prod', region: 'eu-west-1' };
const PATH = '/alertmanager-relay-prod/';
const TOKEN = 'ingest-token-NEVER-PRINT';
const SLACK = 'xoxb-slack-NEVER-PRINT';
const PD = 'pd-routing-key-NEVER-PRINT';

const CONFIG: RelayConfig = {
  ingest: { tokenSecret: 'INGEST_TOKEN' },
  destinations: [
    { name: 'team', sink: 'slack', tokenSecret: 'SLACK_TOKEN', graph: { bearerTokenSecret: 'PROM_TOKEN' } },
    { name: 'pager', sink: 'pagerduty', routingKeySecret: 'PD_KEY' },
    { name: 'audit', sink: 'webhook', url: 'https://example.invalid/hook' },
  ],
};

let ssm: FakeSsm;
let client: SSMClient;

beforeEach(async () => {
  ssm = await startFakeSsm();
  client = new SSMClient({
    region: 'eu-west-1',
    endpoint: ssm.url,
    credentials: { accessKeyId: 'operator', secretAccessKey: 'fake' },
    maxAttempts: 1,
  });
});

afterEach(async () => {
  client.destroy();
  await ssm.close();
});

function printed(text: string): void {
  for (const value of [TOKEN, SLACK, PD]) expect(text).not.toContain(value);
}

describe('Function: stageSecretsPath', () => {
  it("should be /<service>-<stage>/, the functions' RELAY_SECRETS_PATH", () => {
    // Act & Assess
    expect(stageSecretsPath(STAGE)).toBe(PATH);
    expect(oldSecretId(STAGE)).toBe('alertmanager-relay-prod');
  });
});

describe('Function: secretReaders', () => {
  it('should list each secret the config names with the functions that read it', () => {
    // Act
    const readers = secretReaders(CONFIG);

    // Assess
    expect([...readers]).toEqual([
      ['INGEST_TOKEN', ['ingest']],
      ['PD_KEY', ['pagerduty']],
      ['PROM_TOKEN', ['slack']],
      ['SLACK_TOKEN', ['slack']],
    ]);
  });
});

describe('Function: checkSecrets', () => {
  it('should say which parameters are set, missing or not encrypted, without decrypting', async () => {
    // Prepare
    ssm.parameters.set(`${PATH}INGEST_TOKEN`, { type: 'SecureString', value: TOKEN, version: 1 });
    ssm.parameters.set(`${PATH}SLACK_TOKEN`, { type: 'String', value: SLACK, version: 1 });
    ssm.parameters.set(`${PATH}PD_KEY`, { type: 'SecureString', value: PD, version: 1 });

    // Act
    const statuses = await checkSecrets({ ssm: client, path: PATH, config: CONFIG });
    const { text, ok } = formatCheck(statuses, PATH);

    // Assess
    expect(statuses.map((status) => [status.name, status.state])).toEqual([
      ['INGEST_TOKEN', 'set'],
      ['PD_KEY', 'set'],
      ['PROM_TOKEN', 'missing'],
      ['SLACK_TOKEN', 'not a SecureString'],
    ]);
    expect(ssm.getCalls.every((call) => call.withDecryption === false)).toBe(true);
    expect(ok).toBe(false);
    expect(text).toContain(`${PATH}PROM_TOKEN`);
    expect(text).toContain('1 missing');
    expect(text).toContain('SLACK_TOKEN: stored unencrypted');
    printed(text);
  });

  it('should say OK when every secret is set', async () => {
    // Prepare
    for (const name of ['INGEST_TOKEN', 'PD_KEY', 'PROM_TOKEN', 'SLACK_TOKEN']) {
      ssm.parameters.set(`${PATH}${name}`, { type: 'SecureString', value: `v-${name}`, version: 1 });
    }

    // Act
    const { text, ok } = formatCheck(await checkSecrets({ ssm: client, path: PATH, config: CONFIG }), PATH);

    // Assess
    expect(ok).toBe(true);
    expect(text).toContain(`OK: every secret is set under ${PATH}.`);
  });
});

describe('Function: setSecret', () => {
  it('should store a SecureString the relay then reads, replacing an older value', async () => {
    // Prepare
    await setSecret({ ssm: client, path: PATH, name: 'INGEST_TOKEN', value: 'first' });

    // Act
    const result = await setSecret({ ssm: client, path: PATH, name: 'INGEST_TOKEN', value: TOKEN });
    const read = await new ParameterStoreSecrets({
      getParameters: (input) => client.send(new GetParametersCommand(input)),
      path: PATH,
    }).get('INGEST_TOKEN');

    // Assess
    expect(result).toEqual({ parameter: `${PATH}INGEST_TOKEN`, version: 2 });
    expect(ssm.parameters.get(`${PATH}INGEST_TOKEN`)?.type).toBe('SecureString');
    expect(read).toBe(TOKEN);
  });

  it.each([
    ['a name that is not a secret name', 'NOT-A-NAME', 'x', 'is not a secret name'],
    ['an empty value', 'INGEST_TOKEN', '', 'no value for INGEST_TOKEN'],
    ['a value over 4 KB', 'INGEST_TOKEN', 'x'.repeat(4097), 'longer than a standard parameter holds'],
  ])('should refuse %s before calling SSM', async (_, name, value, message) => {
    // Act
    const error = await setSecret({ ssm: client, path: PATH, name, value }).catch((e: Error) => e);

    // Assess
    expect(error).toBeInstanceOf(SecretsCommandError);
    expect((error as Error).message).toContain(message);
    expect(ssm.requests).toHaveLength(0);
  });
});

describe('Function: migrateSecrets', () => {
  const OLD = JSON.stringify({
    INGEST_TOKEN: TOKEN,
    SLACK_TOKEN: SLACK,
    PD_KEY: PD,
    PROM_TOKEN: 'prom',
    UNUSED: 'u',
  });

  it('should copy every key into its SecureString parameter and say OK once each reads back the same', async () => {
    // Act
    const report = await migrateSecrets({
      ssm: client,
      path: PATH,
      secretId: 'alertmanager-relay-prod',
      secretText: OLD,
      config: CONFIG,
    });
    const text = formatMigration(report);

    // Assess
    expect(report.ok).toBe(true);
    expect(report.keys.map((key) => [key.name, key.outcome])).toEqual([
      ['INGEST_TOKEN', 'copied'],
      ['PD_KEY', 'copied'],
      ['PROM_TOKEN', 'copied'],
      ['SLACK_TOKEN', 'copied'],
      ['UNUSED', 'copied'],
    ]);
    expect(ssm.parameters.get(`${PATH}SLACK_TOKEN`)).toEqual({
      type: 'SecureString',
      value: SLACK,
      version: 1,
    });
    expect(text).toContain('OK: every secret the config names is in its parameter with the old value.');
    printed(text);
  });

  it('should keep a parameter that exists, say whether it differs, and not be OK while a used one differs', async () => {
    // Prepare
    ssm.parameters.set(`${PATH}INGEST_TOKEN`, { type: 'SecureString', value: TOKEN, version: 3 });
    ssm.parameters.set(`${PATH}SLACK_TOKEN`, { type: 'SecureString', value: 'xoxb-newer', version: 2 });

    // Act
    const report = await migrateSecrets({
      ssm: client,
      path: PATH,
      secretId: 'old',
      secretText: OLD,
      config: CONFIG,
    });

    // Assess
    const outcome = Object.fromEntries(report.keys.map((key) => [key.name, key.outcome]));
    expect(outcome.INGEST_TOKEN).toBe('already there, same value');
    expect(outcome.SLACK_TOKEN).toBe('already there, DIFFERENT value: kept (--overwrite replaces it)');
    expect(ssm.parameters.get(`${PATH}SLACK_TOKEN`)?.value).toBe('xoxb-newer');
    expect(report.ok).toBe(false);
    expect(formatMigration(report)).toContain('NOT DONE');
  });

  it('should replace existing parameters with --overwrite', async () => {
    // Prepare
    ssm.parameters.set(`${PATH}SLACK_TOKEN`, { type: 'SecureString', value: 'xoxb-newer', version: 2 });

    // Act
    const report = await migrateSecrets({
      ssm: client,
      path: PATH,
      secretId: 'old',
      secretText: OLD,
      config: CONFIG,
      overwrite: true,
    });

    // Assess
    expect(report.ok).toBe(true);
    expect(ssm.parameters.get(`${PATH}SLACK_TOKEN`)).toEqual({
      type: 'SecureString',
      value: SLACK,
      version: 3,
    });
  });

  it('should skip keys that cannot be secrets and name the secrets the config uses that the old one lacks', async () => {
    // Prepare
    const old = JSON.stringify({
      INGEST_TOKEN: TOKEN,
      'bad-name': 'x',
      EMPTY: '',
      NUMBER: 7,
      BIG: 'x'.repeat(4097),
    });

    // Act
    const report = await migrateSecrets({
      ssm: client,
      path: PATH,
      secretId: 'old',
      secretText: old,
      config: CONFIG,
    });
    const text = formatMigration(report);

    // Assess
    expect(Object.fromEntries(report.keys.map((key) => [key.name, key.outcome]))).toEqual({
      BIG: 'skipped: longer than 4096 characters',
      EMPTY: 'skipped: not a non-empty string',
      INGEST_TOKEN: 'copied',
      NUMBER: 'skipped: not a non-empty string',
      'bad-name': 'skipped: not a secret name',
    });
    expect(report.notInSecret).toEqual(['PD_KEY', 'PROM_TOKEN', 'SLACK_TOKEN']);
    expect(report.ok).toBe(false);
    expect(text).toContain('Not in the old secret but named by the config: PD_KEY, PROM_TOKEN, SLACK_TOKEN');
  });

  it.each([
    ['not JSON (never quoting it)', `{"INGEST_TOKEN": "${TOKEN}"`, 'is not valid JSON'],
    ['a JSON array', JSON.stringify([TOKEN]), 'is not a JSON object of name -> value'],
  ])('should refuse an old secret that is %s', async (_, text, message) => {
    // Act
    const error = await migrateSecrets({
      ssm: client,
      path: PATH,
      secretId: 'old',
      secretText: text,
      config: CONFIG,
    }).catch((e: Error) => e);

    // Assess
    expect(error).toBeInstanceOf(SecretsCommandError);
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain(TOKEN);
  });
});

describe('Function: readOldSecret', () => {
  it('should ask the AWS CLI for the SecretString as text, in the region', async () => {
    // Prepare
    const calls: string[][] = [];

    // Act
    const text = await readOldSecret('alertmanager-relay-prod', 'eu-west-1', async (command, args) => {
      calls.push([command, ...args]);
      return `${JSON.stringify({ INGEST_TOKEN: TOKEN })}\n`;
    });

    // Assess
    expect(JSON.parse(text)).toEqual({ INGEST_TOKEN: TOKEN });
    expect(calls).toEqual([
      [
        'aws',
        'secretsmanager',
        'get-secret-value',
        '--secret-id',
        'alertmanager-relay-prod',
        '--query',
        'SecretString',
        '--output',
        'text',
        '--region',
        'eu-west-1',
      ],
    ]);
  });

  it("should name the secret and the CLI's complaint when it fails", async () => {
    // Act
    const error = await readOldSecret('gone', undefined, async () => {
      throw Object.assign(new Error('exit 254'), { stderr: 'ResourceNotFoundException: not found\n' });
    }).catch((e: Error) => e);

    // Assess
    expect((error as Error).message).toBe(
      'could not read Secrets Manager secret gone with the AWS CLI: ResourceNotFoundException: not found',
    );
  });
});

import { createHash } from 'node:crypto';
import { GetParametersCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { secretNameSchema } from '../config/schema.ts';
import { ingestSecretNames, sinkSecretNames } from '../config/secrets.ts';
import type { RelayConfig } from '../config/types.ts';
import { SECRETS_PATH } from '../infra/names.ts';
import { GET_PARAMETERS_MAX_NAMES, secretParameterName } from '../secrets.ts';
import { formatTable } from './dlq/table.ts';
import { type CommandRunner, resolveName, runCommand, type Stage, stackName } from './stack.ts';

/**
 * `npm run secrets`: the stage's secrets in SSM Parameter Store, one SecureString per secret
 * NAME under `/<service>-<stage>/`. `check` says which of the names the config uses are set
 * (and which function reads each), `set` stores one value read from stdin, `migrate` copies
 * the keys of the Secrets Manager secret earlier releases used into their parameters. No
 * value is ever printed, logged or passed on a command line.
 */

/** A standard parameter holds at most 4 KB: https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html */
export const STANDARD_PARAMETER_MAX_CHARACTERS = 4096;

const SECRET_NAME = new RegExp(secretNameSchema.pattern);

/** `/alertmanager-relay-prod/`. */
export function stageSecretsPath(stage: Stage): string {
  return resolveName(SECRETS_PATH, stage);
}

/** Every secret name the config uses, with the functions that read it (ingest, sink names). */
export function secretReaders(config: RelayConfig): Map<string, string[]> {
  const readers = new Map<string, string[]>();
  const add = (name: string, reader: string) => readers.set(name, [...(readers.get(name) ?? []), reader]);
  for (const name of ingestSecretNames(config)) add(name, 'ingest');
  for (const sink of [...new Set(config.destinations.map((destination) => destination.sink))]) {
    for (const name of sinkSecretNames(config, sink)) add(name, sink);
  }
  return new Map([...readers].sort(([a], [b]) => a.localeCompare(b)));
}

export type ParameterState = 'set' | 'missing' | 'not a SecureString';

export interface SecretStatus {
  name: string;
  parameter: string;
  readers: string[];
  state: ParameterState;
}

/**
 * Which of the config's secrets have their parameter. Values are not decrypted (the caller
 * needs ssm:GetParameters on the path, not kms:Decrypt).
 */
export async function checkSecrets(options: {
  ssm: SSMClient;
  path: string;
  config: RelayConfig;
}): Promise<SecretStatus[]> {
  const readers = secretReaders(options.config);
  const types = await parameterTypes(options.ssm, options.path, [...readers.keys()]);
  return [...readers].map(([name, readBy]) => {
    const type = types.get(name);
    return {
      name,
      parameter: secretParameterName(options.path, name),
      readers: readBy,
      state: type === undefined ? 'missing' : type === 'SecureString' ? 'set' : 'not a SecureString',
    };
  });
}

export function formatCheck(statuses: readonly SecretStatus[], path: string): { text: string; ok: boolean } {
  if (statuses.length === 0) return { text: 'The config names no secret.', ok: true };
  const table = formatTable(
    ['SECRET', 'PARAMETER', 'READ BY', 'STATE'],
    statuses.map((status) => [status.name, status.parameter, status.readers.join(', '), status.state]),
  );
  const missing = statuses.filter((status) => status.state === 'missing');
  const plain = statuses.filter((status) => status.state === 'not a SecureString');
  const lines = [table];
  if (missing.length > 0) {
    lines.push(
      `${missing.length} missing: set each with \`npm run secrets -- set NAME --stage <stage>\` (the value on stdin); ` +
        'until then ingest answers 503 (token) or the deliveries that need it are dead-lettered.',
    );
  }
  if (plain.length > 0) {
    lines.push(
      `${plain.map((status) => status.name).join(', ')}: stored unencrypted; store again as a SecureString ` +
        `(delete the parameter, then \`npm run secrets -- set\`).`,
    );
  }
  if (missing.length === 0 && plain.length === 0) lines.push(`OK: every secret is set under ${path}.`);
  return { text: lines.join('\n'), ok: missing.length === 0 };
}

/** Stores one secret as a SecureString (aws/ssm key, standard tier), replacing any value. */
export async function setSecret(options: {
  ssm: SSMClient;
  path: string;
  name: string;
  value: string;
}): Promise<{ parameter: string; version: number }> {
  checkName(options.name);
  checkValue(options.name, options.value);
  const parameter = secretParameterName(options.path, options.name);
  const output = await options.ssm.send(
    new PutParameterCommand({
      Name: parameter,
      Value: options.value,
      Type: 'SecureString',
      Tier: 'Standard',
      Overwrite: true,
      Description: `alertmanager-relay secret ${options.name}`,
    }),
  );
  return { parameter, version: output.Version ?? 0 };
}

export type MigrationOutcome =
  | 'copied'
  | 'already there, same value'
  | 'already there, DIFFERENT value: kept (--overwrite replaces it)'
  | 'overwritten'
  | 'skipped: not a secret name'
  | 'skipped: not a non-empty string'
  | 'skipped: longer than 4096 characters';

export interface MigrationReport {
  secretId: string;
  path: string;
  keys: { name: string; parameter?: string; outcome: MigrationOutcome }[];
  /** Names the config uses that the old secret does not hold: set them yourself. */
  notInSecret: string[];
  /** Every key the config uses is in its parameter with the old secret's value. */
  ok: boolean;
}

export class SecretsCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsCommandError';
  }
}

/** The Secrets Manager secret of releases before Parameter Store: named like the stack. */
export function oldSecretId(stage: Stage): string {
  return stackName(stage);
}

/**
 * The old secret's JSON text, read with the AWS CLI (the value passes through its stdout only,
 * never a command line). Errors name the secret, never what the CLI printed on stdout.
 */
export async function readOldSecret(
  secretId: string,
  region: string | undefined,
  run: CommandRunner = runCommand,
): Promise<string> {
  const args = ['secretsmanager', 'get-secret-value', '--secret-id', secretId, '--query', 'SecretString'];
  args.push('--output', 'text');
  if (region) args.push('--region', region);
  try {
    return await run('aws', args);
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    throw new SecretsCommandError(
      `could not read Secrets Manager secret ${secretId} with the AWS CLI: ${detail}`,
    );
  }
}

/**
 * Copies every key of the old JSON secret into its parameter (SecureString, aws/ssm, standard
 * tier), never replacing a parameter that exists unless `overwrite`, then reads each back
 * (decrypted) and compares it with the old value, so `ok` means the deploy that removes the
 * old secret loses nothing.
 */
export async function migrateSecrets(options: {
  ssm: SSMClient;
  path: string;
  secretId: string;
  secretText: string;
  config: RelayConfig;
  overwrite?: boolean;
}): Promise<MigrationReport> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(options.secretText);
  } catch {
    // Never the parser's message: it quotes the text.
    throw new SecretsCommandError(`Secrets Manager secret ${options.secretId} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretsCommandError(
      `Secrets Manager secret ${options.secretId} is not a JSON object of name -> value`,
    );
  }
  const old = parsed as Record<string, unknown>;
  const keys: MigrationReport['keys'] = [];
  const toCopy = new Map<string, string>();
  for (const name of Object.keys(old).sort()) {
    const value = old[name];
    if (!SECRET_NAME.test(name)) keys.push({ name, outcome: 'skipped: not a secret name' });
    else if (typeof value !== 'string' || value === '')
      keys.push({ name, outcome: 'skipped: not a non-empty string' });
    else if (value.length > STANDARD_PARAMETER_MAX_CHARACTERS)
      keys.push({ name, outcome: 'skipped: longer than 4096 characters' });
    else toCopy.set(name, value);
  }
  const written = new Map<string, MigrationOutcome>();
  for (const [name, value] of toCopy) {
    try {
      await options.ssm.send(
        new PutParameterCommand({
          Name: secretParameterName(options.path, name),
          Value: value,
          Type: 'SecureString',
          Tier: 'Standard',
          Overwrite: options.overwrite === true,
          Description: `alertmanager-relay secret ${name}`,
        }),
      );
      written.set(name, options.overwrite ? 'overwritten' : 'copied');
    } catch (error) {
      if ((error as { name?: string }).name !== 'ParameterAlreadyExists')
        throw ssmError(error, name, options.path);
    }
  }
  const current = await parameterDigests(options.ssm, options.path, [...toCopy.keys()]);
  for (const [name, value] of toCopy) {
    const same = current.get(name) === digest(value);
    const outcome: MigrationOutcome =
      written.get(name) ??
      (same ? 'already there, same value' : 'already there, DIFFERENT value: kept (--overwrite replaces it)');
    if (written.has(name) && !same) {
      throw new SecretsCommandError(
        `SSM parameter ${secretParameterName(options.path, name)} reads back different from what was written`,
      );
    }
    keys.push({ name, parameter: secretParameterName(options.path, name), outcome });
  }
  keys.sort((a, b) => a.name.localeCompare(b.name));
  const used = [...secretReaders(options.config).keys()];
  const notInSecret = used.filter((name) => !toCopy.has(name));
  const ok =
    notInSecret.length === 0 &&
    used.every(
      (name) => current.get(name) !== undefined && current.get(name) === digest(toCopy.get(name) ?? ''),
    );
  return { secretId: options.secretId, path: options.path, keys, notInSecret, ok };
}

export function formatMigration(report: MigrationReport): string {
  const lines = [
    `From Secrets Manager secret ${report.secretId} to SSM parameters under ${report.path}:`,
    formatTable(
      ['KEY', 'PARAMETER', 'OUTCOME'],
      report.keys.map((key) => [key.name, key.parameter ?? '-', key.outcome]),
    ),
  ];
  if (report.notInSecret.length > 0) {
    lines.push(
      `Not in the old secret but named by the config: ${report.notInSecret.join(', ')}: ` +
        'set each with `npm run secrets -- set NAME --stage <stage>` before deploying.',
    );
  }
  lines.push(
    report.ok
      ? 'OK: every secret the config names is in its parameter with the old value. Deploy now; the deploy ' +
          'deletes the old secret (CloudFormation deletes a Secrets Manager secret without a recovery window).'
      : 'NOT DONE: fix the above before deploying: the deploy deletes the old secret for good. A DIFFERENT ' +
          'value you set on purpose can stay (then check the rest with `npm run secrets -- check`); ' +
          '--overwrite copies the old one.',
  );
  return lines.join('\n');
}

function checkName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw new SecretsCommandError(
      `"${name}" is not a secret name (letters, digits and _, not starting with a digit)`,
    );
  }
}

function checkValue(name: string, value: string): void {
  if (value === '') throw new SecretsCommandError(`no value for ${name}: pass it on stdin`);
  if (value.length > STANDARD_PARAMETER_MAX_CHARACTERS) {
    throw new SecretsCommandError(
      `the value of ${name} is longer than a standard parameter holds (4096 characters)`,
    );
  }
}

/** The SDK's error for one parameter, without its message's account or role details. */
function ssmError(error: unknown, name: string, path: string): SecretsCommandError {
  const code = (error as { name?: string }).name ?? 'Error';
  const hint =
    code === 'AccessDeniedException'
      ? ` (your credentials need ssm:PutParameter and ssm:GetParameters on ${path}*, and kms:Encrypt/Decrypt on aws/ssm)`
      : '';
  return new SecretsCommandError(
    `could not store secret ${name} as SSM parameter ${secretParameterName(path, name)}: ${code}${hint}`,
  );
}

/** Parameter type per name, for the names that exist (not decrypted). */
async function parameterTypes(ssm: SSMClient, path: string, names: string[]): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  for (let i = 0; i < names.length; i += GET_PARAMETERS_MAX_NAMES) {
    const chunk = names.slice(i, i + GET_PARAMETERS_MAX_NAMES);
    const output = await ssm.send(
      new GetParametersCommand({
        Names: chunk.map((name) => secretParameterName(path, name)),
        WithDecryption: false,
      }),
    );
    for (const parameter of output.Parameters ?? []) {
      const name = (parameter.Name ?? '').slice(path.length);
      types.set(name, parameter.Type ?? '');
    }
  }
  return types;
}

/** SHA-256 of each existing parameter's decrypted value: compared, never shown. */
async function parameterDigests(ssm: SSMClient, path: string, names: string[]): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  for (let i = 0; i < names.length; i += GET_PARAMETERS_MAX_NAMES) {
    const chunk = names.slice(i, i + GET_PARAMETERS_MAX_NAMES);
    const output = await ssm.send(
      new GetParametersCommand({
        Names: chunk.map((name) => secretParameterName(path, name)),
        WithDecryption: true,
      }),
    );
    for (const parameter of output.Parameters ?? []) {
      digests.set((parameter.Name ?? '').slice(path.length), digest(parameter.Value ?? ''));
    }
  }
  return digests;
}

const digest = (value: string) => createHash('sha256').update(value).digest('hex');

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: osls variables
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

/**
 * Where a deployed stage lives, for the operating commands (dlq, alertmanager-config, smoke):
 * the names osls gives it, and its CloudFormation outputs.
 */

export interface Stage {
  /** serverless.yml `service:` (alertmanager-relay). */
  service: string;
  stage: string;
  region?: string;
}

/** The `service:` of a serverless.yml. */
export function serviceName(serverlessYml: string): string {
  const match = readFileSync(serverlessYml, 'utf8').match(/^service:\s*([A-Za-z0-9-]+)\s*$/m);
  if (!match) throw new Error(`${serverlessYml} has no service: line`);
  return match[1];
}

/**
 * The region a deploy without `--region` goes to: serverless.yml's `${opt:region, 'eu-west-1'}`
 * default. The operating commands use it too (not AWS_REGION, which the deploy ignores).
 */
export function defaultRegion(serverlessYml: string): string | undefined {
  return readFileSync(serverlessYml, 'utf8').match(/^\s+region:\s*\$\{opt:region,\s*'([a-z0-9-]+)'\}/m)?.[1];
}

/** osls names the CloudFormation stack `<service>-<stage>`. */
export function stackName(stage: Stage): string {
  return `${stage.service}-${stage.stage}`;
}

/** A name lib/infra generates with osls variables (`${self:service}-${sls:stage}-webhook.fifo`), resolved. */
export function resolveName(template: string, stage: Stage): string {
  return template.replaceAll('${self:service}', stage.service).replaceAll('${sls:stage}', stage.stage);
}

export type StackOutputs = Record<string, string>;

/** Runs a command and returns its stdout (injectable for tests). */
export type CommandRunner = (command: string, args: string[]) => Promise<string>;

/** The real runner: execFile, no shell, stdout only (a secret on stdout never reaches a command line). */
export const runCommand: CommandRunner = async (command, args) =>
  (await promisify(execFile)(command, args, { maxBuffer: 4 * 1024 * 1024 })).stdout;

/**
 * The stack's outputs (WebhookUrl, SecretsPath, StateTableName, DashboardUrl, ...), read with
 * the AWS CLI, which the deploy guide needs anyway:
 * `aws cloudformation describe-stacks` prints stable JSON, where `sls info` prints text for people.
 */
export async function readStackOutputs(stage: Stage, run: CommandRunner = runCommand): Promise<StackOutputs> {
  const args = ['cloudformation', 'describe-stacks', '--stack-name', stackName(stage), '--output', 'json'];
  if (stage.region) args.push('--region', stage.region);
  let stdout: string;
  try {
    stdout = await run('aws', args);
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    throw new Error(
      `could not read the outputs of stack ${stackName(stage)} with the AWS CLI: ${detail} ` +
        '(needs the AWS CLI v2 and credentials; or pass --url with the WebhookUrl output)',
    );
  }
  return parseStackOutputs(stdout);
}

/** Outputs from `aws cloudformation describe-stacks --output json`. */
export function parseStackOutputs(json: string): StackOutputs {
  const parsed = JSON.parse(json) as {
    Stacks?: { Outputs?: { OutputKey?: string; OutputValue?: string }[] }[];
  };
  const outputs: StackOutputs = {};
  for (const output of parsed.Stacks?.[0]?.Outputs ?? []) {
    if (output.OutputKey && output.OutputValue !== undefined) outputs[output.OutputKey] = output.OutputValue;
  }
  return outputs;
}

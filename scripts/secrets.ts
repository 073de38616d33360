/**
 * `npm run secrets -- <check|set|migrate> --stage S`: the stage's secrets in SSM Parameter
 * Store, one SecureString per secret NAME under /<service>-<stage>/ (lib/ops/secrets.ts).
 * No value is ever printed or taken from the command line: `set` reads it from stdin.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SSMClient } from '@aws-sdk/client-ssm';
import { loadConfig } from '../lib/config/load.ts';
import {
  checkSecrets,
  formatCheck,
  formatMigration,
  migrateSecrets,
  oldSecretId,
  readOldSecret,
  SecretsCommandError,
  setSecret,
  stageSecretsPath,
} from '../lib/ops/secrets.ts';
import { defaultRegion, serviceName } from '../lib/ops/stack.ts';

const USAGE = `usage: npm run secrets -- <command> [--stage S] [--region R]

commands:
  check                          which secrets relay.yaml names, who reads each, and whether its parameter is set
  set NAME                       store the value read from stdin as NAME (a SecureString), replacing any value:
                                   openssl rand -hex 32 | npm run secrets -- set INGEST_TOKEN --stage prod
                                   read -rs V && printf %s "$V" | npm run secrets -- set SLACK_BOT_TOKEN --stage prod
  migrate [--from ID] [--overwrite]
                                 copy every key of the Secrets Manager secret of earlier releases (default: the
                                 stack's name, alertmanager-relay-<stage>) into its parameter, then read each back;
                                 run it before the deploy that removes that secret

where --stage defaults to dev and --region to the deploy's (eu-west-1 unless given). Parameters are
/<service>-<stage>/<NAME> in the stage's region.`;

const root = resolve(import.meta.dirname, '..');

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // `openssl rand -hex 32 |` and `echo |` end with a newline that is not part of the value.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      stage: { type: 'string' },
      region: { type: 'string' },
      from: { type: 'string' },
      overwrite: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, name] = positionals;
  if (values.help || !command || !['check', 'set', 'migrate'].includes(command)) {
    console.error(USAGE);
    return values.help ? 0 : 64;
  }
  const serverlessYml = resolve(root, 'serverless.yml');
  const region = values.region ?? defaultRegion(serverlessYml);
  const stage = { service: serviceName(serverlessYml), stage: values.stage ?? 'dev', region };
  const path = stageSecretsPath(stage);
  const ssm = new SSMClient(region ? { region } : {});
  try {
    if (command === 'set') {
      if (!name) {
        console.error(`set needs the secret's NAME\n\n${USAGE}`);
        return 64;
      }
      if (process.stdin.isTTY) {
        console.error(
          `pipe the value of ${name} on stdin (never as an argument: other users can read a command line), e.g.\n` +
            `  read -rs V && printf %s "$V" | npm run secrets -- set ${name} --stage ${stage.stage}`,
        );
        return 64;
      }
      const { parameter, version } = await setSecret({ ssm, path, name, value: await readStdin() });
      console.log(
        `Set ${parameter} (version ${version}). The functions read it within 5 minutes, no deploy needed.`,
      );
      return 0;
    }
    const { config, source } = loadConfig({ cwd: root });
    if (command === 'check') {
      console.log(`Secrets of ${source} for stage ${stage.stage} (${region ?? 'default region'}):`);
      const { text, ok } = formatCheck(await checkSecrets({ ssm, path, config }), path);
      console.log(text);
      return ok ? 0 : 1;
    }
    const secretId = values.from ?? oldSecretId(stage);
    const report = await migrateSecrets({
      ssm,
      path,
      secretId,
      secretText: await readOldSecret(secretId, region),
      config,
      overwrite: values.overwrite,
    });
    console.log(formatMigration(report));
    return report.ok ? 0 : 1;
  } finally {
    ssm.destroy();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof SecretsCommandError || error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);

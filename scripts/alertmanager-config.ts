/**
 * `npm run alertmanager-config [-- --stage S | --local | --url URL]`: prints the Alertmanager
 * receiver that sends to the relay (lib/ops/alertmanager-config.ts). The stage's URL and
 * secret id come from the stack outputs (AWS CLI); --local prints the `npm start` URL.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../lib/config/load.ts';
import { renderAlertmanagerConfig } from '../lib/ops/alertmanager-config.ts';
import { defaultRegion, readStackOutputs, serviceName, stackName } from '../lib/ops/stack.ts';

const USAGE = `usage: npm run alertmanager-config -- [--stage S] [--region R] [--local] [--url URL]
       [--receiver NAME] [--credentials-file PATH]`;

const root = resolve(import.meta.dirname, '..');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stage: { type: 'string' },
      region: { type: 'string' },
      local: { type: 'boolean' },
      url: { type: 'string' },
      receiver: { type: 'string' },
      'credentials-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const { config } = loadConfig();
  const tokenSecret = config.ingest.tokenSecret;
  let url: string;
  let source: string;
  let tokenLocation: string | undefined;
  if (values.url) {
    url = values.url;
    source = 'URL given with --url';
  } else if (values.local) {
    const host = process.env.HOST ?? '127.0.0.1';
    url = `http://${host}:${process.env.PORT ?? 9099}/alertmanager`;
    source = 'local relay, npm start';
    tokenLocation = 'the environment variable of that name, or RELAY_SECRETS_FILE';
  } else {
    const stage = {
      service: serviceName(resolve(root, 'serverless.yml')),
      stage: values.stage ?? 'dev',
      region: values.region ?? defaultRegion(resolve(root, 'serverless.yml')),
    };
    const outputs = await readStackOutputs(stage);
    if (!outputs.WebhookUrl) throw new Error(`stack ${stackName(stage)} has no WebhookUrl output`);
    url = outputs.WebhookUrl;
    source = `stack ${stackName(stage)}`;
    if (outputs.RelaySecretId) tokenLocation = `a key of Secrets Manager secret ${outputs.RelaySecretId}`;
  }
  process.stdout.write(
    renderAlertmanagerConfig({
      url,
      source,
      receiver: values.receiver,
      credentialsFile: values['credentials-file'],
      tokenSecret,
      tokenLocation,
    }),
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof ConfigError || error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);

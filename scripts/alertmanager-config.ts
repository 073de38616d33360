/**
 * `npm run alertmanager-config [-- --stage S | --local | --url URL]`: prints the Alertmanager
 * receiver that sends to the relay (lib/ops/alertmanager-config.ts), and with a `watchdog:` block
 * in relay.yaml the route of its heartbeat. The stage's URL and secrets path come from the stack
 * outputs (AWS CLI); --local prints the `npm start` URL.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../lib/config/load.ts';
import {
  alertmanagerConfigFor,
  explainAlertmanagerConfigFailure,
  localTarget,
  type ReceiverTarget,
  stageTarget,
} from '../lib/ops/alertmanager-config.ts';
import { defaultRegion, serviceName } from '../lib/ops/stack.ts';

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
  let target: ReceiverTarget;
  if (values.url) {
    target = { url: values.url, source: 'URL given with --url' };
  } else if (values.local) {
    target = localTarget(process.env);
  } else {
    const stage = {
      service: serviceName(resolve(root, 'serverless.yml')),
      stage: values.stage ?? 'dev',
      region: values.region ?? defaultRegion(resolve(root, 'serverless.yml')),
    };
    try {
      target = await stageTarget(stage);
    } catch (error) {
      console.error(explainAlertmanagerConfigFailure(error, values));
      return 1;
    }
  }
  // --local prints what npm start's banner shows (lib/local/banner.ts): the same function.
  process.stdout.write(
    alertmanagerConfigFor(target, config, {
      receiver: values.receiver,
      credentialsFile: values['credentials-file'],
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

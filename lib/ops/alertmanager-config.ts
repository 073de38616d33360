import type { RelayConfig } from '../config/types.ts';
import { INFRA } from '../infra/constants.ts';
import { MAX_BODY_BYTES } from '../ingest/ingest.ts';
import { resolveWatchdog } from '../watchdog/config.ts';
import { watchdogRouteLines } from '../watchdog/route.ts';
import {
  readStageOutputs,
  STAGE_ADVICE,
  StageLookupError,
  stageNotReached,
  suggestLocal,
} from './aws-hint.ts';
import { shellQuote } from './shell-quote.ts';
import { type CommandRunner, runCommand, type Stage, stackName } from './stack.ts';

export { StageLookupError };

/** What the printed receiver block is made of. */
export interface ReceiverOptions {
  /** The relay's webhook URL, ending in /alertmanager. */
  url: string;
  /** Where the stage's URL came from, for the header comment. */
  source: string;
  /** Alertmanager receiver name. */
  receiver?: string;
  /** Path of the file holding the bearer token on the Alertmanager host. */
  credentialsFile?: string;
  /** NAME of the ingest token secret (config `ingest.tokenSecret`); none: no authorization block. */
  tokenSecret?: string;
  /** Where the token's value is kept: `the SSM parameter of that name under /alertmanager-relay-prod/`, or the environment / RELAY_SECRETS_FILE. */
  tokenLocation?: string;
  /** relay.yaml's `watchdog:` block (its alertname, default applied): the route that sends the heartbeat comes first. */
  watchdog?: { alertname: string };
}

export const DEFAULT_CREDENTIALS_FILE = '/etc/alertmanager/secrets/alertmanager-relay-token';

/**
 * The Alertmanager config that sends to the relay: a `receivers:` entry plus a route that
 * uses it (with a `watchdog:` block, first among its child routes the one that sends the
 * always-firing alert alone: lib/watchdog/route.ts), valid YAML that `amtool check-config`
 * accepts as a whole file, with the advice as comments. Alertmanager facts: webhook `max_alerts` exists since 0.21, `timeout` since
 * 0.28 (so it is only advised), `url_file` since 0.26; 5xx and transport errors are retried,
 * every 4xx is dropped (Alertmanager's notify/webhook: only 5xx and transport errors are retried).
 *
 * @example renderAlertmanagerConfig({ url: 'https://abc.execute-api.eu-west-1.amazonaws.com/alertmanager', source: 'stack alertmanager-relay-prod', tokenSecret: 'INGEST_TOKEN' })
 */
export function renderAlertmanagerConfig(options: ReceiverOptions): string {
  const receiver = options.receiver ?? 'alertmanager-relay';
  const credentialsFile = options.credentialsFile ?? DEFAULT_CREDENTIALS_FILE;
  const ingestSeconds = INFRA.ingest.timeoutSeconds;
  const lines = [
    `# Alertmanager -> alertmanager-relay (${options.source})`,
    '# Merge into alertmanager.yml: add the receiver under `receivers:`, and either make it the',
    '# default (`route.receiver`, as below) or add a child route, e.g.',
    '#   route:',
    '#     routes:',
    `#       - receiver: ${receiver}`,
    '#         matchers: [\'severity=~"critical|warning"\']',
    '#         continue: true   # keep delivering to your other receivers too',
    ...(options.watchdog
      ? [
          `# The relay's watchdog needs the ${options.watchdog.alertname} route below first among route.routes,`,
          '# whatever else you route: it sends the heartbeat to the relay alone, and to no other receiver.',
        ]
      : []),
    '# Check it with `amtool check-config alertmanager.yml`, then reload: `curl -X POST http://<alertmanager>:9093/-/reload`.',
  ];
  if (options.tokenSecret) {
    lines.push(
      '#',
      `# The bearer token: the value of the secret ${options.tokenSecret}${options.tokenLocation ? ` (${options.tokenLocation})` : ''}.`,
      `# Put it, alone on one line, in ${credentialsFile} on every Alertmanager host`,
      '# (owned by the alertmanager user, mode 0400). In Kubernetes, mount a Secret there.',
      `# Rotating: store the new value as ${options.tokenSecret} and the old one under the name in`,
      '# ingest.previousTokenSecret (both are accepted),',
      '# update this file on every host and reload, then remove the previous token.',
    );
  }
  lines.push(
    'route:',
    `  receiver: ${receiver}`,
    ...(options.watchdog ? watchdogRouteLines({ receiver, alertname: options.watchdog.alertname }) : []),
    'receivers:',
    `  - name: ${receiver}`,
    '    webhook_configs:',
    `      - url: ${options.url}`,
    '        # The relay edits or resolves what it posted when the alert group resolves.',
    '        send_resolved: true',
    '        # 0 = all alerts. The relay splits a large group itself (no alert is dropped) and accepts',
    `        # bodies up to ${MAX_BODY_BYTES / 1024 / 1024} MiB; set a cap only to bound a storm, and the relay then says how many were left out.`,
    '        max_alerts: 0',
    `        # Alertmanager >= 0.28: wait a little longer than the relay's own ${ingestSeconds} s limit (it only queues).`,
    `        # timeout: ${ingestSeconds + 5}s`,
  );
  if (options.tokenSecret) {
    lines.push(
      '        http_config:',
      '          authorization:',
      '            type: Bearer',
      `            credentials_file: ${credentialsFile}`,
    );
  } else {
    lines.push(
      '        # No ingest token is configured: fine for a relay on 127.0.0.1 only. A deployed relay',
      '        # always has one (npm run deploy refuses without it).',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Where the printed receiver sends: the relay's URL, where it came from, where its token's value is kept. */
export interface ReceiverTarget {
  url: string;
  source: string;
  tokenLocation?: string;
}

/**
 * The Alertmanager config for relay.yaml's `config` (its ingest token, its watchdog's route)
 * sending to `target`: what `npm run alertmanager-config` prints, and, for localTarget, what
 * `npm start` prints in its banner, the one function behind both.
 */
export function alertmanagerConfigFor(
  target: ReceiverTarget,
  config: Pick<RelayConfig, 'ingest' | 'watchdog'>,
  given: { receiver?: string; credentialsFile?: string } = {},
): string {
  const watchdog = resolveWatchdog(config.watchdog);
  return renderAlertmanagerConfig({
    ...target,
    ...(given.receiver !== undefined ? { receiver: given.receiver } : {}),
    ...(given.credentialsFile !== undefined ? { credentialsFile: given.credentialsFile } : {}),
    ...(config.ingest.tokenSecret !== undefined ? { tokenSecret: config.ingest.tokenSecret } : {}),
    ...(watchdog ? { watchdog: { alertname: watchdog.alertname } } : {}),
  });
}

/**
 * `--local`: the relay `npm start` runs, at HOST and PORT as it reads them (lib/local/main.ts);
 * an IPv6 HOST in brackets, as a URL needs it.
 */
export function localTarget(env: NodeJS.ProcessEnv): ReceiverTarget {
  const host = env.HOST ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${env.PORT ?? 9099}/alertmanager`,
    source: 'local relay, npm start',
    tokenLocation: 'the environment variable of that name, or RELAY_SECRETS_FILE',
  };
}

/**
 * The receiver target of a deployed stage: its WebhookUrl and SecretsPath outputs, read with
 * the AWS CLI (lib/ops/stack.ts). A failure is a StageLookupError that tells a missing CLI, missing
 * credentials and a missing stack apart.
 */
export async function stageTarget(stage: Stage, run: CommandRunner = runCommand): Promise<ReceiverTarget> {
  const stack = stackName(stage);
  const outputs = await readStageOutputs(stage, "the stage's webhook URL", run);
  if (!outputs.WebhookUrl) throw new StageLookupError(`stack ${stack} has no WebhookUrl output`, 'no-output');
  return {
    url: outputs.WebhookUrl,
    source: `stack ${stack}`,
    ...(outputs.SecretsPath
      ? { tokenLocation: `the SSM parameter of that name under ${outputs.SecretsPath}` }
      : {}),
  };
}

/**
 * What to print for an error that ended `npm run alertmanager-config`. When the stage was not
 * reached, the way to the local relay (the same command with `--local`, repeating the user's
 * `--receiver` and `--credentials-file`) and to a stage; otherwise the message.
 */
export function explainAlertmanagerConfigFailure(
  error: unknown,
  given: { receiver?: string; 'credentials-file'?: string },
): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!stageNotReached(error)) return message;
  const args = [
    ...(given.receiver !== undefined ? ['--receiver', given.receiver] : []),
    ...(given['credentials-file'] !== undefined ? ['--credentials-file', given['credentials-file']] : []),
  ];
  const local = ['npm', 'run', 'alertmanager-config', '--', '--local', ...args].map(shellQuote).join(' ');
  return suggestLocal(
    message,
    local,
    `${STAGE_ADVICE[error.problem]}, or give its webhook URL (the stack's WebhookUrl output) with --url.`,
  );
}

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DEFAULT_CREDENTIALS_FILE,
  explainAlertmanagerConfigFailure,
  localTarget,
  renderAlertmanagerConfig,
  StageLookupError,
  stageTarget,
} from '../../lib/ops/alertmanager-config.ts';
import {
  defaultRegion,
  parseStackOutputs,
  readStackOutputs,
  resolveName,
  serviceName,
  stackName,
} from '../../lib/ops/stack.ts';
import { available, type OptionalBinary } from '../support/optional-binary.ts';
import { run, runScript } from '../support/run-script.ts';

const URL = 'https://abc123.execute-api.eu-west-1.amazonaws.com/alertmanager';

type Webhook = { url: string; send_resolved: boolean; max_alerts: number; http_config?: unknown };

function webhookOf(text: string): Webhook {
  return parse(text).receivers[0].webhook_configs[0] as Webhook;
}

describe('Function: renderAlertmanagerConfig', () => {
  it('should print a receiver with the URL, send_resolved and a bearer credentials_file', () => {
    // Act
    const text = renderAlertmanagerConfig({
      url: URL,
      source: 'stack alertmanager-relay-prod',
      tokenSecret: 'INGEST_TOKEN',
    });
    const parsed = parse(text);

    // Assess
    expect(parsed.route.receiver).toBe('alertmanager-relay');
    expect(webhookOf(text)).toEqual({
      url: URL,
      send_resolved: true,
      max_alerts: 0,
      http_config: { authorization: { type: 'Bearer', credentials_file: DEFAULT_CREDENTIALS_FILE } },
    });
    expect(text).toContain('# The bearer token: the value of the secret INGEST_TOKEN.');
    expect(text).toContain('# timeout: 15s');
  });

  it('should say where the token lives and use the given receiver name and file', () => {
    // Act
    const text = renderAlertmanagerConfig({
      url: URL,
      source: 'stack alertmanager-relay-prod',
      tokenSecret: 'INGEST_TOKEN',
      tokenLocation: 'the SSM parameter of that name under /alertmanager-relay-prod/',
      receiver: 'relay-prod',
      credentialsFile: '/run/secrets/relay',
    });

    // Assess
    expect(text).toContain('INGEST_TOKEN (the SSM parameter of that name under /alertmanager-relay-prod/)');
    expect(parse(text).receivers[0].name).toBe('relay-prod');
    expect(webhookOf(text).http_config).toEqual({
      authorization: { type: 'Bearer', credentials_file: '/run/secrets/relay' },
    });
  });

  it('should leave out the authorization block when no ingest token is configured', () => {
    // Act
    const text = renderAlertmanagerConfig({
      url: 'http://127.0.0.1:9099/alertmanager',
      source: 'local relay',
    });

    // Assess
    expect(webhookOf(text).http_config).toBeUndefined();
    expect(text).toContain('No ingest token is configured');
  });
});

const PROD = { service: 'alertmanager-relay', stage: 'prod', region: 'eu-west-1' };
/** How the AWS CLI fails: execFile's error with the CLI's stderr. */
const cliFailure = (stderr: string) => async () => {
  throw Object.assign(new Error('Command failed: aws cloudformation describe-stacks'), { code: 255, stderr });
};

describe('Function: stageTarget', () => {
  it("should target the stack's WebhookUrl and say where the token is kept", async () => {
    // Act
    const target = await stageTarget(PROD, async () =>
      JSON.stringify({
        Stacks: [
          {
            Outputs: [
              { OutputKey: 'WebhookUrl', OutputValue: URL },
              { OutputKey: 'SecretsPath', OutputValue: '/alertmanager-relay-prod/' },
            ],
          },
        ],
      }),
    );

    // Assess
    expect(target).toEqual({
      url: URL,
      source: 'stack alertmanager-relay-prod',
      tokenLocation: 'the SSM parameter of that name under /alertmanager-relay-prod/',
    });
  });

  it('should say plainly that there are no AWS credentials', async () => {
    // Act
    const failure = stageTarget(
      PROD,
      cliFailure(
        '\nUnable to locate credentials. You can configure credentials by running "aws configure".\n',
      ),
    );

    // Assess
    await expect(failure).rejects.toMatchObject({
      problem: 'credentials',
      message:
        'no usable AWS credentials to read stack alertmanager-relay-prod in eu-west-1 (the AWS CLI said: Unable to locate credentials. You can configure credentials by running "aws configure".)',
    });
  });

  it('should tell an expired SSO session and an unknown profile as missing credentials too', async () => {
    for (const stderr of [
      'Error when retrieving token from sso: Token has expired and refresh failed',
      'The config profile (prod) could not be found',
      'An error occurred (ExpiredToken) when calling the DescribeStacks operation: The security token included in the request is expired',
    ]) {
      // Act
      const failure = stageTarget(PROD, cliFailure(stderr));

      // Assess
      await expect(failure, stderr).rejects.toMatchObject({ problem: 'credentials' });
    }
  });

  it('should say plainly that the stage is not deployed', async () => {
    // Act
    const failure = stageTarget(
      PROD,
      cliFailure(
        'An error occurred (ValidationError) when calling the DescribeStacks operation: Stack with id alertmanager-relay-prod does not exist',
      ),
    );

    // Assess
    await expect(failure).rejects.toMatchObject({
      problem: 'no-stack',
      message: 'stack alertmanager-relay-prod does not exist in eu-west-1: stage prod is not deployed there',
    });
  });

  it('should say that the AWS CLI is missing', async () => {
    // Act
    const failure = stageTarget(PROD, async () => {
      throw Object.assign(new Error('spawn aws ENOENT'), { code: 'ENOENT' });
    });

    // Assess
    await expect(failure).rejects.toMatchObject({ problem: 'no-cli' });
  });

  it('should pass on any other failure, and a stack without a WebhookUrl', async () => {
    // Act
    const other = stageTarget(PROD, cliFailure('Could not connect to the endpoint URL'));
    const noOutput = stageTarget(PROD, async () => JSON.stringify({ Stacks: [{ Outputs: [] }] }));

    // Assess
    await expect(other).rejects.toMatchObject({ problem: 'other' });
    await expect(other).rejects.toThrow('Could not connect to the endpoint URL');
    await expect(noOutput).rejects.toThrow('stack alertmanager-relay-prod has no WebhookUrl output');
  });
});

describe('Function: explainAlertmanagerConfigFailure', () => {
  it('should suggest the same command with --local, repeating the flags that apply there', () => {
    // Prepare
    const error = new StageLookupError(
      'no usable AWS credentials to read stack alertmanager-relay-dev',
      'credentials',
    );

    // Act
    const text = explainAlertmanagerConfigFailure(error, {
      receiver: 'relay prod',
      'credentials-file': '/run/secrets/relay',
    });

    // Assess
    expect(text.split('\n')).toEqual([
      'no usable AWS credentials to read stack alertmanager-relay-dev',
      '',
      'For the relay `npm start` runs on this machine, add --local:',
      "  npm run alertmanager-config -- --local --receiver 'relay prod' --credentials-file /run/secrets/relay",
      "For a deployed stage, set up AWS credentials (AWS_PROFILE, `aws configure` or `aws sso login`), or give its webhook URL (the stack's WebhookUrl output) with --url.",
    ]);
  });

  it('should print other failures as they are', () => {
    // Act
    const text = explainAlertmanagerConfigFailure(
      new StageLookupError('stack x has no WebhookUrl output', 'no-output'),
      {},
    );

    // Assess
    expect(text).toBe('stack x has no WebhookUrl output');
  });
});

describe('Function: localTarget', () => {
  it("should target npm start's HOST and PORT", () => {
    // Act
    const target = localTarget({ HOST: '10.0.0.5', PORT: '9100' });

    // Assess
    expect(target.url).toBe('http://10.0.0.5:9100/alertmanager');
    expect(localTarget({}).url).toBe('http://127.0.0.1:9099/alertmanager');
  });
});

describe('Command: npm run alertmanager-config without credentials or a stack', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-amconfig-aws-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The script with an `aws` on PATH that fails as the real CLI does, printing `stderr`. */
  async function runWithAws(stderr: string, exitCode: number, args: string[] = []) {
    const bin = await mkdtemp(join(dir, 'bin-'));
    await writeFile(join(bin, 'aws'), `#!/bin/sh\nprintf '%s\\n' '${stderr}' >&2\nexit ${exitCode}\n`);
    await chmod(join(bin, 'aws'), 0o755);
    return runScript('scripts/alertmanager-config.ts', args, {
      cwd: dir,
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir },
    });
  }

  it('should say there are no AWS credentials and give the command with --local', async () => {
    // Act
    const result = await runWithAws(
      'Unable to locate credentials. You can configure credentials by running "aws configure".',
      253,
      ['--receiver', 'relay'],
    );

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      'no usable AWS credentials to read stack alertmanager-relay-dev in eu-west-1',
    );
    expect(result.stderr).toContain('  npm run alertmanager-config -- --local --receiver relay\n');
  });

  it('should say the stage is not deployed and give the command with --local', async () => {
    // Act
    const result = await runWithAws(
      'An error occurred (ValidationError) when calling the DescribeStacks operation: Stack with id alertmanager-relay-qa does not exist',
      254,
      ['--stage', 'qa'],
    );

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'stack alertmanager-relay-qa does not exist in eu-west-1: stage qa is not deployed there',
    );
    expect(result.stderr).toContain('  npm run alertmanager-config -- --local\n');
  });
});

describe('Function: readStackOutputs', () => {
  it('should ask the AWS CLI for the stack of the stage and read its outputs', async () => {
    // Prepare
    const calls: string[][] = [];
    const json = JSON.stringify({
      Stacks: [
        {
          Outputs: [
            { OutputKey: 'WebhookUrl', OutputValue: URL },
            { OutputKey: 'SecretsPath', OutputValue: '/alertmanager-relay-prod/' },
          ],
        },
      ],
    });

    // Act
    const outputs = await readStackOutputs(
      { service: 'alertmanager-relay', stage: 'prod', region: 'eu-west-1' },
      async (command, args) => {
        calls.push([command, ...args]);
        return json;
      },
    );

    // Assess
    expect(outputs).toEqual({ WebhookUrl: URL, SecretsPath: '/alertmanager-relay-prod/' });
    expect(calls).toEqual([
      [
        'aws',
        'cloudformation',
        'describe-stacks',
        '--stack-name',
        'alertmanager-relay-prod',
        '--output',
        'json',
        '--region',
        'eu-west-1',
      ],
    ]);
  });

  it('should explain a failure with what the CLI said', async () => {
    // Act
    const failure = readStackOutputs({ service: 'alertmanager-relay', stage: 'nope' }, async () => {
      throw Object.assign(new Error('exit 254'), {
        stderr: 'Stack with id alertmanager-relay-nope does not exist\n',
      });
    });

    // Assess
    await expect(failure).rejects.toThrow(
      'could not read the outputs of stack alertmanager-relay-nope with the AWS CLI: Stack with id alertmanager-relay-nope does not exist',
    );
  });
});

describe('Function: resolveName', () => {
  it('should resolve the osls variables lib/infra names queues with', () => {
    // Act
    // biome-ignore lint/suspicious/noTemplateCurlyInString: osls variables
    const name = resolveName('${self:service}-${sls:stage}-webhook-dlq.fifo', {
      service: 'alertmanager-relay',
      stage: 'prod',
    });

    // Assess
    expect(name).toBe('alertmanager-relay-prod-webhook-dlq.fifo');
    expect(stackName({ service: 'alertmanager-relay', stage: 'prod' })).toBe('alertmanager-relay-prod');
    expect(parseStackOutputs('{"Stacks":[{}]}')).toEqual({});
  });
});

describe('Function: serviceName and defaultRegion', () => {
  it('should read the service and the default deploy region from serverless.yml', () => {
    // Prepare
    const serverlessYml = join(import.meta.dirname, '../../serverless.yml');

    // Act
    const service = serviceName(serverlessYml);
    const region = defaultRegion(serverlessYml);

    // Assess
    expect(service).toBe('alertmanager-relay');
    expect(region).toBe('eu-west-1');
  });
});

/** Debian's amtool, from the package `prometheus-alertmanager`. */
const AMTOOL: OptionalBinary = {
  path: process.env.AMTOOL_BIN ?? '/usr/bin/amtool',
  env: 'AMTOOL_BIN',
  install: 'apt-get install prometheus-alertmanager',
};

const WATCHDOG_ROUTE = {
  receiver: 'alertmanager-relay',
  matchers: ['alertname="Watchdog"'],
  group_by: ['alertname'],
  group_wait: '0s',
  group_interval: '30s',
  repeat_interval: '1m',
  continue: false,
};

describe('Function: renderAlertmanagerConfig, with a watchdog', () => {
  it("should put the watchdog's route first and alone under the route, to the relay's receiver", () => {
    // Act
    const text = renderAlertmanagerConfig({
      url: URL,
      source: 'stack alertmanager-relay-prod',
      tokenSecret: 'INGEST_TOKEN',
      watchdog: { alertname: 'Watchdog' },
    });
    const parsed = parse(text);

    // Assess
    expect(parsed.route).toEqual({ receiver: 'alertmanager-relay', routes: [WATCHDOG_ROUTE] });
    expect(webhookOf(text).url).toBe(URL);
    expect(text).toContain("# The relay's watchdog needs the Watchdog route below first among route.routes,");
  });

  it('should print no child route without a watchdog', () => {
    // Act
    const parsed = parse(renderAlertmanagerConfig({ url: URL, source: 'stack alertmanager-relay-prod' }));

    // Assess
    expect(parsed.route).toEqual({ receiver: 'alertmanager-relay' });
  });

  it('should match an alertname with quotes exactly, whatever it contains, for the given receiver', () => {
    // Act
    const parsed = parse(
      renderAlertmanagerConfig({
        url: URL,
        source: 'local',
        receiver: 'relay-2',
        watchdog: { alertname: `Dead"Man's\\Switch` },
      }),
    );

    // Assess
    expect(parsed.route.routes).toEqual([
      { ...WATCHDOG_ROUTE, receiver: 'relay-2', matchers: [`alertname="Dead\\"Man's\\\\Switch"`] },
    ]);
  });
});

describe.runIf(available(AMTOOL, 'amtool check-config / config routes test of the watchdog route'))(
  'Command: amtool on the printed config with a watchdog',
  () => {
    let dir: string;
    let file: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'relay-amconfig-amtool-'));
      const credentials = join(dir, 'token');
      await writeFile(credentials, 'token\n');
      file = join(dir, 'alertmanager.yml');
      await writeFile(
        file,
        renderAlertmanagerConfig({
          url: URL,
          source: 'test',
          tokenSecret: 'INGEST_TOKEN',
          credentialsFile: credentials,
          watchdog: { alertname: `Dead"Man's Switch` },
        }),
      );
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('should be a config Alertmanager accepts', async () => {
      // Act
      const result = await run(AMTOOL.path, ['check-config', file]);

      // Assess
      expect(result.code, result.stderr + result.stdout).toBe(0);
      expect(result.stdout).toContain('SUCCESS');
    });

    it("should route the watched alert to the relay's receiver, by the watchdog's child route", async () => {
      // Act
      const tree = await run(AMTOOL.path, ['config', 'routes', '--config.file', file]);
      const watched = await run(AMTOOL.path, [
        'config',
        'routes',
        'test',
        '--config.file',
        file,
        '--verify.receivers',
        'alertmanager-relay',
        `alertname=${JSON.stringify(`Dead"Man's Switch`)}`,
      ]);

      // Assess
      expect(watched.code, watched.stderr + watched.stdout).toBe(0);
      expect(tree.stdout).toContain(`{alertname="Dead\\"Man's Switch"}  receiver: alertmanager-relay`);
    });
  },
);

describe('Command: npm run alertmanager-config with a watchdog block', () => {
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-amconfig-watchdog-'));
    config = join(dir, 'relay.yaml');
    await writeFile(
      config,
      'destinations:\n  - { name: pager, sink: console }\nwatchdog: { destinations: [pager], alertname: DeadMansSwitch }\n',
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('should print the route with --local', async () => {
    // Act
    const result = await runScript('scripts/alertmanager-config.ts', ['--local'], {
      cwd: dir,
      env: { RELAY_CONFIG: config, HOME: dir },
    });

    // Assess
    expect(result.code, result.stderr).toBe(0);
    expect(parse(result.stdout).route.routes).toEqual([
      { ...WATCHDOG_ROUTE, matchers: ['alertname="DeadMansSwitch"'] },
    ]);
  });

  it("should print the route for a deployed stage, whose URL the stack's outputs give", async () => {
    // Prepare: an `aws` that answers describe-stacks with the stage's outputs.
    const bin = await mkdtemp(join(dir, 'bin-'));
    const outputs = JSON.stringify({
      Stacks: [{ Outputs: [{ OutputKey: 'WebhookUrl', OutputValue: URL }] }],
    });
    await writeFile(join(bin, 'aws'), `#!/bin/sh\nprintf '%s\\n' '${outputs}'\n`);
    await chmod(join(bin, 'aws'), 0o755);

    // Act
    const result = await runScript('scripts/alertmanager-config.ts', ['--stage', 'prod'], {
      cwd: dir,
      env: { RELAY_CONFIG: config, HOME: dir, PATH: `${bin}:${process.env.PATH}` },
    });

    // Assess
    expect(result.code, result.stderr).toBe(0);
    const parsed = parse(result.stdout);
    expect(parsed.route.routes).toEqual([{ ...WATCHDOG_ROUTE, matchers: ['alertname="DeadMansSwitch"'] }]);
    expect(parsed.receivers[0].webhook_configs[0].url).toBe(URL);
  });
});

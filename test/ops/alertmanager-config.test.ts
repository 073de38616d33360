import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_CREDENTIALS_FILE, renderAlertmanagerConfig } from '../../lib/ops/alertmanager-config.ts';
import {
  defaultRegion,
  parseStackOutputs,
  readStackOutputs,
  resolveName,
  serviceName,
  stackName,
} from '../../lib/ops/stack.ts';

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
      tokenLocation: 'a key of Secrets Manager secret arn:aws:secretsmanager:eu-west-1:1:secret:x',
      receiver: 'relay-prod',
      credentialsFile: '/run/secrets/relay',
    });

    // Assess
    expect(text).toContain(
      'INGEST_TOKEN (a key of Secrets Manager secret arn:aws:secretsmanager:eu-west-1:1:secret:x)',
    );
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

describe('Function: readStackOutputs', () => {
  it('should ask the AWS CLI for the stack of the stage and read its outputs', async () => {
    // Prepare
    const calls: string[][] = [];
    const json = JSON.stringify({
      Stacks: [
        {
          Outputs: [
            { OutputKey: 'WebhookUrl', OutputValue: URL },
            { OutputKey: 'RelaySecretId', OutputValue: 'arn:secret' },
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
    expect(outputs).toEqual({ WebhookUrl: URL, RelaySecretId: 'arn:secret' });
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

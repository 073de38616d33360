// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub strings
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { destinationSecretNames } from '../../lib/config/secrets.ts';
import { INFRA } from '../../lib/infra/constants.ts';
import { dlqUrlVar, queueUrlVar } from '../../lib/runtime-env.ts';
import { sinks } from '../../lib/sinks/registry.ts';

/**
 * Checks the CloudFormation that `npm run package -- --stage ci` produces with relay.example.yaml
 * (a destination of every sink it shows), by walking the template (Fn::GetAtt and Ref) rather
 * than trusting lib/infra's names; and that a config of one webhook destination packages
 * nothing of the other sinks. Needs no AWS credentials.
 */

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

// biome-ignore lint/suspicious/noExplicitAny: the template is JSON walked by hand; the assertions are the types
type Json = Record<string, any>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

// Without credentials, telemetry or a developer's own relay config or Sentry DSN.
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
  };
  for (const name of Object.keys(env)) {
    if (name.startsWith('AWS_') || name.startsWith('RELAY_') || name === 'SENTRY_DSN') delete env[name];
  }
  return { ...env, ...extra };
}

let packageDir: string;
/** What `npm run package` printed. */
let packageOutput: string;
let text: string;
let template: Json;
let resources: Record<string, Json>;

beforeAll(async () => {
  packageDir = await mkdtemp(join(tmpdir(), 'relay-package-'));
  // --package: a temporary directory instead of .serverless, which a deploy from this checkout may be using.
  const packaged = await run('npm', ['run', 'package', '--', '--stage', 'ci', '--package', packageDir], {
    cwd: root,
    env: cleanEnv({ RELAY_CONFIG: EXAMPLE_CONFIG }),
    maxBuffer: 16 * 1024 * 1024,
  });
  packageOutput = packaged.stdout;
  text = await readFile(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8');
  template = JSON.parse(text);
  resources = template.Resources;
}, 180_000);

afterAll(async () => {
  if (packageDir) await rm(packageDir, { recursive: true, force: true });
});

function actions(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function resourceList(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** `{ 'Fn::GetAtt': [id, 'Arn'] }` -> id; anything else (a literal ARN, '*') -> undefined. */
function arnOf(value: unknown): string | undefined {
  const getAtt = (value as Json | undefined)?.['Fn::GetAtt'];
  return Array.isArray(getAtt) && getAtt[1] === 'Arn' ? getAtt[0] : undefined;
}

function refOf(value: unknown): string | undefined {
  return (value as Json | undefined)?.Ref;
}

function ofType(type: string): [string, Json][] {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}

function roleStatements(functionId: string): Statement[] {
  const roleId = arnOf(resources[functionId].Properties.Role);
  expect(roleId, `${functionId} has a role in this template`).toBeDefined();
  const role = resources[roleId as string];
  expect(role.Type).toBe('AWS::IAM::Role');
  expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  return role.Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement);
}

/** Every (action, resource logical id) pair of a role for one service prefix. */
function grants(statements: Statement[], prefix: string): string[] {
  return statements.flatMap((statement) =>
    actions(statement)
      .filter((action) => action.startsWith(prefix))
      .flatMap((action) =>
        resourceList(statement).map(
          (resource) => `${action} ${arnOf(resource) ?? refOf(resource) ?? JSON.stringify(resource)}`,
        ),
      ),
  );
}

const PARAMETER_ARN =
  /^arn:\$\{AWS::Partition\}:ssm:\$\{AWS::Region\}:\$\{AWS::AccountId\}:parameter\/alertmanager-relay-ci\/([A-Za-z0-9_]+)$/;

/**
 * The secret names a role may read: its ssm: statements must be GetParameters on parameter ARNs
 * under the stage's path, one per secret (no wildcard, no other SSM action, no kms:).
 */
function secretGrants(statements: Statement[]): string[] {
  const ssm = statements.filter((statement) =>
    actions(statement).some((action) => action.startsWith('ssm:')),
  );
  for (const statement of ssm) expect(actions(statement)).toEqual(['ssm:GetParameters']);
  expect(statements.flatMap(actions).filter((action) => action.startsWith('kms:'))).toEqual([]);
  return ssm
    .flatMap(resourceList)
    .map((resource) => {
      const arn = String((resource as Json)['Fn::Sub'] ?? JSON.stringify(resource));
      const match = PARAMETER_ARN.exec(arn);
      expect(match, `${arn} is one secret's parameter`).not.toBeNull();
      return (match as RegExpExecArray)[1];
    })
    .sort();
}

/** The Lambda function that serves `sink`, found by the RELAY_SINK it is given. */
function sinkFunction(sink: string): [string, Json] {
  const matches = ofType('AWS::Lambda::Function').filter(
    ([, fn]) => fn.Properties.Environment?.Variables?.RELAY_SINK === sink,
  );
  expect(matches, `one function with RELAY_SINK=${sink}`).toHaveLength(1);
  return matches[0];
}

function eventSourceMapping(functionId: string): Json {
  const matches = ofType('AWS::Lambda::EventSourceMapping').filter(
    ([, mapping]) => arnOf(mapping.Properties.FunctionName) === functionId,
  );
  expect(matches, `one event source mapping for ${functionId}`).toHaveLength(1);
  return matches[0][1];
}

function pipeline(sink: string) {
  const [functionId, fn] = sinkFunction(sink);
  const mapping = eventSourceMapping(functionId);
  const queueId = arnOf(mapping.Properties.EventSourceArn) as string;
  const queue = resources[queueId];
  const deadLetterQueueId = arnOf(queue?.Properties.RedrivePolicy?.deadLetterTargetArn) as string;
  return {
    functionId,
    fn,
    mapping,
    queueId,
    queue,
    deadLetterQueueId,
    deadLetterQueue: resources[deadLetterQueueId],
  };
}

function ingestFunction(): [string, Json] {
  const integrations = ofType('AWS::ApiGatewayV2::Integration');
  const routes = ofType('AWS::ApiGatewayV2::Route').filter(
    ([, route]) => route.Properties.RouteKey === 'POST /alertmanager',
  );
  expect(routes).toHaveLength(1);
  const target = JSON.stringify(routes[0][1].Properties.Target);
  const integration = integrations.find(([id]) => target.includes(id));
  expect(integration, 'the route has an integration').toBeDefined();
  const functionId = arnOf((integration as [string, Json])[1].Properties.IntegrationUri) as string;
  return [functionId, resources[functionId]];
}

/** File names in a zip, from its central directory (https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT, 4.3.12). */
async function zipEntries(file: string): Promise<string[]> {
  const zip = await readFile(file);
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const nameLength = zip.readUInt16LE(offset + 28);
    const skip = zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
    names.push(zip.toString('utf8', offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + skip;
  }
  return names;
}

/** The zip osls built for a function: the last part of its Code.S3Key. */
function zipOf(fn: Json): string {
  return join(packageDir, String(fn.Properties.Code.S3Key).split('/').pop() as string);
}

const EXAMPLE_CONFIG = join(root, 'relay.example.yaml');
const exampleSinks = new Set(
  parseConfig(readFileSync(EXAMPLE_CONFIG, 'utf8'), EXAMPLE_CONFIG).destinations.map((d) => d.sink),
);
/** The sinks relay.example.yaml uses, in registry order: the ones packaged. */
const sinkNames = sinks.map((sink) => sink.name).filter((sink) => exampleSinks.has(sink));
const exampleDestinations = parseConfig(readFileSync(EXAMPLE_CONFIG, 'utf8'), EXAMPLE_CONFIG).destinations;
/** The secret names of a sink's destinations in relay.example.yaml. */
function exampleSecrets(sink: string): string[] {
  return [
    ...new Set(exampleDestinations.filter((d) => d.sink === sink).flatMap((d) => destinationSecretNames(d))),
  ].sort();
}

describe('Template: every sink relay.example.yaml uses', () => {
  it('should have one function per sink plus ingest', () => {
    // Assess
    expect(ofType('AWS::Lambda::Function')).toHaveLength(sinkNames.length + 1);
    expect(resources.IamRoleLambdaExecution, 'no shared role: each function has its own').toBeUndefined();
  });

  it("should let no function read another function's secret", () => {
    // Act
    const [ingestId] = ingestFunction();
    const byFunction = [ingestId, ...sinkNames.map((sink) => pipeline(sink).functionId)].map(
      (functionId) => [functionId, secretGrants(roleStatements(functionId))] as const,
    );

    // Assess: relay.example.yaml names each secret once, so no parameter is granted twice.
    const granted = byFunction.flatMap(([functionId, names]) => names.map((name) => `${name} ${functionId}`));
    const owners = new Map<string, string[]>();
    for (const grant of granted) {
      const [name, functionId] = grant.split(' ');
      owners.set(name, [...(owners.get(name) ?? []), functionId]);
    }
    expect([...owners].filter(([, functionIds]) => functionIds.length > 1)).toEqual([]);
    expect(owners.size).toBeGreaterThan(sinkNames.length);
  });

  describe.each(sinkNames)('Template: sink %s', (sink) => {
    it('should run on nodejs24.x on arm64', () => {
      // Act
      const { fn } = pipeline(sink);

      // Assess
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Handler).toBe(`.build/functions/${sink}/index.handler`);
    });

    it('should ship only its own bundle folder', async () => {
      // Act
      const { fn } = pipeline(sink);
      const names = await zipEntries(zipOf(fn));

      // Assess
      expect(names).toContain(`.build/functions/${sink}/index.mjs`);
      expect(names.filter((name) => !name.startsWith(`.build/functions/${sink}/`))).toEqual([]);
    });

    it('should consume its queue with partial batch responses and a concurrency cap', () => {
      // Act
      const { mapping } = pipeline(sink);

      // Assess
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(mapping.Properties.BatchSize).toBeLessThanOrEqual(10);
      expect(mapping.Properties.ScalingConfig.MaximumConcurrency).toBeGreaterThanOrEqual(2);
      expect(mapping.Properties.ScalingConfig.MaximumConcurrency).toBeLessThanOrEqual(1000);
    });

    it('should read from a high-throughput FIFO queue that redrives to its own high-throughput FIFO DLQ', () => {
      // Act
      const { queue, queueId, deadLetterQueue, deadLetterQueueId } = pipeline(sink);

      // Assess
      expect(queue.Type).toBe('AWS::SQS::Queue');
      expect(queue.Properties).toMatchObject({
        QueueName: `alertmanager-relay-ci-${sink}.fifo`,
        FifoQueue: true,
        ContentBasedDeduplication: false,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
      });
      expect(queue.Properties.RedrivePolicy.maxReceiveCount).toBe(INFRA.queue.maxReceiveCount);
      expect(deadLetterQueueId).not.toBe(queueId);
      expect(deadLetterQueue.Type).toBe('AWS::SQS::Queue');
      expect(deadLetterQueue.Properties).toMatchObject({
        FifoQueue: true,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
      });
      expect(deadLetterQueue.Properties.QueueName).toMatch(/\.fifo$/);
    });

    it('should have a DLQ of its own, not shared with another sink', () => {
      // Act
      const { deadLetterQueueId } = pipeline(sink);
      const others = sinkNames.filter((other) => other !== sink).map((other) => pipeline(other));

      // Assess
      for (const other of others) expect(other.deadLetterQueueId).not.toBe(deadLetterQueueId);
    });

    it('should keep DLQ messages 14 days, longer than the queue keeps them', () => {
      // Act
      const { queue, deadLetterQueue } = pipeline(sink);

      // Assess
      expect(deadLetterQueue.Properties.MessageRetentionPeriod).toBe(1_209_600);
      expect(deadLetterQueue.Properties.MessageRetentionPeriod).toBeGreaterThan(
        queue.Properties.MessageRetentionPeriod,
      );
    });

    it('should hide a received batch for at least 6 x the function timeout', () => {
      // Act
      const { fn, mapping, queue } = pipeline(sink);
      const window = mapping.Properties.MaximumBatchingWindowInSeconds ?? 0;

      // Assess
      expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Properties.Timeout + window);
    });

    it("should be told its queue, DLQ, state table and the secrets' path", () => {
      // Act
      const { fn, queueId, deadLetterQueueId } = pipeline(sink);
      const variables = fn.Properties.Environment.Variables;

      // Assess
      expect(refOf(variables[queueUrlVar(sink)])).toBe(queueId);
      expect(refOf(variables[dlqUrlVar(sink)])).toBe(deadLetterQueueId);
      expect(variables.MAX_RECEIVE_COUNT).toBe(String(INFRA.queue.maxReceiveCount));
      expect(refOf(variables.STATE_TABLE)).toBe('StateTable');
      expect(variables.RELAY_SECRETS_PATH).toBe('/alertmanager-relay-ci/');
    });

    it('should only be granted queue actions on its own queue and DLQ', () => {
      // Act
      const { functionId, queueId, deadLetterQueueId } = pipeline(sink);
      const sqs = grants(roleStatements(functionId), 'sqs:');

      // Assess
      expect(sqs.sort()).toEqual(
        [
          `sqs:ChangeMessageVisibility ${queueId}`,
          `sqs:DeleteMessage ${queueId}`,
          `sqs:GetQueueAttributes ${queueId}`,
          `sqs:ReceiveMessage ${queueId}`,
          `sqs:SendMessage ${deadLetterQueueId}`,
          // A storm's backfill puts groups back on the sink's own queue.
          `sqs:SendMessage ${queueId}`,
        ].sort(),
      );
    });

    it("should only write its own log group and use the state table and its own destinations' secrets", () => {
      // Act
      const { functionId } = pipeline(sink);
      const statements = roleStatements(functionId);
      const logGroupId = resources[functionId].DependsOn.find(
        (id: string) => resources[id]?.Type === 'AWS::Logs::LogGroup',
      );

      // Assess
      expect(grants(statements, 'logs:').sort()).toEqual([
        `logs:CreateLogStream ${logGroupId}`,
        `logs:PutLogEvents ${logGroupId}`,
      ]);
      expect(grants(statements, 'dynamodb:').every((grant) => grant.endsWith(' StateTable'))).toBe(true);
      expect(secretGrants(statements)).toEqual(exampleSecrets(sink));
      const covered = ['sqs:', 'logs:', 'dynamodb:', 'ssm:'];
      expect(
        statements.flatMap(actions).filter((action) => !covered.some((p) => action.startsWith(p))),
      ).toEqual([]);
    });
  });
});

describe('Template: ingest', () => {
  it('should serve POST /alertmanager on nodejs24.x arm64 with payload format 2.0', () => {
    // Act
    const [, fn] = ingestFunction();
    const integration = ofType('AWS::ApiGatewayV2::Integration')[0][1];

    // Assess
    expect(fn.Properties.Runtime).toBe('nodejs24.x');
    expect(fn.Properties.Architectures).toEqual(['arm64']);
    expect(integration.Properties.PayloadFormatVersion).toBe('2.0');
  });

  it('should throttle nothing before the bearer check: no stage-wide and no route throttle, only the function reserved', () => {
    // Act
    const [, fn] = ingestFunction();
    const stages = ofType('AWS::ApiGatewayV2::Stage');

    // Assess: a throttle answers 429, which Alertmanager drops; reserved concurrency answers 5xx.
    expect(stages).toHaveLength(1);
    expect(JSON.stringify(stages[0][1])).not.toMatch(/Throttling/);
    expect(stages[0][1].Properties.RouteSettings).toBeUndefined();
    expect(ofType('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties.RouteKey)).toEqual([
      'POST /alertmanager',
    ]);
    expect(ofType('AWS::ApiGateway::UsagePlan')).toEqual([]);
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(INFRA.ingest.reservedConcurrency);
    expect(fn.Properties.MemorySize).toBe(INFRA.ingest.memoryMb);
  });

  it('should log every request of the stage (status, route, source IP, latency, integration error) to a log group with a retention', () => {
    // Act
    const [, stage] = ofType('AWS::ApiGatewayV2::Stage')[0];
    const settings = stage.Properties.AccessLogSettings;
    const groupId = arnOf(settings.DestinationArn) as string;
    const format = JSON.parse(settings.Format);

    // Assess
    expect(resources[groupId].Type).toBe('AWS::Logs::LogGroup');
    expect(resources[groupId].Properties.RetentionInDays).toBe(INFRA.ingest.accessLogRetentionDays);
    expect(resources[groupId].Properties.LogGroupName).toBe('/aws/http-api/alertmanager-relay-ci-access');
    expect(Object.values(format)).toEqual(
      expect.arrayContaining([
        '$context.status',
        '$context.routeKey',
        '$context.identity.sourceIp',
        '$context.responseLatency',
        '$context.integrationErrorMessage',
      ]),
    );
  });

  it('should ship only its own bundle folder', async () => {
    // Act
    const [, fn] = ingestFunction();
    const names = await zipEntries(zipOf(fn));

    // Assess
    expect(names).toContain('.build/functions/ingest/index.mjs');
    expect(names.filter((name) => !name.startsWith('.build/functions/ingest/'))).toEqual([]);
  });

  it('should only be allowed to send messages, and only to the sink queues', () => {
    // Act
    const [functionId] = ingestFunction();
    const sqs = grants(roleStatements(functionId), 'sqs:');
    const queueIds = sinkNames.map((sink) => pipeline(sink).queueId);

    // Assess
    expect(sqs.sort()).toEqual(queueIds.map((id) => `sqs:SendMessage ${id}`).sort());
  });

  it("should know the queue URL of every sink and the secrets' path", () => {
    // Act
    const [, fn] = ingestFunction();
    const variables = fn.Properties.Environment.Variables;

    // Assess
    for (const sink of sinkNames) expect(refOf(variables[queueUrlVar(sink)])).toBe(pipeline(sink).queueId);
    expect(variables.RELAY_SECRETS_PATH).toBe('/alertmanager-relay-ci/');
  });

  it('should read only the ingest token (and the previous one, while rotating), no destination secret', () => {
    // Act
    const [functionId] = ingestFunction();
    const secrets = secretGrants(roleStatements(functionId));

    // Assess
    expect(secrets).toEqual(['INGEST_TOKEN', 'INGEST_TOKEN_PREVIOUS']);
  });
});

describe('Template: shared resources', () => {
  it('should keep state in an on-demand table keyed by pk with a TTL on expiresAt', () => {
    // Act
    const table = resources.StateTable;

    // Assess
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
    });
  });

  it('should contain no secret, nor any secret value: the operator creates the parameters', () => {
    // Assess
    const types = Object.values(resources).map((resource) => resource.Type);
    expect(types.filter((type) => /SecretsManager|SSM::Parameter|KMS/.test(type))).toEqual([]);
    expect(text).not.toMatch(/SecretString|SecretBinary|GenerateSecretString|\{\{resolve:/);
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      expect(fn.Properties.Environment.Variables.SENTRY_DSN).toBe('');
    }
  });

  it("should output the webhook URL, the secrets' path and every queue URL", () => {
    // Act
    const outputs = template.Outputs;

    // Assess
    expect(outputs.WebhookUrl.Value).toEqual({
      'Fn::Sub': 'https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/alertmanager',
    });
    expect(outputs.SecretsPath.Value).toBe('/alertmanager-relay-ci/');
    expect(outputs.RelaySecretId).toBeUndefined();
    const urls = Object.values(outputs).map((output) => refOf((output as Json).Value));
    for (const sink of sinkNames) {
      const { queueId, deadLetterQueueId } = pipeline(sink);
      expect(urls).toContain(queueId);
      expect(urls).toContain(deadLetterQueueId);
    }
  });
});

describe('Template: build output', () => {
  it("should name the account quota ingest's reserved concurrency needs", () => {
    // Assess: relay.example.yaml keeps the default reservation.
    const reserved = resources.IngestLambdaFunction.Properties.ReservedConcurrentExecutions;
    expect(typeof reserved).toBe('number');
    expect(packageOutput).toContain(
      `ingest.reservedConcurrency: ${reserved} needs the account's Lambda concurrency quota to be at least ${reserved + 100}`,
    );
  });
});

describe('Template: build with a bad config', () => {
  it('should exit 1 and name the path of the problem', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'relay-bad-config-'));
    const config = join(dir, 'relay.yaml');
    await writeFile(
      config,
      'destinations:\n  - name: ops\n    sink: console\n    matchers:\n      - "severity=~\\"(\\""\n',
    );

    // Act
    const failure = await run(process.execPath, ['scripts/build.ts'], {
      cwd: root,
      env: cleanEnv({ RELAY_CONFIG: config }),
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    await rm(dir, { recursive: true, force: true });

    // Assess
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain(config);
    expect(failure?.stderr).toContain('destinations[0].matchers[0]');
  });
});

/** A dashboard body with its Fn::Sub variables: the parsed JSON and every `${...}` it names. */
function dashboard(): { body: Json; variables: string[]; widgets: Json[] } {
  const dashboards = ofType('AWS::CloudWatch::Dashboard');
  expect(dashboards).toHaveLength(1);
  const sub: string = dashboards[0][1].Properties.DashboardBody['Fn::Sub'];
  const variables = [...sub.matchAll(/\$\{([^}]+)\}/g)].map((match) => match[1]);
  const body = JSON.parse(sub.replace(/\$\{([^}]+)\}/g, (_, name) => `<${name}>`));
  return { body, variables, widgets: body.widgets };
}

/** Every metric line of the dashboard's graphs, with the title of its widget. */
function metricLines(widgets: Json[]): { title: string; line: unknown[] }[] {
  return widgets
    .filter((widget) => widget.type === 'metric')
    .flatMap((widget) =>
      widget.properties.metrics.map((line: unknown[]) => ({ title: widget.properties.title, line })),
    );
}

function hasMetric(
  widgets: Json[],
  namespace: string,
  metric: string,
  dimension: string,
  value: string,
): boolean {
  return metricLines(widgets).some(
    ({ line }) => line[0] === namespace && line[1] === metric && line[2] === dimension && line[3] === value,
  );
}

function searches(widgets: Json[]): string[] {
  return metricLines(widgets)
    .map(({ line }) => (line[0] as Json).expression)
    .filter(
      (expression): expression is string => typeof expression === 'string' && expression.startsWith('SEARCH'),
    );
}

function alarmsOn(metric: string, dimensionValue: unknown): Json[] {
  return ofType('AWS::CloudWatch::Alarm')
    .map(([, alarm]) => alarm)
    .filter(
      (alarm) =>
        alarm.Properties.MetricName === metric &&
        JSON.stringify(alarm.Properties.Dimensions?.[0].Value) === JSON.stringify(dimensionValue),
    );
}

describe('Template: dashboard', () => {
  it('should be one dashboard per stage whose variables all name resources of this stack', () => {
    // Act
    const { variables } = dashboard();
    const [, resource] = ofType('AWS::CloudWatch::Dashboard')[0];

    // Assess
    expect(resource.Properties.DashboardName).toBe('alertmanager-relay-ci');
    expect(variables.length).toBeGreaterThan(0);
    for (const variable of variables) {
      if (variable.startsWith('AWS::')) continue;
      const [id, attribute] = variable.split('.');
      expect(resources[id], `${variable} names a resource`).toBeDefined();
      if (attribute === 'QueueName') expect(resources[id].Type).toBe('AWS::SQS::Queue');
      if (attribute === 'Arn') expect(resources[id].Type).toBe('AWS::CloudWatch::Alarm');
      if (id.endsWith('LogGroup')) expect(resources[id].Type).toBe('AWS::Logs::LogGroup');
    }
  });

  it('should show ingest requests by status class and p50/p99 latency from API Gateway', () => {
    // Act
    const { widgets } = dashboard();
    const lines = metricLines(widgets).filter(({ line }) => line[0] === 'AWS/ApiGateway');

    // Assess
    for (const metric of ['Count', '4xx', '5xx'])
      expect(hasMetric(widgets, 'AWS/ApiGateway', metric, 'ApiId', '<HttpApi>')).toBe(true);
    const latencyStats = lines
      .filter(({ line }) => line[1] === 'Latency')
      .map(({ line }) => (line[4] as Json).stat);
    expect(latencyStats.sort()).toEqual(['p50', 'p99']);
    const expressions = metricLines(widgets).map(({ line }) => (line[0] as Json).expression);
    expect(expressions).toContain('requests - clientErrors - serverErrors');
  });

  it('should put every alarm of the stack in its alarm widget', () => {
    // Act
    const { widgets } = dashboard();
    const listed = widgets
      .filter((widget) => widget.type === 'alarm')
      .flatMap((widget) => widget.properties.alarms);

    // Assess
    expect(listed.sort()).toEqual(
      ofType('AWS::CloudWatch::Alarm')
        .map(([id]) => `<${id}.Arn>`)
        .sort(),
    );
  });

  describe.each(sinkNames)('Template: dashboard row of sink %s', (sink) => {
    it('should graph its queue depth, oldest message age and DLQ depth by the real queue names', () => {
      // Act
      const { widgets } = dashboard();
      const { queueId, deadLetterQueueId } = pipeline(sink);

      // Assess
      expect(
        hasMetric(
          widgets,
          'AWS/SQS',
          'ApproximateNumberOfMessagesVisible',
          'QueueName',
          `<${queueId}.QueueName>`,
        ),
      ).toBe(true);
      expect(
        hasMetric(widgets, 'AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', `<${queueId}.QueueName>`),
      ).toBe(true);
      expect(
        hasMetric(
          widgets,
          'AWS/SQS',
          'ApproximateNumberOfMessagesVisible',
          'QueueName',
          `<${deadLetterQueueId}.QueueName>`,
        ),
      ).toBe(true);
    });

    it('should graph its function errors, throttles and duration', () => {
      // Act
      const { widgets } = dashboard();
      const { functionId } = pipeline(sink);

      // Assess
      for (const metric of ['Errors', 'Throttles', 'Duration'])
        expect(hasMetric(widgets, 'AWS/Lambda', metric, 'FunctionName', `<${functionId}>`)).toBe(true);
    });

    it('should graph retried and dead-lettered per destination from the EMF dimension set', () => {
      // Act
      const { widgets } = dashboard();
      const ofSink = searches(widgets).filter((search) => search.includes(`sink="${sink}"`));

      // Assess
      for (const metric of ['Retried', 'DeadLettered']) {
        const found = ofSink.filter((search) => search.includes(`MetricName="${metric}"`));
        expect(found.length, metric).toBeGreaterThan(0);
        // Powertools emits [service, sink, destination]: SEARCH must name exactly that schema.
        for (const search of found)
          expect(search).toContain("SEARCH('{AlertmanagerRelay,destination,service,sink}");
      }
    });

    it("should read delivered and latency per destination from the log group of the sink's function", () => {
      // Act
      const { widgets } = dashboard();
      const { fn } = pipeline(sink);
      const logs = widgets.filter(
        (widget) => widget.type === 'log' && widget.properties.title.startsWith(`${sink}: `),
      );
      const groupName = `/aws/lambda/alertmanager-relay-ci-${sink}`;
      const groupId = Object.entries(resources).find(
        ([, resource]) =>
          resource.Type === 'AWS::Logs::LogGroup' && resource.Properties.LogGroupName === groupName,
      )?.[0];

      // Assess
      expect(fn.Properties.FunctionName).toBe(`alertmanager-relay-ci-${sink}`);
      expect(groupId).toBeDefined();
      expect(logs.map((widget) => widget.properties.query)).toEqual([
        expect.stringMatching(
          new RegExp(`^SOURCE '<${groupId}>' \\| .*stats sum\\(value\\) as count by destination, metric`),
        ),
        expect.stringMatching(new RegExp(`^SOURCE '<${groupId}>' \\| filter metric = "DeliveryLatency"`)),
      ]);
    });

    it('should give the sink a row of its own with plain titles', () => {
      // Act
      const { widgets } = dashboard();
      const row = widgets.filter(
        (widget) =>
          (widget.type === 'metric' || widget.type === 'log') &&
          widget.properties.title.startsWith(`${sink}: `),
      );

      // Assess
      expect(row).toHaveLength(6);
      expect(new Set(row.map((widget) => widget.y)).size).toBe(1);
      expect(row.reduce((width, widget) => width + widget.width, 0)).toBeLessThanOrEqual(24);
    });
  });
});

describe('Template: alarms', () => {
  const topicAction = [{ 'Fn::If': ['CreateAlarmTopic', { Ref: 'AlarmTopic' }, ''] }];

  describe.each(sinkNames)('Template: alarms of sink %s', (sink) => {
    it("should alarm on any gain of its DLQ's depth, so a message SQS's redrive moved fires it too", () => {
      // Act
      const { deadLetterQueueId } = pipeline(sink);
      const found = ofType('AWS::CloudWatch::Alarm')
        .map(([, alarm]) => alarm)
        .filter((alarm) =>
          (alarm.Properties.Metrics ?? []).some(
            (metric: Json) =>
              JSON.stringify(metric.MetricStat?.Metric.Dimensions) ===
              JSON.stringify([
                { Name: 'QueueName', Value: { 'Fn::GetAtt': [deadLetterQueueId, 'QueueName'] } },
              ]),
          ),
        );

      // Assess
      expect(found).toHaveLength(1);
      const metrics = found[0].Properties.Metrics as Json[];
      expect(metrics.map((metric) => metric.MetricStat?.Metric.MetricName ?? metric.Expression)).toEqual([
        'ApproximateNumberOfMessagesVisible',
        'DIFF(FILL(visible, 0))',
      ]);
      expect(JSON.stringify(found[0])).not.toContain('NumberOfMessagesSent');
      expect(found[0].Properties).toMatchObject({
        DatapointsToAlarm: 1,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: topicAction,
        OKActions: topicAction,
      });
      expect(found[0].Properties.AlarmDescription).toContain(
        `npm run dlq -- redrive --stage <stage> --sink ${sink}`,
      );
    });

    it('should alarm when the oldest message of its queue is older than the threshold', () => {
      // Act
      const { queueId } = pipeline(sink);
      const found = alarmsOn('ApproximateAgeOfOldestMessage', { 'Fn::GetAtt': [queueId, 'QueueName'] });

      // Assess
      expect(found).toHaveLength(1);
      expect(found[0].Properties.Threshold).toBe(600);
      expect(found[0].Properties.TreatMissingData).toBe('notBreaching');
      expect(found[0].Properties.AlarmActions).toEqual(topicAction);
    });

    it('should have no function-errors alarm: a crash shows as a late message, then a dead letter', () => {
      // Act
      const { functionId } = pipeline(sink);
      const found = alarmsOn('Errors', { Ref: functionId });

      // Assess
      expect(found).toEqual([]);
    });
  });

  it('should alarm on ingest 5xx and 4xx, its crashes being 5xx', () => {
    // Act
    const [functionId] = ingestFunction();
    const serverErrors = alarmsOn('5xx', { Ref: 'HttpApi' });
    const rejected = alarmsOn('4xx', { Ref: 'HttpApi' });
    const functionErrors = alarmsOn('Errors', { Ref: functionId });

    // Assess
    expect(serverErrors).toHaveLength(1);
    expect(serverErrors[0].Properties).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      TreatMissingData: 'notBreaching',
    });
    expect(rejected).toHaveLength(1);
    expect(rejected[0].Properties).toMatchObject({ Namespace: 'AWS/ApiGateway', Threshold: 0 });
    expect(rejected[0].Properties.AlarmDescription).toMatch(/401/);
    expect(functionErrors).toEqual([]);
    expect(ofType('AWS::CloudWatch::Alarm')).toHaveLength(2 + 2 * sinkNames.length);
  });

  it('should create the alarm topic only when no alarmTopicArn param is given', () => {
    // Act
    const topic = resources.AlarmTopic;

    // Assess
    expect(topic.Type).toBe('AWS::SNS::Topic');
    expect(topic.Condition).toBe('CreateAlarmTopic');
    expect(template.Conditions.CreateAlarmTopic).toEqual({ 'Fn::Equals': ['', ''] });
    for (const [, alarm] of ofType('AWS::CloudWatch::Alarm'))
      expect(alarm.Properties.OKActions).toEqual(topicAction);
  });
});

describe('Template: operating outputs', () => {
  it('should output the dashboard URL and the alarm topic', () => {
    // Act
    const outputs = template.Outputs;

    // Assess
    expect(outputs.DashboardUrl.Value['Fn::Sub']).toContain('#dashboards:name=${RelayDashboard}');
    expect(resources.RelayDashboard.Type).toBe('AWS::CloudWatch::Dashboard');
    expect(outputs.AlarmTopicArn.Value).toEqual({
      'Fn::If': ['CreateAlarmTopic', { Ref: 'AlarmTopic' }, ''],
    });
  });
});

describe('Template: a config of only a webhook destination', () => {
  let webhookDir: string;
  let webhookResources: Record<string, Json>;
  let zips: string[];

  beforeAll(async () => {
    webhookDir = await mkdtemp(join(tmpdir(), 'relay-package-webhook-'));
    const config = join(webhookDir, 'relay.yaml');
    await writeFile(
      config,
      'ingest: { tokenSecret: INGEST_TOKEN }\ndestinations:\n  - { name: audit, sink: webhook, url: "https://hooks.example.com/a" }\n',
    );
    await run('npm', ['run', 'package', '--', '--stage', 'ci', '--package', join(webhookDir, 'out')], {
      cwd: root,
      env: cleanEnv({ RELAY_CONFIG: config }),
      maxBuffer: 16 * 1024 * 1024,
    });
    const built = JSON.parse(
      await readFile(join(webhookDir, 'out', 'cloudformation-template-update-stack.json'), 'utf8'),
    );
    webhookResources = built.Resources;
    zips = (await readdir(join(webhookDir, 'out'))).filter((file) => file.endsWith('.zip')).sort();
  }, 180_000);

  afterAll(async () => {
    if (webhookDir) await rm(webhookDir, { recursive: true, force: true });
  });

  it('should package ingest and webhook only', () => {
    // Assess
    expect(zips).toEqual(['ingest.zip', 'webhook.zip']);
    const functions = Object.values(webhookResources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions).toHaveLength(2);
  });

  it('should grant ingest its token only, and a webhook function without a signing secret no secret', () => {
    // Act
    const statementsOf = (roleId: string): Statement[] =>
      webhookResources[roleId].Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement);

    // Assess
    expect(secretGrants(statementsOf('IngestRole'))).toEqual(['INGEST_TOKEN']);
    expect(
      statementsOf('WebhookRole')
        .flatMap(actions)
        .filter((action) => action.startsWith('ssm:')),
    ).toEqual([]);
  });

  it.each(['Slack', 'Sentry', 'Ilert', 'Sysdig', 'Pagerduty', 'Console'])(
    'should contain no resource, alarm, dashboard row or variable of %s',
    (name) => {
      // Assess
      const text = JSON.stringify(webhookResources);
      expect(Object.keys(webhookResources).filter((id) => id.startsWith(name))).toEqual([]);
      expect(text).not.toContain(`${name}Queue`);
      expect(text).not.toContain(`Sink: ${name.toLowerCase()}`);
      expect(text).not.toContain(`QUEUE_URL_${name.toUpperCase()}`);
    },
  );

  it('should still have the queue, DLQ, alarms and dashboard row of webhook', () => {
    // Assess
    expect(webhookResources.WebhookQueue.Properties.FifoThroughputLimit).toBe('perMessageGroupId');
    expect(webhookResources.WebhookDeadLetterQueue.Properties.DeduplicationScope).toBe('messageGroup');
    expect(webhookResources.WebhookDeadLetterAlarm.Properties.Metrics).toHaveLength(2);
    expect(JSON.stringify(webhookResources.RelayDashboard)).toContain('Sink: webhook');
  });
});

describe('Template: the watchdog', () => {
  let watchdogDir: string;
  let built: Record<string, Json>;

  beforeAll(async () => {
    watchdogDir = await mkdtemp(join(tmpdir(), 'relay-package-watchdog-'));
    const config = join(watchdogDir, 'relay.yaml');
    await writeFile(
      config,
      'ingest: { tokenSecret: INGEST_TOKEN }\ndestinations:\n' +
        '  - { name: audit, sink: webhook, url: "https://hooks.example.com/a" }\n' +
        '  - { name: ops, sink: console }\n' +
        'watchdog: { destinations: [audit], silentAfter: 300 }\n',
    );
    await run('npm', ['run', 'package', '--', '--stage', 'ci', '--package', join(watchdogDir, 'out')], {
      cwd: root,
      env: cleanEnv({ RELAY_CONFIG: config }),
      maxBuffer: 16 * 1024 * 1024,
    });
    built = JSON.parse(
      await readFile(join(watchdogDir, 'out', 'cloudformation-template-update-stack.json'), 'utf8'),
    ).Resources;
  }, 180_000);

  afterAll(async () => {
    if (watchdogDir) await rm(watchdogDir, { recursive: true, force: true });
  });

  const statementsOf = (roleId: string): Json[] =>
    built[roleId].Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement);
  const stateAccess = {
    Effect: 'Allow',
    Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    Resource: [{ 'Fn::GetAtt': ['StateTable', 'Arn'] }],
    Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['watchdog#*'] } },
  };

  it('should have none of it in a stack whose relay.yaml has no watchdog block', () => {
    // Assess: relay.example.yaml's stack.
    const ids = Object.keys(resources).filter((id) => /watchdog/i.test(id));
    expect(ids).toEqual([]);
    expect(ofType('AWS::Events::Rule')).toEqual([]);
    expect(
      ofType('AWS::Lambda::Permission').filter(([, r]) => r.Properties.Principal === 'events.amazonaws.com'),
    ).toEqual([]);
    expect(text).not.toContain('WatchdogHeartbeats');
    expect(text).not.toContain('dynamodb:LeadingKeys');
    const [ingestId, ingest] = ingestFunction();
    expect(grants(roleStatements(ingestId), 'dynamodb:')).toEqual([]);
    expect(ingest.Properties.Environment.Variables.STATE_TABLE).toBeUndefined();
  });

  it('should invoke the watchdog function every minute through an EventBridge rule allowed to, never retried', () => {
    // Act
    const [ruleId, rule] = Object.entries(built).find(([, r]) => r.Type === 'AWS::Events::Rule') as [
      string,
      Json,
    ];
    const permissions = Object.values(built).filter(
      (r) => r.Type === 'AWS::Lambda::Permission' && r.Properties.Principal === 'events.amazonaws.com',
    );
    const retries = Object.values(built).filter((r) => r.Type === 'AWS::Lambda::EventInvokeConfig');

    // Assess
    expect(rule.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': ['WatchdogLambdaFunction', 'Arn'] } }],
    });
    expect(permissions.map((p) => p.Properties)).toEqual([
      {
        FunctionName: { 'Fn::GetAtt': ['WatchdogLambdaFunction', 'Arn'] },
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
      },
    ]);
    expect(retries.map((r) => r.Properties)).toEqual([
      {
        FunctionName: { Ref: 'WatchdogLambdaFunction' },
        DestinationConfig: {},
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 0,
      },
    ]);
    expect(built.WatchdogLambdaFunction.Properties).toMatchObject({
      Handler: '.build/functions/watchdog/index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 30,
      MemorySize: 128,
    });
  });

  it("should give the watchdog the state table and its destination's queue, and no secrets' path", () => {
    // Act
    const variables = built.WatchdogLambdaFunction.Properties.Environment.Variables;

    // Assess
    expect(variables.STATE_TABLE).toEqual({ Ref: 'StateTable' });
    expect(variables.QUEUE_URL_WEBHOOK).toEqual({ Ref: 'WebhookQueue' });
    expect(variables.QUEUE_URL_CONSOLE).toBeUndefined();
    expect(variables.RELAY_SECRETS_PATH).toBeUndefined();
  });

  it("should let the watchdog write its log, the state table's watchdog# items and its destination's queue, nothing else", () => {
    // Assess
    expect(statementsOf('WatchdogRole')).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [{ 'Fn::GetAtt': ['WatchdogLogGroup', 'Arn'] }],
      },
      stateAccess,
      { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [{ 'Fn::GetAtt': ['WebhookQueue', 'Arn'] }] },
    ]);
  });

  it('should let ingest read and write the watchdog# items only, and tell it the table', () => {
    // Assess
    expect(
      statementsOf('IngestRole').filter((s) =>
        actions(s as Statement).some((a) => a.startsWith('dynamodb:')),
      ),
    ).toEqual([stateAccess]);
    expect(built.IngestLambdaFunction.Properties.Environment.Variables.STATE_TABLE).toEqual({
      Ref: 'StateTable',
    });
  });

  it('should alarm to the alarm topic when ingest counted no heartbeat for 5 minutes, no data counting as none', () => {
    // Assess
    expect(built.WatchdogHeartbeatsAlarm.Properties).toMatchObject({
      AlarmName: 'alertmanager-relay-ci-watchdog-no-heartbeat',
      Namespace: 'AlertmanagerRelay',
      MetricName: 'WatchdogHeartbeats',
      Dimensions: [{ Name: 'service', Value: 'ingest' }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 5,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [{ 'Fn::If': ['CreateAlarmTopic', { Ref: 'AlarmTopic' }, ''] }],
    });
  });
});

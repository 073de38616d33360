// biome-ignore-all lint/suspicious/noTemplateCurlyInString: osls variables in generated names
import { describe, expect, it } from 'vitest';
import { LOG_RETENTION_DAYS } from '../../lib/config/schema.ts';
import type { RelayConfig } from '../../lib/config/types.ts';
import type { CfnResource, PolicyStatement } from '../../lib/infra/cloudformation.ts';
import { INFRA } from '../../lib/infra/constants.ts';
import {
  buildProblems,
  deployRefusal,
  FUNCTION_NAME_MAX_LENGTH,
  reservationRequirement,
  stageProblems,
} from '../../lib/infra/deploy-checks.ts';
import { defaultDeployment, deploymentSettings } from '../../lib/infra/deployment.ts';
import {
  type FragmentGenerator,
  fragmentFiles,
  GENERATORS,
  generateFragments,
} from '../../lib/infra/fragments.ts';
import { secretParameterArn, sinkNames } from '../../lib/infra/names.ts';
import { visibilityTimeoutSeconds } from '../../lib/infra/queues.ts';

function statements(role: CfnResource): PolicyStatement[] {
  const policies = role.Properties.Policies as { PolicyDocument: { Statement: PolicyStatement[] } }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

function queueStatements(role: CfnResource): PolicyStatement[] {
  return statements(role).filter((statement) => statement.Action.some((action) => action.startsWith('sqs:')));
}

describe('Function: visibilityTimeoutSeconds', () => {
  it('should be six times the function timeout plus the batching window', () => {
    // Act
    const withoutWindow = visibilityTimeoutSeconds(30, 0);
    const withWindow = visibilityTimeoutSeconds(30, 5);

    // Assess
    expect(withoutWindow).toBe(180);
    expect(withWindow).toBe(185);
  });

  it('should take another factor when given one', () => {
    // Act
    const timeout = visibilityTimeoutSeconds(10, 2, 7);

    // Assess
    expect(timeout).toBe(72);
  });
});

describe('Object: INFRA', () => {
  it('should keep the numbers SQS and Lambda accept', () => {
    // Assess
    expect(INFRA.sink.batchSize).toBeLessThanOrEqual(10);
    expect(INFRA.sink.maximumBatchingWindowSeconds).toBe(0);
    expect(INFRA.sink.maximumConcurrency).toBeGreaterThanOrEqual(2);
    expect(INFRA.sink.maximumConcurrency).toBeLessThanOrEqual(1000);
    expect(INFRA.queue.maxReceiveCount).toBeGreaterThanOrEqual(1);
    expect(INFRA.queue.maxReceiveCount).toBeLessThanOrEqual(1000);
    expect(INFRA.ingest.reservedConcurrency).toBeGreaterThanOrEqual(1);
    expect(LOG_RETENTION_DAYS).toContain(INFRA.ingest.accessLogRetentionDays);
    expect(LOG_RETENTION_DAYS).toContain(INFRA.logs.retentionDays);
    expect(INFRA.sink.memoryMbBySink.slack).toBeGreaterThan(INFRA.sink.memoryMb);
    expect(INFRA.deadLetterQueue.retentionSeconds).toBe(1_209_600);
    expect(INFRA.deadLetterQueue.retentionSeconds).toBeGreaterThan(INFRA.queue.retentionSeconds);
  });
});

describe('Function: sinkNames', () => {
  it('should name the queue, DLQ, role and bundle after the sink', () => {
    // Act
    const names = sinkNames('pagerduty');

    // Assess
    expect(names).toMatchObject({
      key: 'pagerduty',
      functionLogicalId: 'PagerdutyLambdaFunction',
      logGroupLogicalId: 'PagerdutyLogGroup',
      roleLogicalId: 'PagerdutyRole',
      queueLogicalId: 'PagerdutyQueue',
      deadLetterQueueLogicalId: 'PagerdutyDeadLetterQueue',
      queueName: '${self:service}-${sls:stage}-pagerduty.fifo',
      deadLetterQueueName: '${self:service}-${sls:stage}-pagerduty-dlq.fifo',
      handler: '.build/functions/pagerduty/index.handler',
    });
  });

  it('should follow osls for a name with a dash', () => {
    // Act
    const names = sinkNames('google-chat');

    // Assess
    expect(names.functionLogicalId).toBe('GoogleDashchatLambdaFunction');
    expect(names.logGroupLogicalId).toBe('GoogleDashchatLogGroup');
  });

  it('should reject a name that cannot name a queue or clashes with ingest', () => {
    // Act & Assess
    expect(() => sinkNames('Slack')).toThrow(/must match/);
    expect(() => sinkNames('slack.v2')).toThrow(/must match/);
    expect(() => sinkNames('ingest')).toThrow(/cannot be called "ingest"/);
  });
});

describe('Function: generateFragments', () => {
  const fragment = generateFragments(['console', 'webhook']);

  it('should make a FIFO queue per sink whose visibility timeout comes from the formula', () => {
    // Act
    const queue = fragment.resources.WebhookQueue;

    // Assess
    expect(queue.Type).toBe('AWS::SQS::Queue');
    expect(queue.Properties).toMatchObject({
      QueueName: '${self:service}-${sls:stage}-webhook.fifo',
      FifoQueue: true,
      ContentBasedDeduplication: false,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      VisibilityTimeout: visibilityTimeoutSeconds(
        INFRA.sink.timeoutSeconds,
        INFRA.sink.maximumBatchingWindowSeconds,
      ),
      MessageRetentionPeriod: INFRA.queue.retentionSeconds,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': ['WebhookDeadLetterQueue', 'Arn'] },
        maxReceiveCount: INFRA.queue.maxReceiveCount,
      },
    });
  });

  it('should make a FIFO DLQ per sink that keeps messages longer than its queue', () => {
    // Act
    const deadLetterQueue = fragment.resources.WebhookDeadLetterQueue;

    // Assess
    expect(deadLetterQueue.Properties).toMatchObject({
      QueueName: '${self:service}-${sls:stage}-webhook-dlq.fifo',
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      MessageRetentionPeriod: 1_209_600,
    });
    expect(deadLetterQueue.Properties.RedrivePolicy).toBeUndefined();
  });

  it('should feed each sink function from its own queue with partial batch responses', () => {
    // Act
    const definition = fragment.functions.webhook;

    // Assess
    expect(definition).toMatchObject({
      handler: '.build/functions/webhook/index.handler',
      runtime: 'nodejs24.x',
      architecture: 'arm64',
      timeout: INFRA.sink.timeoutSeconds,
      memorySize: INFRA.sink.memoryMb,
      role: 'WebhookRole',
      package: { patterns: ['.build/functions/webhook/**'] },
    });
    expect(definition.events).toEqual([
      {
        sqs: {
          arn: { 'Fn::GetAtt': ['WebhookQueue', 'Arn'] },
          batchSize: 10,
          functionResponseType: 'ReportBatchItemFailures',
          maximumConcurrency: INFRA.sink.maximumConcurrency,
        },
      },
    ]);
  });

  it('should give each sink function the environment lib/lambda.ts reads', () => {
    // Act
    const environment = fragment.functions.console.environment;

    // Assess
    expect(environment).toMatchObject({
      RELAY_SINK: 'console',
      QUEUE_URL_CONSOLE: { Ref: 'ConsoleQueue' },
      DLQ_URL_CONSOLE: { Ref: 'ConsoleDeadLetterQueue' },
      MAX_RECEIVE_COUNT: String(INFRA.queue.maxReceiveCount),
      STATE_TABLE: { Ref: 'StateTable' },
      RELAY_SECRETS_PATH: '/${self:service}-${sls:stage}/',
    });
    expect(environment).not.toHaveProperty('QUEUE_URL_WEBHOOK');
  });

  it('should let a sink role touch only its own queue and DLQ', () => {
    // Act
    const queueGrants = queueStatements(fragment.resources.ConsoleRole);

    // Assess
    expect(queueGrants).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:ChangeMessageVisibility',
        ],
        Resource: [{ 'Fn::GetAtt': ['ConsoleQueue', 'Arn'] }],
      },
      {
        Effect: 'Allow',
        Action: ['sqs:SendMessage'],
        Resource: [
          { 'Fn::GetAtt': ['ConsoleDeadLetterQueue', 'Arn'] },
          { 'Fn::GetAtt': ['ConsoleQueue', 'Arn'] },
        ],
      },
    ]);
  });

  it('should let a sink role whose destinations name no secret write only its own log group and the state table', () => {
    // Act
    const others = statements(fragment.resources.ConsoleRole).filter(
      (statement) => !statement.Action.some((action) => action.startsWith('sqs:')),
    );

    // Assess
    expect(others).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [{ 'Fn::GetAtt': ['ConsoleLogGroup', 'Arn'] }],
      },
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
        Resource: [{ 'Fn::GetAtt': ['StateTable', 'Arn'] }],
      },
    ]);
  });

  it('should let ingest send to every sink queue and to no DLQ', () => {
    // Act
    const queueGrants = queueStatements(fragment.resources.IngestRole);
    const environment = fragment.functions.ingest.environment;

    // Assess
    expect(queueGrants).toEqual([
      {
        Effect: 'Allow',
        Action: ['sqs:SendMessage'],
        Resource: [{ 'Fn::GetAtt': ['ConsoleQueue', 'Arn'] }, { 'Fn::GetAtt': ['WebhookQueue', 'Arn'] }],
      },
    ]);
    expect(environment).toMatchObject({
      QUEUE_URL_CONSOLE: { Ref: 'ConsoleQueue' },
      QUEUE_URL_WEBHOOK: { Ref: 'WebhookQueue' },
      RELAY_SECRETS_PATH: '/${self:service}-${sls:stage}/',
    });
    expect(fragment.functions.ingest).toMatchObject({
      role: 'IngestRole',
      timeout: INFRA.ingest.timeoutSeconds,
    });
  });

  it('should output every queue and DLQ URL', () => {
    // Assess
    expect(Object.keys(fragment.outputs).sort()).toEqual([
      'ConsoleDeadLetterQueueUrl',
      'ConsoleQueueUrl',
      'WebhookDeadLetterQueueUrl',
      'WebhookQueueUrl',
    ]);
  });

  it('should pass the whole sink list to an added generator', () => {
    // Prepare
    const dashboard: FragmentGenerator = (sinks) => ({
      functions: {},
      resources: {
        Dashboard: {
          Type: 'AWS::CloudWatch::Dashboard',
          Properties: { sinks: sinks.map((names) => names.sink) },
        },
      },
      outputs: {},
    });

    // Act
    const withDashboard = generateFragments(['console', 'webhook'], INFRA, [...GENERATORS, dashboard]);

    // Assess
    expect(withDashboard.resources.Dashboard.Properties.sinks).toEqual(['console', 'webhook']);
    expect(withDashboard.resources.WebhookQueue).toEqual(fragment.resources.WebhookQueue);
  });

  it('should refuse two generators that claim the same key', () => {
    // Prepare
    const clash: FragmentGenerator = () => ({
      functions: {},
      resources: { WebhookQueue: { Type: 'AWS::SQS::Queue', Properties: {} } },
      outputs: {},
    });

    // Act & Assess
    expect(() => generateFragments(['webhook'], INFRA, [...GENERATORS, clash])).toThrow(
      'two generators define resources.WebhookQueue',
    );
  });

  it('should refuse a sink listed twice', () => {
    // Act & Assess
    expect(() => generateFragments(['webhook', 'webhook'])).toThrow(/duplicate sink names/);
  });

  it('should follow other numbers when given other constants', () => {
    // Prepare
    const constants = { ...INFRA, sink: { ...INFRA.sink, timeoutSeconds: 60 } };

    // Act
    const slower = generateFragments(['webhook'], constants);

    // Assess
    expect(slower.functions.webhook.timeout).toBe(60);
    expect(slower.resources.WebhookQueue.Properties.VisibilityTimeout).toBe(360);
  });
});

describe('Function: fragmentFiles', () => {
  it('should split the fragment into what serverless.yml includes', () => {
    // Prepare
    const fragment = generateFragments(['console']);

    // Act
    const files = fragmentFiles(fragment);

    // Assess
    expect(Object.keys(files)).toEqual(['functions.json', 'resources.json']);
    expect(files['functions.json']).toBe(fragment.functions);
    expect(files['resources.json']).toEqual({ Resources: fragment.resources, Outputs: fragment.outputs });
  });
});

describe('Function: deployRefusal', () => {
  it('should refuse to deploy a config without an ingest token', () => {
    // Prepare
    const config = { ingest: {}, destinations: [{ name: 'stdout', sink: 'console' }] };

    // Act
    const refusal = deployRefusal(config, ['--deploy']);

    // Assess
    expect(refusal).toMatch(/^ingest\.tokenSecret: is required to deploy/);
  });

  it('should let a build for `sls package` through without a token', () => {
    // Prepare
    const config = { ingest: {}, destinations: [{ name: 'stdout', sink: 'console' }] };

    // Act
    const refusal = deployRefusal(config, []);

    // Assess
    expect(refusal).toBeUndefined();
  });

  it('should let a config with a token deploy', () => {
    // Prepare
    const config = {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [{ name: 'stdout', sink: 'console' }],
    };

    // Act
    const refusal = deployRefusal(config, ['--deploy']);

    // Assess
    expect(refusal).toBeUndefined();
  });
});

describe('Function: buildProblems', () => {
  it("should refuse a destination timeout that does not fit the sink function's timeout with margin", () => {
    // Prepare
    const config = {
      ingest: {},
      destinations: [
        { name: 'slow-hook', sink: 'webhook', url: 'https://hooks.example/x', timeoutSeconds: 60 },
        { name: 'fine-hook', sink: 'webhook', url: 'https://hooks.example/y', timeoutSeconds: 10 },
        { name: 'default-hook', sink: 'webhook', url: 'https://hooks.example/z' },
      ],
    };

    // Act
    const problems = buildProblems(config);

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^destinations: slow-hook: timeoutSeconds 60 does not fit the sink function's 30 s/,
    );
  });
});

describe('Function: buildProblems, console files', () => {
  it('should refuse file: on a console destination, naming the path and the read-only filesystem', () => {
    // Prepare
    const config = {
      ingest: {},
      destinations: [
        { name: 'stdout', sink: 'console' },
        { name: 'audit-file', sink: 'console', file: '/var/log/alerts.jsonl' },
      ],
    };

    // Act
    const problems = buildProblems(config);

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^destinations\[1\]\.file: a console destination cannot write a file on AWS/);
    expect(problems[0]).toContain('read-only except /tmp');
    expect(problems[0]).toContain('"audit-file"');
  });
});

describe('Function: stageProblems', () => {
  it('should let through a stage whose longest function name is exactly 64 characters', () => {
    // Prepare: alertmanager-relay-<stage>-googlechat with a 34-character stage is 64 characters.
    const stage = 's'.repeat(34);

    // Act
    const problems = stageProblems('alertmanager-relay', stage, ['ingest', 'webhook', 'googlechat']);

    // Assess
    expect(`alertmanager-relay-${stage}-googlechat`).toHaveLength(FUNCTION_NAME_MAX_LENGTH);
    expect(problems).toEqual([]);
  });

  it("should refuse a stage that makes a function name longer than Lambda's 64, saying how long it may be", () => {
    // Act
    const problems = stageProblems('alertmanager-relay', 's'.repeat(35), ['ingest', 'googlechat', 'webhook']);

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`"alertmanager-relay-${'s'.repeat(35)}-googlechat" is 65 characters`);
    expect(problems[0]).toContain('Lambda allows 64');
    expect(problems[0]).toContain('at most 34 characters');
  });

  it('should measure against the functions this stack deploys only', () => {
    // Act: 35 characters are fine when the longest function is `webhook`, not `googlechat`.
    const problems = stageProblems('alertmanager-relay', 's'.repeat(35), ['ingest', 'webhook']);

    // Assess
    expect(problems).toEqual([]);
  });
});

describe('Function: reservationRequirement', () => {
  it('should say the account quota a reservation needs, Lambda keeping 100 unreserved', () => {
    // Act
    const requirement = reservationRequirement(defaultDeployment(['webhook']));

    // Assess
    expect(requirement).toMatch(
      /^ingest\.reservedConcurrency: 50 needs the account's Lambda concurrency quota/,
    );
    expect(requirement).toContain('at least 150');
    expect(requirement).toContain('ingest.reservedConcurrency: none');
  });

  it('should say nothing without a reservation', () => {
    // Prepare
    const deployment = defaultDeployment(['webhook']);
    deployment.ingest.reservedConcurrency = undefined;

    // Act
    const requirement = reservationRequirement(deployment);

    // Assess
    expect(requirement).toBeUndefined();
  });
});

describe('Generator: sharedResources (the HTTP API stage)', () => {
  it('should give the stage an access log with a retention, and no throttle at all', () => {
    // Act
    const fragment = generateFragments(['webhook']);
    const stage = fragment.resources.HttpApiStage.Properties;
    const format = JSON.parse((stage.AccessLogSettings as { Format: string }).Format);

    // Assess
    expect(JSON.stringify(stage)).not.toMatch(/Throttling/);
    expect(stage.AccessLogSettings).toMatchObject({
      DestinationArn: { 'Fn::GetAtt': ['HttpApiAccessLogGroup', 'Arn'] },
    });
    expect(format).toEqual({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      route: '$context.routeKey',
      status: '$context.status',
      latencyMs: '$context.responseLatency',
      lambdaStatus: '$context.integrationStatus',
      integrationError: '$context.integrationErrorMessage',
      error: '$context.error.message',
    });
    expect(fragment.resources.HttpApiAccessLogGroup).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: { RetentionInDays: INFRA.ingest.accessLogRetentionDays },
    });
  });
});

describe('Function: generateFragments, secrets', () => {
  const registry = ['console', 'webhook', 'slack', 'pagerduty'];
  const fragment = generateFragments(
    deploymentSettings(
      {
        ingest: { tokenSecret: 'INGEST_TOKEN', previousTokenSecret: 'INGEST_TOKEN_PREVIOUS' },
        destinations: [
          { name: 'pager-a', sink: 'pagerduty', routingKeySecret: 'PD_A' },
          { name: 'pager-b', sink: 'pagerduty', routingKeySecret: 'PD_B' },
          {
            name: 'team',
            sink: 'slack',
            tokenSecret: 'SLACK_TOKEN',
            graph: { bearerTokenSecret: 'PROM_TOKEN' },
          },
          { name: 'audit', sink: 'webhook', url: 'https://hooks.example.com/a' },
        ],
      },
      registry,
    ),
  );

  function secretStatements(roleId: string): PolicyStatement[] {
    return statements(fragment.resources[roleId]).filter((statement) =>
      statement.Action.some((action) => !/^(sqs|logs|dynamodb):/.test(action)),
    );
  }

  it.each([
    ['IngestRole', ['INGEST_TOKEN', 'INGEST_TOKEN_PREVIOUS']],
    ['PagerdutyRole', ['PD_A', 'PD_B']],
    ['SlackRole', ['PROM_TOKEN', 'SLACK_TOKEN']],
  ])('should let %s GetParameters exactly the parameters of its own secrets', (roleId, names) => {
    // Act
    const granted = secretStatements(roleId);

    // Assess
    expect(granted).toEqual([
      { Effect: 'Allow', Action: ['ssm:GetParameters'], Resource: names.map(secretParameterArn) },
    ]);
  });

  it('should name each parameter ARN under the stage path, as IAM spells a name that starts with a slash', () => {
    // Assess
    expect(secretParameterArn('PD_A')).toEqual({
      'Fn::Sub':
        'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${self:service}-${sls:stage}/PD_A',
    });
  });

  it('should grant a sink whose destinations name no secret nothing to read', () => {
    // Assess
    expect(secretStatements('WebhookRole')).toEqual([]);
  });

  it("should let no role read another function's secret", () => {
    // Act
    const grantsOf = (roleId: string) =>
      secretStatements(roleId).flatMap((statement) =>
        statement.Resource.map((resource) => JSON.stringify(resource)),
      );
    const roles = ['IngestRole', 'PagerdutyRole', 'SlackRole', 'WebhookRole'];

    // Assess
    for (const role of roles) {
      for (const other of roles.filter((r) => r !== role)) {
        expect(
          grantsOf(role).filter((grant) => grantsOf(other).includes(grant)),
          `${role} and ${other}`,
        ).toEqual([]);
      }
    }
  });
});

describe('Function: generateFragments, watchdog', () => {
  const registry = ['console', 'webhook', 'slack', 'pagerduty'];
  const destinations: RelayConfig['destinations'] = [
    { name: 'pager', sink: 'pagerduty', routingKeySecret: 'PD_KEY' },
    { name: 'team', sink: 'slack', tokenSecret: 'SLACK_TOKEN' },
    { name: 'audit', sink: 'webhook', url: 'https://hooks.example.com/a' },
  ];
  const config = (watchdog?: RelayConfig['watchdog']): RelayConfig => ({
    ingest: { tokenSecret: 'INGEST_TOKEN' },
    destinations,
    ...(watchdog ? { watchdog } : {}),
  });
  const withWatchdog = generateFragments(
    deploymentSettings(config({ destinations: ['pager', 'audit'], silentAfter: 600 }), registry),
  );
  const without = generateFragments(deploymentSettings(config(), registry));
  const stateAccess: PolicyStatement = {
    Effect: 'Allow',
    Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    Resource: [{ 'Fn::GetAtt': ['StateTable', 'Arn'] }],
    Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['watchdog#*'] } },
  };

  it('should deploy no watchdog function, role or alarm, and give ingest no state table, without a watchdog block', () => {
    // Assess
    expect(Object.keys(without.functions).sort()).toEqual(['ingest', 'pagerduty', 'slack', 'webhook']);
    expect(Object.keys(without.resources).filter((id) => /watchdog/i.test(id))).toEqual([]);
    expect(JSON.stringify(without)).not.toContain('WatchdogHeartbeats');
    expect(statements(without.resources.IngestRole).flatMap((s) => s.Action)).not.toContain(
      'dynamodb:GetItem',
    );
    expect(without.functions.ingest.environment.STATE_TABLE).toBeUndefined();
  });

  it('should run the watchdog every minute, 30 s at most, without retries, told the state table and its sinks’ queues only', () => {
    // Act
    const fn = withWatchdog.functions.watchdog;

    // Assess
    expect(fn).toMatchObject({
      handler: '.build/functions/watchdog/index.handler',
      role: 'WatchdogRole',
      timeout: 30,
      memorySize: 128,
      events: [{ schedule: 'rate(1 minute)' }],
      maximumRetryAttempts: 0,
      package: { patterns: ['.build/functions/watchdog/**'] },
    });
    expect(fn.environment).toEqual({
      STATE_TABLE: { Ref: 'StateTable' },
      QUEUE_URL_WEBHOOK: { Ref: 'WebhookQueue' },
      QUEUE_URL_PAGERDUTY: { Ref: 'PagerdutyQueue' },
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it("should let the watchdog's role write its own log, use the watchdog# items of the state table and send to its destinations' queues, nothing else", () => {
    // Assess: the order of the sinks follows the registry.
    expect(statements(withWatchdog.resources.WatchdogRole)).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [{ 'Fn::GetAtt': ['WatchdogLogGroup', 'Arn'] }],
      },
      stateAccess,
      {
        Effect: 'Allow',
        Action: ['sqs:SendMessage'],
        Resource: [{ 'Fn::GetAtt': ['WebhookQueue', 'Arn'] }, { 'Fn::GetAtt': ['PagerdutyQueue', 'Arn'] }],
      },
    ]);
  });

  it("should let ingest read and write the watchdog's items, no other item, and tell it the table", () => {
    // Act
    const dynamodb = statements(withWatchdog.resources.IngestRole).filter((s) =>
      s.Action.some((action) => action.startsWith('dynamodb:')),
    );

    // Assess
    expect(dynamodb).toEqual([stateAccess]);
    expect(withWatchdog.functions.ingest.environment.STATE_TABLE).toEqual({ Ref: 'StateTable' });
  });

  it('should alarm when ingest counted no heartbeat in any minute for silentAfter, missing data breaching, to the alarm topic', () => {
    // Act
    const alarm = withWatchdog.resources.WatchdogHeartbeatsAlarm;

    // Assess
    expect(alarm.Type).toBe('AWS::CloudWatch::Alarm');
    expect(alarm.Properties).toMatchObject({
      AlarmName: '${self:service}-${sls:stage}-watchdog-no-heartbeat',
      Namespace: 'AlertmanagerRelay',
      MetricName: 'WatchdogHeartbeats',
      Dimensions: [{ Name: 'service', Value: 'ingest' }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 10,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    const topic = { 'Fn::If': ['CreateAlarmTopic', { Ref: 'AlarmTopic' }, '${self:custom.alarmTopicArn}'] };
    expect(alarm.Properties.AlarmActions).toEqual([topic]);
    expect(alarm.Properties.OKActions).toEqual([topic]);
    expect(JSON.stringify(withWatchdog.resources.RelayDashboard)).toContain('WatchdogHeartbeatsAlarm');
  });

  it.each([
    [10, 1],
    [61, 2],
    [180, 3],
    [86_400, 1440],
    [200_000, 1440],
  ])('should wait ceil(%i s / 60) whole minutes, at most a day (%i periods)', (silentAfter, periods) => {
    // Act
    const fragment = generateFragments(
      deploymentSettings(config({ destinations: ['audit'], silentAfter }), registry),
    );

    // Assess
    expect(fragment.resources.WatchdogHeartbeatsAlarm.Properties.EvaluationPeriods).toBe(periods);
  });

  it("should send only to the queue of a single destination's sink", () => {
    // Act
    const fragment = generateFragments(deploymentSettings(config({ destinations: ['team'] }), registry));

    // Assess
    expect(queueStatements(fragment.resources.WatchdogRole)).toEqual([
      { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [{ 'Fn::GetAtt': ['SlackQueue', 'Arn'] }] },
    ]);
    expect(
      Object.keys(fragment.functions.watchdog.environment).filter((name) => name.startsWith('QUEUE_URL_')),
    ).toEqual(['QUEUE_URL_SLACK']);
  });

  it('should refuse a sink called watchdog', () => {
    // Act & Assess
    expect(() => sinkNames('watchdog')).toThrow(/cannot be called "watchdog"/);
  });
});

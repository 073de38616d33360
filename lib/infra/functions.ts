import { dlqUrlVar, ENV, queueUrlVar } from '../runtime-env.ts';
import {
  type CfnResource,
  type CfnValue,
  getAtt,
  lambdaRole,
  type PolicyStatement,
  ref,
  type ServerlessFunction,
} from './cloudformation.ts';
import { INFRA, type InfraConstants } from './constants.ts';
import { type DeploymentSettings, defaultDeployment } from './deployment.ts';
import {
  bundleDir,
  type FunctionNames,
  SECRETS_PATH,
  SHARED,
  type SinkNames,
  secretParameterArn,
} from './names.ts';

// Stack traces point into the TypeScript sources: the bundles ship a linked source map.
const SOURCE_MAPS = { NODE_OPTIONS: '--enable-source-maps' } as const;

/**
 * Reading exactly these secrets: GetParameters (what lib/secrets.ts calls) on each one's
 * parameter, nothing under the path besides. No kms:Decrypt: the parameters are SecureStrings
 * under the AWS managed key aws/ssm, whose key policy lets every principal of the account
 * decrypt through SSM, so this statement is what keeps one function from another's secrets.
 * None at all for a function whose destinations name no secret.
 */
function secretRead(names: readonly string[]): PolicyStatement[] {
  if (names.length === 0) return [];
  return [{ Effect: 'Allow', Action: ['ssm:GetParameters'], Resource: names.map(secretParameterArn) }];
}

/** The partition keys of the watchdog's items in the state table (lib/watchdog/record.ts, deployment.ts). */
export const WATCHDOG_KEYS = 'watchdog#*';

/**
 * The watchdog's items in the state table, and no other: GetItem and PutItem (what
 * getVersioned and putIfVersion call in lib/state/dynamodb.ts) on items whose partition key
 * starts `watchdog#`. `dynamodb:LeadingKeys` is the partition key of the item a GetItem or
 * PutItem names.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
 */
function watchdogStateAccess(): PolicyStatement {
  return {
    Effect: 'Allow',
    Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    Resource: [getAtt(SHARED.stateTable, 'Arn')],
    Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [WATCHDOG_KEYS] } },
  };
}

function common(names: FunctionNames, constants: InfraConstants) {
  return {
    handler: names.handler,
    runtime: constants.runtime,
    architecture: constants.architecture,
    logRetentionInDays: constants.logs.retentionDays,
    role: names.roleLogicalId,
    // Each zip holds its own bundle and source map, nothing else.
    package: { patterns: [`${bundleDir(names.key)}/**`] },
  };
}

/**
 * A sink's Lambda function (fed by its FIFO queue) and its execution role: receive from
 * and change visibility on its own queue, send to its own DLQ, the state table, the secrets its
 * destinations name.
 */
export function sinkFunction(
  names: SinkNames,
  constants: InfraConstants = INFRA,
  deployment: DeploymentSettings = defaultDeployment([names.sink], constants),
): { function: ServerlessFunction; role: CfnResource } {
  const sizing = deployment.sink[names.sink] ?? defaultDeployment([names.sink], constants).sink[names.sink];
  const queueArn = getAtt(names.queueLogicalId, 'Arn');
  const deadLetterQueueArn = getAtt(names.deadLetterQueueLogicalId, 'Arn');
  const environment: Record<string, CfnValue> = {
    [ENV.sink]: names.sink,
    [queueUrlVar(names.sink)]: ref(names.queueLogicalId),
    [dlqUrlVar(names.sink)]: ref(names.deadLetterQueueLogicalId),
    [ENV.maxReceiveCount]: String(constants.queue.maxReceiveCount),
    [ENV.stateTable]: ref(SHARED.stateTable),
    [ENV.secretsPath]: SECRETS_PATH,
    ...SOURCE_MAPS,
  };
  const role = lambdaRole(names.logGroupLogicalId, [
    {
      Effect: 'Allow',
      // osls grants only the first three for an sqs event; Retry-After needs the fourth.
      Action: [
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ChangeMessageVisibility',
      ],
      Resource: [queueArn],
    },
    // A permanent error goes to the DLQ at once, with its reason; a storm's backfill puts the
    // groups still firing back on the sink's own queue, and a record still waiting at the
    // receive limit is renewed there (SendMessageBatch is sqs:SendMessage).
    { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [deadLetterQueueArn, queueArn] },
    // What lib/state/dynamodb.ts calls, nothing more (it never updates in place).
    {
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
      Resource: [getAtt(SHARED.stateTable, 'Arn')],
    },
    ...secretRead(deployment.secrets?.sink[names.sink] ?? []),
  ]);
  return {
    function: {
      ...common(names, constants),
      description: `Delivers queued Alertmanager notifications to ${names.sink} destinations`,
      timeout: constants.sink.timeoutSeconds,
      memorySize: sizing.memoryMb,
      environment,
      events: [
        {
          sqs: {
            arn: queueArn,
            batchSize: constants.sink.batchSize,
            functionResponseType: 'ReportBatchItemFailures',
            maximumConcurrency: sizing.maximumConcurrency,
          },
        },
      ],
    },
    role,
  };
}

/**
 * The ingest function and its role: send to the queue of every deployed sink, read the ingest
 * token (and the previous one, while rotating); with a `watchdog:` block, read and write the
 * watchdog's record in the state table (the heartbeats), and nothing else there.
 * Its `httpApi` event is declared in serverless.yml, where the route is easy to find.
 */
export function ingestFunction(
  names: FunctionNames,
  sinks: readonly SinkNames[],
  constants: InfraConstants = INFRA,
  deployment: DeploymentSettings = defaultDeployment(
    sinks.map((sink) => sink.sink),
    constants,
  ),
): { function: ServerlessFunction; role: CfnResource } {
  const environment: Record<string, CfnValue> = { [ENV.secretsPath]: SECRETS_PATH, ...SOURCE_MAPS };
  for (const sink of sinks) environment[queueUrlVar(sink.sink)] = ref(sink.queueLogicalId);
  if (deployment.watchdog) environment[ENV.stateTable] = ref(SHARED.stateTable);
  const role = lambdaRole(names.logGroupLogicalId, [
    {
      Effect: 'Allow',
      // SendMessageBatch is authorised as sqs:SendMessage.
      Action: ['sqs:SendMessage'],
      Resource: sinks.map((sink) => getAtt(sink.queueLogicalId, 'Arn')),
    },
    ...secretRead(deployment.secrets?.ingest ?? []),
    ...(deployment.watchdog ? [watchdogStateAccess()] : []),
  ]);
  return {
    function: {
      ...common(names, constants),
      description: 'Accepts Alertmanager webhooks and queues them for each sink',
      timeout: constants.ingest.timeoutSeconds,
      memorySize: constants.ingest.memoryMb,
      // `ingest.reservedConcurrency: none` reserves nothing: the key is left out, not set to 0.
      ...(deployment.ingest.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrency: deployment.ingest.reservedConcurrency }),
      environment,
    },
    role,
  };
}

/**
 * The watchdog's scheduled check (lib/lambda.ts awsWatchdog) and its role: the watchdog's items
 * in the state table, and sending to the queues of the sinks its destinations use (`sinks`),
 * nothing else: no secret, no other queue. osls turns the `schedule` event into an EventBridge
 * rule and the permission for it to invoke the function. A failed check is not retried by
 * Lambda (`maximumRetryAttempts: 0`): the next minute's check retries what it claimed.
 */
export function watchdogFunction(
  names: FunctionNames,
  sinks: readonly SinkNames[],
  constants: InfraConstants = INFRA,
): { function: ServerlessFunction; role: CfnResource } {
  const environment: Record<string, CfnValue> = { [ENV.stateTable]: ref(SHARED.stateTable), ...SOURCE_MAPS };
  for (const sink of sinks) environment[queueUrlVar(sink.sink)] = ref(sink.queueLogicalId);
  const role = lambdaRole(names.logGroupLogicalId, [
    watchdogStateAccess(),
    {
      Effect: 'Allow',
      // SendMessageBatch is authorised as sqs:SendMessage.
      Action: ['sqs:SendMessage'],
      Resource: sinks.map((sink) => getAtt(sink.queueLogicalId, 'Arn')),
    },
  ]);
  return {
    function: {
      ...common(names, constants),
      description: "Pages the watchdog's destinations when Alertmanager's heartbeat stops",
      timeout: constants.watchdog.timeoutSeconds,
      memorySize: constants.watchdog.memoryMb,
      environment,
      events: [{ schedule: constants.watchdog.schedule }],
      maximumRetryAttempts: 0,
    },
    role,
  };
}

import type { Sub } from './cloudformation.ts';

/**
 * Logical ids and names shared by lib/infra, serverless.yml, scripts/build.ts and the
 * template test. Function keys are the sink names (plus `ingest`), so `sls logs -f slack`
 * reads the Slack sink's log.
 */

/** Resources serverless.yml itself declares; the generated roles point at them. */
export const SHARED = {
  stateTable: 'StateTable',
  /** osls names the HTTP API it creates for `httpApi` events this. */
  httpApi: 'HttpApi',
} as const;

export const INGEST_FUNCTION = 'ingest';

/** The watchdog's scheduled check, deployed only for a relay.yaml with a `watchdog:` block. */
export const WATCHDOG_FUNCTION = 'watchdog';

/**
 * Where a stage's secrets live: one SSM Parameter Store SecureString per secret NAME,
 * `/alertmanager-relay-prod/INGEST_TOKEN`. The operator creates them (CloudFormation cannot
 * create a SecureString); each function may read only its own (lib/infra/functions.ts).
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: osls variables, resolved by osls at package time
export const SECRETS_PATH = '/${self:service}-${sls:stage}/';

/**
 * The IAM resource of one secret's parameter. A name that starts with a slash follows
 * `parameter` directly: `arn:aws:ssm:eu-west-1:123456789012:parameter/alertmanager-relay-prod/INGEST_TOKEN`.
 */
export function secretParameterArn(name: string): Sub {
  // Escaped: CloudFormation's pseudo parameters, for Fn::Sub.
  return {
    'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${SECRETS_PATH}${name}`,
  };
}

/** Where scripts/build.ts writes a function's bundle, and what its handler string is. */
export function bundleDir(functionKey: string): string {
  return `.build/functions/${functionKey}`;
}

export interface FunctionNames {
  key: string;
  /** The Lambda function osls creates. */
  functionLogicalId: string;
  /** The log group osls creates for it. */
  logGroupLogicalId: string;
  roleLogicalId: string;
  handler: string;
}

export interface SinkNames extends FunctionNames {
  sink: string;
  queueLogicalId: string;
  deadLetterQueueLogicalId: string;
  /** Resolved by osls: `alertmanager-relay-dev-slack.fifo`. */
  queueName: string;
  deadLetterQueueName: string;
}

/** osls's own normalisation (lib/plugins/aws/lib/naming.js, getNormalizedResourceName). */
export function normalizedName(name: string): string {
  const replaced = name.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return replaced.charAt(0).toUpperCase() + replaced.slice(1);
}

export function functionNames(key: string): FunctionNames {
  const normalized = normalizedName(key);
  return {
    key,
    functionLogicalId: `${normalized}LambdaFunction`,
    logGroupLogicalId: `${normalized}LogGroup`,
    roleLogicalId: `${normalized}Role`,
    handler: `${bundleDir(key)}/index.handler`,
  };
}

// SQS queue names: letters, digits, - and _ only, 80 characters with `.fifo`:
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
const SINK_NAME = /^[a-z][a-z0-9-]{0,29}$/;

/** Throws for a sink name that cannot name a function, queue and log group. */
export function sinkNames(sink: string): SinkNames {
  if (!SINK_NAME.test(sink)) {
    throw new Error(`sink name "${sink}" must match ${SINK_NAME} to name its queue, DLQ and function`);
  }
  if (sink === INGEST_FUNCTION || sink === WATCHDOG_FUNCTION)
    throw new Error(`a sink cannot be called "${sink}": a function of the relay has that name`);
  const normalized = normalizedName(sink);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: osls variables, resolved by osls at package time
  const prefix = '${self:service}-${sls:stage}';
  return {
    ...functionNames(sink),
    sink,
    queueLogicalId: `${normalized}Queue`,
    deadLetterQueueLogicalId: `${normalized}DeadLetterQueue`,
    queueName: `${prefix}-${sink}.fifo`,
    deadLetterQueueName: `${prefix}-${sink}-dlq.fifo`,
  };
}

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: osls variables, resolved at package time
import type { CfnResource } from './cloudformation.ts';
import { getAtt, ref } from './cloudformation.ts';
import type { FragmentGenerator } from './fragment-generator.ts';
import { functionNames, INGEST_FUNCTION, normalizedName, SHARED, type SinkNames } from './names.ts';

/**
 * The stage's alarms: per sink, a new message in its DLQ, a message waiting too long and Lambda
 * errors; for ingest, 5xx and 4xx answers and Lambda errors. Each description is the runbook line
 * docs/operations.md repeats. They notify one SNS topic: the one named by `--param alarmTopicArn=...`,
 * or else `AlarmTopic`, which serverless.yml creates (subscribe to it).
 */

/** serverless.yml's condition: true when no `alarmTopicArn` param was given. */
export const CREATE_ALARM_TOPIC_CONDITION = 'CreateAlarmTopic';
/** serverless.yml's SNS topic, created under CREATE_ALARM_TOPIC_CONDITION. */
export const ALARM_TOPIC_LOGICAL_ID = 'AlarmTopic';

export const ALARM_THRESHOLDS = {
  // The default backoff gives a message about seven minutes of retries before the DLQ
  // (lib/delivery/backoff.ts); ten minutes means alerts are late beyond ordinary retries.
  oldestMessageAgeSeconds: 600,
} as const;

/** The alarm logical ids of one sink, and of ingest. */
export function sinkAlarmIds(names: SinkNames) {
  const normalized = normalizedName(names.sink);
  return {
    deadLetters: `${normalized}DeadLetterAlarm`,
    oldestMessage: `${normalized}OldestMessageAlarm`,
    functionErrors: `${normalized}FunctionErrorsAlarm`,
  };
}

export const INGEST_ALARM_IDS = {
  serverErrors: 'IngestServerErrorsAlarm',
  rejected: 'IngestRejectedAlarm',
  functionErrors: 'IngestFunctionErrorsAlarm',
} as const;

/** Every alarm id, ingest first: the dashboard's alarm widget lists them in this order. */
export function alarmIds(sinks: readonly SinkNames[]): string[] {
  return [
    ...Object.values(INGEST_ALARM_IDS),
    ...sinks.flatMap((names) => Object.values(sinkAlarmIds(names))),
  ];
}

const topic = {
  'Fn::If': [CREATE_ALARM_TOPIC_CONDITION, ref(ALARM_TOPIC_LOGICAL_ID), '${self:custom.alarmTopicArn}'],
};

interface AlarmSpec {
  name: string;
  description: string;
  namespace: string;
  metric: string;
  dimensions: { Name: string; Value: unknown }[];
  statistic: 'Sum' | 'Maximum';
  periodSeconds: number;
  threshold: number;
  /** `notBreaching`: no data means nothing happened (no requests, no invocations, no dead letter). */
  missingData: 'notBreaching';
}

function alarm(spec: AlarmSpec): CfnResource {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `\${self:service}-\${sls:stage}-${spec.name}`,
      AlarmDescription: spec.description,
      Namespace: spec.namespace,
      MetricName: spec.metric,
      Dimensions: spec.dimensions,
      Statistic: spec.statistic,
      Period: spec.periodSeconds,
      EvaluationPeriods: 1,
      Threshold: spec.threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: spec.missingData,
      AlarmActions: [topic],
      OKActions: [topic],
    },
  };
}

function functionErrors(functionLogicalId: string, name: string, description: string): CfnResource {
  return alarm({
    name,
    description,
    namespace: 'AWS/Lambda',
    metric: 'Errors',
    dimensions: [{ Name: 'FunctionName', Value: ref(functionLogicalId) }],
    statistic: 'Sum',
    periodSeconds: 300,
    threshold: 0,
    missingData: 'notBreaching',
  });
}

/** A sink's alarms, keyed by logical id. */
export function sinkAlarms(names: SinkNames): Record<string, CfnResource> {
  const ids = sinkAlarmIds(names);
  const { sink } = names;
  return {
    // Messages SENT to the DLQ in a minute, not its depth: the alarm goes back to OK the next
    // quiet minute, so each later dead letter notifies again (a depth alarm stays red and tells
    // nobody about the second one). The record handler sends every dead letter itself
    // (SendMessage), which this metric counts; SQS's own redrive policy (a function that crashed
    // maxReceiveCount times) is not counted by it, and is caught by the function-errors alarm.
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
    [ids.deadLetters]: alarm({
      name: `${sink}-dead-letters`,
      description:
        `A ${sink} notification could not be delivered and was dead-lettered (each new one notifies again). ` +
        `Run: npm run dlq -- list --stage <stage> --sink ${sink}; fix the reason it shows (token, channel, ` +
        `vendor outage); then npm run dlq -- redrive --stage <stage> --sink ${sink}.`,
      namespace: 'AWS/SQS',
      metric: 'NumberOfMessagesSent',
      dimensions: [{ Name: 'QueueName', Value: getAtt(names.deadLetterQueueLogicalId, 'QueueName') }],
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 0,
      missingData: 'notBreaching',
    }),
    [ids.oldestMessage]: alarm({
      name: `${sink}-delivery-late`,
      description:
        `A ${sink} notification has waited over ${ALARM_THRESHOLDS.oldestMessageAgeSeconds / 60} minutes: ` +
        `the vendor is failing or rate limiting, or the function cannot run. ` +
        `Check the ${sink} row of the dashboard and npx sls logs -f ${sink} --stage <stage>.`,
      namespace: 'AWS/SQS',
      metric: 'ApproximateAgeOfOldestMessage',
      dimensions: [{ Name: 'QueueName', Value: getAtt(names.queueLogicalId, 'QueueName') }],
      statistic: 'Maximum',
      periodSeconds: 300,
      threshold: ALARM_THRESHOLDS.oldestMessageAgeSeconds,
      missingData: 'notBreaching',
    }),
    [ids.functionErrors]: functionErrors(
      names.functionLogicalId,
      `${sink}-function-errors`,
      `The ${sink} Lambda failed (a crash or timeout, not a vendor error): its batch is retried and may ` +
        `reach the DLQ. Read npx sls logs -f ${sink} --stage <stage> and the relay's Sentry project if set.`,
    ),
  };
}

export function ingestAlarms(): Record<string, CfnResource> {
  const ingest = functionNames(INGEST_FUNCTION);
  return {
    [INGEST_ALARM_IDS.serverErrors]: alarm({
      name: 'ingest-5xx',
      description:
        'The relay answered Alertmanager with 5xx (queue or secret unavailable, or a crash). Alertmanager ' +
        'retries until its group_interval; after that the notification waits for the next flush. ' +
        'Read npx sls logs -f ingest --stage <stage>.',
      namespace: 'AWS/ApiGateway',
      metric: '5xx',
      dimensions: [{ Name: 'ApiId', Value: ref(SHARED.httpApi) }],
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 0,
      missingData: 'notBreaching',
    }),
    // Alertmanager drops a notification on any 4xx, so a 4xx is a lost notification: a token
    // rotation that missed a host (401), a body over the limit (413), the stage throttle (429).
    // HTTP APIs publish 4xx per ApiId: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html
    [INGEST_ALARM_IDS.rejected]: alarm({
      name: 'ingest-rejected',
      description:
        'The relay answered 4xx, which Alertmanager does not retry: those notifications are lost. ' +
        'Read npx sls logs -f ingest --stage <stage> for the status: 401 = an Alertmanager host sends a token ' +
        'that is neither INGEST_TOKEN nor the previous token (finish or undo the rotation); 413/400 = a body ' +
        'the relay refused; 429 = the stage throttle (raise ingest.throttle in relay.yaml).',
      namespace: 'AWS/ApiGateway',
      metric: '4xx',
      dimensions: [{ Name: 'ApiId', Value: ref(SHARED.httpApi) }],
      statistic: 'Sum',
      periodSeconds: 300,
      threshold: 0,
      missingData: 'notBreaching',
    }),
    [INGEST_ALARM_IDS.functionErrors]: functionErrors(
      ingest.functionLogicalId,
      'ingest-function-errors',
      'The ingest Lambda failed (a crash or timeout): Alertmanager got a 5xx and retries. ' +
        'Read npx sls logs -f ingest --stage <stage>.',
    ),
  };
}

export const alarms: FragmentGenerator = (sinks) => {
  const resources: Record<string, CfnResource> = { ...ingestAlarms() };
  for (const names of sinks) Object.assign(resources, sinkAlarms(names));
  return { functions: {}, resources, outputs: {} };
};

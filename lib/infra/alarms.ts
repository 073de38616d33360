// biome-ignore-all lint/suspicious/noTemplateCurlyInString: osls variables, resolved at package time
import { METRIC_NAMESPACE } from '../telemetry.ts';
import type { CfnResource, GetAtt, Ref } from './cloudformation.ts';
import { getAtt, ref } from './cloudformation.ts';
import type { DeploymentSettings, WatchdogStack } from './deployment.ts';
import type { FragmentGenerator } from './fragment-generator.ts';
import { INGEST_FUNCTION, normalizedName, SHARED, type SinkNames } from './names.ts';

/**
 * The stage's alarms, each one a page someone must act on, all on metrics AWS publishes for free
 * (AWS/SQS, AWS/ApiGateway): per sink, a new dead letter and a message waiting too long; for
 * ingest, 5xx and 4xx answers. CloudWatch bills $0.10 a month per metric an alarm reads
 * (https://aws.amazon.com/cloudwatch/pricing/), so with 3 sinks these are 8 alarm metrics,
 * $0.80. Function errors have no alarm of their own: a sink that crashes or times out leaves
 * its messages waiting (delivery-late) and then dead-letters them (dead-letters); ingest's crash
 * is a 5xx to Alertmanager (ingest-5xx). The dashboard still graphs Lambda errors and throttles.
 * Each description is the runbook line docs/operations.md repeats. They notify one SNS topic:
 * the one named by `--param alarmTopicArn=...`, or else `AlarmTopic`, which serverless.yml creates.
 */

/** serverless.yml's condition: true when no `alarmTopicArn` param was given. */
export const CREATE_ALARM_TOPIC_CONDITION = 'CreateAlarmTopic';
/** serverless.yml's SNS topic, created under CREATE_ALARM_TOPIC_CONDITION. */
export const ALARM_TOPIC_LOGICAL_ID = 'AlarmTopic';

export const ALARM_THRESHOLDS = {
  // The default backoff gives a message a few minutes of retries before the DLQ
  // (lib/delivery/policy.ts); ten minutes means alerts are late beyond ordinary retries.
  oldestMessageAgeSeconds: 600,
} as const;

/**
 * The dead-letter alarm's window. SQS publishes queue metrics only for an active queue (one with
 * messages, or touched in the last six hours), and a queue waking up from inactive publishes "with
 * a delay of up to 15 minutes", so an increase is looked for in any of the last 5 periods of
 * 5 minutes: the alarm fires within about 15 minutes of a new dead letter and turns OK 25 minutes
 * after the last one, then the next notifies again.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-monitoring-using-cloudwatch.html
 */
export const DEAD_LETTER_WINDOW = { periodSeconds: 300, evaluationPeriods: 5 } as const;

/** The metric math of the dead-letter alarm: how many messages the DLQ gained in a period. */
export const DEAD_LETTER_EXPRESSION = 'DIFF(FILL(visible, 0))';

/** The alarm logical ids of one sink, and of ingest. */
export function sinkAlarmIds(names: SinkNames) {
  const normalized = normalizedName(names.sink);
  return {
    deadLetters: `${normalized}DeadLetterAlarm`,
    oldestMessage: `${normalized}OldestMessageAlarm`,
  };
}

export const INGEST_ALARM_IDS = {
  serverErrors: 'IngestServerErrorsAlarm',
  rejected: 'IngestRejectedAlarm',
} as const;

/** The watchdog's second line, with a `watchdog:` block only. */
export const WATCHDOG_ALARM_ID = 'WatchdogHeartbeatsAlarm';

/**
 * Every alarm id, ingest first (then the watchdog's, when configured): the dashboard's alarm
 * widget lists them in this order.
 */
export function alarmIds(
  sinks: readonly SinkNames[],
  deployment?: Pick<DeploymentSettings, 'watchdog'>,
): string[] {
  return [
    ...Object.values(INGEST_ALARM_IDS),
    ...(deployment?.watchdog ? [WATCHDOG_ALARM_ID] : []),
    ...sinks.flatMap((names) => Object.values(sinkAlarmIds(names))),
  ];
}

const topic = {
  'Fn::If': [CREATE_ALARM_TOPIC_CONDITION, ref(ALARM_TOPIC_LOGICAL_ID), '${self:custom.alarmTopicArn}'],
};

type Dimensions = { Name: string; Value: Ref | GetAtt }[];

interface AlarmSpec {
  name: string;
  description: string;
  namespace: string;
  metric: string;
  dimensions: Dimensions;
  statistic: 'Sum' | 'Maximum';
  periodSeconds: number;
  threshold: number;
}

/**
 * `notBreaching`: no data means nothing happened (no requests, no dead letter). The OK action
 * tells whoever got the page that it is over.
 */
function common(name: string, description: string) {
  return {
    AlarmName: `\${self:service}-\${sls:stage}-${name}`,
    AlarmDescription: description,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    AlarmActions: [topic],
    OKActions: [topic],
  };
}

function alarm(spec: AlarmSpec): CfnResource {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      ...common(spec.name, spec.description),
      Namespace: spec.namespace,
      MetricName: spec.metric,
      Dimensions: spec.dimensions,
      Statistic: spec.statistic,
      Period: spec.periodSeconds,
      EvaluationPeriods: 1,
      Threshold: spec.threshold,
    },
  };
}

/**
 * A new message in a sink's DLQ, whoever put it there. The relay's handler sends its dead letters
 * itself, but SQS's redrive policy moves a message it gave out maxReceiveCount times (a function
 * that crashes or times out on it) without a SendMessage, and "if a message is sent to a
 * dead-letter queue as a result of a failed processing attempt, it isn't captured by"
 * NumberOfMessagesSent
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html#sqs-dlq-number-of-messages).
 * So the alarm watches the DLQ's depth grow: the Maximum of its visible messages per 5 minutes.
 * Nothing else reads the DLQ but `npm run dlq -- list`, which holds what it read for at most
 * 60 s (lib/ops/dlq/aws.ts LIST_HOLD_SECONDS) and releases it: SQS publishes the depth every
 * minute, so a 5-minute Maximum does not see the dip and a listing pages nobody (counting the
 * held messages too would be a second alarm metric, $0.10 a sink a month, for no difference).
 * FILL turns "no data" (an idle, empty DLQ publishes nothing) into 0, so the first dead letter
 * after a quiet week is an increase from 0; DIFF is the gain per period; a drop (a redrive)
 * never fires.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
 */
function deadLetterAlarm(names: SinkNames): CfnResource {
  const { sink } = names;
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      ...common(
        `${sink}-dead-letters`,
        `A ${sink} notification could not be delivered and was dead-lettered (a new one notifies again once ` +
          `this alarm is OK). Run: npm run dlq -- list --stage <stage> --sink ${sink}; fix the reason it shows ` +
          `(token, channel, vendor outage, a crash: npx sls logs -f ${sink} --stage <stage>); then ` +
          `npm run dlq -- redrive --stage <stage> --sink ${sink}.`,
      ),
      Metrics: [
        {
          Id: 'visible',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/SQS',
              MetricName: 'ApproximateNumberOfMessagesVisible',
              Dimensions: [{ Name: 'QueueName', Value: getAtt(names.deadLetterQueueLogicalId, 'QueueName') }],
            },
            Period: DEAD_LETTER_WINDOW.periodSeconds,
            Stat: 'Maximum',
          },
          ReturnData: false,
        },
        {
          Id: 'gained',
          Expression: DEAD_LETTER_EXPRESSION,
          Label: 'messages the DLQ gained',
          ReturnData: true,
        },
      ],
      EvaluationPeriods: DEAD_LETTER_WINDOW.evaluationPeriods,
      DatapointsToAlarm: 1,
      Threshold: 0,
    },
  };
}

/** A sink's alarms, keyed by logical id. */
export function sinkAlarms(names: SinkNames): Record<string, CfnResource> {
  const ids = sinkAlarmIds(names);
  const { sink } = names;
  return {
    [ids.deadLetters]: deadLetterAlarm(names),
    [ids.oldestMessage]: alarm({
      name: `${sink}-delivery-late`,
      description:
        `A ${sink} notification has waited over ${ALARM_THRESHOLDS.oldestMessageAgeSeconds / 60} minutes: ` +
        `the vendor is failing or rate limiting, or the function cannot run (crashing, timing out, throttled). ` +
        `Check the ${sink} row of the dashboard and npx sls logs -f ${sink} --stage <stage>.`,
      namespace: 'AWS/SQS',
      metric: 'ApproximateAgeOfOldestMessage',
      dimensions: [{ Name: 'QueueName', Value: getAtt(names.queueLogicalId, 'QueueName') }],
      statistic: 'Maximum',
      periodSeconds: 300,
      threshold: ALARM_THRESHOLDS.oldestMessageAgeSeconds,
    }),
  };
}

export function ingestAlarms(): Record<string, CfnResource> {
  return {
    [INGEST_ALARM_IDS.serverErrors]: alarm({
      name: 'ingest-5xx',
      description:
        'The relay answered Alertmanager with 5xx: a crash or timeout of the ingest function, SQS or the ' +
        'secrets unavailable, or ingest throttled at its reserved concurrency (a flood: the access log ' +
        'shows lambdaStatus 429 and the source IPs). Alertmanager retries until its group_interval; after that ' +
        'the notification waits for the next flush. Read npx sls logs -f ingest --stage <stage> and the ' +
        "stage's access log (/aws/http-api/alertmanager-relay-<stage>-access).",
      namespace: 'AWS/ApiGateway',
      metric: '5xx',
      dimensions: [{ Name: 'ApiId', Value: ref(SHARED.httpApi) }],
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 0,
    }),
    // Alertmanager drops a notification on any 4xx, so a 4xx from Alertmanager is a lost
    // notification: a token rotation that missed a host (401), a body over the limit (413). Anyone
    // on the internet can cause one too. HTTP APIs publish 4xx per ApiId:
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html
    [INGEST_ALARM_IDS.rejected]: alarm({
      name: 'ingest-rejected',
      description:
        'The relay answered 4xx, which Alertmanager does not retry: if the requests came from Alertmanager, ' +
        "those notifications are lost. The stage's access log (/aws/http-api/alertmanager-relay-<stage>-access) " +
        'has the status and source IP of each; npx sls logs -f ingest --stage <stage> the reason. 401 from an ' +
        'Alertmanager host = it sends a token that is neither INGEST_TOKEN nor the previous token (finish or ' +
        "undo the rotation); 413/400 = a body the relay refused; 429 = API Gateway's account-level limit " +
        '(10,000 requests/s in the region, all APIs): a flood. 4xx from unknown IPs only = someone probing the URL.',
      namespace: 'AWS/ApiGateway',
      metric: '4xx',
      dimensions: [{ Name: 'ApiId', Value: ref(SHARED.httpApi) }],
      statistic: 'Sum',
      periodSeconds: 300,
      threshold: 0,
    }),
  };
}

/**
 * An alarm can wait at most a day of 60-second periods (Period x EvaluationPeriods <= 86,400 s
 * for a period under an hour): a `silentAfter` longer than that is watched for a day.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
 */
export const WATCHDOG_ALARM_MAX_PERIODS = 1440;

/**
 * The watchdog's second line: ingest counted no heartbeat (`WatchdogHeartbeats`, published to
 * CloudWatch by ingest's EMF, dimension `service`) in any minute for `silentAfter`, rounded up to
 * whole minutes. Missing data is breaching: no heartbeat is no data. So it fires even when the
 * watchdog function does not run (failing, throttled, its rule disabled), and it is in alarm
 * from the deploy until Alertmanager's first heartbeat, and whenever the relay is not receiving
 * them. Alertmanager sends one at least every 90 s on the route alertmanager-config prints, so a
 * minute without one is normal; `silentAfter` of them in a row is not.
 */
export function watchdogAlarm(watchdog: WatchdogStack): CfnResource {
  const periods = Math.min(Math.ceil(watchdog.silentAfterSeconds / 60), WATCHDOG_ALARM_MAX_PERIODS);
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      ...common(
        'watchdog-no-heartbeat',
        `Ingest recorded no heartbeat (the always-firing alert of watchdog.alertname) for ${periods} minute(s): ` +
          'Alertmanager, the Prometheus rule that fires it, or the path from Alertmanager to the relay is down, so no other alert may reach anyone ' +
          "(in alarm from the deploy until Alertmanager's first heartbeat: route it with npm run alertmanager-config). " +
          'The watchdog function pages the destinations in watchdog.destinations too; if it did not, read ' +
          'npx sls logs -f watchdog --stage <stage>. Also read npx sls logs -f ingest --stage <stage> (a 503 ' +
          'state-unavailable: the heartbeat could not be recorded).',
      ),
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      Namespace: METRIC_NAMESPACE,
      MetricName: 'WatchdogHeartbeats',
      // Powertools adds `service` (the function's service name) to every EMF record.
      Dimensions: [{ Name: 'service', Value: INGEST_FUNCTION }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: periods,
      Threshold: 1,
    },
  };
}

export const alarms: FragmentGenerator = (sinks, _constants, deployment) => {
  const resources: Record<string, CfnResource> = { ...ingestAlarms() };
  if (deployment?.watchdog) resources[WATCHDOG_ALARM_ID] = watchdogAlarm(deployment.watchdog);
  for (const names of sinks) Object.assign(resources, sinkAlarms(names));
  return { functions: {}, resources, outputs: {} };
};

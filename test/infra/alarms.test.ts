// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub and osls variables
import { describe, expect, it } from 'vitest';
import {
  ALARM_THRESHOLDS,
  alarmIds,
  alarms,
  DEAD_LETTER_EXPRESSION,
  DEAD_LETTER_WINDOW,
  ingestAlarms,
  sinkAlarms,
} from '../../lib/infra/alarms.ts';
import { INFRA } from '../../lib/infra/constants.ts';
import { defaultDeployment } from '../../lib/infra/deployment.ts';
import { sinkNames } from '../../lib/infra/names.ts';

type Series = (number | undefined)[];
type AlarmMetric = {
  Id: string;
  Expression?: string;
  ReturnData: boolean;
  MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: unknown[] }; Stat: string };
};

/**
 * CloudWatch metric math as documented for the functions the dead-letter alarm uses: `FILL(x, 0)`
 * turns a missing point into 0, `a + b` adds point by point, `DIFF(x)` is each point minus the one
 * before (none for the first). https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
 */
function evaluate(expression: string, series: Record<string, Series>): Series {
  const text = expression.replace(/\s+/g, '');
  const call = /^([A-Z]+)\((.*)\)$/.exec(text);
  if (call?.[1] === 'DIFF') {
    const inner = evaluate(call[2], series);
    return inner.map((value, i) =>
      i === 0 || value === undefined || inner[i - 1] === undefined
        ? undefined
        : value - (inner[i - 1] as number),
    );
  }
  if (call?.[1] === 'FILL' && call[2].endsWith(',0') && !call[2].includes('(')) {
    return evaluate(call[2].slice(0, -2), series).map((value) => value ?? 0);
  }
  const plus = splitTopLevel(text, '+');
  if (plus.length > 1) {
    const parts = plus.map((part) => evaluate(part, series));
    return parts[0].map((_, i) =>
      parts.some((part) => part[i] === undefined)
        ? undefined
        : parts.reduce((sum, part) => sum + (part[i] as number), 0),
    );
  }
  if (text in series) return series[text];
  throw new Error(`the test's evaluator does not know ${text}`);
}

function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    if (text[i] === ')') depth--;
    if (depth === 0 && text[i] === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return [...parts, text.slice(start)];
}

/**
 * Whether the alarm is in ALARM after its latest evaluation, given the DLQ's visible messages as
 * SQS publishes them, once a minute (undefined: not published, an idle empty queue): the alarm
 * reads their Maximum per period, then looks for a breaching point among the last periods.
 */
function fires(perMinute: Series): boolean {
  const minutes = DEAD_LETTER_WINDOW.periodSeconds / 60;
  const visible: Series = [];
  for (let i = 0; i < perMinute.length; i += minutes) {
    const published = perMinute.slice(i, i + minutes).filter((value) => value !== undefined);
    visible.push(published.length > 0 ? Math.max(...published) : undefined);
  }
  const gained = evaluate(DEAD_LETTER_EXPRESSION, { visible });
  return gained
    .slice(-DEAD_LETTER_WINDOW.evaluationPeriods)
    .some((value) => value !== undefined && value > 0);
}

/** `count` periods of the same per-minute value. */
function periods(count: number, value: number | undefined): Series {
  return Array((count * DEAD_LETTER_WINDOW.periodSeconds) / 60).fill(value);
}

describe('Function: sinkAlarms', () => {
  it('should alarm on a new dead letter and on the oldest message of the sink, nothing else', () => {
    // Act
    const found = sinkAlarms(sinkNames('webhook'));

    // Assess
    expect(Object.keys(found).sort()).toEqual(['WebhookDeadLetterAlarm', 'WebhookOldestMessageAlarm']);
    expect(found.WebhookOldestMessageAlarm.Properties).toMatchObject({
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['WebhookQueue', 'QueueName'] } }],
      Threshold: ALARM_THRESHOLDS.oldestMessageAgeSeconds,
    });
  });

  it("should watch the DLQ's depth with a free AWS/SQS metric, not NumberOfMessagesSent", () => {
    // Act
    const alarm = sinkAlarms(sinkNames('webhook')).WebhookDeadLetterAlarm.Properties;
    const metrics = alarm.Metrics as AlarmMetric[];

    // Assess
    expect(alarm.MetricName).toBeUndefined();
    expect(metrics.filter((metric) => metric.MetricStat).map((metric) => metric.MetricStat?.Metric)).toEqual([
      {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['WebhookDeadLetterQueue', 'QueueName'] } }],
      },
    ]);
    expect(metrics[0].MetricStat?.Stat).toBe('Maximum');
    expect(metrics.filter((metric) => metric.ReturnData)).toEqual([
      expect.objectContaining({ Id: 'gained', Expression: DEAD_LETTER_EXPRESSION }),
    ]);
    expect(alarm).toMatchObject({
      EvaluationPeriods: DEAD_LETTER_WINDOW.evaluationPeriods,
      DatapointsToAlarm: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('should name each alarm for the stage and the sink, and say what to do', () => {
    // Act
    const found = sinkAlarms(sinkNames('webhook'));

    // Assess
    expect(found.WebhookDeadLetterAlarm.Properties.AlarmName).toBe(
      '${self:service}-${sls:stage}-webhook-dead-letters',
    );
    expect(found.WebhookDeadLetterAlarm.Properties.AlarmDescription).toMatch(/npm run dlq -- list/);
    for (const alarm of Object.values(found))
      expect(alarm.Properties.AlarmDescription).toMatch(/npm run dlq|sls logs/);
  });
});

describe('Expression: the dead-letter alarm, evaluated as CloudWatch documents its metric math', () => {
  it('should fire for the first dead letter after a quiet spell in which the empty DLQ published nothing', () => {
    // Prepare: the DLQ was idle (no data), then one message arrived, whoever sent it.
    const visible = [...periods(12, undefined), ...periods(1, 1)];

    // Act
    const fired = fires(visible);

    // Assess
    expect(fired).toBe(true);
  });

  it("should fire for a message SQS's redrive policy moved, which NumberOfMessagesSent does not count", () => {
    // Prepare: the DLQ's depth grows from 2 to 3 while its NumberOfMessagesSent stays 0.
    const visible = [...periods(6, 2), ...periods(1, 3)];

    // Act
    const fired = fires(visible);

    // Assess
    expect(fired).toBe(true);
  });

  it('should fire again for a new dead letter once the earlier one left its window', () => {
    // Prepare: one dead letter, then quiet periods, then another.
    const before = [...periods(1, 0), ...periods(7, 1)];
    const after = [...before, ...periods(1, 2)];

    // Act
    const [quiet, again] = [fires(before), fires(after)];

    // Assess
    expect(quiet).toBe(false);
    expect(again).toBe(true);
  });

  it('should not fire when `npm run dlq -- list` holds every message for its 60 seconds and releases them', () => {
    // Prepare: a minute in which the 3 messages are invisible, in the middle of a period.
    const visible = [...periods(2, 3), 3, 3, 0, 3, 3, ...periods(2, 3)];

    // Act
    const fired = fires(visible);

    // Assess
    expect(fired).toBe(false);
  });

  it('should not fire when a redrive empties the DLQ, nor while the newest period is not yet published', () => {
    // Act
    const drained = fires([...periods(5, 4), ...periods(1, 0)]);
    const unpublished = fires([...periods(6, 1), ...periods(1, undefined)]);

    // Assess
    expect(drained).toBe(false);
    expect(unpublished).toBe(false);
  });
});

describe('Function: ingestAlarms', () => {
  it('should alarm on API Gateway 5xx and 4xx only, treating no requests as fine', () => {
    // Act
    const found = ingestAlarms();

    // Assess
    expect(Object.keys(found).sort()).toEqual(['IngestRejectedAlarm', 'IngestServerErrorsAlarm']);
    expect(found.IngestServerErrorsAlarm.Properties).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }],
      TreatMissingData: 'notBreaching',
    });
    expect(found.IngestServerErrorsAlarm.Properties.AlarmDescription).toMatch(
      /reserved concurrency.*access log/s,
    );
  });

  it('should alarm on any 4xx, which Alertmanager drops, with the token rotation and the access log in its runbook line', () => {
    // Act
    const found = ingestAlarms();

    // Assess
    expect(found.IngestRejectedAlarm.Properties).toMatchObject({
      AlarmName: '${self:service}-${sls:stage}-ingest-rejected',
      Namespace: 'AWS/ApiGateway',
      MetricName: '4xx',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(found.IngestRejectedAlarm.Properties.AlarmDescription).toMatch(
      /access log.*401.*INGEST_TOKEN.*429 = API Gateway's account-level limit/s,
    );
    expect(found.IngestRejectedAlarm.Properties.AlarmDescription).not.toMatch(/ingest\.throttle/);
  });
});

describe('Generator: alarms', () => {
  it('should create exactly the alarms alarmIds lists, notifying the alarm topic', () => {
    // Act
    const sinks = ['console', 'webhook'].map(sinkNames);
    const fragment = alarms(sinks, INFRA, defaultDeployment(['console', 'webhook']));

    // Assess
    expect(Object.keys(fragment.resources).sort()).toEqual(alarmIds(sinks).sort());
    for (const alarm of Object.values(fragment.resources)) {
      expect(alarm.Properties.AlarmActions).toEqual([
        { 'Fn::If': ['CreateAlarmTopic', { Ref: 'AlarmTopic' }, '${self:custom.alarmTopicArn}'] },
      ]);
    }
  });

  it('should cost 8 alarm metrics with 3 sinks: 2 for ingest, 2 per sink', () => {
    // Act
    const sinks = ['webhook', 'pagerduty', 'slack'].map(sinkNames);
    const fragment = alarms(sinks, INFRA, defaultDeployment(['webhook', 'pagerduty', 'slack']));
    const metrics = Object.values(fragment.resources).reduce((sum, alarm) => {
      const math = alarm.Properties.Metrics as AlarmMetric[] | undefined;
      return sum + (math ? math.filter((metric) => metric.MetricStat).length : 1);
    }, 0);

    // Assess
    expect(Object.keys(fragment.resources)).toHaveLength(8);
    expect(metrics).toBe(8);
  });
});

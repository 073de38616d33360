// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub and osls variables
import { describe, expect, it } from 'vitest';
import { ALARM_THRESHOLDS, alarmIds, alarms, ingestAlarms, sinkAlarms } from '../../lib/infra/alarms.ts';
import { INFRA } from '../../lib/infra/constants.ts';
import { defaultDeployment } from '../../lib/infra/deployment.ts';
import { sinkNames } from '../../lib/infra/names.ts';

describe('Function: sinkAlarms', () => {
  it('should alarm on the DLQ, the oldest message and function errors of the sink', () => {
    // Act
    const found = sinkAlarms(sinkNames('webhook'));

    // Assess
    expect(Object.keys(found).sort()).toEqual([
      'WebhookDeadLetterAlarm',
      'WebhookFunctionErrorsAlarm',
      'WebhookOldestMessageAlarm',
    ]);
    // Messages sent to the DLQ per minute, back to OK the next quiet minute: every new dead letter notifies.
    expect(found.WebhookDeadLetterAlarm.Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'NumberOfMessagesSent',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['WebhookDeadLetterQueue', 'QueueName'] } }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(found.WebhookDeadLetterAlarm.Properties.AlarmDescription).toMatch(/npm run dlq -- list/);
    expect(found.WebhookOldestMessageAlarm.Properties).toMatchObject({
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: ALARM_THRESHOLDS.oldestMessageAgeSeconds,
    });
    expect(found.WebhookFunctionErrorsAlarm.Properties.Dimensions).toEqual([
      { Name: 'FunctionName', Value: { Ref: 'WebhookLambdaFunction' } },
    ]);
  });

  it('should name each alarm for the stage and the sink, and say what to do', () => {
    // Act
    const found = sinkAlarms(sinkNames('webhook'));

    // Assess
    expect(found.WebhookDeadLetterAlarm.Properties.AlarmName).toBe(
      '${self:service}-${sls:stage}-webhook-dead-letters',
    );
    for (const alarm of Object.values(found))
      expect(alarm.Properties.AlarmDescription).toMatch(/npm run dlq|sls logs/);
  });
});

describe('Function: ingestAlarms', () => {
  it('should alarm on API Gateway 5xx of the HTTP API, treating no requests as fine', () => {
    // Act
    const found = ingestAlarms();

    // Assess
    expect(found.IngestServerErrorsAlarm.Properties).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }],
      TreatMissingData: 'notBreaching',
    });
  });

  it('should alarm on any 4xx, which Alertmanager drops, with the token rotation in its runbook line', () => {
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
      /401.*INGEST_TOKEN.*429.*ingest\.throttle/s,
    );
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
});

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub and osls variables
import { describe, expect, it, vi } from 'vitest';
import { alarmIds } from '../../lib/infra/alarms.ts';
import {
  dashboardBody,
  dashboardResource,
  describeDashboard,
  EMF_SCHEMA,
  type MetricWidget,
} from '../../lib/infra/dashboard.ts';
import { sinkNames } from '../../lib/infra/names.ts';
import { createLambdaTelemetry } from '../../lib/telemetry.ts';

const sinks = ['console', 'webhook'].map(sinkNames);

function metricWidgets(body: ReturnType<typeof dashboardBody>): MetricWidget[] {
  return body.widgets.filter((widget): widget is MetricWidget => widget.type === 'metric');
}

describe('Function: dashboardBody', () => {
  it('should give each sink one full-width row of six graphs, below the ingest row', () => {
    // Act
    const body = dashboardBody(sinks, alarmIds(sinks));
    const rows = ['console', 'webhook'].map((sink) =>
      metricWidgets(body).filter((widget) => widget.properties.title.startsWith(`${sink}: `)),
    );

    // Assess
    for (const row of rows) {
      expect(row).toHaveLength(6);
      expect(new Set(row.map((widget) => widget.y)).size).toBe(1);
      expect(row.reduce((sum, widget) => sum + widget.width, 0)).toBe(24);
    }
    const ingestY =
      metricWidgets(body).find((widget) => widget.properties.title.startsWith('Ingest'))?.y ?? -1;
    expect(ingestY).toBeLessThan(rows[0][0].y);
    expect(rows[0][0].y).toBeLessThan(rows[1][0].y);
  });

  it('should add a row for a new sink without any other change', () => {
    // Act
    const body = dashboardBody([...sinks, sinkNames('slack')]);

    // Assess
    const titles = metricWidgets(body).map((widget) => widget.properties.title);
    expect(titles).toContain('slack: dead-letter queue (npm run dlq -- list --sink slack)');
    expect(JSON.stringify(body)).toContain('${SlackDeadLetterQueue.QueueName}');
  });

  it('should query per-destination EMF metrics with SEARCH over the dimension set Powertools emits', () => {
    // Act
    const body = dashboardBody(sinks);
    const expressions = metricWidgets(body)
      .flatMap((widget) => widget.properties.metrics)
      .map((line) => (line[0] as { expression?: string }).expression)
      .filter((expression) => expression?.startsWith('SEARCH'));

    // Assess
    expect(expressions).toContain(
      `SEARCH('{AlertmanagerRelay,destination,service,sink} MetricName="Delivered" sink="webhook"', 'Sum', 300)`,
    );
    expect(expressions).toContain(
      `SEARCH('{AlertmanagerRelay,destination,service,sink} MetricName="DeliveryLatency" sink="console"', 'p99', 300)`,
    );
  });

  it('should read the ingest EMF metrics by their exact dimension set (service=ingest)', () => {
    // Act
    const body = dashboardBody(sinks);
    const lines = metricWidgets(body).flatMap((widget) => widget.properties.metrics);

    // Assess
    expect(lines).toContainEqual([
      'AlertmanagerRelay',
      'NotificationsReceived',
      'service',
      'ingest',
      { label: 'received' },
    ]);
  });

  it('should list the alarms in a status widget when given them', () => {
    // Act
    const withAlarms = dashboardBody(sinks, ['WebhookDeadLetterAlarm']);
    const without = dashboardBody(sinks);

    // Assess
    expect(withAlarms.widgets.find((widget) => widget.type === 'alarm')?.properties).toMatchObject({
      alarms: ['${WebhookDeadLetterAlarm.Arn}'],
    });
    expect(without.widgets.some((widget) => widget.type === 'alarm')).toBe(false);
  });
});

describe('Function: dashboardResource', () => {
  it('should be a per-stage dashboard whose body is one Fn::Sub of valid JSON', () => {
    // Act
    const resource = dashboardResource(sinks, []);
    const sub = (resource.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'];

    // Assess
    expect(resource.Type).toBe('AWS::CloudWatch::Dashboard');
    expect(resource.Properties.DashboardName).toBe('${self:service}-${sls:stage}');
    expect(() => JSON.parse(sub)).not.toThrow();
    expect(sub).not.toMatch(/\$\{(?!AWS::|[A-Z][A-Za-z0-9]*(\.[A-Za-z]+)?\})/);
  });
});

describe('Function: describeDashboard', () => {
  it('should outline the dashboard row by row in plain words', () => {
    // Act
    const outline = describeDashboard(dashboardBody(sinks, alarmIds(sinks)));

    // Assess
    expect(outline).toContain('Ingest: POST /alertmanager');
    expect(outline).toContain('[Ingest: requests by status (2xx / 4xx / 5xx)]');
    expect(outline).toContain('Sink: webhook');
    expect(outline).toContain(
      '[webhook: delivered, retried, dead-lettered, skipped, storms (per destination)] delivered, retried, dead-lettered, duplicates skipped, superseded (stale), storms started, groups folded into the digest, groups backfilled after a storm, template fell back',
    );
    expect(outline).toContain('[Alarms (red: see the runbook in docs/operations.md)] 9 alarms');
  });
});

describe('Dashboard and telemetry', () => {
  it('should query the dimension sets lib/telemetry.ts really emits', () => {
    // Prepare
    const written: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    const logger = {
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
      debug: () => undefined,
    };

    // Act
    try {
      createLambdaTelemetry({ serviceName: 'webhook', logger: logger as never }).count('Delivered', {
        sink: 'webhook',
        destination: 'audit',
      });
      createLambdaTelemetry({ serviceName: 'ingest', logger: logger as never }).count(
        'NotificationsReceived',
        {},
      );
    } finally {
      write.mockRestore();
    }
    const dimensionSets = written
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line)._aws.CloudWatchMetrics[0].Dimensions[0].slice().sort().join(','));

    // Assess
    expect(dimensionSets).toEqual(['destination,service,sink', 'service']);
    expect(EMF_SCHEMA.sink).toBe('{AlertmanagerRelay,destination,service,sink}');
    expect(EMF_SCHEMA.ingest).toEqual({ service: 'ingest' });
  });
});

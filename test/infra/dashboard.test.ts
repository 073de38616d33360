// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub and osls variables
import { describe, expect, it, vi } from 'vitest';
import { alarmIds } from '../../lib/infra/alarms.ts';
import {
  dashboardBody,
  dashboardResource,
  describeDashboard,
  EMF_SCHEMA,
  type LogWidget,
  METRIC_LOG_QUERIES,
  type MetricWidget,
  type Widget,
} from '../../lib/infra/dashboard.ts';
import { sinkNames } from '../../lib/infra/names.ts';
import { CLOUDWATCH_METRICS, createLambdaTelemetry, type MetricName } from '../../lib/telemetry.ts';

const sinks = ['console', 'webhook'].map(sinkNames);

function graphs(body: ReturnType<typeof dashboardBody>): (MetricWidget | LogWidget)[] {
  return body.widgets.filter(
    (widget): widget is MetricWidget | LogWidget => widget.type === 'metric' || widget.type === 'log',
  );
}

function metricWidgets(body: ReturnType<typeof dashboardBody>): MetricWidget[] {
  return body.widgets.filter((widget): widget is MetricWidget => widget.type === 'metric');
}

function logWidgets(body: ReturnType<typeof dashboardBody>): LogWidget[] {
  return body.widgets.filter((widget): widget is LogWidget => widget.type === 'log');
}

function searches(body: ReturnType<typeof dashboardBody>): string[] {
  return metricWidgets(body)
    .flatMap((widget) => widget.properties.metrics)
    .map((line) => (line[0] as { expression?: string }).expression)
    .filter((expression): expression is string => expression?.startsWith('SEARCH') ?? false);
}

/** Runs `act` with stdout captured, and returns what was written. */
function captureStdout(act: () => void): string[] {
  const written: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    written.push(String(chunk));
    return true;
  });
  try {
    act();
  } finally {
    write.mockRestore();
  }
  return written.flatMap((chunk) => chunk.split('\n')).filter((line) => line !== '');
}

const quietLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

describe('Function: dashboardBody', () => {
  it('should give each sink one full-width row of six widgets, below the ingest row', () => {
    // Act
    const body = dashboardBody(sinks, alarmIds(sinks));
    const rows = ['console', 'webhook'].map((sink) =>
      graphs(body).filter((widget) => widget.properties.title.startsWith(`${sink}: `)),
    );

    // Assess
    for (const row of rows) {
      expect(row).toHaveLength(6);
      expect(new Set(row.map((widget) => widget.y)).size).toBe(1);
      expect(row.reduce((sum, widget) => sum + widget.width, 0)).toBe(24);
    }
    const ingestY = graphs(body).find((widget) => widget.properties.title.startsWith('Ingest'))?.y ?? -1;
    expect(ingestY).toBeLessThan(rows[0][0].y);
    expect(rows[0][0].y).toBeLessThan(rows[1][0].y);
  });

  it('should add a row for a new sink without any other change', () => {
    // Act
    const body = dashboardBody([...sinks, sinkNames('slack')]);

    // Assess
    const titles = graphs(body).map((widget) => widget.properties.title);
    expect(titles).toContain('slack: dead-letter queue (npm run dlq -- list --sink slack)');
    expect(JSON.stringify(body)).toContain('${SlackDeadLetterQueue.QueueName}');
    expect(JSON.stringify(body)).toContain("SOURCE '${SlackLogGroup}'");
  });

  it('should graph per destination, with SEARCH over the EMF dimension set, only the metrics published to CloudWatch', () => {
    // Act
    const expressions = searches(dashboardBody(sinks));
    const searched = expressions.map((expression) => /MetricName="(\w+)"/.exec(expression)?.[1]);

    // Assess
    expect(expressions).toContain(
      `SEARCH('{AlertmanagerRelay,destination,service,sink} MetricName="DeadLettered" sink="webhook"', 'Sum', 300)`,
    );
    expect(searched.length).toBeGreaterThan(0);
    for (const name of searched) expect(CLOUDWATCH_METRICS.has(name as MetricName)).toBe(true);
  });

  it("should read delivered counts and latency per destination from the sink's own log group with Logs Insights", () => {
    // Act
    const queries = logWidgets(dashboardBody(sinks)).map((widget) => widget.properties.query);

    // Assess
    expect(queries).toContain(`SOURCE '\${WebhookLogGroup}' | ${METRIC_LOG_QUERIES.outcomes}`);
    expect(queries).toContain(`SOURCE '\${ConsoleLogGroup}' | ${METRIC_LOG_QUERIES.latency}`);
    expect(queries).toContain(`SOURCE '\${HttpApiAccessLogGroup}' | ${METRIC_LOG_QUERIES.rejected}`);
    for (const query of queries) expect(query.match(/\$\{/g)).toHaveLength(1);
  });

  it("should graph only free AWS metrics and the relay's CloudWatch metrics, never a per-delivery custom metric", () => {
    // Act
    const lines = metricWidgets(dashboardBody(sinks)).flatMap((widget) => widget.properties.metrics);
    const custom = lines
      .filter((line) => line[0] === 'AlertmanagerRelay')
      .map((line) => line[1] as MetricName);

    // Assess
    expect(custom).toEqual(['NotificationsUnrouted']);
    for (const name of custom) expect(CLOUDWATCH_METRICS.has(name)).toBe(true);
  });

  it('should list the alarms in a status widget when given them', () => {
    // Act
    const withAlarms = dashboardBody(sinks, ['WebhookDeadLetterAlarm']);
    const without = dashboardBody(sinks);

    // Assess
    expect(withAlarms.widgets.find((widget: Widget) => widget.type === 'alarm')?.properties).toMatchObject({
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
    expect(outline).toContain(
      '[Ingest: rejected requests by status and source IP (access log)] table: count(*) as requests by status, ip, route, lambdaStatus',
    );
    expect(outline).toContain('Sink: webhook');
    expect(outline).toContain(
      '[webhook: outcomes per destination] table: sum(value) as count by destination, metric',
    );
    expect(outline).toContain(
      '[webhook: retried, dead-lettered, fallbacks, storms (per destination)] retried, dead-lettered, template fell back, graph skipped, storms started, groups folded into the digest, groups backfilled after a storm',
    );
    expect(outline).toContain('[Alarms (red: see the runbook in docs/operations.md)] 6 alarms');
  });
});

describe('Dashboard and telemetry', () => {
  it('should query the EMF dimension sets lib/telemetry.ts really emits', () => {
    // Act
    const written = captureStdout(() => {
      createLambdaTelemetry({ serviceName: 'webhook', logger: quietLogger as never }).count('DeadLettered', {
        sink: 'webhook',
        destination: 'audit',
      });
      createLambdaTelemetry({ serviceName: 'ingest', logger: quietLogger as never }).count(
        'NotificationsUnrouted',
        {},
      );
    });
    const dimensionSets = written
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line)._aws.CloudWatchMetrics[0].Dimensions[0].slice().sort().join(','));

    // Assess
    expect(dimensionSets).toEqual(['destination,service,sink', 'service']);
    expect(EMF_SCHEMA.sink).toBe('{AlertmanagerRelay,destination,service,sink}');
    expect(EMF_SCHEMA.ingest).toEqual({ service: 'ingest' });
  });

  it('should read the fields the metric log lines carry', () => {
    // Act
    const written = captureStdout(() => {
      const telemetry = createLambdaTelemetry({ serviceName: 'webhook', logger: quietLogger as never });
      telemetry.count('Delivered', { sink: 'webhook', destination: 'audit' });
      telemetry.milliseconds('DeliveryLatency', { sink: 'webhook', destination: 'audit' }, 1234);
    });

    // Assess
    expect(written.map((line) => JSON.parse(line))).toEqual([
      { metric: 'Delivered', value: 1, sink: 'webhook', destination: 'audit' },
      { metric: 'DeliveryLatency', value: 1234, sink: 'webhook', destination: 'audit' },
    ]);
    for (const field of ['metric', 'value', 'destination'])
      expect(METRIC_LOG_QUERIES.outcomes + METRIC_LOG_QUERIES.latency).toContain(field);
  });
});

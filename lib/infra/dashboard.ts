// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub variables and osls variables
import { METRIC_NAMESPACE, type MetricName } from '../telemetry.ts';
import type { CfnResource, Sub } from './cloudformation.ts';
import type { DeploymentSettings } from './deployment.ts';
import type { FragmentGenerator } from './fragment-generator.ts';
import { functionNames, INGEST_FUNCTION, SHARED, type SinkNames } from './names.ts';
import { ACCESS_LOG_GROUP_LOGICAL_ID } from './shared-resources.ts';

/**
 * The stage's CloudWatch dashboard: the ingest row (API Gateway requests by status class and
 * latency, Lambda errors and throttles, rejected requests by source IP from the access log) and
 * one row per sink (outcomes and latency per destination, problems per destination, queue, DLQ,
 * Lambda). Generated from the sink list, so a new sink gets its row.
 *
 * What it costs: the dashboard itself ($3 a month, https://aws.amazon.com/cloudwatch/pricing/);
 * everything it graphs is free (AWS/ApiGateway, AWS/SQS, AWS/Lambda) or a CloudWatch metric the
 * relay publishes only when something goes wrong (lib/telemetry.ts CLOUDWATCH_METRICS). What a
 * metric per destination and delivery would have cost ($0.30 a month per series) is read from
 * the metric log lines by Logs Insights widgets instead, billed $0.005 per GB they scan when the
 * dashboard is open (a few MB for 6 hours at a million notifications a month).
 *
 * The body is one Fn::Sub string: `${WebhookQueue.QueueName}`, `${WebhookLambdaFunction}`,
 * `${WebhookLogGroup}` and `${HttpApi}` are resolved by CloudFormation to the real names, so
 * the dashboard can never point at a queue, function or log group that is not in the stack.
 */

export const DASHBOARD_LOGICAL_ID = 'RelayDashboard';

/** Every graph shows 5-minute points; alarms use their own periods (lib/infra/alarms.ts). */
const PERIOD_SECONDS = 300;
const ROW_HEIGHT = 6;
const WIDGETS_PER_SINK_ROW = 6;
const WIDTH = 24;

/**
 * The dimension sets the relay's EMF records carry (lib/telemetry.ts, Powertools
 * singleMetric): Powertools adds `service` (the Lambda's service name: the sink's name, or
 * `ingest`) to the dimensions the relay sets. A CloudWatch metric matches only its exact
 * dimension set, so per-destination graphs use SEARCH over this schema.
 */
export const EMF_SCHEMA = {
  sink: `{${METRIC_NAMESPACE},destination,service,sink}`,
  ingest: { service: INGEST_FUNCTION },
} as const;

type MetricOptions = {
  stat?: string;
  label?: string;
  id?: string;
  visible?: boolean;
  yAxis?: 'left' | 'right';
};
/** `[namespace, metric, dimName, dimValue, ..., options]` as dashboard bodies take it. */
type MetricLine = (string | MetricOptions)[];
type ExpressionLine = [{ expression: string; label: string; id: string; yAxis?: 'left' | 'right' }];

export interface MetricWidget {
  type: 'metric';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: {
    title: string;
    region: string;
    view: 'timeSeries';
    stacked: false;
    period: number;
    stat: string;
    metrics: (MetricLine | ExpressionLine)[];
    yAxis: { left: { min: number; label?: string }; right?: { min: number; label?: string } };
  };
}

export interface TextWidget {
  type: 'text';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: { markdown: string };
}

/** A Logs Insights query shown as a table: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html */
export interface LogWidget {
  type: 'log';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: { title: string; region: string; view: 'table'; query: string };
}

export interface AlarmWidget {
  type: 'alarm';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: { title: string; alarms: string[] };
}

export type Widget = MetricWidget | TextWidget | AlarmWidget | LogWidget;

export interface DashboardBody {
  start: string;
  periodOverride: 'inherit';
  widgets: Widget[];
}

function metricWidget(
  title: string,
  metrics: (MetricLine | ExpressionLine)[],
  options: { stat?: string; leftLabel?: string; rightLabel?: string } = {},
): Omit<MetricWidget, 'x' | 'y' | 'width' | 'height'> {
  return {
    type: 'metric',
    properties: {
      title,
      region: '${AWS::Region}',
      view: 'timeSeries',
      stacked: false,
      period: PERIOD_SECONDS,
      stat: options.stat ?? 'Sum',
      metrics,
      yAxis: {
        left: { min: 0, ...(options.leftLabel ? { label: options.leftLabel } : {}) },
        ...(options.rightLabel ? { right: { min: 0, label: options.rightLabel } } : {}),
      },
    },
  };
}

/**
 * A Logs Insights table over `logGroupLogicalIds` (Fn::Sub resolves each Ref to the group's name).
 * `query` must not contain `${`, which Fn::Sub would read as a variable.
 */
function logWidget(
  title: string,
  logGroupLogicalIds: readonly string[],
  query: string,
): Omit<LogWidget, 'x' | 'y' | 'width' | 'height'> {
  const sources = logGroupLogicalIds.map((id) => `SOURCE '\${${id}}'`).join(' | ');
  return {
    type: 'log',
    properties: { title, region: '${AWS::Region}', view: 'table', query: `${sources} | ${query}` },
  };
}

/** The Logs Insights queries of the metric log lines (lib/telemetry.ts metricLine). */
export const METRIC_LOG_QUERIES = {
  outcomes:
    'filter ispresent(metric) and metric != "DeliveryLatency" | stats sum(value) as count by destination, metric | sort destination, metric',
  latency:
    'filter metric = "DeliveryLatency" | stats count(*) as delivered, pct(value, 50) as p50_ms, pct(value, 99) as p99_ms, max(value) as max_ms by destination | sort destination',
  rejected:
    'filter status not like /^2/ | stats count(*) as requests by status, ip, route, lambdaStatus | sort requests desc | limit 20',
} as const;

/** One series per destination of `sink` for an EMF metric. */
function perDestination(
  sink: string,
  metric: MetricName,
  stat: string,
  label: string,
  id: string,
): ExpressionLine {
  return [
    {
      expression: `SEARCH('${EMF_SCHEMA.sink} MetricName="${metric}" sink="${sink}"', '${stat}', ${PERIOD_SECONDS})`,
      label,
      id,
    },
  ];
}

function layoutRow<T extends Omit<Widget, 'x' | 'y' | 'width' | 'height'>>(
  widgets: T[],
  y: number,
  height = ROW_HEIGHT,
): (T & { x: number; y: number; width: number; height: number })[] {
  const width = Math.floor(WIDTH / widgets.length);
  return widgets.map((widget, i) => ({ ...widget, x: i * width, y, width, height }));
}

type Placed =
  | Omit<MetricWidget, 'x' | 'y' | 'width' | 'height'>
  | Omit<LogWidget, 'x' | 'y' | 'width' | 'height'>;

function ingestWidgets(): Placed[] {
  const api = ['ApiId', `\${${SHARED.httpApi}}`];
  const ingest = functionNames(INGEST_FUNCTION);
  const fn = ['FunctionName', `\${${ingest.functionLogicalId}}`];
  return [
    metricWidget('Ingest: requests by status (2xx / 4xx / 5xx)', [
      ['AWS/ApiGateway', 'Count', ...api, { id: 'requests', visible: false }],
      [
        'AWS/ApiGateway',
        '4xx',
        ...api,
        { id: 'clientErrors', label: '4xx (bad token, bad body: Alertmanager drops these)' },
      ],
      ['AWS/ApiGateway', '5xx', ...api, { id: 'serverErrors', label: '5xx (Alertmanager retries these)' }],
      [{ expression: 'requests - clientErrors - serverErrors', label: '2xx (accepted)', id: 'accepted' }],
    ]),
    metricWidget(
      'Ingest: latency (ms)',
      [
        ['AWS/ApiGateway', 'Latency', ...api, { stat: 'p50', label: 'p50' }],
        ['AWS/ApiGateway', 'Latency', ...api, { stat: 'p99', label: 'p99' }],
      ],
      { stat: 'p50', leftLabel: 'ms' },
    ),
    metricWidget('Ingest: Lambda errors and throttles, notifications routed nowhere', [
      ['AWS/Lambda', 'Errors', ...fn, { label: 'errors' }],
      ['AWS/Lambda', 'Throttles', ...fn, { label: 'throttles (reserved concurrency reached: 5xx)' }],
      [
        METRIC_NAMESPACE,
        'NotificationsUnrouted',
        'service',
        EMF_SCHEMA.ingest.service,
        { label: 'matched no destination' },
      ],
    ]),
    logWidget(
      'Ingest: rejected requests by status and source IP (access log)',
      [ACCESS_LOG_GROUP_LOGICAL_ID],
      METRIC_LOG_QUERIES.rejected,
    ),
  ];
}

function sinkWidgets(names: SinkNames): Placed[] {
  const { sink } = names;
  const queue = ['QueueName', `\${${names.queueLogicalId}.QueueName}`];
  const dlq = ['QueueName', `\${${names.deadLetterQueueLogicalId}.QueueName}`];
  const fn = ['FunctionName', `\${${names.functionLogicalId}}`];
  return [
    // Every outcome the relay counts (delivered; duplicates and stale notifications it skipped by
    // group state; retried, dead-lettered, storms, templates that fell back), from the metric log.
    logWidget(`${sink}: outcomes per destination`, [names.logGroupLogicalId], METRIC_LOG_QUERIES.outcomes),
    logWidget(
      `${sink}: delivery latency per destination, alert accepted to delivered`,
      [names.logGroupLogicalId],
      METRIC_LOG_QUERIES.latency,
    ),
    // The CloudWatch metrics the relay publishes only when something goes wrong.
    metricWidget(`${sink}: retried, dead-lettered, fallbacks, storms (per destination)`, [
      perDestination(sink, 'Retried', 'Sum', 'retried', 'retried'),
      perDestination(sink, 'DeadLettered', 'Sum', 'dead-lettered', 'deadLettered'),
      perDestination(sink, 'TemplateFailed', 'Sum', 'template fell back', 'templateFailed'),
      perDestination(sink, 'GraphsSkipped', 'Sum', 'graph skipped', 'graphsSkipped'),
      perDestination(sink, 'StormStarted', 'Sum', 'storms started', 'storms'),
      perDestination(sink, 'GroupsFolded', 'Sum', 'groups folded into the digest', 'folded'),
      perDestination(sink, 'GroupsBackfilled', 'Sum', 'groups backfilled after a storm', 'backfilled'),
    ]),
    metricWidget(
      `${sink}: queue, in and out`,
      [
        ['AWS/SQS', 'NumberOfMessagesSent', ...queue, { stat: 'Sum', label: 'queued (and renewed)' }],
        ['AWS/SQS', 'NumberOfMessagesDeleted', ...queue, { stat: 'Sum', label: 'done' }],
        ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', ...queue, { label: 'waiting' }],
        [
          'AWS/SQS',
          'ApproximateNumberOfMessagesNotVisible',
          ...queue,
          { label: 'in delivery or backing off' },
        ],
        ['AWS/SQS', 'ApproximateAgeOfOldestMessage', ...queue, { label: 'oldest (s)', yAxis: 'right' }],
      ],
      { stat: 'Maximum', leftLabel: 'messages', rightLabel: 'seconds' },
    ),
    metricWidget(
      `${sink}: dead-letter queue (npm run dlq -- list --sink ${sink})`,
      [
        ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', ...dlq, { id: 'visible', visible: false }],
        ['AWS/SQS', 'ApproximateNumberOfMessagesNotVisible', ...dlq, { id: 'held', visible: false }],
        [{ expression: 'FILL(visible, 0) + FILL(held, 0)', label: 'messages in DLQ', id: 'depth' }],
        [
          'AWS/SQS',
          'NumberOfMessagesSent',
          ...dlq,
          { stat: 'Sum', label: 'dead-lettered by the relay (SQS redrive not counted)' },
        ],
      ],
      { stat: 'Maximum', leftLabel: 'messages' },
    ),
    metricWidget(
      `${sink}: Lambda errors, throttles and duration`,
      [
        ['AWS/Lambda', 'Errors', ...fn, { stat: 'Sum', label: 'errors' }],
        ['AWS/Lambda', 'Throttles', ...fn, { stat: 'Sum', label: 'throttles' }],
        ['AWS/Lambda', 'Duration', ...fn, { stat: 'p99', label: 'duration p99 (ms)', yAxis: 'right' }],
        ['AWS/Lambda', 'Duration', ...fn, { stat: 'Maximum', label: 'duration max (ms)', yAxis: 'right' }],
      ],
      { stat: 'Sum', leftLabel: 'count', rightLabel: 'ms' },
    ),
  ];
}

function text(markdown: string): Omit<TextWidget, 'x' | 'y' | 'width' | 'height'> {
  return { type: 'text', properties: { markdown } };
}

/**
 * The dashboard body as an object (Fn::Sub variables still in it). `alarmLogicalIds` become
 * an alarm status widget at the top.
 */
export function dashboardBody(
  sinks: readonly SinkNames[],
  alarmLogicalIds: readonly string[] = [],
): DashboardBody {
  const widgets: Widget[] = [];
  let y = 0;
  widgets.push(
    ...layoutRow(
      [
        text(
          '# alertmanager-relay ${AWS::StackName}\n' +
            'Top: what Alertmanager sees, and who else knocks. Then one row per sink: what reached each destination, what waits, what was dead-lettered. ' +
            'A message in a DLQ needs a person: `npm run dlq -- list`, fix the cause, `npm run dlq -- redrive --sink <sink>`.',
        ),
      ],
      y,
      2,
    ),
  );
  y += 2;
  if (alarmLogicalIds.length > 0) {
    widgets.push(
      ...layoutRow(
        [
          {
            type: 'alarm' as const,
            properties: {
              title: 'Alarms (red: see the runbook in docs/operations.md)',
              alarms: alarmLogicalIds.map((id) => `\${${id}.Arn}`),
            },
          },
        ],
        y,
        3,
      ),
    );
    y += 3;
  }
  widgets.push(...layoutRow([text('## Ingest: POST /alertmanager')], y, 1));
  y += 1;
  widgets.push(...layoutRow(ingestWidgets(), y));
  y += ROW_HEIGHT;
  for (const names of sinks) {
    widgets.push(...layoutRow([text(`## Sink: ${names.sink}`)], y, 1));
    y += 1;
    const row = sinkWidgets(names);
    if (row.length !== WIDGETS_PER_SINK_ROW) throw new Error('a sink row must fill the width');
    widgets.push(...layoutRow(row, y));
    y += ROW_HEIGHT;
  }
  return { start: '-PT6H', periodOverride: 'inherit', widgets };
}

export function dashboardResource(
  sinks: readonly SinkNames[],
  alarmLogicalIds: readonly string[],
): CfnResource {
  const body: Sub = { 'Fn::Sub': JSON.stringify(dashboardBody(sinks, alarmLogicalIds)) };
  return {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      // Resolved by osls: one dashboard per stage, `alertmanager-relay-prod`.
      DashboardName: '${self:service}-${sls:stage}',
      DashboardBody: body,
    },
  };
}

/** A plain-words outline of the dashboard, row by row (docs/operations.md, "reading the dashboard"). */
export function describeDashboard(body: DashboardBody): string {
  const rows = new Map<number, Widget[]>();
  for (const widget of body.widgets) rows.set(widget.y, [...(rows.get(widget.y) ?? []), widget]);
  const lines: string[] = [];
  for (const [, widgets] of [...rows].sort(([a], [b]) => a - b)) {
    for (const widget of widgets) {
      if (widget.type === 'text') {
        const heading = widget.properties.markdown.split('\n')[0];
        if (heading.startsWith('## ')) lines.push('', heading.slice(3));
        continue;
      }
      if (widget.type === 'alarm') {
        lines.push(`  [${widget.properties.title}] ${widget.properties.alarms.length} alarms`);
        continue;
      }
      if (widget.type === 'log') {
        const stats = widget.properties.query.split('|').find((part) => part.trim().startsWith('stats '));
        lines.push(`  [${widget.properties.title}] table: ${stats?.trim().slice('stats '.length) ?? ''}`);
        continue;
      }
      const series = widget.properties.metrics.flatMap((line) => {
        const last = line[line.length - 1];
        if (typeof last !== 'object' || ('visible' in last && last.visible === false)) return [];
        return last.label ? [last.label] : [];
      });
      lines.push(`  [${widget.properties.title}] ${series.join(', ')}`);
    }
  }
  return lines.join('\n').trimStart();
}

/** The dashboard (serverless.yml outputs its URL as DashboardUrl). Alarm ids come from lib/infra/alarms.ts. */
export function dashboardGenerator(
  alarmIds: (sinks: readonly SinkNames[], deployment?: DeploymentSettings) => string[],
): FragmentGenerator {
  return (sinks, _constants, deployment) => ({
    functions: {},
    resources: { [DASHBOARD_LOGICAL_ID]: dashboardResource(sinks, alarmIds(sinks, deployment)) },
    outputs: {},
  });
}

/**
 * Figure: what AWS charges for the relay with three destinations (webhook, PagerDuty in group
 * mode, Slack with its storm mode on, the default), as users ask it: a fixed part per month
 * (what the stack costs with no traffic) and a variable part per million notifications, and
 * the total at 10k, 1M and 10M notifications a month.
 *
 * Variable: counted in an emulator-backed run of the PACKAGED functions
 * (test/support/packaged-lambda.ts): `npm run package` with that config, each zip's handler
 * resolved as the Lambda runtime does, with the environment the template gives it; SQS in
 * fauxqs and DynamoDB in dynalite behind counting proxies (every SQS and DynamoDB call the
 * bundles and the event source mapping make; DynamoDB's consumed capacity asked on every call),
 * the vendors as the test fakes. Per notification: API Gateway requests, Lambda invocations and
 * GB-s (measured handler time plus modelled network time, below), SQS requests, DynamoDB items
 * and capacity units, log bytes (what the handlers write, Lambda's platform lines unless the
 * template's LoggingConfig drops them, the stage's access log line).
 *
 * Fixed: read from the packaged template (alarms, dashboards, secrets and parameters, queues
 * polled while idle, metric filters, KMS keys) and from the run (the EMF metric series a healthy
 * month emits), so a change to lib/infra or to the metrics moves it. bench/prices.json (dated,
 * us-east-1 list prices, no free tier) prices both.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, SQSEvent } from 'aws-lambda';
import {
  createSinkQueues,
  createStateTable,
  EMULATOR_CREDENTIALS,
  EMULATOR_REGION,
  startAwsEmulators,
} from '../test/support/aws-emulators.ts';
import { startFakePagerDuty } from '../test/support/fake-pagerduty.ts';
import { startFakeSlack } from '../test/support/fake-slack.ts';
import { startFakeSsm } from '../test/support/fake-ssm.ts';
import { makeNotification } from '../test/support/notifications.ts';
import {
  apiGatewayEvent,
  type LambdaHandler,
  lambdaContext,
  type ProxiedCall,
  packageRelay,
  pollOnce,
  resolveHandler,
  startCountingProxy,
  unpackFunction,
} from '../test/support/packaged-lambda.ts';
import { startWebhookReceiver } from '../test/support/webhook-receiver.ts';
import { type BenchResult, repoRoot, result, round } from './measure.ts';

/** Notifications in the run: GROUPS alert groups, each firing then resolved. */
const GROUPS = 20;
/**
 * Time between notifications. A new group every 2 x PACING_MS = 7 s is about 8.6 new groups a
 * minute: under storm mode's default threshold (more than 10 in 60 s), so the run measures the
 * ordinary path with storm mode's bookkeeping on, not a storm's digest; and above Slack's
 * pacing interval, so it measures deliveries, not pacing waits.
 */
const PACING_MS = 3500;
/** The monthly volumes the totals are given for. */
export const VOLUMES = [10_000, 1_000_000, 10_000_000] as const;
/** Targets (issue 21): with the three destinations. */
export const VARIABLE_TARGET_PER_MILLION = 12;
export const FIXED_TARGET_PER_MONTH = 5;
export const STATE_READS_TARGET = 4.5;
export const STATE_WRITES_TARGET = 5;
/**
 * Modelled network time a Lambda waits, added to the measured handler time (the emulators and
 * fakes answer on loopback in about a millisecond): a same-region AWS API call and a vendor
 * HTTPS call. Assumptions, not measurements; the vendor time dominates the sinks' GB-s.
 */
export const AWS_CALL_MS = 8;
export const VENDOR_CALL_MS = 150;
/**
 * An event source mapping long-polls an idle queue: about 3 ReceiveMessage of 20 s a minute per
 * poller; 5 pollers per queue is what Lambda starts with for SQS (an assumption for FIFO).
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
 */
export const IDLE_RECEIVES_PER_QUEUE_MONTH = 5 * 3 * 60 * 24 * 30;
/** Hours in a month, for what is billed by the hour or read on a cache's schedule. */
const HOURS_PER_MONTH = 730;
/** lib/secrets.ts caches a secret for 5 minutes: at most 12 reads an hour per function and secret. */
const SECRET_READS_PER_MONTH = 12 * HOURS_PER_MONTH;
/**
 * Lambda's own lines per invocation, as it writes them with the default LoggingConfig (Text,
 * system log level INFO): START, END and REPORT (an INIT line on a cold start is left out). In
 * the JSON format at INFO: platform.start and platform.report. With the JSON format and
 * SystemLogLevel WARN, none (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
 */
const REQUEST_ID = '6f1c3b2a-1d4e-4f5a-9b8c-7d6e5f4a3b2c';
const PLATFORM_LINES = {
  Text: [
    `START RequestId: ${REQUEST_ID} Version: $LATEST\n`,
    `END RequestId: ${REQUEST_ID}\n`,
    `REPORT RequestId: ${REQUEST_ID}\tDuration: 41.52 ms\tBilled Duration: 42 ms\tMemory Size: 256 MB\tMax Memory Used: 98 MB\t\n`,
  ],
  JSON: [
    `{"time":"2026-12-07T12:00:00.000Z","type":"platform.start","record":{"requestId":"${REQUEST_ID}","version":"$LATEST"}}\n`,
    `{"time":"2026-12-07T12:00:00.042Z","type":"platform.report","record":{"requestId":"${REQUEST_ID}","metrics":{"durationMs":41.52,"billedDurationMs":42,"memorySizeMB":256,"maxMemoryUsedMB":98},"status":"success"}}\n`,
  ],
} as const;
/** Typical values of the API Gateway access-log variables, to size one access-log line. */
const ACCESS_LOG_VALUES: Record<string, string> = {
  requestId: 'Q2xN8gHkIAMEbXw=',
  extendedRequestId: 'Q2xN8gHkIAMEbXw=',
  'identity.sourceIp': '203.0.113.17',
  routeKey: 'POST /alertmanager',
  status: '202',
  responseLatency: '48',
  integrationLatency: '45',
  integrationStatus: '200',
  integrationErrorMessage: '-',
  'error.message': '-',
  requestTime: '07/Dec/2026:12:00:00 +0000',
  httpMethod: 'POST',
  protocol: 'HTTP/1.1',
  responseLength: '120',
  path: '/alertmanager',
  'identity.userAgent': 'Alertmanager/0.27.0',
};

interface Prices {
  checked: string;
  lambda: { requestPerMillion: number; arm64PerGbSecond: number };
  sqs: { fifoPerMillionRequests: number; billedChunkBytes: number };
  dynamodb: { onDemandPerMillionWriteUnits: number; onDemandPerMillionReadUnits: number };
  apiGateway: { httpApiPerMillionRequests: number };
  cloudwatch: {
    logsIngestionPerGb: number;
    logsStoragePerGbMonth: number;
    customMetricPerMonth: number;
    standardAlarmPerMonth: number;
    highResolutionAlarmPerMonth: number;
    compositeAlarmPerMonth: number;
    dashboardPerMonth: number;
  };
  secretsManager: { perSecretMonth: number; perTenThousandCalls: number };
  kms: { perTenThousandRequests: number; customerKeyPerMonth: number };
  ssm: { standardParameterPerMonth: number; advancedParameterPerMonth: number };
}

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}
interface Template {
  Resources: Record<string, CfnResource>;
}

type SqsHandler = LambdaHandler<SQSEvent, { batchItemFailures: { itemIdentifier: string }[] }>;

/** One fixed line: what it is, how many, and its dollars a month. */
export interface FixedLine {
  name: string;
  count: number;
  dollars: number;
  note: string;
}

/** The counts of one run, per notification, and what they cost. */
export interface CostBreakdown {
  notifications: number;
  /** Calls per notification by SQS/DynamoDB operation. */
  operations: Record<string, number>;
  perNotification: Record<string, number>;
  variablePerMillion: Record<string, number>;
  variable: number;
  fixed: FixedLine[];
  fixedPerMonth: number;
  /** Dollars a month at each of VOLUMES. */
  monthly: { notifications: number; fixed: number; variable: number; total: number }[];
}

/** The DynamoDB calls that read or write items (the ones with consumed capacity). */
const ITEM_OPERATIONS =
  /^DynamoDB_20120810\.(GetItem|BatchGetItem|Query|Scan|PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactGetItems|TransactWriteItems)$/;

const SECRET_VALUES = {
  INGEST_TOKEN: 'cost-token',
  PD_KEY: 'R0123456789abcdef0123456789abcde',
  SLACK_TOKEN: 'xoxb-cost',
};

/** Each function's zip key (`ingest`, `webhook`) and its template resource. */
function functionsOf(template: Template): Map<string, CfnResource & { Properties: Record<string, unknown> }> {
  const out = new Map<string, CfnResource & { Properties: Record<string, unknown> }>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function' || !resource.Properties) continue;
    const key = /\/([^/]+)\.zip$/.exec(String((resource.Properties.Code as { S3Key?: string })?.S3Key))?.[1];
    if (key) out.set(key, resource as CfnResource & { Properties: Record<string, unknown> });
  }
  return out;
}

/** Every IAM action the template's roles allow, with the resources it is allowed on. */
function allowedActions(template: Template): { action: string; resources: unknown[] }[] {
  const out: { action: string; resources: unknown[] }[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const policies = (resource.Properties?.Policies ?? []) as {
      PolicyDocument: { Statement: { Effect: string; Action: string | string[]; Resource: unknown }[] };
    }[];
    for (const policy of policies)
      for (const statement of policy.PolicyDocument.Statement) {
        if (statement.Effect !== 'Allow') continue;
        const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
        for (const action of [statement.Action].flat()) out.push({ action, resources });
      }
  }
  return out;
}

/** The bytes of one access-log line of `format`, each $context variable at a typical value. */
export function accessLogLineBytes(format: string): number {
  const line = format.replace(
    /\$context\.([A-Za-z.]+)/g,
    (_all, name: string) => ACCESS_LOG_VALUES[name] ?? '-',
  );
  return Buffer.byteLength(line) + 1;
}

/** Lambda's platform bytes per invocation for a function's LoggingConfig. */
export function platformBytes(loggingConfig: Record<string, unknown> | undefined): number {
  const format = loggingConfig?.LogFormat === 'JSON' ? 'JSON' : 'Text';
  if (format === 'JSON' && loggingConfig?.SystemLogLevel === 'WARN') return 0;
  return PLATFORM_LINES[format].reduce((sum, line) => sum + Buffer.byteLength(line), 0);
}

/**
 * What the stack costs a month with no traffic, from the packaged template and the metric series
 * a healthy run emitted (`series`). `queuesPolled`: the SQS event source mappings.
 */
export function fixedCosts(template: Template, prices: Prices, series: Set<string>): FixedLine[] {
  const resources = Object.values(template.Resources);
  const ofType = (type: string) => resources.filter((r) => r.Type === type);
  const lines: FixedLine[] = [];
  const cw = prices.cloudwatch;

  // Alarms: a standard alarm is priced per metric it reads (a metric-math alarm per metric in
  // its expression), a period under 60 s is a high-resolution alarm; a composite alarm is flat.
  let alarmMetrics = 0;
  let highResolution = 0;
  let alarmDollars = 0;
  for (const alarm of ofType('AWS::CloudWatch::Alarm')) {
    const p = alarm.Properties ?? {};
    const queries = (p.Metrics ?? []) as { MetricStat?: { Period?: number } }[];
    const stats = queries.filter((q) => q.MetricStat);
    const metrics = queries.length > 0 ? stats.length : 1;
    const period = Number(p.Period ?? stats[0]?.MetricStat?.Period ?? 60);
    const unit = period < 60 ? cw.highResolutionAlarmPerMonth : cw.standardAlarmPerMonth;
    if (period < 60) highResolution++;
    alarmMetrics += metrics;
    alarmDollars += metrics * unit;
  }
  const alarms = ofType('AWS::CloudWatch::Alarm').length;
  lines.push({
    name: 'alarms',
    count: alarms,
    dollars: alarmDollars,
    note: `${alarms} alarms reading ${alarmMetrics} metrics${highResolution ? `, ${highResolution} high-resolution` : ''}`,
  });
  const composite = ofType('AWS::CloudWatch::CompositeAlarm').length;
  if (composite > 0)
    lines.push({
      name: 'composite alarms',
      count: composite,
      dollars: composite * cw.compositeAlarmPerMonth,
      note: '',
    });
  const dashboards = ofType('AWS::CloudWatch::Dashboard').length;
  lines.push({
    name: 'dashboards',
    count: dashboards,
    dollars: dashboards * cw.dashboardPerMonth,
    note: "an account's first 3 dashboards (50 metrics each) are free",
  });
  // Custom metric series are billed per hour in which data arrives: the series a healthy run
  // emits arrive every hour at any of VOLUMES (10k a month is about 14 notifications an hour);
  // a series emitted only on failures (Retried, DeadLettered) costs about nothing in a healthy month.
  lines.push({
    name: 'metric series',
    count: series.size,
    dollars: series.size * cw.customMetricPerMonth,
    note: 'the EMF series a healthy run emitted; series emitted only on failures are billed only in hours they arrive',
  });
  // A metric filter publishes its series when a line matches, or on every log batch with a DefaultValue.
  let filterSeries = 0;
  for (const filter of ofType('AWS::Logs::MetricFilter')) {
    const transformations = (filter.Properties?.MetricTransformations ?? []) as { DefaultValue?: number }[];
    filterSeries += transformations.filter((t) => t.DefaultValue !== undefined).length;
  }
  if (ofType('AWS::Logs::MetricFilter').length > 0)
    lines.push({
      name: 'metric filter series',
      count: filterSeries,
      dollars: filterSeries * cw.customMetricPerMonth,
      note: 'metric filters with a DefaultValue (published every hour); those without publish only on a match',
    });
  const mappings = ofType('AWS::Lambda::EventSourceMapping').filter((m) =>
    JSON.stringify(m.Properties?.EventSourceArn ?? '').includes('Queue'),
  ).length;
  lines.push({
    name: 'idle queue polling',
    count: mappings,
    dollars: ((mappings * IDLE_RECEIVES_PER_QUEUE_MONTH) / 1e6) * prices.sqs.fifoPerMillionRequests,
    note: `${mappings} SQS event source mappings x 5 pollers x 3 empty receives a minute`,
  });
  const secrets = ofType('AWS::SecretsManager::Secret').length;
  // Secret reads: each function reads each secret it may read at most once per cache period.
  const actions = allowedActions(template);
  const secretReads = actions.filter((a) => a.action === 'secretsmanager:GetSecretValue');
  const secretGrants = secretReads.reduce((sum, a) => sum + a.resources.length, 0);
  lines.push({
    name: 'Secrets Manager secrets',
    count: secrets,
    dollars:
      secrets * prices.secretsManager.perSecretMonth +
      ((secretGrants * SECRET_READS_PER_MONTH) / 1e4) * prices.secretsManager.perTenThousandCalls,
    note: `${secrets} secrets, ${secretGrants} function grants read at most every 5 minutes`,
  });
  const parameterGrants = actions
    .filter((a) => a.action.startsWith('ssm:GetParameter'))
    .reduce((sum, a) => sum + a.resources.length, 0);
  const templateParameters = ofType('AWS::SSM::Parameter');
  if (parameterGrants > 0 || templateParameters.length > 0) {
    const advanced = templateParameters.filter((r) => r.Properties?.Tier === 'Advanced').length;
    lines.push({
      name: 'SSM parameters',
      count: parameterGrants,
      dollars:
        advanced * prices.ssm.advancedParameterPerMonth +
        templateParameters.filter((r) => r.Properties?.Tier !== 'Advanced').length *
          prices.ssm.standardParameterPerMonth +
        // A SecureString read with decryption is a KMS request (the aws/ssm key has no monthly fee).
        ((parameterGrants * SECRET_READS_PER_MONTH) / 1e4) * prices.kms.perTenThousandRequests,
      note: `${parameterGrants} parameter grants (standard tier: no monthly charge), each read at most every 5 minutes: KMS decrypt requests`,
    });
  }
  const keys = ofType('AWS::KMS::Key').length;
  if (keys > 0)
    lines.push({
      name: 'KMS keys',
      count: keys,
      dollars: keys * prices.kms.customerKeyPerMonth,
      note: '',
    });
  return lines;
}

/** A function's environment from the template, each reference resolved by `resolve(name, value)`. */
function environmentOf(
  fn: { Properties: Record<string, unknown> },
  resolve: (name: string, value: unknown) => string,
) {
  const variables = ((fn.Properties.Environment as { Variables?: Record<string, unknown> })?.Variables ??
    {}) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [
      name,
      typeof value === 'string' ? value : resolve(name, value),
    ]),
  );
}

/** DynamoDB items and capacity units of one call, from its request and answer (ReturnConsumedCapacity: TOTAL). */
function dynamoUsage(call: ProxiedCall): {
  reads: number;
  writes: number;
  readUnits: number;
  writeUnits: number;
} {
  const op = call.operation.replace(/^DynamoDB_20120810\./, '');
  const request = JSON.parse(call.request.toString('utf8') || '{}') as Record<string, unknown>;
  const answer = JSON.parse(call.response.toString('utf8') || '{}') as Record<string, unknown>;
  const consumed = [answer.ConsumedCapacity ?? []]
    .flat()
    .reduce((sum: number, c) => sum + Number((c as { CapacityUnits?: number }).CapacityUnits ?? 0), 0);
  const failedCondition = call.status === 400 && String(answer.__type).includes('ConditionalCheckFailed');
  switch (op) {
    case 'GetItem':
      return { reads: 1, writes: 0, readUnits: consumed, writeUnits: 0 };
    case 'BatchGetItem': {
      const keys = Object.values((request.RequestItems ?? {}) as Record<string, { Keys: unknown[] }>).reduce(
        (sum, table) => sum + table.Keys.length,
        0,
      );
      return { reads: keys, writes: 0, readUnits: consumed, writeUnits: 0 };
    }
    case 'Query':
    case 'Scan':
      return { reads: Math.max(1, Number(answer.Count ?? 0)), writes: 0, readUnits: consumed, writeUnits: 0 };
    case 'PutItem':
    case 'UpdateItem':
    case 'DeleteItem':
      // A write whose condition failed is charged too (at least one unit).
      return {
        reads: 0,
        writes: 1,
        readUnits: 0,
        writeUnits: failedCondition ? Math.max(1, consumed) : consumed,
      };
    case 'BatchWriteItem': {
      const items = Object.values((request.RequestItems ?? {}) as Record<string, unknown[]>).reduce(
        (sum, table) => sum + table.length,
        0,
      );
      return { reads: 0, writes: items, readUnits: 0, writeUnits: consumed };
    }
    default:
      throw new Error(`the cost bench does not price DynamoDB ${op} (dynalite has no transactions either)`);
  }
}

export async function measureCost(): Promise<CostBreakdown> {
  const prices = JSON.parse(readFileSync(join(repoRoot, 'bench/prices.json'), 'utf8')) as Prices;
  const dir = await mkdtemp(join(tmpdir(), 'relay-bench-cost-'));
  const aws = await startAwsEmulators();
  const dynamo = { reads: 0, writes: 0, readUnits: 0, writeUnits: 0 };
  const [sqsProxy, dynamoProxy, ssm, receiver, pagerduty, slack] = await Promise.all([
    startCountingProxy(aws.sqsEndpoint),
    startCountingProxy(aws.dynamoDbEndpoint, {
      // Ask every call for its consumed capacity; dynalite computes it as DynamoDB does.
      rewrite: (op, body) => {
        if (!ITEM_OPERATIONS.test(op)) return body;
        const request = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
        return Buffer.from(JSON.stringify({ ...request, ReturnConsumedCapacity: 'TOTAL' }));
      },
      inspect: (call) => {
        if (!ITEM_OPERATIONS.test(call.operation)) return;
        const usage = dynamoUsage(call);
        dynamo.reads += usage.reads;
        dynamo.writes += usage.writes;
        dynamo.readUnits += usage.readUnits;
        dynamo.writeUnits += usage.writeUnits;
      },
    }),
    startFakeSsm(),
    startWebhookReceiver(),
    startFakePagerDuty({ routingKeys: [SECRET_VALUES.PD_KEY] }),
    startFakeSlack({ token: SECRET_VALUES.SLACK_TOKEN, channels: ['C0COST0001'], burst: 1_000_000 }),
  ]);
  const saved = { ...process.env };
  const writes = {
    stdout: process.stdout.write.bind(process.stdout),
    stderr: process.stderr.write.bind(process.stderr),
  };
  try {
    const packageDir = await packageRelay(
      dir,
      [
        'ingest: { tokenSecret: INGEST_TOKEN }',
        'destinations:',
        `  - { name: audit, sink: webhook, url: "${receiver.url}" }`,
        `  - { name: pager, sink: pagerduty, routingKeySecret: PD_KEY, mode: group, baseUrl: "${pagerduty.url}" }`,
        // Storm mode as deployed by default (on): its bookkeeping is part of every new group's cost.
        `  - { name: team, sink: slack, tokenSecret: SLACK_TOKEN, channel: C0COST0001, baseUrl: "${slack.apiUrl}" }`,
        '',
      ].join('\n'),
    );
    const template = JSON.parse(
      await readFile(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as Template;
    const functions = functionsOf(template);
    const sinks = ['webhook', 'pagerduty', 'slack'] as const;
    for (const key of ['ingest', ...sinks])
      if (!functions.has(key)) throw new Error(`the packaged template has no ${key} function`);
    const memoryOf = (key: string) => Number(functions.get(key)?.Properties.MemorySize);
    const proxied = { sqs: aws.sqs, sqsEndpoint: sqsProxy.url };
    // The queues redrive after the receive count the template gives the functions.
    const webhookEnv = functions.get('webhook')?.Properties.Environment as
      | { Variables?: Record<string, unknown> }
      | undefined;
    const maxReceiveCount = Number(webhookEnv?.Variables?.MAX_RECEIVE_COUNT ?? 5);
    const queues = Object.fromEntries(
      await Promise.all(
        sinks.map(
          async (sink) =>
            [sink, await createSinkQueues(proxied, `relay-cost-${sink}`, { maxReceiveCount })] as const,
        ),
      ),
    ) as Record<(typeof sinks)[number], Awaited<ReturnType<typeof createSinkQueues>>>;
    const table = await createStateTable(aws.dynamoDb, 'relay-cost-state');

    // Each function's environment as the template sets it, its references resolved to the
    // emulators: queue URLs, the table; the SSM path gets the secrets as parameters.
    const resolve = (name: string, value: unknown): string => {
      const queue = /^(QUEUE|DLQ)_URL_([A-Z0-9_]+)$/.exec(name);
      const sink = queue ? (queue[2].toLowerCase() as (typeof sinks)[number]) : undefined;
      if (queue && sink && sink in queues)
        return queue[1] === 'QUEUE' ? queues[sink].queueUrl : queues[sink].dlqUrl;
      if (queue) return `${aws.sqsEndpoint}/000000000000/relay-cost-unused-${queue[2].toLowerCase()}`;
      if (name === 'STATE_TABLE') return table;
      throw new Error(`the cost bench cannot give ${name} a value for ${JSON.stringify(value)}`);
    };
    const environments = new Map(
      [...functions].map(([key, fn]) => [key, environmentOf(fn, resolve)] as const),
    );
    for (const environment of environments.values())
      for (const value of Object.values(environment))
        if (/^\/.+\/$/.test(value))
          for (const [name, secret] of Object.entries(SECRET_VALUES))
            ssm.parameters.set(`${value}${name}`, { type: 'SecureString', value: secret, version: 1 });
    const base = {
      ...saved,
      AWS_REGION: EMULATOR_REGION,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: sqsProxy.url,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoProxy.url,
      AWS_ENDPOINT_URL_SSM: ssm.url,
    };
    /** Runs `run` with the process environment of function `key` (the template's, resolved). */
    const asFunction = async <T>(key: string, run: () => Promise<T>): Promise<T> => {
      // No Sentry in the cost run: a DSN sends nothing on a healthy path anyway.
      process.env = { ...base, ...environments.get(key), SENTRY_DSN: '' };
      try {
        return await run();
      } finally {
        process.env = { ...saved };
      }
    };
    const ingest = await asFunction('ingest', async () =>
      resolveHandler<APIGatewayProxyEventV2, APIGatewayProxyResultV2>(
        await unpackFunction(packageDir, 'ingest'),
      ),
    );
    const sinkHandlers = {} as Record<(typeof sinks)[number], SqsHandler>;
    for (const sink of sinks)
      sinkHandlers[sink] = await asFunction(sink, async () =>
        resolveHandler(await unpackFunction(packageDir, sink)),
      );
    const poller = new SQSClient({
      region: EMULATOR_REGION,
      credentials: EMULATOR_CREDENTIALS,
      endpoint: sqsProxy.url,
    });

    // Everything the handlers write to stdout/stderr is what CloudWatch Logs ingests (logs and EMF).
    let logBytes = 0;
    let lastLines = '';
    const series = new Set<string>();
    const capture = (text: string | Uint8Array) => {
      const line = typeof text === 'string' ? text : Buffer.from(text).toString('utf8');
      logBytes += Buffer.byteLength(line);
      lastLines = (lastLines + line).slice(-3000);
      for (const piece of line.split('\n')) {
        if (!piece.includes('"_aws"')) continue;
        const record = JSON.parse(piece) as {
          _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] };
        } & Record<string, unknown>;
        for (const directive of record._aws.CloudWatchMetrics)
          for (const dimensions of directive.Dimensions)
            for (const metric of directive.Metrics)
              series.add(`${metric.Name}|${dimensions.map((d) => `${d}=${record[d]}`).join(',')}`);
      }
      return true;
    };
    let vendorCalls = 0;
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      vendorCalls++;
      return realFetch(input, init);
    };
    let gbSeconds = 0;
    let invocations = 0;
    let platformLogBytes = 0;
    const awsCalls = () =>
      [...sqsProxy.counts.values(), ...dynamoProxy.counts.values()].reduce((sum, n) => sum + n, 0);
    const timed = async <T>(key: string, run: () => Promise<T>): Promise<T> => {
      const [callsBefore, vendorBefore] = [awsCalls(), vendorCalls];
      const started = performance.now();
      process.stdout.write = capture as typeof process.stdout.write;
      process.stderr.write = capture as typeof process.stderr.write;
      try {
        return await asFunction(key, run);
      } finally {
        process.stdout.write = writes.stdout;
        process.stderr.write = writes.stderr;
        const ms =
          Math.ceil(performance.now() - started) +
          (awsCalls() - callsBefore) * AWS_CALL_MS +
          (vendorCalls - vendorBefore) * VENDOR_CALL_MS;
        gbSeconds += (ms / 1000) * (memoryOf(key) / 1024);
        invocations++;
        platformLogBytes += platformBytes(
          functions.get(key)?.Properties.LoggingConfig as Record<string, unknown> | undefined,
        );
      }
    };

    let notifications = 0;
    try {
      for (let group = 0; group < GROUPS; group++) {
        for (const status of ['firing', 'resolved'] as const) {
          const body = JSON.stringify(
            makeNotification({
              status,
              count: 2,
              groupKey: `{}:{alertname="CostBench${group}"}`,
              startsAt: '2026-11-29T10:00:00.000Z',
              labels: (i) => ({
                alertname: `CostBench${group}`,
                instance: `web-${i}:9100`,
                severity: 'critical',
              }),
            }),
          );
          const answer = (await timed('ingest', () =>
            ingest(
              apiGatewayEvent(body, SECRET_VALUES.INGEST_TOKEN),
              lambdaContext('ingest', 10, memoryOf('ingest')),
            ),
          )) as { statusCode: number };
          if (answer.statusCode !== 202)
            throw new Error(`ingest answered ${answer.statusCode}:\n${lastLines}`);
          notifications++;
          // Sparse traffic, as Alertmanager sends it: each message is its own batch.
          await sleep(PACING_MS);
          for (const sink of sinks) {
            const wrapped: SqsHandler = (event, context) =>
              timed(sink, () => sinkHandlers[sink](event, context));
            const { records, failed } = await pollOnce(
              poller,
              { url: queues[sink].queueUrl, arn: queues[sink].queueArn },
              wrapped,
              () => lambdaContext(sink, 30, memoryOf(sink)),
            );
            if (records !== 1 || failed !== 0) {
              throw new Error(
                `${sink}: ${records} records, ${failed} failed; its last log lines:\n${lastLines}`,
              );
            }
          }
        }
      }
    } finally {
      globalThis.fetch = realFetch;
    }

    // The stage's access log: one line per request, when the template has one.
    const stage = Object.values(template.Resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage');
    const accessFormat = (stage?.Properties?.AccessLogSettings as { Format?: string } | undefined)?.Format;
    const accessBytes = accessFormat ? accessLogLineBytes(accessFormat) : 0;

    const sqsRequests = [...sqsProxy.counts.values()].reduce((sum, n) => sum + n, 0);
    const per = (n: number) => n / notifications;
    const perNotification = {
      apiGatewayRequests: 1,
      lambdaInvocations: per(invocations),
      lambdaGbSeconds: per(gbSeconds),
      sqsRequests: per(sqsRequests),
      stateReads: per(dynamo.reads),
      stateWrites: per(dynamo.writes),
      dynamoReadUnits: per(dynamo.readUnits),
      dynamoWriteUnits: per(dynamo.writeUnits),
      appLogBytes: per(logBytes),
      platformLogBytes: per(platformLogBytes),
      accessLogBytes: accessBytes,
      vendorCalls: per(vendorCalls),
    };
    const million = 1_000_000;
    const logDollarsPerByte =
      (prices.cloudwatch.logsIngestionPerGb + prices.cloudwatch.logsStoragePerGbMonth) / 1024 ** 3;
    const variablePerMillion = {
      apiGateway: prices.apiGateway.httpApiPerMillionRequests,
      lambdaRequests: perNotification.lambdaInvocations * prices.lambda.requestPerMillion,
      lambdaCompute: perNotification.lambdaGbSeconds * million * prices.lambda.arm64PerGbSecond,
      sqs: perNotification.sqsRequests * prices.sqs.fifoPerMillionRequests,
      dynamodbReads: perNotification.dynamoReadUnits * prices.dynamodb.onDemandPerMillionReadUnits,
      dynamodbWrites: perNotification.dynamoWriteUnits * prices.dynamodb.onDemandPerMillionWriteUnits,
      logs: perNotification.appLogBytes * million * logDollarsPerByte,
      platformLogs: perNotification.platformLogBytes * million * logDollarsPerByte,
      accessLogs: perNotification.accessLogBytes * million * logDollarsPerByte,
    };
    const variable = Object.values(variablePerMillion).reduce((sum, n) => sum + n, 0);
    const fixed = fixedCosts(template, prices, series);
    const fixedPerMonth = fixed.reduce((sum, line) => sum + line.dollars, 0);
    const operations = Object.fromEntries(
      [...sqsProxy.counts, ...dynamoProxy.counts].map(([op, n]) => [
        op.replace(/^(AmazonSQS|DynamoDB_20120810)\./, ''),
        round(n / notifications, 2),
      ]),
    );
    return {
      notifications,
      operations,
      perNotification,
      variablePerMillion,
      variable,
      fixed,
      fixedPerMonth,
      monthly: VOLUMES.map((n) => ({
        notifications: n,
        fixed: fixedPerMonth,
        variable: (variable * n) / million,
        total: fixedPerMonth + (variable * n) / million,
      })),
    };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    process.env = saved;
    await Promise.all([
      aws.stop(),
      sqsProxy.close(),
      dynamoProxy.close(),
      ssm.close(),
      receiver.close(),
      pagerduty.close(),
      slack.close(),
    ]);
    await rm(dir, { recursive: true, force: true });
  }
}

const volume = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
const dollars = (n: number) => `$${n.toFixed(2)}`;

export async function benchCost(): Promise<BenchResult[]> {
  const cost = await measureCost();
  const p = cost.perNotification;
  const v = cost.variablePerMillion;
  process.stdout.write(`\n  cost: ${JSON.stringify(cost)}\n`);
  const destinations = '3 destinations (webhook, PagerDuty group mode, Slack with storm mode on)';
  const variableDetail = [
    `API Gateway ${dollars(v.apiGateway)}`,
    `Lambda ${dollars(v.lambdaRequests + v.lambdaCompute)} (${round(p.lambdaInvocations, 1)} invocations, ${round(p.lambdaGbSeconds, 4)} GB-s)`,
    `SQS ${dollars(v.sqs)} (${round(p.sqsRequests, 1)} requests)`,
    `DynamoDB ${dollars(v.dynamodbReads + v.dynamodbWrites)} (${round(p.dynamoReadUnits, 2)} RRU + ${round(p.dynamoWriteUnits, 2)} WRU)`,
    `logs ${dollars(v.logs + v.platformLogs + v.accessLogs)} (${Math.round(p.appLogBytes)} B own + ${Math.round(p.platformLogBytes)} B Lambda platform + ${p.accessLogBytes} B access log)`,
  ].join(', ');
  const fixedDetail = cost.fixed
    .filter((line) => line.dollars > 0 || line.count > 0)
    .map((line) => `${line.name} ${dollars(line.dollars)} (${line.count})`)
    .join(', ');
  return [
    result({
      name: `AWS cost, variable, ${destinations}, us-east-1 list prices: ${variableDetail}`,
      value: cost.variable,
      unit: '$ per million notifications',
      baseline: null,
      target: `<= $${VARIABLE_TARGET_PER_MILLION}`,
      met: cost.variable <= VARIABLE_TARGET_PER_MILLION,
    }),
    result({
      name: `AWS cost, fixed (the packaged template and the metric series of a healthy month): ${fixedDetail}`,
      value: cost.fixedPerMonth,
      unit: '$ per month',
      baseline: null,
      target: `<= $${FIXED_TARGET_PER_MONTH}`,
      met: cost.fixedPerMonth <= FIXED_TARGET_PER_MONTH,
    }),
    result({
      name: 'state store reads per notification',
      value: p.stateReads,
      unit: 'items',
      baseline: null,
      target: `<= ${STATE_READS_TARGET}`,
      met: p.stateReads <= STATE_READS_TARGET,
    }),
    result({
      name: 'state store writes per notification',
      value: p.stateWrites,
      unit: 'items',
      baseline: null,
      target: `<= ${STATE_WRITES_TARGET}`,
      met: p.stateWrites <= STATE_WRITES_TARGET,
    }),
    ...cost.monthly.map((m) =>
      result({
        name: `AWS cost at ${volume(m.notifications)} notifications a month: fixed ${dollars(m.fixed)} + variable ${dollars(m.variable)} (${dollars((m.total / m.notifications) * 1e6)} per million at this volume)`,
        value: m.total,
        unit: '$ per month',
        baseline: null,
        target: null,
        met: null,
      }),
    ),
  ];
}

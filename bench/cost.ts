/**
 * Figure: what AWS charges per million notifications with three destinations (webhook,
 * PagerDuty in group mode, Slack), counted in an emulator-backed run of the PACKAGED functions
 * (test/support/packaged-lambda.ts): `npm run package` with that config, each zip's handler
 * resolved as the Lambda runtime does, SQS in fauxqs and DynamoDB in dynalite behind counting
 * proxies (every SQS and DynamoDB call the bundles and the event source mapping make), the
 * vendors as the test fakes. Per notification it counts API Gateway requests, Lambda
 * invocations and GB-s (measured handler time plus modelled network time, below), SQS requests
 * (64 KB chunks), DynamoDB read and write units (from item sizes), log bytes written and the
 * EMF metric series; bench/prices.json (dated, us-east-1 list prices) prices them.
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
  startSecretsServer,
} from '../test/support/aws-emulators.ts';
import { startFakePagerDuty } from '../test/support/fake-pagerduty.ts';
import { startFakeSlack } from '../test/support/fake-slack.ts';
import { makeNotification } from '../test/support/notifications.ts';
import {
  apiGatewayEvent,
  type LambdaHandler,
  lambdaContext,
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
/** Time between notifications: above the Slack pacing interval, so the run measures deliveries, not pacing retries. */
const PACING_MS = 2100;
/** Monthly volume the fixed costs (alarms, dashboard, metric series, idle polling, secret) are spread over. */
export const MONTHLY_NOTIFICATIONS = 1_000_000;
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

interface Prices {
  checked: string;
  lambda: { requestPerMillion: number; arm64PerGbSecond: number };
  sqs: { fifoPerMillionRequests: number; billedChunkBytes: number };
  dynamodb: {
    onDemandPerMillionWriteUnits: number;
    onDemandPerMillionReadUnits: number;
    writeUnitBytes: number;
    strongReadUnitBytes: number;
  };
  apiGateway: { httpApiPerMillionRequests: number };
  cloudwatch: {
    logsIngestionPerGb: number;
    logsStoragePerGbMonth: number;
    customMetricPerMonth: number;
    standardAlarmPerMonth: number;
    dashboardPerMonth: number;
  };
  secretsManager: { perSecretMonth: number; perTenThousandCalls: number };
}

type SqsHandler = LambdaHandler<SQSEvent, { batchItemFailures: { itemIdentifier: string }[] }>;

/** The counts of one run, per notification, and what they cost per million notifications. */
export interface CostBreakdown {
  notifications: number;
  /** Calls per notification by SQS/DynamoDB operation. */
  operations: Record<string, number>;
  perNotification: Record<string, number>;
  dollarsPerMillion: Record<string, number>;
  fixedPerMonth: Record<string, number>;
  total: number;
}

export async function measureCost(): Promise<CostBreakdown> {
  const prices = JSON.parse(readFileSync(join(repoRoot, 'bench/prices.json'), 'utf8')) as Prices;
  const dir = await mkdtemp(join(tmpdir(), 'relay-bench-cost-'));
  const aws = await startAwsEmulators();
  const [sqsProxy, dynamoProxy, secrets, receiver, pagerduty, slack] = await Promise.all([
    startCountingProxy(aws.sqsEndpoint),
    startCountingProxy(aws.dynamoDbEndpoint),
    startSecretsServer('relay-cost', {
      INGEST_TOKEN: 'cost-token',
      PD_KEY: 'R0123456789abcdef0123456789abcde',
      SLACK_TOKEN: 'xoxb-cost',
    }),
    startWebhookReceiver(),
    startFakePagerDuty({ routingKeys: ['R0123456789abcdef0123456789abcde'] }),
    startFakeSlack({ token: 'xoxb-cost', channels: ['C0COST0001'], burst: 1_000_000 }),
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
        // Storm mode off: the run posts its groups faster than a steady day would (more than ten
        // new groups a minute) and the figure is the cost of the ordinary path, a message per group.
        `  - { name: team, sink: slack, tokenSecret: SLACK_TOKEN, channel: C0COST0001, baseUrl: "${slack.apiUrl}", storm: false }`,
        '',
      ].join('\n'),
    );
    const template = JSON.parse(
      await readFile(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const memoryOf = (key: string) =>
      Number(
        Object.values(template.Resources).find(
          (r) =>
            r.Type === 'AWS::Lambda::Function' &&
            String((r.Properties.Code as { S3Key: string }).S3Key).endsWith(`/${key}.zip`),
        )?.Properties.MemorySize,
      );
    // The environment serverless.yml gives every function (LOG_LEVEL), as packaged.
    const ingestFunction = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        String((r.Properties.Code as { S3Key: string }).S3Key).endsWith('/ingest.zip'),
    );
    if (!ingestFunction) throw new Error('the packaged template has no ingest function');
    const logLevel = (ingestFunction.Properties.Environment as { Variables: Record<string, unknown> })
      .Variables.LOG_LEVEL;
    const sinks = ['webhook', 'pagerduty', 'slack'] as const;
    const proxied = { sqs: aws.sqs, sqsEndpoint: sqsProxy.url };
    const queues = Object.fromEntries(
      await Promise.all(
        sinks.map(async (sink) => [sink, await createSinkQueues(proxied, `relay-cost-${sink}`)] as const),
      ),
    ) as Record<(typeof sinks)[number], Awaited<ReturnType<typeof createSinkQueues>>>;
    const table = await createStateTable(aws.dynamoDb, 'relay-cost-state');
    Object.assign(process.env, {
      AWS_REGION: EMULATOR_REGION,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: sqsProxy.url,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoProxy.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      RELAY_SECRET_ID: 'relay-cost',
      STATE_TABLE: table,
      MAX_RECEIVE_COUNT: '5',
      SENTRY_DSN: '',
      LOG_LEVEL: String(logLevel),
      ...Object.fromEntries(
        sinks.flatMap((sink) => [
          [`QUEUE_URL_${sink.toUpperCase()}`, queues[sink].queueUrl],
          [`DLQ_URL_${sink.toUpperCase()}`, queues[sink].dlqUrl],
        ]),
      ),
    });
    const ingest = await resolveHandler<APIGatewayProxyEventV2, APIGatewayProxyResultV2>(
      await unpackFunction(packageDir, 'ingest'),
    );
    const sinkHandlers = Object.fromEntries(
      await Promise.all(
        sinks.map(
          async (sink) => [sink, await resolveHandler(await unpackFunction(packageDir, sink))] as const,
        ),
      ),
    ) as Record<(typeof sinks)[number], SqsHandler>;
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
    const awsCalls = () =>
      [...sqsProxy.counts.values(), ...dynamoProxy.counts.values()].reduce((sum, n) => sum + n, 0);
    const timed = async <T>(memoryMb: number, run: () => Promise<T>): Promise<T> => {
      const [callsBefore, vendorBefore] = [awsCalls(), vendorCalls];
      const started = performance.now();
      process.stdout.write = capture as typeof process.stdout.write;
      process.stderr.write = capture as typeof process.stderr.write;
      try {
        return await run();
      } finally {
        process.stdout.write = writes.stdout;
        process.stderr.write = writes.stderr;
        const ms =
          Math.ceil(performance.now() - started) +
          (awsCalls() - callsBefore) * AWS_CALL_MS +
          (vendorCalls - vendorBefore) * VENDOR_CALL_MS;
        gbSeconds += (ms / 1000) * (memoryMb / 1024);
        invocations++;
      }
    };

    const ingestMemory = memoryOf('ingest');
    let notifications = 0;
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
        const answer = (await timed(ingestMemory, () =>
          ingest(apiGatewayEvent(body, 'cost-token'), lambdaContext('ingest', 10, ingestMemory)),
        )) as { statusCode: number };
        if (answer.statusCode !== 202) throw new Error(`ingest answered ${answer.statusCode}`);
        notifications++;
        // Sparse traffic, as Alertmanager sends it: each message is its own batch, and a Slack
        // channel gets about a message a second at most (the relay's own pacing, the chat stage's budget in lib/delivery/pacing.ts).
        await sleep(PACING_MS);
        for (const sink of sinks) {
          const memory = memoryOf(sink);
          const wrapped: SqsHandler = (event, context) =>
            timed(memory, () => sinkHandlers[sink](event, context));
          const { records, failed } = await pollOnce(
            poller,
            { url: queues[sink].queueUrl, arn: queues[sink].queueArn },
            wrapped,
            () => lambdaContext(sink, 30, memory),
          );
          if (records !== 1 || failed !== 0) {
            throw new Error(
              `${sink}: ${records} records, ${failed} failed; its last log lines:\n${lastLines}`,
            );
          }
        }
      }
    }
    globalThis.fetch = realFetch;

    const count = (counts: Map<string, number>, prefix: string) =>
      [...counts].filter(([op]) => op.startsWith(prefix)).reduce((sum, [, n]) => sum + n, 0);
    // One unit per call: every item the relay keeps is a small record (a delivery, a journal step,
    // a Slack ts) under DynamoDB's 1 KB write unit and 4 KB strongly consistent read unit.
    const sqsRequests = [...sqsProxy.counts.values()].reduce((sum, n) => sum + n, 0);
    const reads = count(dynamoProxy.counts, 'DynamoDB_20120810.GetItem');
    const writesCount =
      count(dynamoProxy.counts, 'DynamoDB_20120810.PutItem') +
      count(dynamoProxy.counts, 'DynamoDB_20120810.DeleteItem');
    const per = (n: number) => n / notifications;
    const perNotification = {
      apiGatewayRequests: 1,
      lambdaInvocations: per(invocations),
      lambdaGbSeconds: per(gbSeconds),
      sqsRequests: per(sqsRequests),
      dynamoReadUnits: per(reads),
      dynamoWriteUnits: per(writesCount),
      logBytes: per(logBytes),
      vendorCalls: per(vendorCalls),
    };
    const million = 1_000_000;
    const dollarsPerMillion = {
      apiGateway: prices.apiGateway.httpApiPerMillionRequests,
      lambdaRequests: perNotification.lambdaInvocations * prices.lambda.requestPerMillion,
      lambdaCompute: perNotification.lambdaGbSeconds * million * prices.lambda.arm64PerGbSecond,
      sqs: perNotification.sqsRequests * prices.sqs.fifoPerMillionRequests,
      dynamodb:
        perNotification.dynamoReadUnits * prices.dynamodb.onDemandPerMillionReadUnits +
        perNotification.dynamoWriteUnits * prices.dynamodb.onDemandPerMillionWriteUnits,
      logs:
        ((perNotification.logBytes * million) / 1024 ** 3) *
        (prices.cloudwatch.logsIngestionPerGb + prices.cloudwatch.logsStoragePerGbMonth),
    };
    const alarms = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::CloudWatch::Alarm',
    ).length;
    const fixedPerMonth = {
      metricSeries: series.size * prices.cloudwatch.customMetricPerMonth,
      alarms: alarms * prices.cloudwatch.standardAlarmPerMonth,
      dashboard: prices.cloudwatch.dashboardPerMonth,
      idlePolling:
        ((sinks.length * IDLE_RECEIVES_PER_QUEUE_MONTH) / million) * prices.sqs.fifoPerMillionRequests,
      secret: prices.secretsManager.perSecretMonth,
    };
    const variable = Object.values(dollarsPerMillion).reduce((sum, n) => sum + n, 0);
    const fixed = Object.values(fixedPerMonth).reduce((sum, n) => sum + n, 0);
    const operations = Object.fromEntries(
      [...sqsProxy.counts, ...dynamoProxy.counts].map(([op, n]) => [
        op.replace(/^(AmazonSQS|DynamoDB_20120810)\./, ''),
        round(n / notifications, 2),
      ]),
    );
    return {
      notifications,
      operations,
      perNotification: { ...perNotification, metricSeries: series.size, alarms },
      dollarsPerMillion,
      fixedPerMonth,
      total: variable + (fixed * million) / MONTHLY_NOTIFICATIONS,
    };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    process.env = saved;
    await Promise.all([
      aws.stop(),
      sqsProxy.close(),
      dynamoProxy.close(),
      secrets.close(),
      receiver.close(),
      pagerduty.close(),
      slack.close(),
    ]);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchCost(): Promise<BenchResult[]> {
  const cost = await measureCost();
  const p = cost.perNotification;
  const detail =
    `${round(p.sqsRequests, 1)} SQS requests, ${round(p.dynamoReadUnits, 1)} DynamoDB reads + ${round(p.dynamoWriteUnits, 1)} writes, ` +
    `${round(p.lambdaInvocations, 1)} invocations / ${round(p.lambdaGbSeconds, 4)} GB-s, ${Math.round(p.logBytes)} log bytes per notification; ` +
    `${p.metricSeries} metric series, ${p.alarms} alarms; fixed costs spread over ${MONTHLY_NOTIFICATIONS / 1e6}M notifications/month`;
  process.stdout.write(`\n  cost: ${JSON.stringify(cost)}\n`);
  return [
    result({
      name: `AWS cost, 3 destinations (webhook, PagerDuty group mode, Slack), us-east-1 list prices: ${detail}`,
      value: cost.total,
      unit: '$ per million notifications',
      baseline: null,
      target: '<= $15',
      met: cost.total <= 15,
    }),
  ];
}

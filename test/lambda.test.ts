import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { GetParametersCommand, type GetParametersCommandInput, SSMClient } from '@aws-sdk/client-ssm';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, ScheduledEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Notification } from '../lib/alertmanager/types.ts';
import { ConfigError, parseConfig } from '../lib/config/load.ts';
import { groupStateKey } from '../lib/delivery/group-state.ts';
import { awsIngest, awsSink, awsWatchdog } from '../lib/lambda.ts';
import { queueDeduplicationId } from '../lib/queue/idempotency.ts';
import type { QueueMessage } from '../lib/queue/message.ts';
import { consoleSink } from '../lib/sinks/console/console.ts';
import { webhookId, webhookSink } from '../lib/sinks/webhook/webhook.ts';

const ACCOUNT = 'https://sqs.eu-west-1.amazonaws.com/123456789012';
const QUEUES = {
  QUEUE_URL_CONSOLE: `${ACCOUNT}/relay-ci-console.fifo`,
  QUEUE_URL_WEBHOOK: `${ACCOUNT}/relay-ci-webhook.fifo`,
  DLQ_URL_CONSOLE: `${ACCOUNT}/relay-ci-console-dlq.fifo`,
  DLQ_URL_WEBHOOK: `${ACCOUNT}/relay-ci-webhook-dlq.fifo`,
};
const SECRETS_PATH = '/relay-ci/';
const INGEST_TOKEN = 'ingest-token-9d1c4b7a-NEVER-PRINT';
const HOOK_SECRET = `whsec_${Buffer.from('signing-key-for-the-audit-hook-32b').toString('base64')}`;
const HOOK_URL = 'https://hooks.example.com/relay';

const RELAY_YAML = `
ingest:
  tokenSecret: INGEST_TOKEN
destinations:
  - name: stdout
    sink: console
  - name: audit
    sink: webhook
    url: ${HOOK_URL}
    signingSecret: AUDIT_HOOK_SECRET
    matchers: ['severity="critical"']
`;

const notification: Notification = {
  receiver: 'lambda',
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'GW0api1', instance: 'host1:9100', severity: 'critical' },
      annotations: { summary: 'test GW0api1' },
      startsAt: '2026-11-21T11:41:47.157482837Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prom.local/graph',
      fingerprint: 'ec823e990a83f493',
    },
    {
      status: 'firing',
      labels: { alertname: 'GW0api1', instance: 'host2:9100', severity: 'warning' },
      annotations: { summary: 'test GW0api1' },
      startsAt: '2026-11-21T11:41:47.157482837Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prom.local/graph',
      fingerprint: '1d2c3b4a59687706',
    },
  ],
  groupLabels: { alertname: 'GW0api1' },
  commonLabels: { alertname: 'GW0api1' },
  commonAnnotations: { summary: 'test GW0api1' },
  externalURL: 'http://vm:9093',
  version: '4',
  groupKey: '{}:{alertname="GW0api1"}',
  truncatedAlerts: 0,
};

const sqsMock = mockClient(SQSClient);
const secretsMock = mockClient(SSMClient);
const ddbMock = mockClient(DynamoDBDocumentClient);

function apiEvent(body: string, token = INGEST_TOKEN, requestId = 'req-1'): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /alertmanager',
    rawPath: '/alertmanager',
    rawQueryString: '',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'user-agent': 'Alertmanager/0.25.0',
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: {
        method: 'POST',
        path: '/alertmanager',
        protocol: 'HTTP/1.1',
        sourceIp: '192.0.2.10',
        userAgent: 'Alertmanager/0.25.0',
      },
      requestId,
      routeKey: 'POST /alertmanager',
      stage: '$default',
      time: '21/Nov/2026:12:00:00 +0000',
      timeEpoch: Date.UTC(2026, 10, 21, 12),
    },
    body,
    isBase64Encoded: false,
  };
}

/** What Lambda's event source mapping would hand the sink function for an entry SQS accepted. */
function toRecord(entry: SendMessageBatchRequestEntry, queueUrl: string, receiveCount = 1): SQSRecord {
  const name = queueUrl.split('/').pop() ?? '';
  return {
    messageId: `msg-${entry.Id}`,
    receiptHandle: `rh-${entry.Id}`,
    body: entry.MessageBody ?? '',
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '1795262400000',
      SenderId: 'AROAEXAMPLE:ingest',
      ApproximateFirstReceiveTimestamp: '1795262400100',
      SequenceNumber: '18880000000000000001',
      MessageGroupId: entry.MessageGroupId,
      MessageDeduplicationId: entry.MessageDeduplicationId,
    },
    messageAttributes: {},
    md5OfBody: '0'.repeat(32),
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:eu-west-1:123456789012:${name}`,
    awsRegion: 'eu-west-1',
  };
}

/** The entries ingest sent, per queue URL. */
function sentEntries(): Map<string, SendMessageBatchRequestEntry[]> {
  const byQueue = new Map<string, SendMessageBatchRequestEntry[]>();
  for (const call of sqsMock.commandCalls(SendMessageBatchCommand)) {
    const { QueueUrl, Entries } = call.args[0].input;
    byQueue.set(QueueUrl ?? '', [...(byQueue.get(QueueUrl ?? '') ?? []), ...(Entries ?? [])]);
  }
  return byQueue;
}

/** Captures process.stdout while letting the console sink's write callback complete. */
function captureStdout(): string[] {
  const output: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(((
    chunk: unknown,
    encoding?: unknown,
    callback?: unknown,
  ) => {
    output.push(String(chunk));
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') done();
    return true;
  }) as typeof process.stdout.write);
  return output;
}

describe('Module: lambda wiring', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    sqsMock.reset();
    secretsMock.reset();
    ddbMock.reset();
    // Quiet logs and no EMF lines on stdout; the config as the build bundles it.
    vi.stubEnv('LOG_LEVEL', 'SILENT');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    vi.stubEnv('RELAY_BUNDLED_CONFIG', JSON.stringify(parseConfig(RELAY_YAML, 'test')));
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    dir = await mkdtemp(join(tmpdir(), 'relay-lambda-'));
    env = {
      RELAY_SECRETS_PATH: SECRETS_PATH,
      STATE_TABLE: 'relay-ci-state',
      MAX_RECEIVE_COUNT: '5',
      ...QUEUES,
    };
    // SSM Parameter Store as GetParameters answers: the parameters it holds, the others invalid.
    const parameters = new Map([
      [`${SECRETS_PATH}INGEST_TOKEN`, INGEST_TOKEN],
      [`${SECRETS_PATH}AUDIT_HOOK_SECRET`, HOOK_SECRET],
    ]);
    secretsMock.on(GetParametersCommand).callsFake((input: GetParametersCommandInput) => ({
      Parameters: (input.Names ?? [])
        .filter((name) => parameters.has(name))
        .map((name) => ({ Name: name, Type: 'SecureString', Value: parameters.get(name) })),
      InvalidParameters: (input.Names ?? []).filter((name) => !parameters.has(name)),
    }));
    sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
      Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `sqs-${e.Id}`, MD5OfMessageBody: 'x' })),
      Failed: [],
    }));
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    // The state table in memory: the relay reads back what it wrote (group state, attempt counts).
    const table = new Map<string, Record<string, unknown>>();
    ddbMock.on(PutCommand).callsFake((input: { Item: { pk: string } }) => {
      table.set(input.Item.pk, input.Item);
      return {};
    });
    ddbMock.on(GetCommand).callsFake((input: { Key: { pk: string } }) => ({ Item: table.get(input.Key.pk) }));
    ddbMock.on(DeleteCommand).callsFake((input: { Key: { pk: string } }) => {
      table.delete(input.Key.pk);
      return {};
    });
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    vi.unstubAllGlobals();
    await rm(dir, { recursive: true, force: true });
  });

  describe('Function: awsIngest', () => {
    it('should build an ingest handler that authenticates with the secret and enqueues on each sink’s queue', async () => {
      // Prepare
      const { handler } = awsIngest(env);

      // Act
      const response = await handler(apiEvent(JSON.stringify(notification)));

      // Assess
      expect(response.statusCode).toBe(202);
      expect(JSON.parse(response.body ?? '')).toEqual({
        notification: notification.groupKey,
        destinations: [
          { name: 'stdout', alerts: 2 },
          { name: 'audit', alerts: 1 },
        ],
      });
      // Ingest reads its token's parameter, and no other.
      expect(secretsMock.commandCalls(GetParametersCommand).map((call) => call.args[0].input)).toEqual([
        { Names: [`${SECRETS_PATH}INGEST_TOKEN`], WithDecryption: true },
      ]);
      const sent = sentEntries();
      expect([...sent.keys()].sort()).toEqual([QUEUES.QUEUE_URL_CONSOLE, QUEUES.QUEUE_URL_WEBHOOK]);
      const [webhookEntry] = sent.get(QUEUES.QUEUE_URL_WEBHOOK) ?? [];
      const body = JSON.parse(webhookEntry.MessageBody ?? '') as QueueMessage;
      expect(body.destination).toBe('audit');
      expect(body.notification.alerts.map((a) => a.fingerprint)).toEqual(['ec823e990a83f493']);
      expect(webhookEntry.MessageGroupId).toMatch(/^audit:/);
      expect(webhookEntry.MessageDeduplicationId).toBe(queueDeduplicationId(body.idempotencyKey, 'req-1'));
    });

    it('should answer 401 for a wrong token without enqueuing', async () => {
      // Prepare
      const { handler } = awsIngest(env);

      // Act
      const response = await handler(apiEvent(JSON.stringify(notification), 'wrong-token'));

      // Assess
      expect(response.statusCode).toBe(401);
      expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    });

    it('should answer 503 when SQS lists an entry in Failed, so Alertmanager retries', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
        Successful: [],
        Failed: input.Entries.map((e) => ({ Id: e.Id, SenderFault: false, Code: 'InternalError' })),
      }));
      const { handler } = awsIngest(env);

      // Act
      const response = await handler(apiEvent(JSON.stringify(notification)));

      // Assess
      expect(response.statusCode).toBe(503);
    });

    it('should use a bundled config when the build injected one', async () => {
      // Prepare
      vi.stubEnv(
        'RELAY_BUNDLED_CONFIG',
        JSON.stringify({
          ingest: { tokenSecret: 'INGEST_TOKEN' },
          destinations: [{ name: 'only-console', sink: 'console' }],
        }),
      );
      const { handler } = awsIngest(env);

      // Act
      const response = await handler(apiEvent(JSON.stringify(notification)));

      // Assess
      expect(response.statusCode).toBe(202);
      expect(JSON.parse(response.body ?? '').destinations).toEqual([{ name: 'only-console', alerts: 2 }]);
      expect([...sentEntries().keys()]).toEqual([QUEUES.QUEUE_URL_CONSOLE]);
    });

    it('should fail clearly when RELAY_SECRETS_PATH is missing', () => {
      // Prepare
      const { RELAY_SECRETS_PATH: _, ...rest } = env;

      // Act & Assess
      expect(() => awsIngest(rest)).toThrow('environment variable RELAY_SECRETS_PATH is not set');
    });

    it('should fail clearly when the queue URL of a configured sink is missing', () => {
      // Prepare
      const { QUEUE_URL_WEBHOOK: _, ...rest } = env;

      // Act & Assess
      expect(() => awsIngest(rest)).toThrow('environment variable QUEUE_URL_WEBHOOK is not set');
    });

    it('should fail clearly when the bundle carries no config', () => {
      // Prepare
      vi.stubEnv('RELAY_BUNDLED_CONFIG', '');

      // Act & Assess
      expect(() => awsIngest(env)).toThrow(ConfigError);
      expect(() => awsIngest(env)).toThrow(
        /RELAY_BUNDLED_CONFIG is empty: build the functions with `npm run build`/,
      );
    });

    it('should refuse to start without an ingest token', () => {
      // Prepare
      vi.stubEnv(
        'RELAY_BUNDLED_CONFIG',
        JSON.stringify({ ingest: {}, destinations: [{ name: 'a', sink: 'console' }] }),
      );

      // Act & Assess
      expect(() => awsIngest(env)).toThrow('ingest.tokenSecret is not configured');
    });
  });

  describe('Function: awsSink', () => {
    it.each(['RELAY_SECRETS_PATH', 'STATE_TABLE', 'QUEUE_URL_WEBHOOK', 'DLQ_URL_WEBHOOK'])(
      'should fail clearly when %s is missing',
      (name) => {
        // Prepare
        const rest = { ...env };
        delete rest[name];

        // Act & Assess
        expect(() => awsSink(webhookSink, rest)).toThrow(`environment variable ${name} is not set`);
      },
    );

    it('should refuse a MAX_RECEIVE_COUNT that is not a positive integer', () => {
      // Act & Assess
      expect(() => awsSink(webhookSink, { ...env, MAX_RECEIVE_COUNT: 'five' })).toThrow(
        'environment variable MAX_RECEIVE_COUNT must be a positive integer, got "five"',
      );
    });

    it('should fail clearly when the bundled config is not JSON', () => {
      // Prepare
      vi.stubEnv('RELAY_BUNDLED_CONFIG', '{destinations:');

      // Act & Assess
      expect(() => awsSink(webhookSink, env)).toThrow(/RELAY_BUNDLED_CONFIG is not JSON/);
    });

    it('should renew a failed record with attempts left at the MAX_RECEIVE_COUNT backstop on its own queue URL, after changing visibility there', async () => {
      // Prepare
      vi.stubGlobal(
        'fetch',
        vi.fn(async () => new Response('upstream down', { status: 503 })),
      );
      await awsIngest(env).handler(apiEvent(JSON.stringify(notification)));
      const [entry] = sentEntries().get(QUEUES.QUEUE_URL_WEBHOOK) ?? [];
      const { handler } = awsSink(webhookSink, { ...env, MAX_RECEIVE_COUNT: '2' });

      // Act
      const first = await handler({ Records: [toRecord(entry, QUEUES.QUEUE_URL_WEBHOOK, 1)] });
      const last = await handler({ Records: [toRecord(entry, QUEUES.QUEUE_URL_WEBHOOK, 2)] });

      // Assess: 2 of 5 attempts failed; SQS would dead-letter it on its next receive, so a
      // fresh copy goes on the sink's own queue in its group, and nothing to the DLQ.
      expect(first.batchItemFailures).toEqual([{ itemIdentifier: `msg-${entry.Id}` }]);
      const visibility = sqsMock.commandCalls(ChangeMessageVisibilityCommand);
      expect(visibility).toHaveLength(1);
      expect(visibility[0].args[0].input).toMatchObject({
        QueueUrl: QUEUES.QUEUE_URL_WEBHOOK,
        ReceiptHandle: `rh-${entry.Id}`,
      });
      expect(last.batchItemFailures).toEqual([]);
      expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
      const renewed = sentEntries().get(QUEUES.QUEUE_URL_WEBHOOK) ?? [];
      expect(renewed).toHaveLength(2);
      expect(renewed[1].MessageBody).toBe(entry.MessageBody);
      expect(renewed[1].MessageGroupId).toBe(entry.MessageGroupId);
      expect(renewed[1].MessageDeduplicationId).not.toBe(entry.MessageDeduplicationId);
    });

    it('should dead-letter a permanent failure to the DLQ URL with its reason and no secret', async () => {
      // Prepare
      vi.stubGlobal(
        'fetch',
        vi.fn(async () => new Response('gone', { status: 410 })),
      );
      await awsIngest(env).handler(apiEvent(JSON.stringify(notification)));
      const [entry] = sentEntries().get(QUEUES.QUEUE_URL_WEBHOOK) ?? [];
      const { handler } = awsSink(webhookSink, env);

      // Act
      const result = await handler({ Records: [toRecord(entry, QUEUES.QUEUE_URL_WEBHOOK, 1)] });

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      const dlq = sqsMock.commandCalls(SendMessageCommand);
      expect(dlq).toHaveLength(1);
      const input = dlq[0].args[0].input;
      expect(input.QueueUrl).toBe(QUEUES.DLQ_URL_WEBHOOK);
      expect(input.MessageBody).toBe(entry.MessageBody);
      expect(input.MessageAttributes?.errorType).toEqual({ DataType: 'String', StringValue: 'permanent' });
      expect(input.MessageAttributes?.statusCode).toEqual({ DataType: 'String', StringValue: '410' });
      expect(input.MessageAttributes?.reason?.StringValue).toMatch(
        /webhook hooks\.example\.com answered 410/,
      );
      expect(JSON.stringify(input.MessageAttributes)).not.toContain(HOOK_SECRET);
    });

    it('should keep to Lambda’s remaining time: with too little left the batch goes back untried and uncounted', async () => {
      // Prepare
      const fetch = vi.fn(async () => new Response(null, { status: 204 }));
      vi.stubGlobal('fetch', fetch);
      await awsIngest(env).handler(apiEvent(JSON.stringify(notification)));
      const [entry] = sentEntries().get(QUEUES.QUEUE_URL_WEBHOOK) ?? [];
      const { handler } = awsSink(webhookSink, env);

      // Act
      const result = await handler(
        { Records: [toRecord(entry, QUEUES.QUEUE_URL_WEBHOOK)] },
        {
          getRemainingTimeInMillis: () => 1_000,
        },
      );

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: `msg-${entry.Id}` }]);
      expect(fetch).not.toHaveBeenCalled();
      expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)[0].args[0].input.VisibilityTimeout).toBe(0);
      expect(ddbMock.commandCalls(PutCommand)).toHaveLength(0);
    });

    it('should count attempts in the state table and dead-letter at the 5th failure, whatever the receive count', async () => {
      // Prepare
      vi.stubGlobal(
        'fetch',
        vi.fn(async () => new Response('upstream down', { status: 503 })),
      );
      await awsIngest(env).handler(apiEvent(JSON.stringify(notification)));
      const [entry] = sentEntries().get(QUEUES.QUEUE_URL_WEBHOOK) ?? [];
      const { handler } = awsSink(webhookSink, { ...env, MAX_RECEIVE_COUNT: '50' });

      // Act
      for (let receive = 11; receive <= 14; receive++) {
        await handler({ Records: [toRecord(entry, QUEUES.QUEUE_URL_WEBHOOK, receive)] });
      }
      const before = sqsMock.commandCalls(SendMessageCommand).length;
      await handler({ Records: [toRecord(entry, QUEUES.QUEUE_URL_WEBHOOK, 15)] });

      // Assess
      expect(before).toBe(0);
      const [dlq] = sqsMock.commandCalls(SendMessageCommand);
      expect(dlq.args[0].input.MessageAttributes?.attempts).toEqual({ DataType: 'String', StringValue: '5' });
      expect(dlq.args[0].input.MessageAttributes?.reason?.StringValue).toMatch(/^gave up after 5 attempts: /);
    });
  });

  describe('Function: awsWatchdog', () => {
    const WATCHDOG_YAML = `${RELAY_YAML}watchdog:\n  destinations: [audit]\n  silentAfter: 300\n`;
    const START = Date.parse('2026-11-21T12:00:00.000Z');
    const WATCHDOG_GROUP = '{}/{alertname="Watchdog"}:{alertname="Watchdog"}';
    const heartbeat: Notification = {
      ...notification,
      groupKey: WATCHDOG_GROUP,
      groupLabels: { alertname: 'Watchdog' },
      commonLabels: { alertname: 'Watchdog', severity: 'none' },
      commonAnnotations: {},
      alerts: [
        {
          ...notification.alerts[0],
          labels: { alertname: 'Watchdog', severity: 'none' },
          annotations: {},
          fingerprint: 'e2a7b4d5c6f70812',
        },
      ],
    };
    const tick: ScheduledEvent = {
      version: '0',
      id: 'tick-1',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '123456789012',
      time: '2026-11-21T12:00:00Z',
      region: 'eu-west-1',
      resources: ['arn:aws:events:eu-west-1:123456789012:rule/relay-ci-watchdog'],
      detail: {},
    };
    /** What the watchdog function is given: the state table and the queue of its destination's sink, nothing else. */
    const watchdogEnv = { STATE_TABLE: 'relay-ci-state', QUEUE_URL_WEBHOOK: QUEUES.QUEUE_URL_WEBHOOK };
    const at = (seconds: number) => vi.setSystemTime(new Date(START + seconds * 1000));
    const bodies = (): QueueMessage[] =>
      (sentEntries().get(QUEUES.QUEUE_URL_WEBHOOK) ?? []).map((e) => JSON.parse(e.MessageBody ?? ''));

    beforeEach(() => {
      vi.stubEnv('RELAY_BUNDLED_CONFIG', JSON.stringify(parseConfig(WATCHDOG_YAML, 'test')));
      vi.stubEnv('RELAY_BUILT_AT', '2026-11-21T11:55:00.000Z');
      vi.useFakeTimers({ toFake: ['Date'] });
      at(0);
    });

    afterEach(() => {
      vi.useRealTimers();
    });

    it('should page through the webhook queue when ingest stops recording heartbeats, and resolve when they return', async () => {
      // Prepare
      const requests: string[] = [];
      vi.stubGlobal(
        'fetch',
        vi.fn(async (_url: URL | string, init: RequestInit) => {
          requests.push(String(init.body));
          return new Response(null, { status: 204 });
        }),
      );
      const ingest = awsIngest(env).handler;
      const { handler: watchdog } = awsWatchdog(watchdogEnv);
      const sink = awsSink(webhookSink, env).handler;

      // Act
      const recorded = await ingest(apiEvent(JSON.stringify(heartbeat)));
      const first = await watchdog(tick);
      at(299);
      const quiet = await watchdog(tick);
      at(300);
      const paged = await watchdog(tick);
      const [pageEntry] = sentEntries().get(QUEUES.QUEUE_URL_WEBHOOK) ?? [];
      const delivered = await sink({ Records: [toRecord(pageEntry, QUEUES.QUEUE_URL_WEBHOOK)] });
      at(400);
      await ingest(apiEvent(JSON.stringify(heartbeat), INGEST_TOKEN, 'req-2'));
      const resolved = await watchdog(tick);

      // Assess: the heartbeat went to the state table, not to a queue.
      expect(recorded.statusCode).toBe(202);
      expect(JSON.parse(recorded.body ?? '')).toEqual({ notification: WATCHDOG_GROUP, destinations: [] });
      expect(ddbMock.commandCalls(PutCommand)[0].args[0].input.Item).toMatchObject({
        pk: 'watchdog#Watchdog',
        value: {
          lastHeartbeatAt: '2026-11-21T12:00:00.000Z',
          receiver: 'lambda',
          externalURL: 'http://vm:9093',
        },
      });
      expect(first).toEqual({ armed: true, silentForSeconds: 0, enqueued: [] });
      expect(quiet.enqueued).toEqual([]);
      expect(paged.enqueued.map((e) => e.transition)).toEqual(['page']);
      expect(resolved.enqueued.map((e) => e.transition)).toEqual(['resolve']);
      // One message per transition on the audit destination's (webhook) queue, none elsewhere.
      expect([...sentEntries().keys()]).toEqual([QUEUES.QUEUE_URL_WEBHOOK]);
      const [page, resolve] = bodies();
      expect(page).toMatchObject({
        destination: 'audit',
        sink: 'webhook',
        receivedAt: '2026-11-21T12:05:00.000Z',
      });
      expect(page.notification.status).toBe('firing');
      expect(page.notification.alerts[0].labels).toEqual({
        alertname: 'AlertmanagerSilent',
        severity: 'critical',
        watchdog: 'alertmanager-relay',
      });
      expect(page.notification.alerts[0].startsAt).toBe('2026-11-21T12:00:00.000Z');
      expect(resolve.notification.status).toBe('resolved');
      expect(resolve.notification.groupKey).toBe(page.notification.groupKey);
      expect(pageEntry.MessageGroupId).toMatch(/^audit:/);
      // The sink delivered the page like any notification; the watchdog read no secret.
      expect(delivered).toEqual({ batchItemFailures: [] });
      expect(JSON.parse(requests[0]).commonLabels.alertname).toBe('AlertmanagerSilent');
      // (its environment has no secrets path at all): the parameters read are ingest's and the sink's.
      expect(
        new Set(secretsMock.commandCalls(GetParametersCommand).flatMap((call) => call.args[0].input.Names)),
      ).toEqual(new Set([`${SECRETS_PATH}INGEST_TOKEN`, `${SECRETS_PATH}AUDIT_HOOK_SECRET`]));
    });

    it('should not page at the first check of a new deployment, however old the last heartbeat', async () => {
      // Prepare: a heartbeat, then the block removed for a week and deployed again.
      await awsIngest(env).handler(apiEvent(JSON.stringify(heartbeat)));
      at(7 * 24 * 3600);
      vi.stubEnv('RELAY_BUILT_AT', new Date(START + 7 * 24 * 3600_000 - 120_000).toISOString());
      const { handler: watchdog } = awsWatchdog(watchdogEnv);

      // Act
      const first = await watchdog(tick);
      at(7 * 24 * 3600 + 300);
      const later = await watchdog(tick);

      // Assess
      expect(first.enqueued).toEqual([]);
      expect(later.enqueued.map((e) => e.transition)).toEqual(['page']);
      expect(bodies()[0].notification.alerts[0].startsAt).toBe('2026-11-21T12:00:00.000Z');
    });

    it('should throw when SQS refuses the page, and send the same message again at the next check', async () => {
      // Prepare
      await awsIngest(env).handler(apiEvent(JSON.stringify(heartbeat)));
      const { handler: watchdog } = awsWatchdog(watchdogEnv);
      await watchdog(tick);
      at(300);
      sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
        Successful: [],
        Failed: input.Entries.map((e) => ({ Id: e.Id, SenderFault: false, Code: 'InternalError' })),
      }));

      // Act
      const refused = watchdog(tick);
      await expect(refused).rejects.toThrow(/the watchdog's page was not accepted by the queue of webhook/);
      const attempts = sentEntries().get(QUEUES.QUEUE_URL_WEBHOOK) ?? [];
      sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: SendMessageBatchRequestEntry[] }) => ({
        Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `sqs-${e.Id}`, MD5OfMessageBody: 'x' })),
        Failed: [],
      }));
      at(360);
      const retried = await watchdog(tick);

      // Assess
      expect(retried.enqueued.map((e) => e.transition)).toEqual(['page']);
      const all = sentEntries().get(QUEUES.QUEUE_URL_WEBHOOK) ?? [];
      expect(all.length).toBe(attempts.length + 1);
      expect(new Set(all.map((e) => e.MessageDeduplicationId)).size).toBe(1);
      expect(new Set(all.map((e) => e.MessageBody)).size).toBe(1);
    });

    it.each(['STATE_TABLE', 'QUEUE_URL_WEBHOOK'])('should fail clearly when %s is missing', (name) => {
      // Prepare
      const rest: NodeJS.ProcessEnv = { ...watchdogEnv };
      delete rest[name];

      // Act & Assess
      expect(() => awsWatchdog(rest)).toThrow(`environment variable ${name} is not set`);
    });

    it('should fail clearly when the bundle carries no build time', () => {
      // Prepare
      vi.stubEnv('RELAY_BUILT_AT', '');

      // Act & Assess
      expect(() => awsWatchdog(watchdogEnv)).toThrow(
        /RELAY_BUILT_AT is empty: build the functions with `npm run build`/,
      );
    });

    it('should refuse to start for a config without a watchdog block', () => {
      // Prepare
      vi.stubEnv('RELAY_BUNDLED_CONFIG', JSON.stringify(parseConfig(RELAY_YAML, 'test')));

      // Act & Assess
      expect(() => awsWatchdog(watchdogEnv)).toThrow('watchdog: is not configured in the bundled config');
    });

    it('should give ingest the state table only for a config with a watchdog block', () => {
      // Prepare
      const { STATE_TABLE: _, ...rest } = env;

      // Act & Assess
      expect(() => awsIngest(rest)).toThrow('environment variable STATE_TABLE is not set');
      vi.stubEnv('RELAY_BUNDLED_CONFIG', JSON.stringify(parseConfig(RELAY_YAML, 'test')));
      expect(() => awsIngest(rest)).not.toThrow();
    });
  });

  describe('End to end in process', () => {
    it('should carry a notification from the ingest handler through SQS entries to the webhook sink handler', async () => {
      // Prepare
      const requests: { url: string; init: RequestInit }[] = [];
      vi.stubGlobal(
        'fetch',
        vi.fn(async (url: URL | string, init: RequestInit) => {
          requests.push({ url: String(url), init });
          return new Response(null, { status: 204 });
        }),
      );
      const ingest = awsIngest(env).handler;
      const sink = awsSink(webhookSink, env).handler;
      const accepted = await ingest(apiEvent(JSON.stringify(notification)));
      const entries = sentEntries().get(QUEUES.QUEUE_URL_WEBHOOK) ?? [];
      const sqsEvent: SQSEvent = { Records: entries.map((e) => toRecord(e, QUEUES.QUEUE_URL_WEBHOOK)) };

      // Act
      const result = await sink(sqsEvent);

      // Assess
      expect(accepted.statusCode).toBe(202);
      expect(result).toEqual({ batchItemFailures: [] });
      expect(requests).toHaveLength(1);
      expect(requests[0].url).toBe(HOOK_URL);
      const headers = new Headers(requests[0].init.headers);
      const body = String(requests[0].init.body);
      const delivered = JSON.parse(body) as Notification;
      expect(delivered.groupKey).toBe(notification.groupKey);
      expect(delivered.alerts.map((a) => a.labels.instance)).toEqual(['host1:9100']);
      const message = JSON.parse(entries[0].MessageBody ?? '') as QueueMessage;
      expect(headers.get('webhook-id')).toBe(webhookId(message.idempotencyKey, message.receivedAt));
      // Signed with the key read from its SSM parameter: the webhook function asked for the
      // secrets of its own destinations only (after ingest asked for the token).
      expect(secretsMock.commandCalls(GetParametersCommand).map((call) => call.args[0].input.Names)).toEqual([
        [`${SECRETS_PATH}INGEST_TOKEN`],
        [`${SECRETS_PATH}AUDIT_HOOK_SECRET`],
      ]);
      expect(() =>
        new Webhook(HOOK_SECRET).verify(body, {
          'webhook-id': headers.get('webhook-id') ?? '',
          'webhook-timestamp': headers.get('webhook-timestamp') ?? '',
          'webhook-signature': headers.get('webhook-signature') ?? '',
        }),
      ).not.toThrow();
      const puts = ddbMock.commandCalls(PutCommand);
      expect(puts).toHaveLength(1);
      expect(puts[0].args[0].input).toMatchObject({
        TableName: 'relay-ci-state',
        Item: {
          pk: groupStateKey('audit', notification.groupKey),
          value: { receivedAt: message.receivedAt, keys: [message.idempotencyKey] },
        },
      });
      expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    });

    it('should carry a notification from the ingest handler through SQS entries to the console sink handler', async () => {
      // Prepare
      const ingest = awsIngest(env).handler;
      const sink = awsSink(consoleSink, env).handler;
      const accepted = await ingest(apiEvent(JSON.stringify(notification)));
      const entries = sentEntries().get(QUEUES.QUEUE_URL_CONSOLE) ?? [];
      const sqsEvent: SQSEvent = { Records: entries.map((e) => toRecord(e, QUEUES.QUEUE_URL_CONSOLE)) };
      const output = captureStdout();

      // Act
      const result = await sink(sqsEvent);

      // Assess
      vi.restoreAllMocks();
      expect(accepted.statusCode).toBe(202);
      expect(entries).toHaveLength(1);
      expect(result).toEqual({ batchItemFailures: [] });
      const printed = output.join('');
      expect(printed).toContain('[FIRING] GW0api1 severity=critical');
      expect(printed).toContain('[FIRING] GW0api1 severity=warning');
      expect(printed).toContain('dest=stdout');
      expect(printed).not.toContain(INGEST_TOKEN);
      const [message] = entries.map((e) => JSON.parse(e.MessageBody ?? '') as QueueMessage);
      expect(ddbMock.commandCalls(GetCommand)[0].args[0].input).toMatchObject({
        Key: { pk: groupStateKey('stdout', message.notification.groupKey) },
        ConsistentRead: true,
      });
      expect(ddbMock.commandCalls(PutCommand)).toHaveLength(1);
    });

    it('should skip the second copy when an HA pair posts the same notification twice', async () => {
      // Prepare
      const ingest = awsIngest(env).handler;
      const sink = awsSink(consoleSink, env).handler;
      await ingest(apiEvent(JSON.stringify(notification), INGEST_TOKEN, 'req-1'));
      await ingest(apiEvent(JSON.stringify(notification), INGEST_TOKEN, 'req-2'));
      const entries = sentEntries().get(QUEUES.QUEUE_URL_CONSOLE) ?? [];
      const output = captureStdout();

      // Act
      const first = await sink({ Records: [toRecord(entries[0], QUEUES.QUEUE_URL_CONSOLE)] });
      const second = await sink({
        Records: [toRecord({ ...entries[1], Id: 'again' }, QUEUES.QUEUE_URL_CONSOLE)],
      });

      // Assess
      vi.restoreAllMocks();
      expect(entries).toHaveLength(2);
      // Two posts are two queue messages; the group state decides the second is the same notification.
      expect(entries[0].MessageDeduplicationId).not.toBe(entries[1].MessageDeduplicationId);
      expect(first.batchItemFailures).toEqual([]);
      expect(second.batchItemFailures).toEqual([]);
      expect(output.join('').match(/severity=critical/g)).toHaveLength(1);
    });
  });
});

import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, ScheduledEvent, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AwsEmulators,
  createSinkQueues,
  createStateTable,
  EMULATOR_CREDENTIALS,
  EMULATOR_REGION,
  startAwsEmulators,
} from '../support/aws-emulators.ts';
import { type FakeSsm, SSM_ACCOUNT, startFakeSsm } from '../support/fake-ssm.ts';
import { makeNotification, payloadText } from '../support/notifications.ts';
import {
  apiGatewayEvent,
  type LambdaHandler,
  lambdaContext,
  packageRelay,
  pollOnce,
  resolveHandler,
  unpackFunction,
} from '../support/packaged-lambda.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

/**
 * The zips `npm run package` makes, run as Lambda runs them: ingest (API Gateway event) ->
 * the webhook sink's FIFO queue in fauxqs -> the webhook function (SQS event, partial batch
 * response) -> a receiving server; the watchdog function (scheduled event) paging through the
 * same queue; the state table in dynalite; the secrets in the fake SSM,
 * which enforces each function's IAM policy as the packaged template writes it (each function
 * signs as its role); AWS_ENDPOINT_URL_* point the bundled SDK at them. Proves the bundles,
 * their environment, their policies and the AWS calls fit together.
 */

const TOKEN = 'packaged-ingest-token-value';
const HOOK_SECRET = `whsec_${Buffer.from('packaged-signing-key-of-32-bytes').toString('base64')}`;
const PATH = '/alertmanager-relay-ci/';

type Statement = { Action: string[]; Resource: unknown[] };
type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

/**
 * A handler whose AWS calls are signed as `role`: the SDK reads AWS_ACCESS_KEY_ID when a client
 * first signs, and each bundle has clients of its own (the tests invoke one at a time).
 */
function asRole<E, R>(role: string, handler: LambdaHandler<E, R>): LambdaHandler<E, R> {
  return (event, context) => {
    process.env.AWS_ACCESS_KEY_ID = role;
    return handler(event, context);
  };
}

/** The parameter ARNs a role of the packaged template may GetParameters, its Fn::Sub resolved as AWS would. */
function parameterGrants(template: Template, roleId: string): string[] {
  const policies = template.Resources[roleId].Properties.Policies as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies
    .flatMap((policy) => policy.PolicyDocument.Statement)
    .filter((statement) => statement.Action.includes('ssm:GetParameters'))
    .flatMap((statement) => statement.Resource)
    .map((resource) =>
      String((resource as { 'Fn::Sub': string })['Fn::Sub']).replace(
        /\$\{AWS::(Partition|Region|AccountId)\}/g,
        (_, pseudo: string) =>
          ({ Partition: 'aws', Region: EMULATOR_REGION, AccountId: SSM_ACCOUNT })[pseudo] ?? '',
      ),
    );
}

let dir: string;
let aws: AwsEmulators;
let receiver: WebhookReceiver;
let ssm: FakeSsm;
let template: Template;
let queue: Awaited<ReturnType<typeof createSinkQueues>>;
let ingest: LambdaHandler<APIGatewayProxyEventV2, APIGatewayProxyResultV2>;
let webhook: LambdaHandler<SQSEvent, { batchItemFailures: { itemIdentifier: string }[] }>;
let watchdogCode: { root: string; handler: string };
let table: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-packaged-'));
  [aws, receiver, ssm] = await Promise.all([
    startAwsEmulators(),
    startWebhookReceiver({ secret: HOOK_SECRET }),
    startFakeSsm({
      parameters: { [`${PATH}INGEST_TOKEN`]: TOKEN, [`${PATH}AUDIT_HOOK_SECRET`]: HOOK_SECRET },
    }),
  ]);
  const packageDir = await packageRelay(
    dir,
    'ingest: { tokenSecret: INGEST_TOKEN }\ndestinations:\n' +
      `  - { name: audit, sink: webhook, url: "${receiver.url}", signingSecret: AUDIT_HOOK_SECRET }\n` +
      'watchdog: { destinations: [audit] }\n',
  );
  template = JSON.parse(
    await readFile(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8'),
  );
  // Each function signs as its role (the access key id), and may read what its role grants.
  ssm.setPolicy('IngestRole', parameterGrants(template, 'IngestRole'));
  ssm.setPolicy('WebhookRole', parameterGrants(template, 'WebhookRole'));
  ssm.setPolicy('WatchdogRole', parameterGrants(template, 'WatchdogRole'));
  queue = await createSinkQueues(aws, 'alertmanager-relay-ci-webhook');
  table = await createStateTable(aws.dynamoDb, 'alertmanager-relay-ci-state');
  // What serverless.yml and lib/infra set, with the endpoints of the emulators.
  Object.assign(process.env, {
    AWS_REGION: EMULATOR_REGION,
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_SQS: aws.sqsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: aws.dynamoDbEndpoint,
    AWS_ENDPOINT_URL_SSM: ssm.url,
    RELAY_SECRETS_PATH: PATH,
    STATE_TABLE: table,
    QUEUE_URL_WEBHOOK: queue.queueUrl,
    DLQ_URL_WEBHOOK: queue.dlqUrl,
    RELAY_SINK: 'webhook',
    MAX_RECEIVE_COUNT: '5',
    SENTRY_DSN: '',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  });
  ingest = asRole('IngestRole', await resolveHandler(await unpackFunction(packageDir, 'ingest')));
  webhook = asRole('WebhookRole', await resolveHandler(await unpackFunction(packageDir, 'webhook')));
  watchdogCode = await unpackFunction(packageDir, 'watchdog');
}, 240_000);

afterAll(async () => {
  process.env = savedEnv;
  await Promise.all([aws?.stop(), receiver?.close(), ssm?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Packaged zips: ingest -> SQS (fauxqs) -> webhook function -> receiver', () => {
  it('should answer 202, queue the notification and deliver it once through the webhook function', async () => {
    // Prepare
    const body = payloadText('am-0.25-firing.json');

    // Act
    const answer = (await ingest(apiGatewayEvent(body, TOKEN), lambdaContext('ingest', 10, 256))) as {
      statusCode: number;
      body: string;
    };
    const poll = await pollOnce(aws.sqs, { url: queue.queueUrl, arn: queue.queueArn }, webhook, () =>
      lambdaContext('webhook', 30, 256),
    );
    const [delivery] = await receiver.waitFor(1);

    // Assess
    expect(answer.statusCode).toBe(202);
    expect(JSON.parse(answer.body).destinations).toEqual([{ name: 'audit', alerts: 1 }]);
    expect(poll).toEqual({ records: 1, failed: 0 });
    expect((delivery.body as { groupKey: string }).groupKey).toBe(JSON.parse(body).groupKey);
    // Signed with the key the webhook function read from its own parameter.
    expect(delivery.verified).toBe(true);
    // Each function asked for its own secrets only, decrypted.
    expect(ssm.getCalls).toContainEqual({
      caller: 'IngestRole',
      names: [`${PATH}INGEST_TOKEN`],
      withDecryption: true,
    });
    expect(ssm.getCalls).toContainEqual({
      caller: 'WebhookRole',
      names: [`${PATH}AUDIT_HOOK_SECRET`],
      withDecryption: true,
    });
    const { Attributes } = await aws.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queue.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(Attributes).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });

  it('should skip a redelivered copy of a delivered notification (its delivery record is in DynamoDB)', async () => {
    // Prepare
    const before = receiver.requests.length;
    const body = payloadText('am-0.25-firing.json');

    // Act: the same notification again within the 5-minute window (an HA peer, a retry). SQS
    // drops the copy by its deduplication id; fauxqs forgets ids of deleted messages and lets it
    // through, so the function sees it and must skip it by the delivery record in DynamoDB.
    const answer = (await ingest(apiGatewayEvent(body, TOKEN), lambdaContext('ingest', 10, 256))) as {
      statusCode: number;
    };
    const poll = await pollOnce(aws.sqs, { url: queue.queueUrl, arn: queue.queueArn }, webhook, () =>
      lambdaContext('webhook', 30, 256),
    );

    // Assess
    expect(answer.statusCode).toBe(202);
    expect(poll.failed).toBe(0);
    expect(receiver.requests.length).toBe(before);
  });

  it('should answer 401 to a wrong token without queueing anything', async () => {
    // Act
    const answer = (await ingest(
      apiGatewayEvent(payloadText('am-0.25-firing.json'), 'wrong'),
      lambdaContext('ingest', 10, 256),
    )) as { statusCode: number };

    // Assess
    expect(answer.statusCode).toBe(401);
    expect(ssm.getCalls.some((call) => call.caller === 'IngestRole')).toBe(true);
  });
});

describe('Packaged zips: the watchdog, from a heartbeat through ingest to a page through the webhook function', () => {
  const tick: ScheduledEvent = {
    version: '0',
    id: 'tick',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: EMULATOR_REGION,
    resources: [],
    detail: {},
  };
  const heartbeat = JSON.stringify({
    ...makeNotification({ groupKey: '{}/{alertname="Watchdog"}:{alertname="Watchdog"}' }),
    commonLabels: { alertname: 'Watchdog' },
    alerts: [{ ...makeNotification({}).alerts[0], labels: { alertname: 'Watchdog', severity: 'none' } }],
  });
  type Check = LambdaHandler<ScheduledEvent, { enqueued: { transition: string }[] }>;
  let containers = 0;
  /** A new container of the watchdog function: its own copy of the bundle, imported afresh. */
  async function coldStart(): Promise<() => ReturnType<Check>> {
    const root = `${watchdogCode.root}-${++containers}`;
    await cp(watchdogCode.root, root, { recursive: true });
    const handler = asRole(
      'WatchdogRole',
      await resolveHandler<ScheduledEvent, Awaited<ReturnType<Check>>>({ ...watchdogCode, root }),
    );
    return () => handler(tick, lambdaContext('watchdog', 30, 128));
  }
  const deliver = () =>
    pollOnce(aws.sqs, { url: queue.queueUrl, arn: queue.queueArn }, webhook, () =>
      lambdaContext('webhook', 30, 256),
    );

  /** Moves a state item's times back by `seconds`, as if that long had passed (its version kept). */
  async function age(pk: string, fields: string[], seconds: number) {
    const documents = DynamoDBDocumentClient.from(aws.dynamoDb);
    const { Item } = await documents.send(new GetCommand({ TableName: table, Key: { pk } }));
    const value = (Item as { value: Record<string, string> }).value;
    for (const field of fields)
      value[field] = new Date(Date.parse(value[field]) - seconds * 1000).toISOString();
    await documents.send(new PutCommand({ TableName: table, Item: { ...Item, value } }));
  }

  it('should record the heartbeat in DynamoDB and queue nothing, then page once the silence is old enough, and resolve', async () => {
    // Prepare
    const before = receiver.requests.length;

    // Act: a heartbeat; the first check of the deployment; then 11 minutes of silence, after
    // which another container of the function checks.
    const recorded = (await ingest(apiGatewayEvent(heartbeat, TOKEN), lambdaContext('ingest', 10, 256))) as {
      statusCode: number;
      body: string;
    };
    const first = await (await coldStart())();
    const idle = await deliver();
    await age('watchdog#Watchdog', ['lastHeartbeatAt', 'armedAt'], 660);
    await age('watchdog#Watchdog#deployment', ['firstCheckAt'], 660);
    const check = await coldStart();
    const paged = await check();
    const pagePoll = await deliver();
    const page = (await receiver.waitFor(before + 1))[before];
    await ingest(apiGatewayEvent(heartbeat, TOKEN), lambdaContext('ingest', 10, 256));
    const resolved = await check();
    await deliver();
    const received = await receiver.waitFor(before + 2);

    // Assess
    expect(recorded.statusCode).toBe(202);
    expect(JSON.parse(recorded.body).destinations).toEqual([]);
    expect(first.enqueued).toEqual([]);
    expect(idle.records).toBe(0);
    expect(paged.enqueued.map((e) => e.transition)).toEqual(['page']);
    expect(pagePoll).toEqual({ records: 1, failed: 0 });
    const pageBody = page.body as { status: string; commonLabels: Record<string, string> };
    expect(pageBody.status).toBe('firing');
    expect(pageBody.commonLabels.alertname).toBe('AlertmanagerSilent');
    expect(page.verified).toBe(true);
    expect(resolved.enqueued.map((e) => e.transition)).toEqual(['resolve']);
    expect((received[before + 1].body as { status: string }).status).toBe('resolved');
    // The watchdog function reads no secret.
    expect(ssm.getCalls.some((call) => call.caller === 'WatchdogRole')).toBe(false);
  });
});

describe("Packaged template: each function's role reads its own secrets only", () => {
  it('should grant ingest the token parameter and the webhook function its signing key, nothing else', () => {
    // Act
    const ingestGrants = parameterGrants(template, 'IngestRole');
    const webhookGrants = parameterGrants(template, 'WebhookRole');

    // Assess
    expect(ingestGrants).toEqual([ssm.arn(`${PATH}INGEST_TOKEN`)]);
    expect(webhookGrants).toEqual([ssm.arn(`${PATH}AUDIT_HOOK_SECRET`)]);
  });

  it.each([
    ['IngestRole', 'AUDIT_HOOK_SECRET'],
    ['WebhookRole', 'INGEST_TOKEN'],
  ])("should refuse %s the other function's secret %s", async (role, name) => {
    // Prepare
    const client = new SSMClient({
      region: EMULATOR_REGION,
      endpoint: ssm.url,
      credentials: { accessKeyId: role, secretAccessKey: 'emulator' },
      maxAttempts: 1,
    });

    // Act
    const error = await client
      .send(new GetParametersCommand({ Names: [`${PATH}${name}`], WithDecryption: true }))
      .catch((e: Error) => e);
    client.destroy();

    // Assess
    expect((error as Error).name).toBe('AccessDeniedException');
  });
});

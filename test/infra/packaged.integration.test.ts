import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AwsEmulators,
  createSinkQueues,
  createStateTable,
  EMULATOR_CREDENTIALS,
  EMULATOR_REGION,
  startAwsEmulators,
  startSecretsServer,
} from '../support/aws-emulators.ts';
import { payloadText } from '../support/notifications.ts';
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
 * response) -> a receiving server; the state table in dynalite; AWS_ENDPOINT_URL_* point the
 * bundled SDK at them. Proves the bundles, their environment and the AWS calls fit together.
 */

const TOKEN = 'packaged-ingest-token-value';
const SECRET_ID = 'alertmanager-relay-ci';

let dir: string;
let aws: AwsEmulators;
let receiver: WebhookReceiver;
let secrets: Awaited<ReturnType<typeof startSecretsServer>>;
let queue: Awaited<ReturnType<typeof createSinkQueues>>;
let ingest: LambdaHandler<APIGatewayProxyEventV2, APIGatewayProxyResultV2>;
let webhook: LambdaHandler<SQSEvent, { batchItemFailures: { itemIdentifier: string }[] }>;
const savedEnv = { ...process.env };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-packaged-'));
  [aws, receiver, secrets] = await Promise.all([
    startAwsEmulators(),
    startWebhookReceiver(),
    startSecretsServer(SECRET_ID, { INGEST_TOKEN: TOKEN }),
  ]);
  const packageDir = await packageRelay(
    dir,
    `ingest: { tokenSecret: INGEST_TOKEN }\ndestinations:\n  - { name: audit, sink: webhook, url: "${receiver.url}" }\n`,
  );
  queue = await createSinkQueues(aws, 'alertmanager-relay-ci-webhook');
  const table = await createStateTable(aws.dynamoDb, 'alertmanager-relay-ci-state');
  // What serverless.yml and lib/infra set, with the endpoints of the emulators.
  Object.assign(process.env, {
    AWS_REGION: EMULATOR_REGION,
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_SQS: aws.sqsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: aws.dynamoDbEndpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
    RELAY_SECRET_ID: SECRET_ID,
    STATE_TABLE: table,
    QUEUE_URL_WEBHOOK: queue.queueUrl,
    DLQ_URL_WEBHOOK: queue.dlqUrl,
    RELAY_SINK: 'webhook',
    MAX_RECEIVE_COUNT: '5',
    SENTRY_DSN: '',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  });
  ingest = await resolveHandler(await unpackFunction(packageDir, 'ingest'));
  webhook = await resolveHandler(await unpackFunction(packageDir, 'webhook'));
}, 240_000);

afterAll(async () => {
  process.env = savedEnv;
  await Promise.all([aws?.stop(), receiver?.close(), secrets?.close()]);
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
    expect(secrets.requests()).toBeGreaterThan(0);
  });
});

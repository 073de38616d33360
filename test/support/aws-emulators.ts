import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type FauxqsServer, startFauxqs } from 'fauxqs';

/**
 * Real protocol servers for the AWS code paths, on loopback: fauxqs speaks SQS (the JSON
 * protocol the v3 SDK uses, FIFO groups, visibility, deduplication, redrive to a DLQ) and
 * dynalite speaks DynamoDB (marshalling, conditional writes, item size limits). Unlike
 * aws-sdk-client-mock, they check what SQS and DynamoDB would do with our calls.
 * Neither emulates StartMessageMoveTask (move tasks stay client-mocked) or SSM Parameter Store,
 * where the functions read their secrets: test/support/fake-ssm.ts is that.
 */

export const EMULATOR_REGION = 'us-east-1';
/** Any values do: neither emulator checks signatures, but the SDK refuses to sign without them. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'emulator', secretAccessKey: 'emulator' } as const;

export interface AwsEmulators {
  sqsEndpoint: string;
  dynamoDbEndpoint: string;
  fauxqs: FauxqsServer;
  sqs: SQSClient;
  dynamoDb: DynamoDBClient;
  stop(): Promise<void>;
}

interface Dynalite {
  listen(port: number, host: string, done: (error?: Error) => void): void;
  close(done: () => void): void;
  address(): AddressInfo;
}

/** Starts fauxqs and dynalite on 127.0.0.1, on ports the OS picks. */
export async function startAwsEmulators(): Promise<AwsEmulators> {
  const fauxqs = await startFauxqs({
    port: 0,
    host: '127.0.0.1',
    logger: false,
    defaultRegion: EMULATOR_REGION,
  });
  // dynalite is CommonJS without types.
  const dynalite = (createRequire(import.meta.url)('dynalite') as (options: object) => Dynalite)({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) =>
    dynalite.listen(0, '127.0.0.1', (error) => (error ? reject(error) : resolve())),
  );
  const sqsEndpoint = `http://127.0.0.1:${fauxqs.port}`;
  const dynamoDbEndpoint = `http://127.0.0.1:${dynalite.address().port}`;
  const common = { region: EMULATOR_REGION, credentials: EMULATOR_CREDENTIALS };
  const sqs = new SQSClient({ ...common, endpoint: sqsEndpoint });
  const dynamoDb = new DynamoDBClient({ ...common, endpoint: dynamoDbEndpoint });
  return {
    sqsEndpoint,
    dynamoDbEndpoint,
    fauxqs,
    sqs,
    dynamoDb,
    async stop() {
      sqs.destroy();
      dynamoDb.destroy();
      await fauxqs.stop();
      await new Promise<void>((resolve) => dynalite.close(resolve));
    },
  };
}

/**
 * A sink's FIFO queue and FIFO DLQ as lib/infra generates them (high throughput, the redrive
 * policy), created through the SQS API so fauxqs validates the attributes.
 */
export async function createSinkQueues(
  aws: Pick<AwsEmulators, 'sqs' | 'sqsEndpoint'>,
  name: string,
  options: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {},
): Promise<{ queueUrl: string; queueArn: string; dlqUrl: string; dlqArn: string }> {
  const fifo = {
    FifoQueue: 'true',
    ContentBasedDeduplication: 'false',
    DeduplicationScope: 'messageGroup',
    FifoThroughputLimit: 'perMessageGroupId',
  };
  const { sqs } = aws;
  // fauxqs answers `http://sqs.<region>.127.0.0.1:<port>/...`, which is no valid URL; the same
  // path on the endpoint is, and is what the SDK then sends to.
  const onEndpoint = (url: string | undefined) => (url as string).replace(/^http:\/\/[^/]+/, aws.sqsEndpoint);
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq.fifo`, Attributes: fifo }));
  const dlqUrl = onEndpoint(dlq.QueueUrl);
  const dlqArn = await queueArn(sqs, dlqUrl);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}.fifo`,
      Attributes: {
        ...fifo,
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 180),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: options.maxReceiveCount ?? 5,
        }),
      },
    }),
  );
  const queueUrl = onEndpoint(queue.QueueUrl);
  return { queueUrl, queueArn: await queueArn(sqs, queueUrl), dlqUrl, dlqArn };
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return Attributes?.QueueArn as string;
}

/** The state table as lib/infra/shared-resources.ts declares it (key `pk`, on demand). */
export async function createStateTable(dynamoDb: DynamoDBClient, name: string): Promise<string> {
  await dynamoDb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
  return name;
}

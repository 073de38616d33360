import { GetQueueAttributesCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAppliedGroup } from '../../../lib/delivery/group-state.ts';
import { AwsDeadLetterQueues } from '../../../lib/ops/dlq/aws.ts';
import { listCommand } from '../../../lib/ops/dlq/commands.ts';
import { DynamoDbStateStore } from '../../../lib/state/dynamodb.ts';
import {
  type AwsEmulators,
  createSinkQueues,
  createStateTable,
  startAwsEmulators,
} from '../../support/aws-emulators.ts';

/**
 * `dlq list` against fauxqs: what a FIFO DLQ really hands out to ReceiveMessage. Redrive stays
 * client-mocked (test/ops/dlq/dlq.test.ts): fauxqs has no StartMessageMoveTask.
 */

let aws: AwsEmulators;
beforeAll(async () => {
  aws = await startAwsEmulators();
});
afterAll(async () => {
  await aws?.stop();
});

/** `count` dead letters spread round-robin over `groups` message groups, as the record handler sends them. */
async function deadLetters(dlqUrl: string, count: number, groups: number): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    const entries = Array.from({ length: Math.min(10, count - start) }, (_, i) => {
      const n = start + i;
      return {
        Id: `m${n}`,
        MessageBody: JSON.stringify({
          destination: 'audit',
          notification: { groupKey: `{}:{g="${n % groups}"}`, status: 'firing', alerts: [] },
        }),
        MessageGroupId: `audit#g${n % groups}`,
        MessageDeduplicationId: `k${n}-1700000000000`,
        MessageAttributes: { reason: { DataType: 'String', StringValue: `PermanentError: letter ${n}` } },
      };
    });
    await aws.sqs.send(new SendMessageBatchCommand({ QueueUrl: dlqUrl, Entries: entries }));
  }
}

async function visible(url: string): Promise<number> {
  const { Attributes } = await aws.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages);
}

function deadLetterQueues(): AwsDeadLetterQueues {
  return new AwsDeadLetterQueues({
    client: aws.sqs,
    stage: { service: 'relay', stage: 'emu' },
    sinks: ['console', 'webhook'],
  });
}

describe('Class: AwsDeadLetterQueues (fauxqs)', () => {
  beforeAll(async () => {
    // Only webhook is deployed: the stack has queues for the sinks its config uses.
    await createSinkQueues(aws, 'relay-emu-webhook');
  });

  it('should find only the sinks whose DLQ the stage has', async () => {
    // Act
    const sinks = await deadLetterQueues().sinks();

    // Assess
    expect(sinks).toEqual(['webhook']);
  });

  it('should page through 25 dead letters in 25 groups, past the first receive, and leave them all visible', async () => {
    // Prepare
    const { dlqUrl } = await createSinkQueues(aws, 'relay-emu2-webhook');
    await deadLetters(dlqUrl, 25, 25);
    const queues = new AwsDeadLetterQueues({
      client: aws.sqs,
      stage: { service: 'relay', stage: 'emu2' },
      sinks: ['webhook'],
    });

    // Act
    const listed = await queues.peek('webhook', 50);

    // Assess
    expect(new Set(listed.map((letter) => letter.attributes.reason)).size).toBe(25);
    expect(await visible(dlqUrl)).toBe(25);
    expect(await queues.depth('webhook')).toBe(25);
  });

  it('should list 25 dead letters in 5 groups with their total, and give every one back', async () => {
    // Prepare
    const { dlqUrl } = await createSinkQueues(aws, 'relay-emu3-webhook');
    await deadLetters(dlqUrl, 25, 5);
    const queues = new AwsDeadLetterQueues({
      client: aws.sqs,
      stage: { service: 'relay', stage: 'emu3' },
      sinks: ['webhook'],
    });
    const lines: string[] = [];

    // Act
    await listCommand(
      queues,
      { print: (text) => lines.push(...text.split('\n')), confirm: async () => false },
      {
        sink: 'webhook',
      },
    );
    const listed = await queues.peek('webhook', 50);

    // Assess
    // fauxqs returns one message per group per receive, so 5 are shown; the total says 25.
    expect(listed).toHaveLength(5);
    expect(lines).toContain('webhook: 25 messages (showing 5)');
    // Every group's oldest dead letter is listed: FIFO hides a group's later messages while its
    // first ones are held (SQS returns up to 10 of one group per receive; fauxqs returns 1).
    const groups = new Set(listed.map((letter) => JSON.parse(letter.body).notification.groupKey));
    expect(groups.size).toBe(5);
    for (let g = 0; g < 5; g++)
      expect(listed.map((letter) => letter.attributes.reason)).toContain(`PermanentError: letter ${g}`);
    expect(await visible(dlqUrl)).toBe(25);
  });

  it('should say which dead letters are superseded, reading the group state from the DynamoDB table', async () => {
    // Prepare
    const { dlqUrl } = await createSinkQueues(aws, 'relay-emu4-webhook');
    const groupKey = '{}:{g="0"}';
    const letterBody = (idempotencyKey: string, receivedAt: string) =>
      JSON.stringify({
        v: 1,
        destination: 'audit',
        sink: 'webhook',
        idempotencyKey,
        part: { index: 1, count: 1 },
        receivedAt,
        notification: { groupKey, status: 'firing', alerts: [] },
      });
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: dlqUrl,
        Entries: [
          {
            Id: 'old',
            MessageBody: letterBody('k-firing', '2026-11-21T12:00:00.000Z'),
            MessageGroupId: 'audit#g0',
            MessageDeduplicationId: 'k-firing-1',
            MessageAttributes: { reason: { DataType: 'String', StringValue: 'RetryableError: 503' } },
          },
        ],
      }),
    );
    const table = await createStateTable(aws.dynamoDb, 'relay-emu4-state');
    const state = new DynamoDbStateStore(DynamoDBDocumentClient.from(aws.dynamoDb), table);
    await writeAppliedGroup(state, 'audit', groupKey, {
      receivedAt: '2026-11-21T12:05:00.000Z',
      keys: ['k-resolved'],
      appliedAt: '2026-11-21T12:05:01.000Z',
    });
    const queues = new AwsDeadLetterQueues({
      client: aws.sqs,
      stage: { service: 'relay', stage: 'emu4' },
      sinks: ['webhook'],
      state,
    });
    const lines: string[] = [];

    // Act
    await listCommand(
      queues,
      { print: (text) => lines.push(...text.split('\n')), confirm: async () => false },
      {
        sink: 'webhook',
      },
    );

    // Assess
    const text = lines.join('\n');
    expect(text).toContain('superseded by 2026-11-21T12:05:00.000Z');
    expect(text).toMatch(/1 superseded/);
  });
});

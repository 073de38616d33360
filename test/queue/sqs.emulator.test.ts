import { DeleteMessageCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsEnqueuer, SqsRecordQueue } from '../../lib/queue/sqs.ts';
import { type AwsEmulators, createSinkQueues, startAwsEmulators } from '../support/aws-emulators.ts';

/**
 * lib/queue/sqs.ts against fauxqs, an SQS server: FIFO queues with the high-throughput
 * settings lib/infra generates, so what SQS does with our calls (deduplication, groups,
 * visibility, attributes) is what is checked, not the calls themselves.
 */

let aws: AwsEmulators;
beforeAll(async () => {
  aws = await startAwsEmulators();
});
afterAll(async () => {
  await aws?.stop();
});

function entry(id: string, group: string, dedup: string) {
  return { id, body: JSON.stringify({ id }), groupId: group, deduplicationId: dedup };
}

describe('Class: SqsEnqueuer (fauxqs)', () => {
  it('should put each entry on the sink queue and drop a second copy with the same deduplication id', async () => {
    // Prepare
    const { queueUrl } = await createSinkQueues(aws, 'enqueue-dedup');
    const enqueuer = new SqsEnqueuer(aws.sqs, new Map([['webhook', queueUrl]]));

    // Act
    const first = await enqueuer.sendBatch('webhook', [entry('a', 'g1', 'k1'), entry('b', 'g2', 'k2')]);
    const again = await enqueuer.sendBatch('webhook', [entry('a', 'g1', 'k1')]);

    // Assess
    expect(first.failed).toEqual([]);
    expect(again.failed).toEqual([]);
    const { Messages = [] } = await aws.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    expect(Messages.map((message) => JSON.parse(message.Body as string).id).sort()).toEqual(['a', 'b']);
    expect(Messages.map((message) => message.Attributes?.MessageGroupId).sort()).toEqual(['g1', 'g2']);
  });

  it('should report the entries SQS refuses (a body with a character SQS does not allow) by their id', async () => {
    // Prepare
    const { queueUrl } = await createSinkQueues(aws, 'enqueue-refused');
    const enqueuer = new SqsEnqueuer(aws.sqs, new Map([['webhook', queueUrl]]));

    // Act
    const bad = { ...entry('bad', 'g1', 'k2'), body: 'control \u0001 character' };
    const result = await enqueuer.sendBatch('webhook', [entry('ok', 'g1', 'k1'), bad]);

    // Assess
    expect(result.failed.map((failure) => failure.id)).toEqual(['bad']);
    expect(result.failed[0].reason).not.toBe('');
  });
});

describe('Class: SqsRecordQueue (fauxqs)', () => {
  it('should hide a received message for the given seconds and bring it back at once with 0', async () => {
    // Prepare
    const { queueUrl, dlqUrl } = await createSinkQueues(aws, 'record-visibility');
    await new SqsEnqueuer(aws.sqs, new Map([['webhook', queueUrl]])).sendBatch('webhook', [
      entry('a', 'g1', 'k1'),
    ]);
    const queue = new SqsRecordQueue(aws.sqs, { queueUrl, dlqUrl });
    const receive = () =>
      aws.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
      );
    const [received] = (await receive()).Messages ?? [];

    // Act
    await queue.changeVisibility(received.ReceiptHandle as string, 600);
    const whileHidden = (await receive()).Messages ?? [];
    await queue.changeVisibility(received.ReceiptHandle as string, 0);
    const afterRelease = (await receive()).Messages ?? [];

    // Assess
    expect(whileHidden).toEqual([]);
    expect(afterRelease.map((message) => message.MessageId)).toEqual([received.MessageId]);
  });

  it('should dead-letter a message with its String attributes into the FIFO DLQ', async () => {
    // Prepare
    const { queueUrl, dlqUrl } = await createSinkQueues(aws, 'record-dlq');
    const queue = new SqsRecordQueue(aws.sqs, { queueUrl, dlqUrl });

    // Act
    await queue.sendToDlq({
      ...entry('a', 'g1', 'k1-1700000000000'),
      attributes: { reason: 'PermanentError: 401', destination: 'audit', attempts: '1' },
    });

    // Assess
    const { Messages = [] } = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MessageAttributeNames: ['All'] }),
    );
    expect(Messages).toHaveLength(1);
    expect(Messages[0].MessageAttributes?.reason?.StringValue).toBe('PermanentError: 401');
    expect(Messages[0].MessageAttributes?.destination?.StringValue).toBe('audit');
  });

  it('should requeue on the sink queue in group order, body intact, dropping a second copy with the same deduplication id', async () => {
    // Prepare
    const { queueUrl, dlqUrl } = await createSinkQueues(aws, 'record-requeue');
    const queue = new SqsRecordQueue(aws.sqs, { queueUrl, dlqUrl });
    const backfill = { ...entry('a', 'g1', 'k1'), body: '{"id":"a","summary":"Überlast – ⚠ firing\\n"}' };

    // Act
    const first = await queue.requeue([backfill, entry('b', 'g1', 'k2'), entry('c', 'g2', 'k3')]);
    const again = await queue.requeue([entry('a-again', 'g1', 'k1'), entry('d', 'g1', 'k4')]);

    // Assess
    expect(first.failed).toEqual([]);
    expect(again.failed).toEqual([]);
    const received: Message[] = [];
    for (;;) {
      // A group's next message is received only once the one before it is deleted.
      const { Messages = [] } = await aws.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      if (Messages.length === 0) break;
      received.push(...Messages);
      for (const message of Messages)
        await aws.sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
    }
    const idsOf = (group: string) =>
      received
        .filter((message) => message.Attributes?.MessageGroupId === group)
        .map((message) => JSON.parse(message.Body as string).id);
    expect(idsOf('g1')).toEqual(['a', 'b', 'd']);
    expect(idsOf('g2')).toEqual(['c']);
    expect(received).toHaveLength(4);
    const [a] = received.filter((message) => message.Attributes?.MessageDeduplicationId === 'k1');
    expect(a.Body).toBe(backfill.body);
    const dlq = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10 }));
    expect(dlq.Messages ?? []).toEqual([]);
  });

  it('should refuse a visibility change with a stale receipt handle', async () => {
    // Prepare
    const { queueUrl, dlqUrl } = await createSinkQueues(aws, 'record-stale');
    const queue = new SqsRecordQueue(aws.sqs, { queueUrl, dlqUrl });

    // Act
    const change = queue.changeVisibility('not-a-receipt-handle', 5);

    // Assess
    await expect(change).rejects.toThrow();
  });
});

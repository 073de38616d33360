import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqsEnqueuer, SqsRecordQueue } from '../../lib/queue/sqs.ts';
import type { OutgoingMessage } from '../../lib/queue/types.ts';

const WEBHOOK_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/relay-ci-webhook.fifo';
const CONSOLE_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/relay-ci-console.fifo';
const WEBHOOK_DLQ = 'https://sqs.eu-west-1.amazonaws.com/123456789012/relay-ci-webhook-dlq.fifo';

const sqsMock = mockClient(SQSClient);

function message(n: number, attributes?: Record<string, string>): OutgoingMessage {
  return {
    id: `m${n}`,
    body: JSON.stringify({ n }),
    groupId: `audit:group-${n}`,
    deduplicationId: `key-${n}`,
    ...(attributes && { attributes }),
  };
}

describe('Class: SqsEnqueuer', () => {
  let client: SQSClient;
  let enqueuer: SqsEnqueuer;

  beforeEach(() => {
    sqsMock.reset();
    client = new SQSClient({ region: 'eu-west-1' });
    enqueuer = new SqsEnqueuer(
      client,
      new Map([
        ['webhook', WEBHOOK_QUEUE],
        ['console', CONSOLE_QUEUE],
      ]),
    );
  });

  describe('Method: sendBatch', () => {
    it('should send one SendMessageBatch to the sink’s queue with group, deduplication id and attributes', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });

      // Act
      const result = await enqueuer.sendBatch('webhook', [message(1, { origin: 'ingest' }), message(2)]);

      // Assess
      expect(result).toEqual({ failed: [] });
      const calls = sqsMock.commandCalls(SendMessageBatchCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0].args[0].input).toEqual({
        QueueUrl: WEBHOOK_QUEUE,
        Entries: [
          {
            Id: 'm1',
            MessageBody: '{"n":1}',
            MessageGroupId: 'audit:group-1',
            MessageDeduplicationId: 'key-1',
            MessageAttributes: { origin: { DataType: 'String', StringValue: 'ingest' } },
          },
          {
            Id: 'm2',
            MessageBody: '{"n":2}',
            MessageGroupId: 'audit:group-2',
            MessageDeduplicationId: 'key-2',
            MessageAttributes: undefined,
          },
        ],
      });
    });

    it('should pick the queue URL of the sink it is asked for', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).resolves({});

      // Act
      await enqueuer.sendBatch('console', [message(1)]);

      // Assess
      const calls = sqsMock.commandCalls(SendMessageBatchCommand);
      expect(calls.map((c) => c.args[0].input.QueueUrl)).toEqual([CONSOLE_QUEUE]);
    });

    it('should return the entries SQS listed in Failed of a 200 answer', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).resolves({
        Successful: [{ Id: 'm1', MessageId: 'x', MD5OfMessageBody: 'y' }],
        Failed: [
          { Id: 'm2', SenderFault: false, Code: 'InternalError', Message: 'try again' },
          { Id: 'm3', SenderFault: false, Code: 'ServiceUnavailable' },
        ],
      });

      // Act
      const result = await enqueuer.sendBatch('webhook', [message(1), message(2), message(3)]);

      // Assess
      expect(result.failed.map((f) => f.id)).toEqual(['m2', 'm3']);
      expect(result.failed[0].reason).toBe('InternalError: try again');
      expect(result.failed[1].reason).toMatch(/^ServiceUnavailable/);
    });

    it('should report every entry failed, without calling SQS, for a sink with no queue URL', async () => {
      // Act
      const result = await enqueuer.sendBatch('slack', [message(1), message(2)]);

      // Assess
      expect(result.failed.map((f) => f.id)).toEqual(['m1', 'm2']);
      expect(result.failed[0].reason).toContain('no queue URL for sink slack');
      expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    });

    it('should let an SQS error reach the caller', async () => {
      // Prepare
      sqsMock
        .on(SendMessageBatchCommand)
        .rejects(Object.assign(new Error('slow down'), { name: 'RequestThrottled' }));

      // Act & Assess
      await expect(enqueuer.sendBatch('webhook', [message(1)])).rejects.toThrow('slow down');
    });
  });
});

describe('Class: SqsRecordQueue', () => {
  let queue: SqsRecordQueue;

  beforeEach(() => {
    sqsMock.reset();
    queue = new SqsRecordQueue(new SQSClient({ region: 'eu-west-1' }), {
      queueUrl: WEBHOOK_QUEUE,
      dlqUrl: WEBHOOK_DLQ,
    });
  });

  afterEach(() => {
    sqsMock.reset();
  });

  describe('Method: changeVisibility', () => {
    it('should call ChangeMessageVisibility on the sink’s queue with the receipt handle and seconds', async () => {
      // Prepare
      sqsMock.on(ChangeMessageVisibilityCommand).resolves({});

      // Act
      await queue.changeVisibility('receipt-1', 120);

      // Assess
      const calls = sqsMock.commandCalls(ChangeMessageVisibilityCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0].args[0].input).toEqual({
        QueueUrl: WEBHOOK_QUEUE,
        ReceiptHandle: 'receipt-1',
        VisibilityTimeout: 120,
      });
    });

    it('should let an SQS error reach the caller', async () => {
      // Prepare
      sqsMock.on(ChangeMessageVisibilityCommand).rejects(new Error('receipt handle expired'));

      // Act & Assess
      await expect(queue.changeVisibility('receipt-1', 0)).rejects.toThrow('receipt handle expired');
    });
  });

  describe('Method: requeue', () => {
    it('should send one SendMessageBatch to the sink’s own queue, not the DLQ, each entry in its group', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });

      // Act
      const result = await queue.requeue([message(1), message(2, { backfill: 'true' })]);

      // Assess
      expect(result).toEqual({ failed: [] });
      const calls = sqsMock.commandCalls(SendMessageBatchCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0].args[0].input).toEqual({
        QueueUrl: WEBHOOK_QUEUE,
        Entries: [
          {
            Id: 'm1',
            MessageBody: '{"n":1}',
            MessageGroupId: 'audit:group-1',
            MessageDeduplicationId: 'key-1',
            MessageAttributes: undefined,
          },
          {
            Id: 'm2',
            MessageBody: '{"n":2}',
            MessageGroupId: 'audit:group-2',
            MessageDeduplicationId: 'key-2',
            MessageAttributes: { backfill: { DataType: 'String', StringValue: 'true' } },
          },
        ],
      });
      expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    });

    it('should return the entries SQS listed in Failed of a 200 answer, by id', async () => {
      // Prepare
      sqsMock.on(SendMessageBatchCommand).resolves({
        Successful: [{ Id: 'm1', MessageId: 'x', MD5OfMessageBody: 'y' }],
        Failed: [{ Id: 'm2', SenderFault: true, Code: 'InvalidMessageContents', Message: 'bad character' }],
      });

      // Act
      const result = await queue.requeue([message(1), message(2)]);

      // Assess
      expect(result).toEqual({ failed: [{ id: 'm2', reason: 'InvalidMessageContents: bad character' }] });
    });

    it('should let an SQS error reach the caller', async () => {
      // Prepare
      sqsMock
        .on(SendMessageBatchCommand)
        .rejects(Object.assign(new Error('not authorized to send'), { name: 'AccessDenied' }));

      // Act & Assess
      await expect(queue.requeue([message(1)])).rejects.toThrow('not authorized to send');
      expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
    });
  });

  describe('Method: sendToDlq', () => {
    it('should SendMessage to the DLQ URL with String message attributes', async () => {
      // Prepare
      sqsMock.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });

      // Act
      await queue.sendToDlq(
        message(7, { reason: 'PermanentError: webhook answered 404', attempts: '1', statusCode: '404' }),
      );

      // Assess
      const calls = sqsMock.commandCalls(SendMessageCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0].args[0].input).toEqual({
        QueueUrl: WEBHOOK_DLQ,
        MessageBody: '{"n":7}',
        MessageGroupId: 'audit:group-7',
        MessageDeduplicationId: 'key-7',
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: 'PermanentError: webhook answered 404' },
          attempts: { DataType: 'String', StringValue: '1' },
          statusCode: { DataType: 'String', StringValue: '404' },
        },
      });
      expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    });

    it('should let an SQS error reach the caller, so the record is retried', async () => {
      // Prepare
      sqsMock.on(SendMessageCommand).rejects(new Error('AccessDenied'));

      // Act & Assess
      await expect(queue.sendToDlq(message(1))).rejects.toThrow('AccessDenied');
    });
  });
});

import {
  type BatchResultErrorEntry,
  ChangeMessageVisibilityCommand,
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Enqueuer, OutgoingMessage, RecordQueue, SendBatchResult } from './types.ts';

function toAttributes(
  attributes: Record<string, string> | undefined,
): Record<string, MessageAttributeValue> | undefined {
  if (!attributes) return undefined;
  const out: Record<string, MessageAttributeValue> = {};
  for (const [key, value] of Object.entries(attributes))
    out[key] = { DataType: 'String', StringValue: value };
  return out;
}

function toBatchEntry(entry: OutgoingMessage): SendMessageBatchRequestEntry {
  return {
    Id: entry.id,
    MessageBody: entry.body,
    MessageGroupId: entry.groupId,
    MessageDeduplicationId: entry.deduplicationId,
    MessageAttributes: toAttributes(entry.attributes),
  };
}

/** SendMessageBatch answers 200 even when some entries failed: they are listed in Failed. */
function failedEntries(failed: BatchResultErrorEntry[] | undefined): SendBatchResult['failed'] {
  return (failed ?? []).map((f) => ({
    id: f.Id ?? '',
    reason: `${f.Code ?? 'Failed'}: ${f.Message ?? ''}`.trim(),
  }));
}

/** Enqueues on the sinks' SQS FIFO queues; `queueUrls` maps a sink name to its queue URL. */
export class SqsEnqueuer implements Enqueuer {
  readonly #client: SQSClient;
  readonly #queueUrls: ReadonlyMap<string, string>;

  constructor(client: SQSClient, queueUrls: ReadonlyMap<string, string>) {
    this.#client = client;
    this.#queueUrls = queueUrls;
  }

  async sendBatch(sink: string, entries: OutgoingMessage[]): Promise<SendBatchResult> {
    const queueUrl = this.#queueUrls.get(sink);
    if (!queueUrl)
      return { failed: entries.map((e) => ({ id: e.id, reason: `no queue URL for sink ${sink}` })) };
    const output = await this.#client.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries.map(toBatchEntry) }),
    );
    return { failed: failedEntries(output.Failed) };
  }
}

/** ChangeMessageVisibility on a sink's queue, SendMessageBatch to it, and SendMessage to its DLQ. */
export class SqsRecordQueue implements RecordQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #dlqUrl: string;

  constructor(client: SQSClient, options: { queueUrl: string; dlqUrl: string }) {
    this.#client = client;
    this.#queueUrl = options.queueUrl;
    this.#dlqUrl = options.dlqUrl;
  }

  async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    await this.#client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.#queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }

  async requeue(entries: OutgoingMessage[]): Promise<SendBatchResult> {
    const output = await this.#client.send(
      new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: entries.map(toBatchEntry) }),
    );
    return { failed: failedEntries(output.Failed) };
  }

  async sendToDlq(message: OutgoingMessage): Promise<void> {
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#dlqUrl,
        MessageBody: message.body,
        MessageGroupId: message.groupId,
        MessageDeduplicationId: message.deduplicationId,
        MessageAttributes: toAttributes(message.attributes),
      }),
    );
  }
}

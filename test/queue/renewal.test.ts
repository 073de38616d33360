import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renewalDeduplicationId } from '../../lib/queue/idempotency.ts';
import { ensureSinkQueues, LocalRecordQueue } from '../../lib/queue/local.ts';
import { RENEWALS_ATTRIBUTE } from '../../lib/queue/message.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import { SqsRecordQueue } from '../../lib/queue/sqs.ts';
import type { OutgoingMessage, RecordQueue } from '../../lib/queue/types.ts';
import { type AwsEmulators, createSinkQueues, startAwsEmulators } from '../support/aws-emulators.ts';

/**
 * A renewal as the record handler makes one (lib/delivery/record-handler.ts renew): a waiting
 * message handed back at the queue's receive limit is sent again as a fresh copy of its body, in
 * its group, with renewalDeduplicationId, and the original is deleted. Checked against both
 * queues the relay runs on: the embedded node:sqlite queue and SQS (fauxqs, with the FIFO
 * settings lib/infra generates: deduplication per message group).
 */

/** A message as a receive hands it out. */
interface Received {
  messageId: string;
  receiptHandle: string;
  body: string;
  groupId: string;
  deduplicationId: string;
  receiveCount: number;
  attributes: Record<string, string>;
}

/** The few queue operations the test needs, on one sink queue. */
interface QueueUnderTest {
  send(entries: OutgoingMessage[]): Promise<void>;
  receive(max: number): Promise<Received[]>;
  changeVisibility(message: Received, seconds: number): Promise<void>;
  delete(message: Received): Promise<void>;
  /** The record handler's side: where renewals go. */
  records: RecordQueue;
}

let aws: AwsEmulators;
beforeAll(async () => {
  aws = await startAwsEmulators();
});
afterAll(async () => {
  await aws?.stop();
});

async function embeddedQueue(): Promise<QueueUnderTest> {
  const queue = new SqliteQueue({ path: ':memory:' });
  ensureSinkQueues(queue, ['slack'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 50 });
  return {
    async send(entries) {
      expect(queue.send('slack', entries).failed).toEqual([]);
    },
    async receive(max) {
      return queue.receive('slack', { maxMessages: max });
    },
    async changeVisibility(message, seconds) {
      queue.changeVisibility('slack', message.receiptHandle, seconds);
    },
    async delete(message) {
      expect(queue.delete('slack', message.receiptHandle)).toBe(true);
    },
    records: new LocalRecordQueue(queue, 'slack'),
  };
}

let sqsQueues = 0;
async function sqsQueue(): Promise<QueueUnderTest> {
  const { queueUrl, dlqUrl } = await createSinkQueues(aws, `renewal-${++sqsQueues}`, { maxReceiveCount: 50 });
  return {
    async send(entries) {
      const output = await aws.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: entries.map((e) => ({
            Id: e.id,
            MessageBody: e.body,
            MessageGroupId: e.groupId,
            MessageDeduplicationId: e.deduplicationId,
          })),
        }),
      );
      expect(output.Failed ?? []).toEqual([]);
    },
    async receive(max) {
      const { Messages = [] } = await aws.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          VisibilityTimeout: 30,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      return Messages.map((m) => ({
        messageId: m.MessageId as string,
        receiptHandle: m.ReceiptHandle as string,
        body: m.Body as string,
        groupId: m.Attributes?.MessageGroupId as string,
        deduplicationId: m.Attributes?.MessageDeduplicationId as string,
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount),
        attributes: Object.fromEntries(
          Object.entries(m.MessageAttributes ?? {}).map(([name, value]) => [
            name,
            value.StringValue as string,
          ]),
        ),
      }));
    },
    async changeVisibility(message, seconds) {
      await aws.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: message.receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    },
    async delete(message) {
      await aws.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.receiptHandle }),
      );
    },
    records: new SqsRecordQueue(aws.sqs, { queueUrl, dlqUrl }),
  };
}

/** What the record handler sends to renew `message`. */
function renewal(message: Received, id = 'r0'): OutgoingMessage {
  return {
    id,
    body: message.body,
    groupId: message.groupId,
    deduplicationId: renewalDeduplicationId(message.messageId),
    attributes: { [RENEWALS_ATTRIBUTE]: '1' },
  };
}

/** Receives, deleting each message, until the queue has nothing visible: the order a consumer sees. */
async function drain(queue: QueueUnderTest): Promise<Received[]> {
  const seen: Received[] = [];
  for (;;) {
    const batch = await queue.receive(10);
    if (batch.length === 0) return seen;
    for (const message of batch) {
      seen.push(message);
      await queue.delete(message);
    }
  }
}

const idOf = (message: Received) => (JSON.parse(message.body) as { id: string }).id;
const sent = (id: string, groupId = 'slack-dest:g1'): OutgoingMessage => ({
  id,
  body: JSON.stringify({ id, alerts: 'x'.repeat(64) }),
  groupId,
  deduplicationId: `ingest-${id}`,
});

describe.each([
  { name: 'the embedded queue (node:sqlite)', open: embeddedQueue },
  { name: 'SQS (fauxqs)', open: sqsQueue },
])('Renewal of a waiting message on $name', ({ open }) => {
  it('should take a renewal in the same group with a fresh deduplication id, as a new message at receive 1 behind its group-mates', async () => {
    // Prepare: a and b of one group; a is received (and has waited).
    const queue = await open();
    await queue.send([sent('a'), sent('b')]);
    const [a] = await queue.receive(1);
    expect(idOf(a)).toBe('a');

    // Act: a is renewed and reported done.
    const result = await queue.records.requeue([renewal(a)]);
    await queue.delete(a);
    const seen = await drain(queue);

    // Assess: the copy has a's body and group, an id, deduplication id and receive count of its
    // own, and the renewal count; b, which was not in the batch, now comes first (the order the
    // record handler documents).
    expect(result.failed).toEqual([]);
    expect(seen.map(idOf)).toEqual(['b', 'a']);
    const copy = seen[1];
    expect(copy.body).toBe(a.body);
    expect(copy.groupId).toBe(a.groupId);
    expect(copy.messageId).not.toBe(a.messageId);
    expect(copy.deduplicationId).toBe(renewalDeduplicationId(a.messageId));
    expect(copy.receiveCount).toBe(1);
    expect(copy.attributes).toEqual({ [RENEWALS_ATTRIBUTE]: '1' });
  });

  it("should swallow a copy sent with the original's deduplication id within 5 minutes: why a renewal needs its own", async () => {
    // Prepare
    const queue = await open();
    await queue.send([sent('a')]);
    const [a] = await queue.receive(1);

    // Act
    await queue.records.requeue([{ ...renewal(a), deduplicationId: a.deduplicationId }]);
    await queue.delete(a);

    // Assess
    expect(await drain(queue)).toEqual([]);
  });

  it('should absorb the same renewal sent again (a retried SendMessageBatch), and keep the renewals of two copies apart', async () => {
    // Prepare: two copies of one body (a renewal sent again after a crash) in one group.
    const queue = await open();
    await queue.send([sent('a'), { ...sent('a'), id: 'a2', deduplicationId: 'ingest-a-again' }]);
    const [first] = await queue.receive(1);
    await queue.records.requeue([renewal(first)]);
    await queue.delete(first);
    const [second] = await queue.receive(1);

    // Act
    await queue.records.requeue([renewal(second), renewal(first, 'r1')]);
    await queue.delete(second);
    const seen = await drain(queue);

    // Assess: one copy each; the group's state, not the queue, tells the two apart
    // (test/delivery/record-handler.test.ts: the second is skipped as a duplicate).
    expect(seen.map((m) => m.deduplicationId)).toEqual([
      renewalDeduplicationId(first.messageId),
      renewalDeduplicationId(second.messageId),
    ]);
  });
});

// fauxqs hands out one message of a FIFO group per receive (SQS may hand out several, as Lambda's
// batches of up to 10 show), so a batch with two of one group is checked on the embedded queue.
describe('Renewal of a held message on the embedded queue (node:sqlite)', () => {
  it('should deliver the renewal after the group-mate handed back earlier in the same batch', async () => {
    // Prepare: a, b and c of one group; a and b are received together, c stays queued.
    const queue = await embeddedQueue();
    await queue.send([sent('a'), sent('b'), sent('c')]);
    const batch = await queue.receive(2);
    expect(batch.map(idOf)).toEqual(['a', 'b']);
    const [a, b] = batch;

    // Act: a waits (handed back below the limit); b, held behind it at the limit, is renewed.
    await queue.changeVisibility(a, 0);
    await queue.records.requeue([renewal(b)]);
    await queue.delete(b);
    const seen = await drain(queue);

    // Assess: a stays ahead of the copy; c, not in the batch, comes before it.
    expect(seen.map(idOf)).toEqual(['a', 'c', 'b']);
    expect(seen[2].receiveCount).toBe(1);
  });
});

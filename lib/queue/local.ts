/**
 * The queue contracts (Enqueuer, RecordQueue) over the embedded SqliteQueue, named as on AWS:
 * a sink's queue is `<sink>`, its dead-letter queue `<sink>-dlq`.
 */
import type { SqliteQueue } from './sqlite-queue.ts';
import type { Enqueuer, OutgoingMessage, RecordQueue, SendBatchResult } from './types.ts';

export function sinkQueueName(sink: string): string {
  return sink;
}

export function deadLetterQueueName(sink: string): string {
  return `${sink}-dlq`;
}

/** Called after messages were enqueued on a queue, so the worker polling it can wake at once. */
export type OnSent = (queueName: string) => void;

/** Creates each sink's queue and its DLQ (the DLQ has no redrive policy of its own). Idempotent. */
export function ensureSinkQueues(
  queue: SqliteQueue,
  sinkNames: Iterable<string>,
  options: { visibilityTimeoutSeconds: number; maxReceiveCount: number },
): void {
  for (const sink of sinkNames) {
    const dlq = deadLetterQueueName(sink);
    queue.createQueue(dlq, { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds });
    queue.createQueue(sinkQueueName(sink), {
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      maxReceiveCount: options.maxReceiveCount,
      deadLetterQueue: dlq,
    });
  }
}

export class LocalEnqueuer implements Enqueuer {
  private readonly queue: SqliteQueue;
  private readonly onSent?: OnSent;

  constructor(queue: SqliteQueue, options: { onSent?: OnSent } = {}) {
    this.queue = queue;
    this.onSent = options.onSent;
  }

  /** Like SendMessageBatch: throws on more than 10 entries, over 1 MiB or an unknown sink queue. */
  async sendBatch(sink: string, entries: OutgoingMessage[]): Promise<SendBatchResult> {
    const name = sinkQueueName(sink);
    const result = this.queue.send(name, entries);
    if (result.successful.some((s) => !s.duplicate)) this.onSent?.(name);
    return { failed: result.failed };
  }
}

/** RecordQueue for the messages one sink's worker received. */
export class LocalRecordQueue implements RecordQueue {
  private readonly queue: SqliteQueue;
  private readonly sink: string;
  private readonly onSent?: OnSent;

  constructor(queue: SqliteQueue, sink: string, options: { onSent?: OnSent } = {}) {
    this.queue = queue;
    this.sink = sink;
    this.onSent = options.onSent;
  }

  async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    this.queue.changeVisibility(sinkQueueName(this.sink), receiptHandle, seconds);
  }

  async sendToDlq(message: OutgoingMessage): Promise<void> {
    const name = deadLetterQueueName(this.sink);
    const result = this.queue.send(name, [message]);
    const failure = result.failed[0];
    if (failure) throw new Error(`could not send message ${message.id} to ${name}: ${failure.reason}`);
    this.onSent?.(name);
  }
}

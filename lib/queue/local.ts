/**
 * The queue contracts (Enqueuer, RecordQueue) over the embedded SqliteQueue, named as on AWS:
 * a sink's queue is `<sink>`, its dead-letter queue `<sink>-dlq`.
 */
import { QueueError, type SqliteQueue } from './sqlite-queue.ts';
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

interface PendingSend {
  name: string;
  entries: OutgoingMessage[];
  resolve: (result: SendBatchResult) => void;
  reject: (error: unknown) => void;
}

/**
 * SendMessageBatch over the embedded queue, with group commit: the sends of every request that
 * arrived in the same turn of the event loop are written in one transaction, and each caller is
 * answered only after that commit (so a 202 still means on disk). A send refused as a whole (an
 * unknown queue, too many entries) throws a QueueError before writing anything and fails alone;
 * a storage failure fails every send of the transaction, none of which was written.
 */
export class LocalEnqueuer implements Enqueuer {
  private readonly queue: SqliteQueue;
  private readonly onSent?: OnSent;
  private pending: PendingSend[] = [];

  constructor(queue: SqliteQueue, options: { onSent?: OnSent } = {}) {
    this.queue = queue;
    this.onSent = options.onSent;
  }

  /** Like SendMessageBatch: throws on more than 10 entries, over 1 MiB or an unknown sink queue. */
  sendBatch(sink: string, entries: OutgoingMessage[]): Promise<SendBatchResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ name: sinkQueueName(sink), entries, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const outcomes: ({ result: SendBatchResult; woke: boolean } | { error: unknown })[] = [];
    try {
      this.queue.atomically(() => {
        for (const send of batch) {
          try {
            const result = this.queue.send(send.name, send.entries);
            outcomes.push({
              result: { failed: result.failed },
              woke: result.successful.some((s) => !s.duplicate),
            });
          } catch (error) {
            if (!(error instanceof QueueError)) throw error;
            outcomes.push({ error });
          }
        }
      });
    } catch (error) {
      // The storage failed, or the commit itself: nothing of the group was written.
      for (const send of batch) send.reject(error);
      return;
    }
    const woken = new Set<string>();
    batch.forEach((send, i) => {
      const outcome = outcomes[i];
      if ('error' in outcome) {
        send.reject(outcome.error);
        return;
      }
      if (outcome.woke) woken.add(send.name);
      send.resolve(outcome.result);
    });
    for (const name of woken) this.onSent?.(name);
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

  async requeue(entries: OutgoingMessage[]): Promise<SendBatchResult> {
    const name = sinkQueueName(this.sink);
    const result = this.queue.send(name, entries);
    if (result.failed.length < entries.length) this.onSent?.(name);
    return { failed: result.failed };
  }

  async sendToDlq(message: OutgoingMessage): Promise<void> {
    const name = deadLetterQueueName(this.sink);
    const result = this.queue.send(name, [message]);
    const failure = result.failed[0];
    if (failure) throw new Error(`could not send message ${message.id} to ${name}: ${failure.reason}`);
    this.onSent?.(name);
  }
}

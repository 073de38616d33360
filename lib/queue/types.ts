/**
 * What ingest and the sink handlers need from a queue. `lib/queue/sqs.ts` implements it
 * with SQS FIFO queues on AWS; `lib/queue/local.ts` with the embedded node:sqlite queue.
 */

/** One message to enqueue, as in an SQS SendMessageBatch entry. */
export interface OutgoingMessage {
  /** Unique within one batch call; used to report which entries failed. */
  id: string;
  body: string;
  groupId: string;
  deduplicationId: string;
  /** String message attributes (e.g. the DLQ reason). */
  attributes?: Record<string, string>;
}

export interface SendBatchResult {
  /** ids of the entries that were not accepted. */
  failed: { id: string; reason: string }[];
}

/** Enqueues on a sink's queue. Used by ingest. */
export interface Enqueuer {
  /** At most 10 entries and 1 MiB in all per call, as SendMessageBatch. */
  sendBatch(sink: string, entries: OutgoingMessage[]): Promise<SendBatchResult>;
}

/** Acts on a received message. Used by a sink's record handler. */
export interface RecordQueue {
  /** Makes a received message visible again after `seconds` (0..43200). */
  changeVisibility(receiptHandle: string, seconds: number): Promise<void>;
  /** Sends a message to the sink's dead-letter queue. */
  sendToDlq(message: OutgoingMessage): Promise<void>;
  /**
   * Puts messages on the sink's own queue, each in its message group (a storm's backfill, a
   * waiting message's renewal), as one SendMessageBatch call: at most 10 entries and 1 MiB
   * (lib/queue/batches.ts). Entries of one group are enqueued in the order given.
   */
  requeue(entries: OutgoingMessage[]): Promise<SendBatchResult>;
}

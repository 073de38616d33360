import type { OutgoingMessage } from './types.ts';

/**
 * SQS accepts at most 10 entries and 1 MiB (1,048,576 bytes) of bodies per SendMessageBatch call
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html).
 * Ingest's fan-out and a storm's backfill (lib/chat/storm/backfill.ts) send through it.
 */
export const MAX_BATCH_BYTES = 1_048_576;
export const MAX_BATCH_ENTRIES = 10;

/** Packs messages into SendMessageBatch calls: at most 10 entries and 1 MiB per call. */
export function packBatches(messages: readonly OutgoingMessage[]): OutgoingMessage[][] {
  const batches: OutgoingMessage[][] = [];
  let batch: OutgoingMessage[] = [];
  let used = 0;
  for (const message of messages) {
    const size = Buffer.byteLength(message.body);
    if (batch.length === MAX_BATCH_ENTRIES || (batch.length > 0 && used + size > MAX_BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      used = 0;
    }
    batch.push(message);
    used += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

import { hash } from 'node:crypto';
import type { Notification } from '../alertmanager/types.ts';

/**
 * The idempotency key of one queue message: derived from the payload only (destination,
 * groupKey, status, and each alert's fingerprint, status, startsAt, endsAt, plus the part),
 * never from a message id, so Alertmanager HA duplicates, Alertmanager retries and DLQ
 * redrives (which get new message ids) all map to the same key. 64 hex chars: fits SQS's
 * MessageDeduplicationId (128) and the Standard Webhooks webhook-id.
 */
export function idempotencyKey(
  destination: string,
  notification: Pick<Notification, 'groupKey' | 'status' | 'alerts'>,
  part: { index: number; count: number } = { index: 1, count: 1 },
): string {
  const alerts = notification.alerts
    .map((a) => [a.fingerprint, a.status, a.startsAt, a.endsAt].join('\u0000'))
    .sort();
  const material = [
    destination,
    notification.groupKey,
    notification.status,
    `${part.index}/${part.count}`,
    ...alerts,
  ];
  return hash('sha256', material.join('\u0001'));
}

/**
 * The queue's deduplication id (SQS MessageDeduplicationId) of a message ingest sends: the
 * content key and the id of the request that carried it. It absorbs ingest's own resend within
 * one request (the retry of entries SendMessageBatch reported as failed) and nothing else: two
 * posts of the same notification (an Alertmanager HA pair, a retry after a 503, a re-fire with
 * identical content) are two requests, and both reach the queue; the record handler decides
 * from the group's state which of them is a duplicate. 64 hex chars.
 */
export function queueDeduplicationId(contentKey: string, requestId: string): string {
  return hash('sha256', `${contentKey}\u0000${requestId}`);
}

/**
 * SQS MessageGroupId for a destination's alert group: orders a group's notifications (a
 * resolve never overtakes its firing) while groups run in parallel. groupKey can be long and
 * hold any character, so it is hashed; the destination stays readable in the console.
 */
export function messageGroupId(destination: string, groupKey: string): string {
  return `${destination}:${hash('sha256', groupKey).slice(0, 40)}`;
}

/**
 * The deduplication id of a renewal: the fresh copy of a waiting message that the record handler
 * sends to the message's own queue, in its group, when SQS would otherwise move the message to
 * the DLQ on its next receive (lib/delivery/record-handler.ts). Never the original's id: SQS FIFO
 * would absorb a copy sent within 5 minutes of the original as its duplicate. Made from the
 * received message's id, so a resend of the same renewal (a SendMessageBatch retried after an
 * answer that was lost) is absorbed by the queue, while each copy's renewal is a message of its
 * own; two copies of one body (a renewal sent again after a crash) are then one notification to
 * the group's state, which delivers the first and skips the second as its duplicate. 64 hex chars.
 */
export function renewalDeduplicationId(messageId: string): string {
  return hash('sha256', `${messageId}\u0000renewal`);
}

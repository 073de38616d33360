import type { Notification } from '../alertmanager/types.ts';

/** The body of one queue message: one destination's share of one notification (or a part of it). */
export interface QueueMessage {
  v: 1;
  destination: string;
  sink: string;
  idempotencyKey: string;
  part: { index: number; count: number };
  /** When ingest accepted the notification (ISO 8601); delivery latency is measured from here. */
  receivedAt: string;
  notification: Notification;
}

/** Message attributes set on a message sent to a DLQ. */
export const DLQ_ATTRIBUTES = {
  reason: 'reason',
  destination: 'destination',
  statusCode: 'statusCode',
  firstFailureAt: 'firstFailureAt',
  attempts: 'attempts',
  errorType: 'errorType',
} as const;

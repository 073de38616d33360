import type { Notification } from '../alertmanager/types.ts';
import { idempotencyKey } from './idempotency.ts';

/**
 * The queue message format, written by ingest's fan-out and read by the record handler, the
 * DLQ tooling and smoke: the one place that knows its shape.
 */

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

/** The queue message for one destination's share (or part) of a notification. */
export function buildMessage(
  destination: string,
  sink: string,
  notification: Notification,
  receivedAt: string,
  part: { index: number; count: number },
): QueueMessage {
  return {
    v: 1,
    destination,
    sink,
    idempotencyKey: idempotencyKey(destination, notification, part),
    part,
    receivedAt,
    notification,
  };
}

/** Parses and sanity-checks a queue message body (ingest wrote it; a hand-edited redrive may not have). */
export function parseMessage(body: string): QueueMessage {
  const value = JSON.parse(body) as Partial<QueueMessage>;
  if (value?.v !== 1) throw new Error('unknown message version');
  if (typeof value.destination !== 'string' || typeof value.idempotencyKey !== 'string') {
    throw new Error('missing destination or idempotencyKey');
  }
  if (!value.notification || !Array.isArray(value.notification.alerts))
    throw new Error('missing notification');
  if (typeof value.receivedAt !== 'string' || Number.isNaN(Date.parse(value.receivedAt)))
    throw new Error('missing receivedAt');
  return value as QueueMessage;
}

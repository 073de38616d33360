import { hash } from 'node:crypto';
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
  /**
   * Set on a storm's backfill (lib/chat/storm/backfill.ts): the id of the storm this group was folded
   * into. The message re-delivers the group's last folded notification, as it was accepted
   * (`receivedAt` kept), so that the group gets its own message after the storm; only a newer
   * notification of the group supersedes it (lib/delivery/group-state.ts).
   */
  backfill?: string;
}

/**
 * The message attribute a renewal carries (lib/delivery/record-handler.ts): how many times the
 * message was renewed, a fresh copy sent to its own queue instead of waiting into SQS's receive
 * limit. Absent on a message never renewed.
 */
export const RENEWALS_ATTRIBUTE = 'renewals';

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

/**
 * The queue message of a delivery sent again (a storm's backfill): the destination's and sink's,
 * with the share's notification, key, part and acceptance time.
 */
export function shareMessage(
  destination: string,
  sink: string,
  share: Pick<QueueMessage, 'notification' | 'idempotencyKey' | 'part' | 'receivedAt'>,
): QueueMessage {
  return {
    v: 1,
    destination,
    sink,
    idempotencyKey: share.idempotencyKey,
    part: share.part,
    receivedAt: share.receivedAt,
    notification: share.notification,
  };
}

/**
 * The backfill of `message` after storm `stormId`: the same notification, part and acceptance
 * time under a key of its own (a fresh step journal, and a key the group's state can tell from
 * the folded one).
 */
export function backfillMessage(message: QueueMessage, stormId: string): QueueMessage {
  return {
    ...message,
    idempotencyKey: hash('sha256', `${message.idempotencyKey}\u0000backfill\u0000${stormId}`),
    backfill: stormId,
  };
}

/**
 * Characters SQS refuses in a message body and in a string attribute: it accepts only the
 * XML 1.0 characters #x9, #xA, #xD, #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
 * Every refused character is a single UTF-16 code unit (a C0 control, U+FFFE, U+FFFF or an
 * unpaired surrogate).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are the point
const SQS_REFUSED = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

// What of SQS_REFUSED can be left in JSON.stringify's output (it escapes controls and lone
// surrogates itself): a scan for two characters is several times cheaper on a large body.
const JSON_REFUSED = /[\uFFFE\uFFFF]/g;

/**
 * `value` as JSON that SQS accepts and JSON.parse turns back into exactly `value`. JSON.stringify
 * already escapes control characters and unpaired surrogates; U+FFFE and U+FFFF, which Alertmanager
 * passes on in a label, it leaves raw, and one of them would make SQS refuse the message on every
 * retry. Those characters only occur inside JSON strings, where a \uXXXX escape means the same.
 */
export function toQueueJson(value: unknown): string {
  return JSON.stringify(value).replace(
    JSON_REFUSED,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The body of a queue message, as sent: JSON that SQS accepts (see toQueueJson). */
export function serializeMessage(message: QueueMessage): string {
  return toQueueJson(message);
}

/**
 * Text for a string message attribute (the DLQ reason): attributes carry no JSON to escape
 * in, so each character SQS refuses becomes U+FFFD. Cut the text before this, not after: a cut
 * can split a surrogate pair.
 */
export function toQueueText(text: string): string {
  return text.replace(SQS_REFUSED, '\uFFFD');
}

/**
 * Parses and sanity-checks a queue message body (ingest wrote it; a hand-edited redrive may not
 * have). Characters toQueueJson escaped come back as they were.
 */
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
  if (value.backfill !== undefined && typeof value.backfill !== 'string')
    throw new Error('malformed backfill');
  return value as QueueMessage;
}

import type { Alert, Notification } from '../alertmanager/types.ts';
import { messageGroupId } from '../queue/idempotency.ts';
import { buildMessage, type QueueMessage } from '../queue/message.ts';
import type { OutgoingMessage } from '../queue/types.ts';
import type { RoutedNotification } from './routing.ts';

/**
 * SQS accepts 1 MiB (1,048,576 bytes) per message and per SendMessageBatch call
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html).
 * A little headroom is kept for the part counter and JSON escapes we don't count exactly.
 */
export const MAX_MESSAGE_BYTES = 1_048_576 - 4096;
export const MAX_BATCH_BYTES = 1_048_576;
export const MAX_BATCH_ENTRIES = 10;

const TRUNCATION_MARK = ' [truncated by alertmanager-relay to fit a 1 MiB queue message]';

/** A notification that cannot fit a queue message even alert by alert (e.g. one alert's labels over 1 MiB). */
export class MessageTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageTooLargeError';
  }
}

/** One message for one sink's queue, and how many alerts it carries. */
export interface FanoutEntry {
  sink: string;
  destination: string;
  alerts: number;
  message: OutgoingMessage;
}

/**
 * Turns routed notifications into queue messages: one per (destination, notification), or
 * several marked part i of n when the notification is over the message limit. No alert is
 * dropped; an alert that alone is over the limit has its annotations shortened, with a mark.
 */
export function buildFanout(
  routed: readonly RoutedNotification[],
  receivedAt: string,
  maxBytes = MAX_MESSAGE_BYTES,
): FanoutEntry[] {
  const entries: FanoutEntry[] = [];
  const push = (
    destination: RoutedNotification['destination'],
    groupKey: string,
    body: string,
    key: string,
    alerts: number,
  ) =>
    entries.push({
      sink: destination.sink,
      destination: destination.name,
      alerts,
      message: {
        id: `m${entries.length}`,
        body,
        groupId: messageGroupId(destination.name, groupKey),
        deduplicationId: key,
      },
    });
  for (const { destination, notification } of routed) {
    const whole = buildMessage(destination.name, destination.sink, notification, receivedAt, {
      index: 1,
      count: 1,
    });
    const body = JSON.stringify(whole);
    if (Buffer.byteLength(body) <= maxBytes) {
      push(destination, notification.groupKey, body, whole.idempotencyKey, notification.alerts.length);
      continue;
    }
    const chunks = splitAlerts(notification, maxBytes, (alerts) =>
      buildMessage(destination.name, destination.sink, { ...notification, alerts }, receivedAt, {
        index: 1,
        count: 1,
      }),
    );
    chunks.forEach((alerts, i) => {
      const part = buildMessage(destination.name, destination.sink, { ...notification, alerts }, receivedAt, {
        index: i + 1,
        count: chunks.length,
      });
      push(destination, notification.groupKey, JSON.stringify(part), part.idempotencyKey, alerts.length);
    });
  }
  return entries;
}

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

function splitAlerts(
  notification: Notification,
  maxBytes: number,
  build: (alerts: Alert[]) => QueueMessage,
): Alert[][] {
  // The envelope without alerts, plus room for part counters.
  const base = bytes(build([])) + 32;
  const room = maxBytes - base;
  if (room <= 0) {
    throw new MessageTooLargeError(
      `the notification's common fields alone are ${base} bytes, over the ${maxBytes}-byte queue message limit`,
    );
  }
  const chunks: Alert[][] = [];
  let chunk: Alert[] = [];
  let used = 0;
  for (const original of notification.alerts) {
    const alert = fitAlert(original, room - 1);
    const size = bytes(alert) + 1;
    if (chunk.length > 0 && used + size > room) {
      chunks.push(chunk);
      chunk = [];
      used = 0;
    }
    chunk.push(alert);
    used += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Shortens the longest annotations of an alert that alone is over `maxBytes`. Labels are kept: they identify it. */
export function fitAlert(alert: Alert, maxBytes: number): Alert {
  let size = bytes(alert);
  if (size <= maxBytes) return alert;
  const annotations = { ...alert.annotations };
  const keys = Object.keys(annotations).sort((a, b) => annotations[b].length - annotations[a].length);
  for (const key of keys) {
    const excess = size - maxBytes;
    if (excess <= 0) break;
    const value = annotations[key];
    // Cut by characters with a byte-sized margin: JSON escaping and multi-byte characters
    // make a value's bytes >= its length.
    const keep = Math.max(0, value.length - excess - TRUNCATION_MARK.length - 16);
    annotations[key] = value.slice(0, keep) + TRUNCATION_MARK;
    size = bytes({ ...alert, annotations });
  }
  const fitted = { ...alert, annotations };
  if (bytes(fitted) > maxBytes) {
    throw new MessageTooLargeError(
      `alert ${alert.fingerprint} is over the ${maxBytes}-byte queue message limit even without its annotations`,
    );
  }
  return fitted;
}

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

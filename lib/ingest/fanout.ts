import { randomUUID } from 'node:crypto';
import type { Alert, Notification } from '../alertmanager/types.ts';
import { messageGroupId, queueDeduplicationId } from '../queue/idempotency.ts';
import { buildMessage, type QueueMessage, serializeMessage, toQueueJson } from '../queue/message.ts';
import type { OutgoingMessage } from '../queue/types.ts';
import { ALERT_RULES, ENVELOPE_RULES, fitRecord, queueBytes, VALUE_CAP_BYTES } from './fit.ts';
import type { RoutedNotification } from './routing.ts';

/**
 * SQS accepts 1 MiB (1,048,576 bytes) per message
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html).
 * A little headroom is kept for the part counter. Batches: lib/queue/batches.ts.
 */
export const MAX_MESSAGE_BYTES = 1_048_576 - 4096;

/**
 * The most a notification's envelope (everything but its alerts) keeps of a message: 3/8, so
 * the rest still holds an alert with a few values at the value cap (VALUE_CAP_BYTES).
 */
const ENVELOPE_SHARE = 3 / 8;

/** A notification that cannot fit a queue message even cut down (only its identity fields left). */
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

/** The ingest request the notification came in: when it was accepted, and its id. */
export interface IngestRequest {
  /** ISO 8601. */
  receivedAt: string;
  /** API Gateway's requestContext.requestId (the local server makes one per request too). */
  requestId: string;
}

/**
 * Turns routed notifications into queue messages: one per (destination, notification), or
 * several marked part i of n when the notification is over the message limit. No alert is
 * dropped: string values over VALUE_CAP_BYTES, and whatever else keeps an alert or the
 * envelope from fitting, are cut with a ` [truncated N bytes]` mark (lib/ingest/fit.ts). Each
 * message's deduplication id is its content key and the request's id, so only this request's
 * own resend is absorbed by the queue.
 */
export function buildFanout(
  routed: readonly RoutedNotification[],
  request: IngestRequest,
  maxBytes = MAX_MESSAGE_BYTES,
): FanoutEntry[] {
  const entries: FanoutEntry[] = [];
  const bodies = new MessageBodies();
  for (const { destination, notification } of routed) {
    const build = (shared: Notification, alerts: Alert[], part: { index: number; count: number }) =>
      buildMessage(destination.name, destination.sink, { ...shared, alerts }, request.receivedAt, part);
    const push = (message: QueueMessage, body = serializeMessage(message)) =>
      entries.push({
        sink: destination.sink,
        destination: destination.name,
        alerts: message.notification.alerts.length,
        message: {
          id: `m${entries.length}`,
          body,
          // From the groupKey as it came: a cut one must still order with its group.
          groupId: messageGroupId(destination.name, notification.groupKey),
          deduplicationId: queueDeduplicationId(message.idempotencyKey, request.requestId),
        },
      });
    const asItCame = build(notification, notification.alerts, ONE_PART);
    const body = bodies.write(asItCame);
    if (Buffer.byteLength(body) <= Math.min(VALUE_CAP_BYTES, maxBytes)) {
      // No value can be over the cap in a message smaller than the cap: nothing to cut.
      push(asItCame, body);
      continue;
    }
    const fitted = fitNotification(notification, maxBytes, (shared) => build(shared, [], ONE_PART));
    const whole = build(fitted, fitted.alerts, ONE_PART);
    if (queueBytes(whole) <= maxBytes) {
      push(whole);
      continue;
    }
    const chunks = splitAlerts(fitted.alerts, maxBytes - queueBytes(build(fitted, [], ONE_PART)) - 32);
    chunks.forEach((alerts, i) => {
      push(build(fitted, alerts, { index: i + 1, count: chunks.length }));
    });
  }
  return entries;
}

const ONE_PART = { index: 1, count: 1 } as const;

/**
 * The bodies of one notification's messages, exactly as serializeMessage writes them, but each
 * alert serialized once however many destinations carry it: the alerts are most of a body, and
 * a notification routed to three destinations was serialized (and scanned for characters SQS
 * refuses) three times. The envelope is serialized with a mark where the alerts go; the mark
 * is random per process, and a body in which it is not found exactly once (a notification
 * carrying it) is written by serializeMessage instead. A test pins `write(m) === serializeMessage(m)`.
 */
export class MessageBodies {
  readonly #alerts = new Map<Alert, string>();

  write(message: QueueMessage): string {
    const alerts = message.notification.alerts;
    let list = '[';
    for (let i = 0; i < alerts.length; i++) {
      let json = this.#alerts.get(alerts[i]);
      if (json === undefined) {
        json = toQueueJson(alerts[i]);
        this.#alerts.set(alerts[i], json);
      }
      list += i === 0 ? json : `,${json}`;
    }
    const envelope = toQueueJson({
      ...message,
      notification: { ...message.notification, alerts: ALERTS_MARK },
    });
    const at = envelope.indexOf(ALERTS_MARK_JSON);
    if (at < 0 || envelope.includes(ALERTS_MARK_JSON, at + 1)) return serializeMessage(message);
    return `${envelope.slice(0, at)}${list}]${envelope.slice(at + ALERTS_MARK_JSON.length)}`;
  }
}

const ALERTS_MARK = `relay-alerts-${randomUUID()}`;
const ALERTS_MARK_JSON = JSON.stringify(ALERTS_MARK);

/** `notification` with every value capped, and its envelope and each alert cut to fit (see lib/ingest/fit.ts). */
function fitNotification(
  notification: Notification,
  maxBytes: number,
  envelopeMessage: (shared: Notification) => QueueMessage,
): Notification {
  const { alerts, ...rest } = notification;
  const envelope = fitRecord(
    { ...rest, alerts: [] } as Notification,
    Math.floor(maxBytes * ENVELOPE_SHARE),
    ENVELOPE_RULES,
  );
  if (!envelope.fits) {
    throw new MessageTooLargeError(
      `the notification's envelope does not fit a ${maxBytes}-byte queue message`,
    );
  }
  // The envelope in a message, plus room for the part counters and the comma between alerts.
  const room = maxBytes - queueBytes(envelopeMessage(envelope.value)) - 32 - 1;
  return { ...envelope.value, alerts: alerts.map((alert) => fitAlert(alert, room)) };
}

/** `alert` cut to at most `maxBytes` in a queue message (see lib/ingest/fit.ts). */
export function fitAlert(alert: Alert, maxBytes: number): Alert {
  if (queueBytes(alert) <= Math.min(maxBytes, VALUE_CAP_BYTES)) return alert;
  const fitted = fitRecord(alert, maxBytes, ALERT_RULES);
  if (!fitted.fits) {
    throw new MessageTooLargeError(
      `alert ${alert.fingerprint.slice(0, 64)} does not fit a ${maxBytes}-byte queue message even cut down`,
    );
  }
  return fitted.value;
}

/** Alerts, each already fitting `room`, in order into chunks of at most `room` bytes. */
function splitAlerts(alerts: readonly Alert[], room: number): Alert[][] {
  const chunks: Alert[][] = [];
  let chunk: Alert[] = [];
  let used = 0;
  for (const alert of alerts) {
    const size = queueBytes(alert) + 1;
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

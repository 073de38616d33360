import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { RelayConfig } from '../config/types.ts';
import { DLQ_ATTRIBUTES, parseMessage, type QueueMessage } from '../queue/message.ts';
import type { RecordQueue } from '../queue/types.ts';
import type { StateStore } from '../state/store.ts';
import { contextLogger, type Telemetry } from '../telemetry.ts';
import { PermanentError, RetryableError } from './errors.ts';
import {
  type BackoffPolicy,
  backoffSeconds,
  DEFAULT_BACKOFF,
  DELIVERY_POLICY,
  retryAfterVisibility,
} from './policy.ts';
import type { SecretReader, Sink } from './sink.ts';

/** How long "this was delivered" is remembered, so a redelivery or redrive is not delivered twice. */
export const IDEMPOTENCY_TTL_SECONDS = DELIVERY_POLICY.stateTtlSeconds;

/**
 * See DeliveryPolicy.duplicateWindowMs. A redriven message keeps its original acceptance
 * time, so it always counts as the same.
 */
export const DUPLICATE_WINDOW_MS = DELIVERY_POLICY.duplicateWindowMs;

export interface RecordHandlerDependencies {
  sink: Sink;
  config: RelayConfig;
  secrets: SecretReader;
  state: StateStore;
  queue: RecordQueue;
  telemetry: Telemetry;
  /** The queue's maxReceiveCount: the attempt that fails retryably at this count is dead-lettered by us, with its reason. */
  maxReceiveCount: number;
  backoff?: BackoffPolicy;
  now?: () => number;
}

interface DeliveredRecord {
  receivedAt: string;
  deliveredAt: string;
}

export type RecordHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/**
 * Delivers a batch of a sink's FIFO queue, the FIFO way: records in order, and once a record
 * fails, it and every later record of its message group are reported in batchItemFailures (they
 * must not overtake it). Records of other groups go on: ordering is per group, and skipping them
 * too would count a receive against each (ApproximateReceiveCount), so in a storm a message could
 * reach maxReceiveCount, and the DLQ, without being tried that often.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 */
export function createRecordHandler(deps: RecordHandlerDependencies): RecordHandler {
  const now = deps.now ?? Date.now;
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const destinations = new Map(deps.config.destinations.map((d) => [d.name, d]));
  const { logger } = deps.telemetry;

  return async (event) => {
    const batchItemFailures: { itemIdentifier: string }[] = [];
    const failedGroups = new Set<string | undefined>();
    for (const record of event.Records) {
      const group = record.attributes.MessageGroupId;
      if (failedGroups.has(group)) {
        batchItemFailures.push({ itemIdentifier: record.messageId });
        // Back at once rather than after the visibility timeout: the group stays blocked by
        // its failed record anyway.
        await deps.queue.changeVisibility(record.receiptHandle, 0).catch(() => undefined);
        continue;
      }
      const ok = await handleRecord(record);
      if (!ok) {
        failedGroups.add(group);
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  };

  /** true: done with this record (delivered, duplicate or dead-lettered); false: retry it. */
  async function handleRecord(record: SQSRecord): Promise<boolean> {
    const attempt = Number(record.attributes.ApproximateReceiveCount) || 1;
    let message: QueueMessage;
    try {
      message = parseMessage(record.body);
    } catch (error) {
      return deadLetter(
        record,
        undefined,
        new PermanentError(`malformed queue message: ${(error as Error).message}`),
        attempt,
      );
    }
    const context = {
      destination: message.destination,
      sink: deps.sink.name,
      groupKey: message.notification.groupKey,
      attempt,
      idempotencyKey: message.idempotencyKey,
      part: `${message.part.index}/${message.part.count}`,
    };
    const destination = destinations.get(message.destination);
    if (!destination || destination.sink !== deps.sink.name) {
      return deadLetter(
        record,
        message,
        new PermanentError(
          `destination "${message.destination}" is not configured for sink ${deps.sink.name}`,
        ),
        attempt,
      );
    }
    const stateKey = `idem#${message.destination}#${message.idempotencyKey}`;
    try {
      const previous = await deps.state.get<DeliveredRecord>(stateKey);
      if (
        previous &&
        Math.abs(Date.parse(previous.receivedAt) - Date.parse(message.receivedAt)) < DUPLICATE_WINDOW_MS
      ) {
        deps.telemetry.count('DuplicatesSkipped', { sink: deps.sink.name, destination: message.destination });
        logger.info('already delivered; skipping', { ...context, deliveredAt: previous.deliveredAt });
        return true;
      }
      await deps.sink.deliver({
        destination,
        notification: message.notification,
        idempotencyKey: message.idempotencyKey,
        part: message.part,
        receivedAt: message.receivedAt,
        attempt,
        secrets: deps.secrets,
        state: deps.state,
        logger: contextLogger(logger, context),
        count: (name, value) =>
          deps.telemetry.count(name, { sink: deps.sink.name, destination: message.destination }, value),
      });
    } catch (error) {
      return failure(record, message, error, attempt, context);
    }
    const deliveredAt = new Date(now()).toISOString();
    const dimensions = { sink: deps.sink.name, destination: message.destination };
    deps.telemetry.count('Delivered', dimensions);
    deps.telemetry.milliseconds(
      'DeliveryLatency',
      dimensions,
      Math.max(0, now() - Date.parse(message.receivedAt)),
    );
    logger.info('delivered', context);
    try {
      await deps.state.put(
        stateKey,
        { receivedAt: message.receivedAt, deliveredAt } satisfies DeliveredRecord,
        {
          ttlSeconds: IDEMPOTENCY_TTL_SECONDS,
        },
      );
    } catch (error) {
      // Delivered already: retrying would deliver twice. The worst case of not recording it
      // is one duplicate if this very message comes back.
      deps.telemetry.reportError(error, { ...context, stage: 'record-idempotency' });
    }
    return true;
  }

  async function failure(
    record: SQSRecord,
    message: QueueMessage,
    error: unknown,
    attempt: number,
    context: Record<string, string | number>,
  ): Promise<boolean> {
    if (error instanceof PermanentError) return deadLetter(record, message, error, attempt);
    if (!(error instanceof RetryableError))
      deps.telemetry.reportError(error, { ...context, stage: 'deliver' });
    const reason = describeError(error);
    if (attempt >= deps.maxReceiveCount) {
      return deadLetter(record, message, error, attempt, `gave up after ${attempt} attempts: ${reason}`);
    }
    const retryAfter = error instanceof RetryableError ? error.retryAfterSeconds : undefined;
    const delay =
      retryAfter !== undefined ? retryAfterVisibility(retryAfter) : backoffSeconds(attempt, backoff);
    deps.telemetry.count('Retried', { sink: deps.sink.name, destination: message.destination });
    logger.warn('delivery failed; will retry', { ...context, reason, retryInSeconds: delay });
    try {
      await deps.queue.changeVisibility(record.receiptHandle, delay);
    } catch (visibilityError) {
      // The message still comes back after the queue's visibility timeout.
      logger.warn('could not change visibility', { ...context, error: describeError(visibilityError) });
    }
    return false;
  }

  async function deadLetter(
    record: SQSRecord,
    message: QueueMessage | undefined,
    error: unknown,
    attempt: number,
    reason = describeError(error),
  ): Promise<boolean> {
    const statusCode = (error as { statusCode?: number } | null | undefined)?.statusCode;
    const firstReceive = Number(record.attributes.ApproximateFirstReceiveTimestamp) || now();
    const attributes: Record<string, string> = {
      [DLQ_ATTRIBUTES.reason]: reason.slice(0, 1000),
      [DLQ_ATTRIBUTES.destination]: message?.destination ?? 'unknown',
      [DLQ_ATTRIBUTES.firstFailureAt]: new Date(firstReceive).toISOString(),
      [DLQ_ATTRIBUTES.attempts]: String(attempt),
      [DLQ_ATTRIBUTES.errorType]: error instanceof PermanentError ? 'permanent' : 'retries-exhausted',
    };
    if (statusCode !== undefined) attributes[DLQ_ATTRIBUTES.statusCode] = String(statusCode);
    try {
      await deps.queue.sendToDlq({
        id: record.messageId,
        body: record.body,
        groupId: record.attributes.MessageGroupId ?? 'unknown',
        // The DLQ dedups for 5 minutes too: a message dead-lettered, redriven and failing
        // again within that window must still land, so the attempt time is part of the id.
        deduplicationId: `${(record.attributes.MessageDeduplicationId ?? record.messageId).slice(0, 100)}-${now()}`,
        attributes,
      });
    } catch (dlqError) {
      deps.telemetry.reportError(dlqError, { stage: 'dead-letter', destination: message?.destination });
      return false;
    }
    deps.telemetry.count('DeadLettered', {
      sink: deps.sink.name,
      destination: message?.destination ?? 'unknown',
    });
    logger.error('dead-lettered', {
      destination: message?.destination,
      groupKey: message?.notification.groupKey,
      idempotencyKey: message?.idempotencyKey,
      attempt,
      reason,
      statusCode,
    });
    return true;
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

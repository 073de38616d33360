import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { RelayConfig } from '../config/types.ts';
import { packBatches } from '../queue/batches.ts';
import { messageGroupId } from '../queue/idempotency.ts';
import {
  backfillMessage,
  DLQ_ATTRIBUTES,
  parseMessage,
  type QueueMessage,
  serializeMessage,
  shareMessage,
  toQueueText,
} from '../queue/message.ts';
import type { RecordQueue } from '../queue/types.ts';
import type { StateStore } from '../state/store.ts';
import { contextLogger, type Telemetry } from '../telemetry.ts';
import { type AttemptRecord, clearAttempts, countFailure, readAttempts } from './attempts.ts';
import { type DeadlineContext, type DeliveryClock, runWithDeadline } from './deadline.ts';
import { DeferredError, OutOfTimeError, PermanentError, RetryableError } from './errors.ts';
import {
  afterApply,
  afterDuplicate,
  type GroupVerdict,
  judge,
  readAppliedGroup,
  writeAppliedGroup,
} from './group-state.ts';
import {
  type BackoffPolicy,
  backoffSeconds,
  DEADLINE_MARGIN_MS,
  DEFAULT_BACKOFF,
  DELIVERY_POLICY,
  retryAfterVisibility,
} from './policy.ts';
import type { SecretReader, Sink } from './sink.ts';

/** How long a group's last applied notification and a message's attempt count are remembered. */
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
  /**
   * The queue's redrive maxReceiveCount (DELIVERY_POLICY.receiveBackstop): a record received this
   * often is dead-lettered by the handler, with its reason, whatever happens to it, because SQS
   * would move it without one on the next receive.
   */
  maxReceiveCount: number;
  /** Failed attempts (counted by the relay) after which a message is dead-lettered. Default DELIVERY_POLICY.maxAttempts. */
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  now?: () => number;
}

/** The handler as Lambda calls it; without a context (a test, a script) there is no deadline. */
export type RecordHandler = (event: SQSEvent, context?: DeadlineContext) => Promise<SQSBatchResponse>;

const NO_DEADLINE: DeadlineContext = { getRemainingTimeInMillis: () => Number.POSITIVE_INFINITY };

/** What became of a record: done with (delivered, skipped or dead-lettered), or handed back to the queue. */
type Outcome = 'done' | 'returned';

interface Invocation {
  context: DeadlineContext;
  /** now() when the handler was called: the receive was just before it. */
  startedAt: number;
}

/**
 * Delivers a batch of a sink's FIFO queue, the FIFO way: records in order, and once a record
 * is handed back, it and every later record of its message group are reported in
 * batchItemFailures (they must not overtake it). Records of other groups go on: ordering is per
 * group. Whether a message is applied is decided by its group's state (lib/delivery/group-state.ts),
 * failed attempts are counted in the state store (lib/delivery/attempts.ts), so a record held
 * back behind a group-mate or returned for lack of time loses nothing, and the function's
 * deadline (lib/delivery/deadline.ts) is carried into the sink's vendor calls.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 */
export function createRecordHandler(deps: RecordHandlerDependencies): RecordHandler {
  const now = deps.now ?? Date.now;
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const maxAttempts = deps.maxAttempts ?? DELIVERY_POLICY.maxAttempts;
  const destinations = new Map(deps.config.destinations.map((d) => [d.name, d]));
  const { logger } = deps.telemetry;

  return async (event, context = NO_DEADLINE) => {
    const invocation: Invocation = { context, startedAt: now() };
    const batchItemFailures: { itemIdentifier: string }[] = [];
    const heldGroups = new Set<string | undefined>();
    for (const record of event.Records) {
      const group = record.attributes.MessageGroupId;
      let outcome: Outcome;
      if (heldGroups.has(group)) {
        outcome = await handBack(record, 'an earlier message of its group was handed back');
      } else if (context.getRemainingTimeInMillis() < DEADLINE_MARGIN_MS) {
        outcome = await handBack(record, "the function's time ran out before it was started");
      } else {
        outcome = await handleRecord(record, invocation);
      }
      if (outcome === 'returned') {
        heldGroups.add(group);
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  };

  function receiveCount(record: SQSRecord): number {
    return Number(record.attributes.ApproximateReceiveCount) || 1;
  }

  /**
   * A record that was not tried (held behind its group, or no time to start it): back at once,
   * without counting an attempt. Only at the queue's receive limit is it dead-lettered, since
   * SQS would otherwise move it to the DLQ on the next receive without a reason.
   */
  async function handBack(record: SQSRecord, why: string): Promise<Outcome> {
    const received = receiveCount(record);
    if (received >= deps.maxReceiveCount) {
      const message = tryParse(record.body);
      return deadLetter(
        record,
        message,
        new RetryableError(`received ${received} times without being delivered: ${why}`),
        undefined,
        `received ${received} times (the queue's limit) without being delivered: ${why}`,
      );
    }
    // Back at once rather than after the visibility timeout: its group is held anyway.
    await deps.queue.changeVisibility(record.receiptHandle, 0).catch(() => undefined);
    return 'returned';
  }

  async function handleRecord(record: SQSRecord, invocation: Invocation): Promise<Outcome> {
    let message: QueueMessage;
    try {
      message = parseMessage(record.body);
    } catch (error) {
      return deadLetter(
        record,
        undefined,
        new PermanentError(`malformed queue message: ${(error as Error).message}`),
      );
    }
    const dimensions = { sink: deps.sink.name, destination: message.destination };
    const context: Record<string, string | number> = {
      destination: message.destination,
      sink: deps.sink.name,
      groupKey: message.notification.groupKey,
      receiveCount: receiveCount(record),
      idempotencyKey: message.idempotencyKey,
      receivedAt: message.receivedAt,
      part: `${message.part.index}/${message.part.count}`,
    };
    if (message.backfill !== undefined) context.backfill = message.backfill;
    const destination = destinations.get(message.destination);
    if (!destination || destination.sink !== deps.sink.name) {
      return deadLetter(
        record,
        message,
        new PermanentError(
          `destination "${message.destination}" is not configured for sink ${deps.sink.name}`,
        ),
      );
    }

    let attempts: AttemptRecord | undefined;
    let verdict: GroupVerdict;
    let applied: Awaited<ReturnType<typeof readAppliedGroup>>;
    try {
      [applied, attempts] = await Promise.all([
        readAppliedGroup(deps.state, message.destination, message.notification.groupKey),
        readAttempts(deps.state, message),
      ]);
      verdict = judge(message, applied);
    } catch (error) {
      return failure(record, message, error, undefined, context, invocation);
    }
    if (verdict.action === 'duplicate') {
      deps.telemetry.count('DuplicatesSkipped', dimensions);
      logger.info('duplicate of the notification last applied to its group; skipping', {
        ...context,
        appliedReceivedAt: verdict.applied.receivedAt,
        appliedAt: verdict.applied.appliedAt,
      });
      const confirmed = afterDuplicate(verdict.applied, message);
      if (confirmed) {
        await writeAppliedGroup(
          deps.state,
          message.destination,
          message.notification.groupKey,
          confirmed,
        ).catch((error: unknown) =>
          deps.telemetry.reportError(error, { ...context, stage: 'record-group-state' }),
        );
      }
      return 'done';
    }
    if (verdict.action === 'superseded' && deps.sink.kind === 'lifecycle') {
      deps.telemetry.count('Superseded', dimensions);
      logger.info('superseded: a newer notification of its group was applied; skipping', {
        ...context,
        supersededBy: verdict.by,
      });
      return 'done';
    }

    const attempt = (attempts?.failures ?? 0) + 1;
    context.attempt = attempt;
    const clock: DeliveryClock = { context: invocation.context, progressed: false };
    try {
      await runWithDeadline(clock, () =>
        deps.sink.deliver(
          {
            destination,
            notification: message.notification,
            idempotencyKey: message.idempotencyKey,
            part: message.part,
            receivedAt: message.receivedAt,
            attempt,
            ...(verdict.action === 'superseded' ? { superseded: { by: verdict.by } } : {}),
            secrets: deps.secrets,
            state: deps.state,
            logger: contextLogger(logger, context),
            count: (name, value) => deps.telemetry.count(name, dimensions, value),
          },
          {
            ...(message.backfill !== undefined ? { backfillOf: message.backfill } : {}),
            backfill: (shares, stormId) =>
              requeue(
                shares.map((share) =>
                  backfillMessage(shareMessage(message.destination, message.sink, share), stormId),
                ),
              ),
          },
        ),
      );
    } catch (error) {
      if (error instanceof OutOfTimeError && clock.progressed) {
        logger.info("the function's time ran out after progress; handed back to carry on at once", {
          ...context,
          reason: describeError(error),
        });
        return handBack(record, "the function's time ran out after progress, each time");
      }
      return failure(record, message, error, attempts, context, invocation);
    }

    deps.telemetry.count('Delivered', dimensions);
    deps.telemetry.milliseconds(
      'DeliveryLatency',
      dimensions,
      Math.max(0, now() - Date.parse(message.receivedAt)),
    );
    if (verdict.action === 'superseded') {
      logger.info('delivered, marked superseded: a newer notification of its group was applied', {
        ...context,
        supersededBy: verdict.by,
      });
    } else {
      logger.info('delivered', context);
    }
    try {
      if (verdict.action === 'apply') {
        const appliedAt = new Date(now()).toISOString();
        await writeAppliedGroup(
          deps.state,
          message.destination,
          message.notification.groupKey,
          afterApply(applied, message, appliedAt),
        );
      }
      if (attempts) await clearAttempts(deps.state, message);
    } catch (error) {
      // Delivered already: retrying would deliver twice. Without the group's record, an HA
      // copy or this very message coming back is delivered once more (vendor keys absorb it).
      deps.telemetry.reportError(error, { ...context, stage: 'record-group-state' });
    }
    return 'done';
  }

  /** DeliveryPipeline.backfill: onto this sink's queue, in each message's group, retrying what the queue refused once. */
  async function requeue(messages: readonly QueueMessage[]): Promise<void> {
    let pending = messages.map((message, i) => ({
      id: `b${i}`,
      body: serializeMessage(message),
      groupId: messageGroupId(message.destination, message.notification.groupKey),
      // Unique per message and stable across resends: a resend within the queue's 5 minutes is absorbed.
      deduplicationId: message.idempotencyKey,
    }));
    for (let round = 0; round < 2 && pending.length > 0; round++) {
      const failed: { id: string; reason: string }[] = [];
      for (const batch of packBatches(pending)) failed.push(...(await deps.queue.requeue(batch)).failed);
      const ids = new Set(failed.map((f) => f.id));
      pending = pending.filter((entry) => ids.has(entry.id));
      if (round === 1 && failed.length > 0) {
        throw new RetryableError(
          `the queue refused ${failed.length} of ${messages.length} messages: ${failed[0].reason}`,
        );
      }
    }
  }

  async function failure(
    record: SQSRecord,
    message: QueueMessage,
    error: unknown,
    previous: AttemptRecord | undefined,
    context: Record<string, string | number>,
    invocation: Invocation,
  ): Promise<Outcome> {
    if (error instanceof PermanentError) return deadLetter(record, message, error, previous);
    if (error instanceof DeferredError) return defer(record, error, context, invocation);
    if (!(error instanceof RetryableError))
      deps.telemetry.reportError(error, { ...context, stage: 'deliver' });
    const reason = describeError(error);
    let counted: AttemptRecord | undefined;
    try {
      counted = await countFailure(deps.state, message, previous, new Date(now()).toISOString());
    } catch (stateError) {
      // Uncounted: the queue's receive limit still ends it, with a reason (handBack, below).
      deps.telemetry.reportError(stateError, { ...context, stage: 'count-attempt' });
    }
    const failures = counted?.failures ?? receiveCount(record);
    if (failures >= maxAttempts || receiveCount(record) >= deps.maxReceiveCount) {
      return deadLetter(record, message, error, counted, `gave up after ${failures} attempts: ${reason}`);
    }
    const sinceReceiveMs = now() - invocation.startedAt;
    const retryAfter = error instanceof RetryableError ? error.retryAfterSeconds : undefined;
    const delay =
      retryAfter !== undefined
        ? retryAfterVisibility(retryAfter, sinceReceiveMs)
        : backoffSeconds(failures, backoff, Math.random, sinceReceiveMs);
    deps.telemetry.count('Retried', { sink: deps.sink.name, destination: message.destination });
    logger.warn('delivery failed; will retry', {
      ...context,
      attempt: failures,
      reason,
      retryInSeconds: delay,
    });
    return returnAfter(record, delay, context);
  }

  /** The sink asked to come back later: no attempt counted, no Retried metric. */
  async function defer(
    record: SQSRecord,
    error: DeferredError,
    context: Record<string, string | number>,
    invocation: Invocation,
  ): Promise<Outcome> {
    if (receiveCount(record) >= deps.maxReceiveCount) return handBack(record, describeError(error));
    const delay = retryAfterVisibility(error.retryAfterSeconds, now() - invocation.startedAt);
    logger.info('deferred by the sink; comes back later', {
      ...context,
      reason: error.message,
      retryInSeconds: delay,
    });
    return returnAfter(record, delay, context);
  }

  /** Hands a record back to come again in `seconds`. */
  async function returnAfter(
    record: SQSRecord,
    seconds: number,
    context: Record<string, string | number>,
  ): Promise<Outcome> {
    try {
      await deps.queue.changeVisibility(record.receiptHandle, seconds);
    } catch (visibilityError) {
      // The message still comes back after the queue's visibility timeout.
      logger.warn('could not change visibility', { ...context, error: describeError(visibilityError) });
    }
    return 'returned';
  }

  async function deadLetter(
    record: SQSRecord,
    message: QueueMessage | undefined,
    error: unknown,
    attempts?: AttemptRecord,
    reason = describeError(error),
  ): Promise<Outcome> {
    const statusCode = (error as { statusCode?: number } | null | undefined)?.statusCode;
    const firstReceive = Number(record.attributes.ApproximateFirstReceiveTimestamp) || now();
    const attemptCount = attempts?.failures ?? (error instanceof PermanentError ? 1 : receiveCount(record));
    const attributes: Record<string, string> = {
      [DLQ_ATTRIBUTES.reason]: toQueueText(reason.slice(0, 1000)),
      [DLQ_ATTRIBUTES.destination]: message?.destination ?? 'unknown',
      [DLQ_ATTRIBUTES.firstFailureAt]: attempts?.firstFailureAt ?? new Date(firstReceive).toISOString(),
      [DLQ_ATTRIBUTES.attempts]: String(
        error instanceof PermanentError ? (attempts?.failures ?? 0) + 1 : attemptCount,
      ),
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
      return 'returned';
    }
    // A redrive starts counting afresh.
    if (message) await clearAttempts(deps.state, message).catch(() => undefined);
    deps.telemetry.count('DeadLettered', {
      sink: deps.sink.name,
      destination: message?.destination ?? 'unknown',
    });
    logger.error('dead-lettered', {
      destination: message?.destination,
      groupKey: message?.notification.groupKey,
      idempotencyKey: message?.idempotencyKey,
      receivedAt: message?.receivedAt,
      attempts: attributes[DLQ_ATTRIBUTES.attempts],
      reason,
      statusCode,
    });
    return 'done';
  }
}

function tryParse(body: string): QueueMessage | undefined {
  try {
    return parseMessage(body);
  } catch {
    return undefined;
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

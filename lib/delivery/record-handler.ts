import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { RelayConfig } from '../config/types.ts';
import { packBatches } from '../queue/batches.ts';
import { messageGroupId, renewalDeduplicationId } from '../queue/idempotency.ts';
import {
  backfillMessage,
  DLQ_ATTRIBUTES,
  parseMessage,
  type QueueMessage,
  RENEWALS_ATTRIBUTE,
  serializeMessage,
  shareMessage,
  toQueueText,
} from '../queue/message.ts';
import type { OutgoingMessage, RecordQueue } from '../queue/types.ts';
import type { StateStore } from '../state/store.ts';
import { contextLogger, type Telemetry } from '../telemetry.ts';
import { type AttemptRecord, clearAttempts, countFailure, readAttempts } from './attempts.ts';
import { type DeadlineContext, type DeliveryClock, runWithDeadline } from './deadline.ts';
import { DeferredError, OutOfTimeError, PermanentError, RateLimitedError, RetryableError } from './errors.ts';
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
   * The queue's redrive maxReceiveCount (DELIVERY_POLICY.receiveBackstop): SQS moves a record
   * received this often to the DLQ, without a reason, on its next receive. A record the handler
   * hands back at this receive is renewed instead (see renew), or, when that fails, dead-lettered
   * with its reason.
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

/**
 * What became of a record: done with (delivered, skipped or dead-lettered), handed back to the
 * queue, or to be renewed (handed back at the queue's receive limit; `why` it waits).
 */
type Outcome = 'done' | 'returned' | { renew: string };

/** A record to renew, and why it was handed back. */
interface Renewal {
  record: SQSRecord;
  why: string;
}

/** Why a record that was not tried is handed back (also the end of its `waited N h for ...`). */
const HELD = 'an earlier message of its group was handed back';
const NO_TIME_TO_START = "the function's time ran out before it was started";
const OUT_OF_TIME = "the function's time ran out after progress";

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
 *
 * Waiting is not failing: a deferral or a vendor's rate limit (DeferredError, RateLimitedError),
 * a receive spent behind a group-mate and a return for lack of time count no attempt, and a
 * chain of them never reaches the queue's receive limit: at that receive the record is renewed
 * (see renew). A wait ends DELIVERY_POLICY.waitBudgetSeconds after the message was accepted.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 */
export function createRecordHandler(deps: RecordHandlerDependencies): RecordHandler {
  const now = deps.now ?? Date.now;
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const maxAttempts = deps.maxAttempts ?? DELIVERY_POLICY.maxAttempts;
  const destinations = new Map(deps.config.destinations.map((d) => [d.name, d]));
  const { logger } = deps.telemetry;
  const waitBudgetMs = DELIVERY_POLICY.waitBudgetSeconds * 1000;

  return async (event, context = NO_DEADLINE) => {
    const invocation: Invocation = { context, startedAt: now() };
    const batchItemFailures: { itemIdentifier: string }[] = [];
    const heldGroups = new Set<string | undefined>();
    // Groups with a record to renew: every later record of the group in this batch is renewed
    // after it, in order, rather than tried or handed back (see renew).
    const renewingGroups = new Set<string | undefined>();
    const renewals: Renewal[] = [];
    for (const record of event.Records) {
      const group = record.attributes.MessageGroupId;
      if (renewingGroups.has(group)) {
        renewals.push({ record, why: 'an earlier message of its group was renewed' });
        continue;
      }
      let outcome: Outcome;
      if (heldGroups.has(group)) {
        outcome = await handBack(record, HELD);
      } else if (context.getRemainingTimeInMillis() < DEADLINE_MARGIN_MS) {
        outcome = await handBack(record, NO_TIME_TO_START);
      } else {
        outcome = await handleRecord(record, invocation);
      }
      if (outcome === 'returned') {
        heldGroups.add(group);
        batchItemFailures.push({ itemIdentifier: record.messageId });
      } else if (outcome !== 'done') {
        renewingGroups.add(group);
        renewals.push({ record, why: outcome.renew });
      }
    }
    for (const messageId of await renew(renewals)) batchItemFailures.push({ itemIdentifier: messageId });
    return { batchItemFailures };
  };

  function receiveCount(record: SQSRecord): number {
    return Number(record.attributes.ApproximateReceiveCount) || 1;
  }

  /**
   * A record that was not tried (held behind its group, or no time to start it), or stopped for
   * lack of time after progress: a wait. Back at once, without counting an attempt.
   */
  function handBack(record: SQSRecord, why: string, message = tryParse(record.body)): Promise<Outcome> {
    // Back at once rather than after the visibility timeout: its group is held anyway.
    return waitFor(record, message, 0, { why });
  }

  /**
   * Hands back a record that waits (or retries a counted failure) for `seconds`, unless
   * - its message was accepted DELIVERY_POLICY.waitBudgetSeconds ago or more: dead-lettered,
   *   `waited N h for <why>`;
   * - it is at the queue's receive limit, where SQS would move it to the DLQ on its next receive:
   *   to be renewed (see renew). Its wait is lost once: the copy comes back at once, and the
   *   sink (its pacing, the vendor's Retry-After) makes it wait again.
   */
  async function waitFor(
    record: SQSRecord,
    message: QueueMessage | undefined,
    seconds: number,
    hold: { why: string; error?: unknown; attempts?: AttemptRecord },
    context: Record<string, string | number> = {},
  ): Promise<Outcome> {
    const waitedMs = message ? now() - Date.parse(message.receivedAt) : 0;
    if (waitedMs >= waitBudgetMs) {
      const counted =
        hold.attempts ?? (await readAttempts(deps.state, message as QueueMessage).catch(() => undefined));
      const hours = Math.floor(waitedMs / 3_600_000);
      return deadLetter(
        record,
        message,
        hold.error ?? new RetryableError(hold.why),
        counted ?? { failures: 0, firstFailureAt: firstReceivedAt(record) },
        `waited ${hours} h for ${hold.why} (the relay waits at most ${DELIVERY_POLICY.waitBudgetSeconds / 3600} h from acceptance)`,
      );
    }
    if (receiveCount(record) >= deps.maxReceiveCount) return { renew: hold.why };
    return returnAfter(record, seconds, context);
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
        return handBack(record, OUT_OF_TIME, message);
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
    const refused = await sendToOwnQueue(
      messages.map((message, i) => ({
        id: `b${i}`,
        body: serializeMessage(message),
        groupId: messageGroupId(message.destination, message.notification.groupKey),
        // Unique per message and stable across resends: a resend within the queue's 5 minutes is absorbed.
        deduplicationId: message.idempotencyKey,
      })),
    );
    if (refused.size > 0) {
      throw new RetryableError(
        `the queue refused ${refused.size} of ${messages.length} messages: ${[...refused.values()][0]}`,
      );
    }
  }

  /**
   * Sends entries to this sink's own queue in order (SendMessageBatch calls of at most 10 entries
   * and 1 MiB), and once more what the queue refused. Resolves with the reasons of the entries
   * refused twice, by id. A resend carries the same deduplication id, so what the queue took
   * although its answer was lost is absorbed.
   */
  async function sendToOwnQueue(entries: OutgoingMessage[]): Promise<Map<string, string>> {
    let pending = entries;
    let refused = new Map<string, string>();
    for (let round = 0; round < 2 && pending.length > 0; round++) {
      refused = new Map();
      for (const batch of packBatches(pending)) {
        try {
          for (const failed of (await deps.queue.requeue(batch)).failed)
            refused.set(failed.id, failed.reason);
        } catch (error) {
          for (const entry of batch) refused.set(entry.id, describeError(error));
        }
      }
      pending = pending.filter((entry) => refused.has(entry.id));
    }
    return refused;
  }

  /**
   * Renews records handed back without having failed at the queue's receive limit (and the
   * records of their groups after them in the batch): sends a fresh copy of each body to this
   * sink's queue, in its group, in batch order, and reports the originals done so the queue
   * deletes them. The copy starts at receive 0 with a deduplication id of its own
   * (renewalDeduplicationId: the original's would be absorbed within SQS's 5 minutes), so a chain
   * of waits never meets SQS's redrive, which then only catches a function that keeps crashing
   * (renewal happens only when the handler itself decides a wait).
   *
   * Order: a group's renewed records keep their order among themselves and stay behind its
   * records handed back earlier in this batch (still on the queue, ahead of the copies). A
   * group-mate not in this batch (sent later, waiting on the queue) is now ahead of the copies and
   * may be delivered first. That is safe because the group's state judges by receivedAt, not by
   * arrival (lib/delivery/group-state.ts): a renewed copy older than a notification applied
   * before it is superseded (skipped on a lifecycle sink, delivered marked on an event-log sink),
   * and a copy of the same notification (another part, or the same body renewed twice after a
   * crash) is applied alongside it or skipped as its duplicate.
   *
   * Resolves with the ids of the records that went back to the queue instead: a copy the queue
   * refused twice is handed back, or, at the receive limit, dead-lettered with its reason.
   */
  async function renew(renewals: readonly Renewal[]): Promise<string[]> {
    if (renewals.length === 0) return [];
    const refused = await sendToOwnQueue(
      renewals.map(({ record }, i) => ({
        id: `r${i}`,
        body: record.body,
        groupId: record.attributes.MessageGroupId ?? '',
        deduplicationId: renewalDeduplicationId(record.messageId),
        attributes: { [RENEWALS_ATTRIBUTE]: String(renewalsOf(record) + 1) },
      })),
    );
    const returned: string[] = [];
    for (const [i, { record, why }] of renewals.entries()) {
      const message = tryParse(record.body);
      const context = {
        destination: message?.destination,
        groupKey: message?.notification.groupKey,
        idempotencyKey: message?.idempotencyKey,
        receivedAt: message?.receivedAt,
        part: message ? `${message.part.index}/${message.part.count}` : undefined,
        receiveCount: receiveCount(record),
        renewals: renewalsOf(record) + 1,
        reason: why,
      };
      const problem = refused.get(`r${i}`);
      if (problem === undefined) {
        logger.info(
          "renewed: handed back without failing at the queue's receive limit, so a fresh copy waits in its place",
          context,
        );
        continue;
      }
      const received = receiveCount(record);
      if (received < deps.maxReceiveCount) {
        logger.warn('could not renew; handed back to the queue', { ...context, error: problem });
        await deps.queue.changeVisibility(record.receiptHandle, 0).catch(() => undefined);
        returned.push(record.messageId);
        continue;
      }
      const outcome = await deadLetter(
        record,
        message,
        new RetryableError(`received ${received} times without being delivered: ${why}`),
        undefined,
        `received ${received} times (the queue's limit) without being delivered, and the queue refused its renewal (${problem}): ${why}`,
      );
      if (outcome === 'returned') returned.push(record.messageId);
    }
    return returned;
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
    if (error instanceof DeferredError) return defer(record, message, error, previous, context, invocation);
    if (!(error instanceof RetryableError))
      deps.telemetry.reportError(error, { ...context, stage: 'deliver' });
    const reason = describeError(error);
    let counted: AttemptRecord | undefined;
    try {
      counted = await countFailure(deps.state, message, previous, new Date(now()).toISOString());
    } catch (stateError) {
      // Uncounted: its receives stand in for the count, and the queue's limit ends it with a reason.
      deps.telemetry.reportError(stateError, { ...context, stage: 'count-attempt' });
    }
    const failures = counted?.failures ?? receiveCount(record);
    if (failures >= maxAttempts || (!counted && receiveCount(record) >= deps.maxReceiveCount)) {
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
    // A counted failure with attempts left: its receives may be mostly waits, so at the queue's
    // limit it is renewed too rather than dead-lettered for them.
    return waitFor(
      record,
      message,
      delay,
      { why: `a retry after ${failures} failed attempts (${reason})`, error, attempts: counted },
      context,
    );
  }

  /**
   * The sink asked to come back later (DeferredError), or the vendor said "too many requests"
   * (RateLimitedError): a wait. No attempt counted, no Retried metric.
   */
  async function defer(
    record: SQSRecord,
    message: QueueMessage,
    error: DeferredError,
    attempts: AttemptRecord | undefined,
    context: Record<string, string | number>,
    invocation: Invocation,
  ): Promise<Outcome> {
    const delay = retryAfterVisibility(error.retryAfterSeconds, now() - invocation.startedAt);
    const rateLimited = error instanceof RateLimitedError;
    logger.info(
      rateLimited
        ? 'rate limited by the vendor; waits, no attempt counted'
        : 'deferred by the sink; comes back later, no attempt counted',
      { ...context, reason: describeError(error), retryInSeconds: delay },
    );
    const why = rateLimited ? `the vendor's rate limit (${describeError(error)})` : describeError(error);
    return waitFor(record, message, delay, { why, error, attempts }, context);
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

  /** When the queue first handed the record out (ISO 8601), or now when it did not say. */
  function firstReceivedAt(record: SQSRecord): string {
    return new Date(Number(record.attributes.ApproximateFirstReceiveTimestamp) || now()).toISOString();
  }

  async function deadLetter(
    record: SQSRecord,
    message: QueueMessage | undefined,
    error: unknown,
    attempts?: AttemptRecord,
    reason = describeError(error),
  ): Promise<Outcome> {
    const statusCode = (error as { statusCode?: number } | null | undefined)?.statusCode;
    const attemptCount = attempts?.failures ?? (error instanceof PermanentError ? 1 : receiveCount(record));
    const attributes: Record<string, string> = {
      [DLQ_ATTRIBUTES.reason]: toQueueText(reason.slice(0, 1000)),
      [DLQ_ATTRIBUTES.destination]: message?.destination ?? 'unknown',
      [DLQ_ATTRIBUTES.firstFailureAt]: attempts?.firstFailureAt ?? firstReceivedAt(record),
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

/** How many times the record's message was renewed before (its `renewals` attribute). */
function renewalsOf(record: SQSRecord): number {
  return Number(record.messageAttributes?.[RENEWALS_ATTRIBUTE]?.stringValue) || 0;
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

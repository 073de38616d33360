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
import { contextLogger, type MetricDimensions, type MetricName, type Telemetry } from '../telemetry.ts';
import type { AttemptRecord } from './attempts.ts';
import { type DeadlineContext, type DeliveryClock, runWithDeadline } from './deadline.ts';
import { DeferredError, OutOfTimeError, PermanentError, RateLimitedError, RetryableError } from './errors.ts';
import { GroupSession } from './group-session.ts';
import {
  afterApply,
  afterDuplicate,
  appliedOf,
  type GroupRecord,
  type GroupVerdict,
  groupStateKey,
  judge,
  pendingId,
  readGroupRecord,
  writeGroupRecord,
} from './group-state.ts';
import {
  type BackoffPolicy,
  backoffSeconds,
  DEADLINE_MARGIN_MS,
  DEFAULT_BACKOFF,
  DELIVERY_POLICY,
  retryAfterVisibility,
  visibilityLimitSeconds,
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
  /** A record handed back this close to maxReceiveCount is renewed. Default DELIVERY_POLICY.renewalMargin. */
  renewalMargin?: number;
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

/** What a wait counts (lib/telemetry.ts): why a record went back to the queue without a failed attempt. */
type WaitMetric = Extract<MetricName, 'WaitDeferred' | 'WaitRateLimited' | 'WaitHeld' | 'WaitOutOfTime'>;
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
 * group. Each record's group record (lib/delivery/group-state.ts) is read once, before the batch
 * starts, and written once with the delivery's outcome (lib/delivery/group-session.ts): it
 * decides whether a message is applied, and holds the relay's count of failed attempts and the
 * delivery's journal, so a record held back behind a group-mate or returned for lack of time
 * loses nothing. The function's deadline (lib/delivery/deadline.ts) is carried into the sink's
 * vendor calls.
 *
 * Crashes are attempts too: a record that finds the crash marker of an attempt that began and
 * never ended counts it as failed (the 5th is dead-lettered with "crashed or timed out during
 * attempt N"), and its group goes after every other group of the batch, so that a crash loop
 * holds back no other group's records.
 *
 * Waiting is not failing: a deferral or a vendor's rate limit (DeferredError, RateLimitedError),
 * a receive spent behind a group-mate and a return for lack of time count no attempt, and a
 * chain of them never reaches the queue's receive limit: near it the record is renewed (see
 * renew). A wait ends DELIVERY_POLICY.waitBudgetSeconds after the message was accepted.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 */
export function createRecordHandler(deps: RecordHandlerDependencies): RecordHandler {
  const now = deps.now ?? Date.now;
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const maxAttempts = deps.maxAttempts ?? DELIVERY_POLICY.maxAttempts;
  // Never on a first receive: a copy would come back at once and be renewed again, for as long as it waits.
  const renewAt = Math.max(
    Math.min(2, deps.maxReceiveCount),
    deps.maxReceiveCount - (deps.renewalMargin ?? DELIVERY_POLICY.renewalMargin),
  );
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
    const groups = new GroupRecords(deps.state);
    const { order, crashLoop } = await inOrder(event.Records, groups);
    const renewedFirst = crashLoop
      ? await renewBeforeTrying(order, groups, invocation)
      : new Set<SQSRecord>();
    for (const record of order) {
      if (renewedFirst.has(record)) continue;
      const group = record.attributes.MessageGroupId;
      if (renewingGroups.has(group)) {
        renewals.push({ record, why: 'an earlier message of its group was renewed' });
        continue;
      }
      let outcome: Outcome;
      if (heldGroups.has(group)) {
        outcome = await handBack(record, HELD, 'WaitHeld');
      } else if (context.getRemainingTimeInMillis() < DEADLINE_MARGIN_MS) {
        outcome = await handBack(record, NO_TIME_TO_START, 'WaitOutOfTime');
      } else {
        outcome = await handleRecord(record, invocation, groups);
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

  /** A count's dimensions: this sink, and the message's destination when it could be read. */
  function dimensionsOf(message: QueueMessage | undefined): MetricDimensions {
    return { sink: deps.sink.name, ...(message ? { destination: message.destination } : {}) };
  }

  function receiveCount(record: SQSRecord): number {
    return Number(record.attributes.ApproximateReceiveCount) || 1;
  }

  /**
   * The batch's records in the order they are tried: starts reading every record's group record
   * (once per group), and puts the message groups of suspected crashers (a record received
   * before whose pending delivery carries the marker of an attempt that never ended) after all
   * the others, each group's records kept in order: a batch-mate of another group is tried
   * before the crasher may take the invocation down again. `crashLoop`: there is one.
   */
  async function inOrder(
    records: readonly SQSRecord[],
    groups: GroupRecords,
  ): Promise<{ order: SQSRecord[]; crashLoop: boolean }> {
    const suspected = new Set<string | undefined>();
    await Promise.all(
      records.map(async (record) => {
        const message = tryParse(record);
        if (!message) return;
        const read = groups.read(message.destination, message.notification.groupKey);
        if (receiveCount(record) <= 1 && renewalsOf(record) === 0) return;
        const stored = await read.catch(() => undefined);
        if (stored?.pending?.[pendingId(message)]?.started !== undefined)
          suspected.add(record.attributes.MessageGroupId);
      }),
    );
    if (suspected.size === 0) return { order: [...records], crashLoop: false };
    const first = records.filter((r) => !suspected.has(r.attributes.MessageGroupId));
    const order = [...first, ...records.filter((r) => suspected.has(r.attributes.MessageGroupId))];
    return { order, crashLoop: true };
  }

  /**
   * In a batch with a suspected crasher, before anything is tried: renews every record one
   * receive short of the queue's limit (and the records of its group after it). A crash later in
   * the batch loses the batch's answer, so whatever this invocation does with such a record, it
   * comes back one receive higher, and SQS would move it to the DLQ without a reason; its copy
   * starts at receive 1 instead. The original cannot be deleted from here: it is hidden for the
   * longest visibility, and its group record remembers its message id (`renewed`), so that when it
   * comes back (at the limit at most) it is dropped rather than delivered again. When the batch
   * ends without a crash, the original is reported done and deleted as usual.
   */
  async function renewBeforeTrying(
    order: readonly SQSRecord[],
    groups: GroupRecords,
    invocation: Invocation,
  ): Promise<Set<SQSRecord>> {
    const picked: SQSRecord[] = [];
    const pickedGroups = new Set<string | undefined>();
    for (const record of order) {
      const group = record.attributes.MessageGroupId;
      if (pickedGroups.has(group) || receiveCount(record) >= deps.maxReceiveCount - 1) {
        pickedGroups.add(group);
        picked.push(record);
      }
    }
    if (picked.length === 0) return new Set();
    const refused = await sendToOwnQueue(
      picked.map((record, i) => ({
        id: `p${i}`,
        body: record.body,
        groupId: record.attributes.MessageGroupId ?? '',
        deduplicationId: renewalDeduplicationId(record.messageId),
        attributes: { [RENEWALS_ATTRIBUTE]: String(renewalsOf(record) + 1) },
      })),
    );
    const hideSeconds = visibilityLimitSeconds(now() - invocation.startedAt);
    const until = now() + (hideSeconds + 3600) * 1000;
    const renewed = new Set<SQSRecord>();
    const unrenewed = new Set<string | undefined>();
    for (const [i, record] of picked.entries()) {
      // Once one of a group's records could not be renewed, the rest of its group are tried as
      // they are (a copy of one that went out anyway is skipped later as its duplicate).
      const group = record.attributes.MessageGroupId;
      if (unrenewed.has(group) || refused.has(`p${i}`)) {
        unrenewed.add(group);
        continue;
      }
      const message = tryParse(record);
      const context = {
        destination: message?.destination,
        groupKey: message?.notification.groupKey,
        idempotencyKey: message?.idempotencyKey,
        receiveCount: receiveCount(record),
        renewals: renewalsOf(record) + 1,
      };
      try {
        if (message) await groups.remember(message, record.messageId, until, now());
      } catch (error) {
        deps.telemetry.reportError(error, { ...context, stage: 'record-group-state' });
      }
      await deps.queue.changeVisibility(record.receiptHandle, hideSeconds).catch(() => undefined);
      deps.telemetry.count('Renewed', dimensionsOf(message));
      logger.info(
        "renewed before trying: a crash loop in its batch could carry it past the queue's receive limit",
        context,
      );
      renewed.add(record);
    }
    return renewed;
  }

  /**
   * A record that was not tried (held behind its group, or no time to start it), or stopped for
   * lack of time after progress: a wait. Back at once, without counting an attempt.
   */
  function handBack(
    record: SQSRecord,
    why: string,
    wait: WaitMetric,
    message = tryParse(record),
    session?: GroupSession,
  ): Promise<Outcome> {
    // Back at once rather than after the visibility timeout: its group is held anyway.
    return waitFor(record, message, 0, { why, session, wait });
  }

  /**
   * Hands back a record that waits (or retries a counted failure) for `seconds`, unless
   * - its message was accepted DELIVERY_POLICY.waitBudgetSeconds ago or more: dead-lettered,
   *   `waited N h for <why>`;
   * - it is near the queue's receive limit (renewalMargin), where SQS would move it to the DLQ
   *   soon: to be renewed (see renew). Its wait is lost once: the copy comes back at once, and
   *   the sink (its pacing, the vendor's Retry-After) makes it wait again.
   * What the delivery leaves for its next receive (`session`: its journal, its count) is written
   * first.
   */
  async function waitFor(
    record: SQSRecord,
    message: QueueMessage | undefined,
    seconds: number,
    hold: {
      why: string;
      error?: unknown;
      attempts?: AttemptRecord;
      session?: GroupSession;
      saved?: true;
      /** A wait (no failed attempt): counted, unless the wait is over and the record dead-lettered. */
      wait?: WaitMetric;
    },
    context: Record<string, string | number> = {},
  ): Promise<Outcome> {
    const waitedMs = message ? now() - Date.parse(message.receivedAt) : 0;
    if (waitedMs >= waitBudgetMs) {
      const counted = hold.attempts ?? hold.session?.attempts;
      const hours = Math.floor(waitedMs / 3_600_000);
      return deadLetter(
        record,
        message,
        hold.error ?? new RetryableError(hold.why),
        counted ?? { failures: 0, firstFailureAt: firstReceivedAt(record) },
        `waited ${hours} h for ${hold.why} (the relay waits at most ${DELIVERY_POLICY.waitBudgetSeconds / 3600} h from acceptance)`,
        hold.session,
      );
    }
    if (hold.wait) deps.telemetry.count(hold.wait, dimensionsOf(message));
    if (hold.session && !hold.saved) {
      await hold.session.save().catch((error: unknown) =>
        // Unwritten, the next receive repeats the steps of this one, or looks them up.
        deps.telemetry.reportError(error, { ...context, stage: 'record-group-state' }),
      );
    }
    if (receiveCount(record) >= renewAt) return { renew: hold.why };
    return returnAfter(record, seconds, context);
  }

  async function handleRecord(
    record: SQSRecord,
    invocation: Invocation,
    groups: GroupRecords,
  ): Promise<Outcome> {
    const parsed = parsedOf(record);
    if (parsed.error) {
      return deadLetter(
        record,
        undefined,
        new PermanentError(`malformed queue message: ${parsed.error.message}`),
      );
    }
    const message = parsed.message;
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

    const { groupKey } = message.notification;
    let stored: GroupRecord | undefined;
    try {
      stored = await groups.read(message.destination, groupKey);
    } catch (error) {
      return failure(record, message, error, undefined, context, invocation);
    }
    if ((stored?.renewed?.[record.messageId] ?? 0) > now()) {
      logger.info('a copy of this message was renewed in its place; dropped', context);
      return 'done';
    }
    const session = new GroupSession({
      state: deps.state,
      destination: message.destination,
      groupKey,
      message,
      record: stored,
      receive: {
        messageId: record.messageId,
        count: receiveCount(record),
        renewals: renewalsOf(record),
        firstReceivedAt: Number(record.attributes.ApproximateFirstReceiveTimestamp) || now(),
      },
      now,
      onWrite: (written) => groups.set(message.destination, groupKey, written),
    });
    const applied = appliedOf(stored);
    const verdict: GroupVerdict = judge(message, applied);
    if (verdict.action === 'duplicate') {
      deps.telemetry.count('DuplicatesSkipped', dimensions);
      logger.info('duplicate of the notification last applied to its group; skipping', {
        ...context,
        appliedReceivedAt: verdict.applied.receivedAt,
        appliedAt: verdict.applied.appliedAt,
      });
      await session
        .skipped(afterDuplicate(verdict.applied, message))
        .catch((error: unknown) =>
          deps.telemetry.reportError(error, { ...context, stage: 'record-group-state' }),
        );
      return 'done';
    }
    if (verdict.action === 'superseded' && deps.sink.kind === 'lifecycle') {
      deps.telemetry.count('Superseded', dimensions);
      logger.info('superseded: a newer notification of its group was applied; skipping', {
        ...context,
        supersededBy: verdict.by,
      });
      await session
        .skipped()
        .catch((error: unknown) =>
          deps.telemetry.reportError(error, { ...context, stage: 'record-group-state' }),
        );
      return 'done';
    }

    if (session.crashed !== undefined) {
      // The marker of an attempt that began and never ended: the function crashed or timed out in it.
      const reason = `crashed or timed out during attempt ${session.crashed} (the function stopped before the attempt ended)`;
      const counted = session.countCrash(new Date(now()).toISOString());
      logger.warn('an earlier attempt crashed or timed out the function; counted as failed', {
        ...context,
        attempt: session.crashed,
        reason,
      });
      if (counted.failures >= maxAttempts) {
        return deadLetter(
          record,
          message,
          new RetryableError(reason),
          counted,
          `gave up after ${counted.failures} attempts: ${reason}`,
          session,
        );
      }
    }

    const attempt = session.attempt;
    context.attempt = attempt;
    const clock: DeliveryClock = {
      context: invocation.context,
      progressed: false,
      beforeCall: () => session.beforeCall(),
    };
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
            group: session,
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
        return handBack(record, OUT_OF_TIME, 'WaitOutOfTime', message, session);
      }
      return failure(record, message, error, session, context, invocation);
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
      const appliedAt = new Date(now()).toISOString();
      await session.succeeded(
        verdict.action === 'apply' ? afterApply(applied, message, appliedAt) : undefined,
      );
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
      const message = tryParse(record);
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
        deps.telemetry.count('Renewed', dimensionsOf(message));
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
    session: GroupSession | undefined,
    context: Record<string, string | number>,
    invocation: Invocation,
  ): Promise<Outcome> {
    if (error instanceof PermanentError)
      return deadLetter(record, message, error, session?.attempts, undefined, session);
    if (error instanceof DeferredError) return defer(record, message, error, session, context, invocation);
    if (!(error instanceof RetryableError))
      deps.telemetry.reportError(error, { ...context, stage: 'deliver' });
    const reason = describeError(error);
    const counted = session?.countFailure(new Date(now()).toISOString());
    if (counted && counted.failures >= maxAttempts) {
      return deadLetter(
        record,
        message,
        error,
        counted,
        `gave up after ${counted.failures} attempts: ${reason}`,
        session,
      );
    }
    let saved = false;
    try {
      if (session) {
        await session.save();
        saved = true;
      }
    } catch (stateError) {
      // Uncounted: its receives stand in for the count, and the queue's limit ends it with a reason.
      deps.telemetry.reportError(stateError, { ...context, stage: 'count-attempt' });
    }
    const failures = saved && counted ? counted.failures : receiveCount(record);
    if (!saved && receiveCount(record) >= deps.maxReceiveCount) {
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
    // A counted failure with attempts left: its receives may be mostly waits, so near the queue's
    // limit it is renewed too rather than dead-lettered for them.
    return waitFor(
      record,
      message,
      delay,
      {
        why: `a retry after ${failures} failed attempts (${reason})`,
        error,
        attempts: saved ? counted : undefined,
        ...(session ? { session, saved: true as const } : {}),
      },
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
    session: GroupSession | undefined,
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
    return waitFor(
      record,
      message,
      delay,
      { why, error, wait: rateLimited ? 'WaitRateLimited' : 'WaitDeferred', ...(session ? { session } : {}) },
      context,
    );
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
    session?: GroupSession,
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
    // A redrive starts counting afresh (the journal's steps stay: it repeats nothing done).
    await session?.deadLettered().catch((stateError: unknown) =>
      deps.telemetry.reportError(stateError, {
        stage: 'record-group-state',
        destination: message?.destination,
      }),
    );
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

/**
 * The group records of one batch: each read once (all at the start, at the same time), and kept
 * as this invocation writes them, so that a later record of the same group in the batch judges
 * by what the earlier one left. Only this invocation delivers these groups now: FIFO hands out a
 * message group's next message only once the earlier ones are done.
 */
class GroupRecords {
  readonly #state: StateStore;
  readonly #records = new Map<string, Promise<GroupRecord | undefined>>();

  constructor(state: StateStore) {
    this.#state = state;
  }

  read(destination: string, groupKey: string): Promise<GroupRecord | undefined> {
    const key = groupStateKey(destination, groupKey);
    let record = this.#records.get(key);
    if (!record) {
      record = readGroupRecord(this.#state, destination, groupKey);
      // A failed read is tried again by the next record that needs it.
      record.catch(() => this.#records.delete(key));
      this.#records.set(key, record);
    }
    return record;
  }

  /** Remembers in the group's record that message `messageId` was renewed: dropped when it comes back before `until`. */
  async remember(
    message: { destination: string; notification: { groupKey: string } },
    messageId: string,
    until: number,
    now: number,
  ): Promise<void> {
    const { destination } = message;
    const { groupKey } = message.notification;
    const record = await this.read(destination, groupKey);
    // An older relay's record stays one (no v): the sink's part may still be under its older key.
    const next: GroupRecord = {
      ...record,
      ...(record ? {} : { v: 2 as const }),
      renewed: { ...record?.renewed, [messageId]: until },
    };
    await writeGroupRecord(this.#state, destination, groupKey, next, now);
    this.set(destination, groupKey, next);
  }

  set(destination: string, groupKey: string, record: GroupRecord): void {
    this.#records.set(groupStateKey(destination, groupKey), Promise.resolve(record));
  }
}

/** How many times the record's message was renewed before (its `renewals` attribute). */
function renewalsOf(record: SQSRecord): number {
  return Number(record.messageAttributes?.[RENEWALS_ATTRIBUTE]?.stringValue) || 0;
}

/** Each record's body parsed once (a queue message may be a megabyte of JSON). */
const parsedBodies = new WeakMap<
  SQSRecord,
  { message: QueueMessage; error?: undefined } | { error: Error }
>();

function parsedOf(record: SQSRecord): { message: QueueMessage; error?: undefined } | { error: Error } {
  let parsed = parsedBodies.get(record);
  if (!parsed) {
    try {
      parsed = { message: parseMessage(record.body) };
    } catch (error) {
      parsed = { error: error as Error };
    }
    parsedBodies.set(record, parsed);
  }
  return parsed;
}

function tryParse(record: SQSRecord): QueueMessage | undefined {
  const parsed = parsedOf(record);
  return parsed.error ? undefined : parsed.message;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

import { createHash } from 'node:crypto';
import type { StateStore } from '../state/store.ts';
import { DELIVERY_POLICY } from './policy.ts';

/**
 * What decides whether a message is applied: the last notification applied to its alert group
 * at its destination, not a global memory of content keys. Alertmanager's real sequences need
 * it: a group that fires, resolves and fires again with identical content (Prometheus restores
 * an alert's startsAt) sends the first firing's content key a second time, and that second
 * firing must be delivered; a DLQ redrive of an old firing after the group's resolve must not
 * turn the vendor back to firing.
 */

/** The group's last applied notification, the top-level fields of its GroupRecord. */
export interface AppliedGroup {
  /** receivedAt of the last applied notification (ISO 8601). */
  receivedAt: string;
  /**
   * Content keys applied with that receivedAt: one, or one per part of a notification that was
   * split to fit a queue message (its parts share receivedAt and differ in key).
   */
  keys: string[];
  /** When the relay applied it (ISO 8601), for the log. */
  appliedAt: string;
  /**
   * The latest receivedAt of a duplicate of it (ISO 8601): Alertmanager said the same later, so
   * the group was still in this state then, and a message accepted before that is stale (a
   * redriven notification that lost its turn must not overwrite what Alertmanager said after it).
   */
  confirmedAt?: string;
}

/** What to do with a message, given its group's state. */
export type GroupVerdict =
  /** Deliver it and record it as the group's last applied notification. */
  | { action: 'apply' }
  /** The same content as the last applied one, accepted within the duplicate window (or the very same message). */
  | { action: 'duplicate'; applied: AppliedGroup }
  /** Older than the group's last applied notification: not the group's state any more. */
  | { action: 'superseded'; by: string };

/** The state store key of a destination's alert group (groupKey is hashed: it is long and hostile). */
export function groupStateKey(destination: string, groupKey: string): string {
  return `group#${destination}#${createHash('sha256').update(groupKey).digest('hex')}`;
}

/**
 * The rules, in order:
 * 1. a duplicate is a message whose content key was applied last (the last notification or one
 *    of its parts) and whose receivedAt is within the duplicate window of it: an HA copy, an
 *    Alertmanager retry, or the very message again (a redelivery after a crash after the apply);
 * 2. a message accepted before the last applied one (or before a later duplicate of it) is
 *    superseded;
 * 3. everything else is applied: new content, content that equals an older notification but not
 *    the last (the re-fire after a resolve), a reminder after the window, the other parts of a
 *    split notification (same receivedAt, other keys).
 *
 * A storm's backfill (`backfill` set: the group's last folded notification, sent again after
 * the storm so the group gets its own message) is the group's current state until a newer
 * notification is applied: it is superseded only by one accepted after it (not by a duplicate
 * confirming it), and a duplicate only of itself.
 *
 * @example judge({ idempotencyKey: 'k', receivedAt: t }, undefined) // { action: 'apply' }
 */
export function judge(
  message: { idempotencyKey: string; receivedAt: string; backfill?: string },
  applied: AppliedGroup | undefined,
  windowMs = DELIVERY_POLICY.duplicateWindowMs,
): GroupVerdict {
  if (!applied) return { action: 'apply' };
  const received = Date.parse(message.receivedAt);
  const last = Date.parse(applied.receivedAt);
  if (applied.keys.includes(message.idempotencyKey) && Math.abs(received - last) < windowMs) {
    return { action: 'duplicate', applied };
  }
  if (message.backfill !== undefined) {
    return received < last ? { action: 'superseded', by: applied.receivedAt } : { action: 'apply' };
  }
  const latest = latestOf(applied);
  if (received < Date.parse(latest)) return { action: 'superseded', by: latest };
  return { action: 'apply' };
}

/** The latest time Alertmanager stated the group's applied state: applied, or confirmed by a duplicate. */
function latestOf(applied: AppliedGroup): string {
  const confirmed = applied.confirmedAt;
  return confirmed && Date.parse(confirmed) > Date.parse(applied.receivedAt) ? confirmed : applied.receivedAt;
}

/**
 * The group's state after a duplicate of its applied notification, when the duplicate is the
 * latest word on it (undefined: nothing to record).
 */
export function afterDuplicate(
  applied: AppliedGroup,
  message: { receivedAt: string },
): AppliedGroup | undefined {
  if (Date.parse(message.receivedAt) <= Date.parse(latestOf(applied))) return undefined;
  return { ...applied, confirmedAt: message.receivedAt };
}

/** The group's state after `message` was applied. */
export function afterApply(
  applied: AppliedGroup | undefined,
  message: { idempotencyKey: string; receivedAt: string },
  appliedAt: string,
): AppliedGroup {
  const sameNotification = applied && Date.parse(applied.receivedAt) === Date.parse(message.receivedAt);
  const keys = sameNotification ? applied.keys.filter((key) => key !== message.idempotencyKey) : [];
  return { receivedAt: message.receivedAt, keys: [...keys, message.idempotencyKey], appliedAt };
}

/**
 * The one record of a destination's alert group, under `group#<destination>#<sha256 of groupKey>`:
 * what the delivery core and the sink need of the group, read once before a delivery and written
 * once after it. The applied notification (AppliedGroup) sits at the top level, as the record
 * held it before it held more, so an older relay's record reads as it is.
 */
export interface GroupRecord extends Partial<AppliedGroup> {
  /** 2: written by a relay that keeps one record per group. Absent: an older relay's record (AppliedGroup only). */
  v?: 2;
  /** What the sink keeps for the group (the chat stage: the ids of its messages, their channel, its status). */
  sink?: object;
  /** How long the sink wants its part kept (seconds), when longer than the delivery state's TTL. */
  sinkTtlSeconds?: number;
  /** Deliveries of the group begun and not finished, by pendingId: attempts, the crash marker, the journal. */
  pending?: Record<string, PendingDelivery>;
  /**
   * Queue messages renewed while a crash loop held them (message id -> until when, epoch ms): a
   * copy carries on, and the original, hidden on the queue, is dropped when it comes back.
   */
  renewed?: Record<string, number>;
}

/**
 * A delivery of the group (one accepted message) that began and has not finished: written only
 * when it has something to keep past its receive (a failed attempt, a wait with journal steps, an
 * attempt under way from the second receive on) and removed by the write that applies it.
 */
export interface PendingDelivery {
  /** The message's receivedAt (ISO 8601): an entry older than the state's TTL is dropped. */
  receivedAt: string;
  /** Failed attempts the relay counted, and when the first one failed (ISO 8601). */
  failures?: number;
  firstFailureAt?: string;
  /**
   * The crash marker: attempt `started` began calling the vendor and has not ended. A later
   * receive that finds it knows that attempt crashed or timed out the function, and counts it.
   */
  started?: number;
  /** When the entry was written (epoch ms): for `started`, when that attempt began. */
  at?: number;
  /** The journal's steps as last written (lib/delivery/journal.ts). */
  steps?: Record<string, object>;
  /** The receive that wrote this entry (`<message id>:<receive count>`): the next receive knows nothing was left unwritten. */
  by?: string;
  /**
   * Since when (epoch ms) vendor calls of this delivery may have gone out unrecorded (an earlier
   * receive crashed, or ended without a word): a sink looks up what it would send again.
   */
  unsureSince?: number;
}

/** The key of a delivery in GroupRecord.pending: the accepted message (content key and receivedAt). */
export function pendingId(message: { idempotencyKey: string; receivedAt: string }): string {
  return `${message.idempotencyKey}#${message.receivedAt}`;
}

/** The applied notification a group record holds, if any. */
export function appliedOf(record: GroupRecord | undefined): AppliedGroup | undefined {
  if (!record || typeof record.receivedAt !== 'string' || !Array.isArray(record.keys)) return undefined;
  return {
    receivedAt: record.receivedAt,
    keys: record.keys,
    appliedAt: record.appliedAt ?? record.receivedAt,
    ...(record.confirmedAt !== undefined ? { confirmedAt: record.confirmedAt } : {}),
  };
}

/** Reads a group's record (consistently: it decides duplicates). */
export function readGroupRecord(
  state: Pick<StateStore, 'get'>,
  destination: string,
  groupKey: string,
): Promise<GroupRecord | undefined> {
  return state.get<GroupRecord>(groupStateKey(destination, groupKey));
}

/**
 * Writes a group's record, kept DELIVERY_POLICY.stateTtlSeconds or as long as its sink part asks;
 * pending deliveries accepted longer ago than the state's TTL are dropped (nothing keeps them),
 * and renewals past their time. `v` is the caller's: a record an older relay wrote stays marked as
 * such until a delivery has had the chance to carry the sink's part over.
 */
export function writeGroupRecord(
  state: Pick<StateStore, 'put'>,
  destination: string,
  groupKey: string,
  record: GroupRecord,
  now: number,
): Promise<void> {
  const ttlSeconds = Math.max(DELIVERY_POLICY.stateTtlSeconds, record.sinkTtlSeconds ?? 0);
  const oldest = now - DELIVERY_POLICY.stateTtlSeconds * 1000;
  const value: GroupRecord = { ...record };
  if (record.renewed) {
    const live = Object.entries(record.renewed).filter(([, until]) => until > now);
    if (live.length > 0) value.renewed = Object.fromEntries(live);
    else delete value.renewed;
  }
  if (record.pending) {
    const kept = Object.entries(record.pending).filter(([, p]) => !(Date.parse(p.receivedAt) < oldest));
    if (kept.length > 0) value.pending = Object.fromEntries(kept);
    else delete value.pending;
  }
  return state.put(groupStateKey(destination, groupKey), value, { ttlSeconds });
}

/** Reads a group's last applied notification (the DLQ tooling and smoke read it). */
export async function readAppliedGroup(
  state: Pick<StateStore, 'get'>,
  destination: string,
  groupKey: string,
): Promise<AppliedGroup | undefined> {
  return appliedOf(await readGroupRecord(state, destination, groupKey));
}

/**
 * Records a group's last applied notification alone, as a record of an older relay held it
 * (tests and tools that seed a group's state; the record handler writes the whole record).
 */
export function writeAppliedGroup(
  state: Pick<StateStore, 'put'>,
  destination: string,
  groupKey: string,
  applied: AppliedGroup,
): Promise<void> {
  return state.put(groupStateKey(destination, groupKey), applied, {
    ttlSeconds: DELIVERY_POLICY.stateTtlSeconds,
  });
}

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

/** The group's last applied notification, kept under `group#<destination>#<sha256 of groupKey>`. */
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

/** Reads a group's last applied notification. */
export function readAppliedGroup(
  state: Pick<StateStore, 'get'>,
  destination: string,
  groupKey: string,
): Promise<AppliedGroup | undefined> {
  return state.get<AppliedGroup>(groupStateKey(destination, groupKey));
}

/** Records a group's last applied notification, kept as long as the rest of the delivery state. */
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

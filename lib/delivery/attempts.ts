import type { StateStore } from '../state/store.ts';
import { DELIVERY_POLICY } from './policy.ts';

/**
 * Failed attempts of one accepted message, counted by the relay in the state store instead of
 * read from SQS's receive count: a record that waits (a deferral, a vendor's rate limit, a
 * group-mate ahead of it handed back, the function's time running out) is received again without
 * having failed, and must not move closer to the DLQ for it. The key is the accepted message
 * (destination, content key, receivedAt), which survives redelivery and a renewal (a fresh copy
 * of the same body); a dead-lettered message's count is cleared, so a redrive starts again from
 * the first attempt.
 */
export interface AttemptRecord {
  /** Failed attempts so far. */
  failures: number;
  /** When the first of them failed (ISO 8601). */
  firstFailureAt: string;
}

/** `attempts#<destination>#<content key>#<receivedAt>` */
export function attemptsKey(message: {
  destination: string;
  idempotencyKey: string;
  receivedAt: string;
}): string {
  return `attempts#${message.destination}#${message.idempotencyKey}#${message.receivedAt}`;
}

export function readAttempts(
  state: Pick<StateStore, 'get'>,
  message: Parameters<typeof attemptsKey>[0],
): Promise<AttemptRecord | undefined> {
  return state.get<AttemptRecord>(attemptsKey(message));
}

/** Counts one more failed attempt; resolves with the new record. */
export async function countFailure(
  state: Pick<StateStore, 'put'>,
  message: Parameters<typeof attemptsKey>[0],
  previous: AttemptRecord | undefined,
  at: string,
): Promise<AttemptRecord> {
  const next: AttemptRecord = {
    failures: (previous?.failures ?? 0) + 1,
    firstFailureAt: previous?.firstFailureAt ?? at,
  };
  await state.put(attemptsKey(message), next, { ttlSeconds: DELIVERY_POLICY.stateTtlSeconds });
  return next;
}

/** Forgets the count (after a delivery, or when dead-lettering so that a redrive starts afresh). */
export function clearAttempts(
  state: Pick<StateStore, 'delete'>,
  message: Parameters<typeof attemptsKey>[0],
): Promise<void> {
  return state.delete(attemptsKey(message));
}

import type { StateStore } from '../state/store.ts';
import { DeferredError } from './errors.ts';
import type { StepJournal } from './journal.ts';

/**
 * Pacing a vendor's rate limit from our side, shared by every function through the state
 * store: a GCRA token bucket per budget (a Google Chat space, a Discord webhook, a Teams
 * workflow) lets `burst` calls through back to back, then one every `intervalMs`. A delivery
 * reserves the slot of each vendor call once (kept in its step journal, so a retry keeps its
 * turn) and hands its message back to the queue until the slot is due (DeferredError, which
 * counts no attempt): a function never sleeps, and a burst of deliveries (a storm's backfill,
 * hundreds of groups resolving at once) goes out at the vendor's pace instead of meeting 429s
 * that would count as failed attempts and dead-letter the tail.
 *
 * The budget is read and written without compare-and-set: two functions can take the same
 * slot at the same instant, and the vendor's own 429 with its wait covers that rare case.
 * The chat stage (lib/chat/stage.ts) paces every chat vendor's calls through it.
 */

export interface Pace {
  /** Calls allowed back to back on an idle budget. */
  burst: number;
  /** Milliseconds per call once the burst is used. */
  intervalMs: number;
}

/** One call's turn: when it may go out (epoch ms). */
export interface Slot {
  at: number;
}

/** A budget in the state store: the theoretical time its next call is free (GCRA's TAT, epoch ms). */
interface Budget {
  next: number;
}

const BUDGET_TTL_SECONDS = 3600;

/**
 * The budget's next slot, given when its next call is free (`next`, GCRA's TAT; undefined: idle):
 * `now` while the burst lasts, then one interval after the last. Resolves with the slot and the
 * budget's `next` once the slot is taken.
 *
 * @example takeSlot(undefined, now, { burst: 3, intervalMs: 1000 }) // { at: now, next: now + 1000 }
 */
export function takeSlot(next: number | undefined, now: number, pace: Pace): Slot & { next: number } {
  const free = Math.max(next ?? 0, now);
  const at = Math.max(now, free - (Math.max(1, pace.burst) - 1) * pace.intervalMs);
  return { at, next: free + pace.intervalMs };
}

/**
 * Takes the budget's next slot in the state store (a read and a write; the chat stage keeps its
 * channels' budgets in one record with storm mode's, lib/chat/channel-state.ts).
 *
 * @example
 * await reserveSlot(state, 'gchatpace#AAAA', Date.now(), { burst: 1, intervalMs: 1000 }) // { at: now, or later }
 */
export async function reserveSlot(state: StateStore, key: string, now: number, pace: Pace): Promise<Slot> {
  const budget = await state.get<Budget>(key, { consistent: false });
  const { at, next } = takeSlot(budget?.next, now, pace);
  await state.put(key, { next } satisfies Budget, { ttlSeconds: BUDGET_TTL_SECONDS });
  return { at };
}

/**
 * Resolves when the call `step` of this delivery may go out; until then throws the
 * DeferredError that brings the message back when its slot is due. The slot is reserved once
 * (`reserve`, or reserveSlot in `state` under `key`), as the journal step `step`, and read back on
 * the next attempts.
 *
 * @example
 * await awaitSlot({ journal, step: 'pace:post:0', state, key, pace, now: Date.now, what: 'Discord webhook pacing' });
 */
export async function awaitSlot(
  options: {
    journal: StepJournal;
    step: string;
    now: () => number;
    /** Names the pacing in the come-back message, e.g. "Discord webhook pacing". */
    what: string;
  } & ({ reserve: () => Promise<Slot> } | { state: StateStore; key: string; pace: Pace }),
): Promise<void> {
  const { journal, now } = options;
  const { value: slot } = await journal.once<Slot>(options.step, () =>
    'reserve' in options ? options.reserve() : reserveSlot(options.state, options.key, now(), options.pace),
  );
  const current = now();
  if (slot.at <= current) return;
  const waitSeconds = Math.max(1, Math.ceil((slot.at - current) / 1000));
  throw new DeferredError(`${options.what}: this notification's message may go out in ${waitSeconds} s`, {
    retryAfterSeconds: waitSeconds,
  });
}

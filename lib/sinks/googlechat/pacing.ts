import type { StepJournal } from '../../delivery/journal.ts';
import { awaitSlot, type Pace, reserveSlot, type Slot } from '../../delivery/pacing.ts';
import type { StateStore } from '../../state/store.ts';

/**
 * Space pacing: Google Chat allows 60 writes per 60 seconds per space, shared by every app
 * and webhook there (https://developers.google.com/workspace/chat/limits). Each post takes the
 * next free slot of the space's budget, one every 60/writesPerMinute seconds, kept in the state
 * store so every function shares it. A delivery reserves its slot once (kept in its step
 * journal, so a retry keeps its turn) and hands the message back to the queue until the slot is
 * due (DeferredError, no attempt counted): a function never sleeps waiting for Chat.
 */

/** One delivery's slot in a space: when its post may go out (epoch ms). */
export type SpaceSlot = Slot;

const PACING_STEP = 'pace';

/** The state store key of a space's budget. The space ID is not a secret; the key and token are. */
export function spaceBudgetKey(space: string): string {
  return `gchatpace#${space}`;
}

const spacePace = (writesPerMinute: number): Pace => ({
  burst: 1,
  intervalMs: Math.ceil(60_000 / writesPerMinute),
});

/**
 * Takes the space's next free slot: now if the space is idle, else one interval after the
 * last one given out (lib/delivery/pacing.ts, without a burst: the quota is per minute).
 *
 * @example
 * await reserveSpaceSlot(state, 'AAAAxyz', Date.now(), 60) // { at: <now, or a later slot> }
 */
export function reserveSpaceSlot(
  state: StateStore,
  space: string,
  now: number,
  writesPerMinute: number,
): Promise<SpaceSlot> {
  return reserveSlot(state, spaceBudgetKey(space), now, spacePace(writesPerMinute));
}

/**
 * Resolves when this delivery's post may go out; until then throws the DeferredError that
 * brings the message back when its slot is due. The slot is reserved on the first attempt and
 * read back from the journal on the next ones.
 *
 * @example
 * await awaitSpaceSlot({ journal, state, space, now: Date.now, writesPerMinute: 60 });
 */
export function awaitSpaceSlot(options: {
  journal: StepJournal;
  state: StateStore;
  space: string;
  now: () => number;
  writesPerMinute: number;
}): Promise<void> {
  return awaitSlot({
    journal: options.journal,
    step: PACING_STEP,
    state: options.state,
    key: spaceBudgetKey(options.space),
    pace: spacePace(options.writesPerMinute),
    now: options.now,
    what: 'Google Chat space pacing',
  });
}

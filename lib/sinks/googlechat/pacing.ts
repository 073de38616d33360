import { DeferredError } from '../../delivery/errors.ts';
import type { StepJournal } from '../../delivery/journal.ts';
import type { StateStore } from '../../state/store.ts';

/**
 * Space pacing: Google Chat allows 60 writes per 60 seconds per space, shared by every app
 * and webhook there (https://developers.google.com/workspace/chat/limits). Each post takes the
 * next free slot of the space's budget, one every 60/writesPerMinute seconds, kept in the state
 * store so every function shares it. A delivery reserves its slot once (kept in its step
 * journal, so a retry keeps its turn) and hands the message back to the queue until the slot is
 * due (RetryableError with retryAfterSeconds): a function never sleeps waiting for Chat.
 */

/** A space's budget in the state store: when its next slot is free (epoch ms). */
interface SpaceBudget {
  next: number;
}

/** One delivery's slot in a space: when its post may go out (epoch ms). */
export interface SpaceSlot {
  at: number;
}

const PACING_STEP = 'pace';
const BUDGET_TTL_SECONDS = 3600;

/** The state store key of a space's budget. The space ID is not a secret; the key and token are. */
export function spaceBudgetKey(space: string): string {
  return `gchatpace#${space}`;
}

/**
 * Takes the space's next free slot: now if the space is idle, else one interval after the
 * last one given out. The store has no compare-and-set, so two functions can take the same
 * slot at the same instant; Chat's own 429 covers that rare case and the message is retried.
 *
 * @example
 * await reserveSpaceSlot(state, 'AAAAxyz', Date.now(), 60) // { at: <now, or a later slot> }
 */
export async function reserveSpaceSlot(
  state: StateStore,
  space: string,
  now: number,
  writesPerMinute: number,
): Promise<SpaceSlot> {
  const intervalMs = Math.ceil(60_000 / writesPerMinute);
  const key = spaceBudgetKey(space);
  const budget = await state.get<SpaceBudget>(key);
  const at = Math.max(budget?.next ?? 0, now);
  await state.put(key, { next: at + intervalMs } satisfies SpaceBudget, { ttlSeconds: BUDGET_TTL_SECONDS });
  return { at };
}

/**
 * Resolves when this delivery's post may go out; until then throws the RetryableError that
 * brings the message back when its slot is due. The slot is reserved on the first attempt and
 * read back from the journal on the next ones.
 *
 * @example
 * await awaitSpaceSlot({ journal, state, space, now: Date.now, writesPerMinute: 60 });
 */
export async function awaitSpaceSlot(options: {
  journal: StepJournal;
  state: StateStore;
  space: string;
  now: () => number;
  writesPerMinute: number;
}): Promise<void> {
  const { journal, now } = options;
  const { value: slot } = await journal.once<SpaceSlot>(PACING_STEP, () =>
    reserveSpaceSlot(options.state, options.space, now(), options.writesPerMinute),
  );
  const current = now();
  if (slot.at <= current) return;
  const waitSeconds = Math.max(1, Math.ceil((slot.at - current) / 1000));
  throw new DeferredError(
    `Google Chat space pacing: this notification's message may go out in ${waitSeconds} s`,
    { retryAfterSeconds: waitSeconds },
  );
}

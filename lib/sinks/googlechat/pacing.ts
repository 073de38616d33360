import type { Pace } from '../../delivery/pacing.ts';

/**
 * Space pacing: Google Chat allows 60 writes per 60 seconds per space, shared by every app
 * and webhook there (https://developers.google.com/workspace/chat/limits). Each post takes the
 * next free slot of the space's budget, one every 60/writesPerMinute seconds, kept in the state
 * store so every function shares it. The chat stage reserves each post's slot once (kept in its step
 * journal, so a retry keeps its turn) and hands the message back to the queue until the slot is
 * due (DeferredError, no attempt counted): a function never sleeps waiting for Chat.
 */

/** The state store key of a space's budget. The space ID is not a secret; the key and token are. */
export function spaceBudgetKey(space: string): string {
  return `gchatpace#${space}`;
}

/**
 * The space's budget for the chat stage: one write every 60/writesPerMinute seconds, without a
 * burst (the quota is per minute).
 *
 * @example spaceBudget('AAAAxyz', 60) // { key: 'gchatpace#AAAAxyz', pace: { burst: 1, intervalMs: 1000 }, what }
 */
export function spaceBudget(
  space: string,
  writesPerMinute: number,
): { key: string; pace: Pace; what: string } {
  return {
    key: spaceBudgetKey(space),
    pace: { burst: 1, intervalMs: Math.ceil(60_000 / writesPerMinute) },
    what: 'Google Chat space pacing',
  };
}

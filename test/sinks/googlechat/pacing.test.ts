import { describe, expect, it } from 'vitest';
import { RetryableError } from '../../../lib/delivery/errors.ts';
import type { StepJournal } from '../../../lib/delivery/journal.ts';
import { stepJournal } from '../../../lib/delivery/journal.ts';
import { awaitSlot, reserveSlot } from '../../../lib/delivery/pacing.ts';
import { spaceBudget } from '../../../lib/sinks/googlechat/pacing.ts';
import type { StateStore } from '../../../lib/state/store.ts';
import { makeNotification } from '../../support/notifications.ts';
import { memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';

const T0 = Date.parse('2026-11-21T12:00:00.000Z');

/** A slot in the space's budget, as the chat stage reserves one. */
function reserveSpaceSlot(state: StateStore, space: string, now: number, writesPerMinute: number) {
  const { key, pace } = spaceBudget(space, writesPerMinute);
  return reserveSlot(state, key, now, pace);
}

/** A post's turn in the space's budget, as the chat stage waits for it. */
function awaitSpaceSlot(options: {
  journal: StepJournal;
  state: StateStore;
  space: string;
  now: () => number;
  writesPerMinute: number;
}) {
  const { key, pace, what } = spaceBudget(options.space, options.writesPerMinute);
  return awaitSlot({
    journal: options.journal,
    step: 'pace:post:0',
    state: options.state,
    key,
    pace,
    now: options.now,
    what,
  });
}

describe('Function: spaceBudget (reserved through reserveSlot)', () => {
  it('should hand out one slot a second at 60 writes a minute, and now when the space is idle', async () => {
    // Prepare
    const state = memoryState();

    // Act
    const slots = [];
    for (let i = 0; i < 3; i++) slots.push(await reserveSpaceSlot(state, 'AAAA', T0, 60));
    const idle = await reserveSpaceSlot(state, 'AAAA', T0 + 10_000, 60);

    // Assess
    expect(slots.map((s) => s.at - T0)).toEqual([0, 1000, 2000]);
    expect(idle.at).toBe(T0 + 10_000);
  });

  it('should space slots further apart for a smaller share of the quota', async () => {
    // Prepare
    const state = memoryState();

    // Act
    await reserveSpaceSlot(state, 'AAAA', T0, 20);
    const second = await reserveSpaceSlot(state, 'AAAA', T0, 20);

    // Assess
    expect(second.at - T0).toBe(3000);
  });
});

describe('Function: spaceBudget (awaited through awaitSlot)', () => {
  it('should hand a delivery back until its slot is due, and keep the slot across retries', async () => {
    // Prepare
    const state = memoryState();
    const journalOf = (key: string) =>
      stepJournal(
        vendorDelivery({ name: 'chat', sink: 'googlechat' }, makeNotification({}), {
          state,
          idempotencyKey: key,
        }),
      );
    let now = T0;
    const clock = () => now;
    await awaitSpaceSlot({
      journal: journalOf('first'),
      state,
      space: 'AAAA',
      now: clock,
      writesPerMinute: 60,
    });

    // Act
    const error = await awaitSpaceSlot({
      journal: journalOf('second'),
      state,
      space: 'AAAA',
      now: clock,
      writesPerMinute: 60,
    }).catch((e: unknown) => e);
    now = T0 + 1000;
    const retried = await awaitSpaceSlot({
      journal: journalOf('second'),
      state,
      space: 'AAAA',
      now: clock,
      writesPerMinute: 60,
    });

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterSeconds).toBe(1);
    expect(retried).toBeUndefined();
    expect((await reserveSpaceSlot(state, 'AAAA', now, 60)).at).toBe(T0 + 2000);
  });
});

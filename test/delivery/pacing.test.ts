import { describe, expect, it } from 'vitest';
import { DeferredError } from '../../lib/delivery/errors.ts';
import { stepJournal } from '../../lib/delivery/journal.ts';
import { awaitSlot, reserveSlot } from '../../lib/delivery/pacing.ts';
import { makeNotification } from '../support/notifications.ts';
import { memoryState, vendorDelivery } from '../support/vendor-delivery.ts';

const T0 = Date.parse('2026-11-21T12:00:00.000Z');
const PACE = { burst: 5, intervalMs: 2000 };

describe('Function: reserveSlot', () => {
  it('should let a burst through at once, then one call an interval, and the whole burst again once idle', async () => {
    // Prepare
    const state = memoryState();

    // Act
    const slots = [];
    for (let i = 0; i < 8; i++) slots.push(await reserveSlot(state, 'pace#hook', T0, PACE));
    const later = await reserveSlot(state, 'pace#hook', T0 + 60_000, PACE);
    const other = await reserveSlot(state, 'pace#other', T0, PACE);

    // Assess
    expect(slots.map((s) => s.at - T0)).toEqual([0, 0, 0, 0, 0, 2000, 4000, 6000]);
    expect(later.at).toBe(T0 + 60_000);
    expect(other.at).toBe(T0);
  });

  it('should space every call by the interval without a burst', async () => {
    // Prepare
    const state = memoryState();

    // Act
    const slots = [];
    for (let i = 0; i < 3; i++)
      slots.push(await reserveSlot(state, 'pace#space', T0, { burst: 1, intervalMs: 1000 }));

    // Assess
    expect(slots.map((s) => s.at - T0)).toEqual([0, 1000, 2000]);
  });
});

describe('Function: awaitSlot', () => {
  it('should defer a call past the burst until its slot, keep the slot across attempts, and let it through then', async () => {
    // Prepare
    const state = memoryState();
    let now = T0;
    const wait = (key: string) =>
      awaitSlot({
        journal: stepJournal(
          vendorDelivery({ name: 'chat', sink: 'discord' }, makeNotification({}), {
            state,
            idempotencyKey: key,
          }),
        ),
        step: 'pace:post:0',
        state,
        key: 'pace#hook',
        pace: PACE,
        now: () => now,
        what: 'Discord webhook pacing',
      });
    for (let i = 0; i < 5; i++) await wait(`burst-${i}`);

    // Act
    const sixth = await wait('sixth').catch((error: unknown) => error);
    now = T0 + 1000;
    const early = await wait('sixth').catch((error: unknown) => error);
    now = T0 + 2000;
    const due = await wait('sixth');

    // Assess
    expect(sixth).toBeInstanceOf(DeferredError);
    expect((sixth as DeferredError).retryAfterSeconds).toBe(2);
    expect((sixth as DeferredError).message).toBe(
      "Discord webhook pacing: this notification's message may go out in 2 s",
    );
    expect((early as DeferredError).retryAfterSeconds).toBe(1);
    expect(due).toBeUndefined();
    // The retries kept the sixth call's slot: the next call is one interval after it.
    expect((await reserveSlot(state, 'pace#hook', T0 + 2000, PACE)).at).toBe(T0 + 4000);
  });
});

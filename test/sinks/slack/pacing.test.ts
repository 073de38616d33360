import { describe, expect, it } from 'vitest';
import { RetryableError } from '../../../lib/delivery/errors.ts';
import { stepJournal } from '../../../lib/delivery/journal.ts';
import { paceDelivery, pacingError, reserveChannelSlots, slotTime } from '../../../lib/sinks/slack/pacing.ts';
import { memoryState } from '../../support/slack-delivery.ts';

describe('Function: reserveChannelSlots', () => {
  it('should let a burst go at once, then give each later delivery its own turn', async () => {
    // Prepare
    const state = memoryState();
    const pace = { burst: 3, intervalSeconds: 1 };
    const t0 = 1_000_000;

    // Act
    const first = await reserveChannelSlots(state, 'p', t0, 2, pace);
    const second = await reserveChannelSlots(state, 'p', t0, 1, pace);
    const third = await reserveChannelSlots(state, 'p', t0, 1, pace);
    const fourth = await reserveChannelSlots(state, 'p', t0, 2, pace);

    // Assess
    const due = [
      slotTime(first, 0, pace),
      slotTime(first, 1, pace),
      slotTime(second, 0, pace),
      slotTime(third, 0, pace),
      slotTime(fourth, 0, pace),
      slotTime(fourth, 1, pace),
    ];
    expect(due.map((t) => t - t0)).toEqual([0, 0, 0, 1000, 2000, 3000]);
  });

  it('should be free again once the channel was quiet', async () => {
    // Prepare
    const state = memoryState();
    await reserveChannelSlots(state, 'p', 0, 3);

    // Act
    const later = await reserveChannelSlots(state, 'p', 60_000, 3);

    // Assess
    expect([0, 1, 2].map((i) => slotTime(later, i))).toEqual([60_000, 60_000, 60_000]);
  });
});

describe('Function: pacingError', () => {
  it('should ask the queue to wait at least a second, rounded up', () => {
    // Act
    const error = pacingError(2_500, 1_000);

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.retryAfterSeconds).toBe(2);
    expect(pacingError(1_000, 1_000).retryAfterSeconds).toBe(1);
  });
});

describe('Function: paceDelivery', () => {
  const pace = { burst: 2, intervalSeconds: 1 };
  const t0 = 1_000_000;

  /** One delivery's journal in `state`: every attempt of the delivery gets the same one. */
  function journalOf(state: ReturnType<typeof memoryState>, idempotencyKey = 'idem-1') {
    return stepJournal({
      destination: { name: 'ops', sink: 'slack' },
      idempotencyKey,
      receivedAt: '2026-11-21T12:00:00.000Z',
      state,
    });
  }

  it('should reserve nothing and never wait when the delivery posts nothing', async () => {
    // Prepare
    const state = memoryState();

    // Act
    const pacing = await paceDelivery({
      journal: journalOf(state),
      state,
      channel: 'C1',
      posts: 0,
      now: () => t0,
    });
    await pacing.awaitSlot('message');

    // Assess
    expect(state.writes).toBe(0);
  });

  it('should reserve once per delivery and keep each post at its slot across attempts', async () => {
    // Prepare: another delivery took the channel's burst just before.
    const state = memoryState();
    const options = { state, channel: 'C1', now: () => t0, pace };
    await paceDelivery({ ...options, journal: journalOf(state, 'idem-0'), posts: 2 });
    const first = await paceDelivery({ ...options, journal: journalOf(state), posts: 2 });
    const reply = await first.awaitSlot('reply').catch((e: unknown) => e);

    // Act: the same delivery again, its posts asking in another order.
    const again = await paceDelivery({
      ...options,
      journal: journalOf(state),
      posts: 2,
      now: () => t0 + 1000,
    });
    const graph = await again.awaitSlot('graph').catch((e: unknown) => e);
    const replyAgain = await again.awaitSlot('reply').catch((e: unknown) => e);

    // Assess: 'reply' kept slot 0 (due at +1 s), 'graph' got slot 1 (due at +2 s).
    expect((reply as RetryableError).retryAfterSeconds).toBe(2);
    expect(replyAgain).toBeUndefined();
    expect(graph).toBeInstanceOf(RetryableError);
    expect((graph as RetryableError).retryAfterSeconds).toBe(1);
    expect(await state.get('slackpace#C1')).toEqual({ tat: t0 + 4000 });
  });
});

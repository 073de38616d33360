import { DeferredError } from '../../delivery/errors.ts';
import type { StepJournal } from '../../delivery/journal.ts';
import type { StateStore } from '../../state/store.ts';

/**
 * Channel pacing: Slack's chat.postMessage allows about one message per second per channel,
 * with short bursts (https://docs.slack.dev/apis/web-api/rate-limits). A delivery reserves
 * the slots its posts need in the channel's budget once, keeps them in its step journal, and
 * hands the message back to the queue until a post's slot is due: a Lambda never sleeps
 * waiting for Slack.
 */

/** Slack's chat.postMessage guidance: about one message per second per channel, short bursts allowed. */
export interface ChannelPace {
  /** Messages allowed back to back. */
  burst: number;
  /** Seconds per message once the burst is used. */
  intervalSeconds: number;
}

export const DEFAULT_CHANNEL_PACE: ChannelPace = { burst: 3, intervalSeconds: 1 };

interface PaceRecord {
  /** Epoch ms from which the bucket is full again (GCRA's "theoretical arrival time"). */
  tat: number;
}

/** Slots of a channel's posting budget held by one delivery. */
export interface ChannelReservation {
  /** When the reservation was made (epoch ms). */
  at: number;
  /** When slot 0 is due if the channel were busy (epoch ms; slot i is due `i` intervals later). */
  base: number;
  count: number;
}

/**
 * Reserves `count` messages of the channel's posting budget (a GCRA token bucket kept in the
 * state store, so every Lambda shares it). The caller keeps the reservation with its delivery
 * and, when a post's slot is not due yet, hands the message back to the queue until it is
 * (RetryableError with retryAfterSeconds): a delivery waits for its own turn instead of
 * racing the others every second. The store has no compare-and-set, so two concurrent
 * deliveries can take the same slot; Slack's own 429 with Retry-After covers that rare case
 * the same way.
 *
 * @example
 * const reservation = await reserveChannelSlots(state, 'slackpace#C0123456789', Date.now(), 2);
 * if (slotTime(reservation, 0) > Date.now()) throw pacingError(slotTime(reservation, 0), Date.now());
 */
export async function reserveChannelSlots(
  state: StateStore,
  key: string,
  now: number,
  count: number,
  pace: ChannelPace = DEFAULT_CHANNEL_PACE,
): Promise<ChannelReservation> {
  const intervalMs = pace.intervalSeconds * 1000;
  const record = await state.get<PaceRecord>(key);
  const tat = Math.max(record?.tat ?? 0, now);
  await state.put(key, { tat: tat + count * intervalMs } satisfies PaceRecord, { ttlSeconds: 3600 });
  return { at: now, base: tat - (pace.burst - 1) * intervalMs, count };
}

/** When slot `index` of a reservation is due (epoch ms). */
export function slotTime(
  reservation: ChannelReservation,
  index: number,
  pace: ChannelPace = DEFAULT_CHANNEL_PACE,
): number {
  return Math.max(reservation.at, reservation.base + index * pace.intervalSeconds * 1000);
}

/** The RetryableError that hands a delivery back to the queue until its reserved time. */
export function pacingError(readyAt: number, now: number): DeferredError {
  const waitSeconds = Math.max(1, Math.ceil((readyAt - now) / 1000));
  return new DeferredError(
    `Slack channel pacing: this notification's messages may go out in ${waitSeconds} s`,
    {
      retryAfterSeconds: waitSeconds,
    },
  );
}

/** One delivery's share of the channel: wait for a post's slot before making it. */
export interface DeliveryPacing {
  /** Resolves when `step`'s slot is due; throws pacingError (back to the queue) until then. */
  awaitSlot(step: string): Promise<void>;
}

/** The journal step holding a delivery's reservation and which post has which slot. */
interface PacingStep {
  reservation: ChannelReservation;
  /** step -> slot index, handed out in the order the posts first ask. */
  slots: Record<string, number>;
}

const PACING_STEP = 'pace';

/**
 * Paces the `posts` posts of one delivery into `channel`: reserves their slots once (a retry
 * of the delivery keeps its reservation, from the journal), gives each post the next slot the
 * first time it asks and keeps that too, so a post handed back to the queue comes again at
 * its own time. With no posts, nothing is reserved and nothing waits.
 *
 * @example
 * const pacing = await paceDelivery({ journal, state, channel, posts: 2, now: Date.now });
 * await pacing.awaitSlot('message'); // throws RetryableError(retryAfterSeconds) if not yet
 */
export async function paceDelivery(options: {
  journal: StepJournal;
  state: StateStore;
  channel: string;
  posts: number;
  now: () => number;
  pace?: ChannelPace;
}): Promise<DeliveryPacing> {
  const { journal, now } = options;
  const pace = options.pace ?? DEFAULT_CHANNEL_PACE;
  if (options.posts <= 0) return { awaitSlot: async () => undefined };
  const { value: step } = await journal.once<PacingStep>(PACING_STEP, async () => ({
    reservation: await reserveChannelSlots(
      options.state,
      `slackpace#${options.channel}`,
      now(),
      options.posts,
      pace,
    ),
    slots: {},
  }));
  const { reservation } = step;

  return {
    async awaitSlot(name) {
      let slot = step.slots[name];
      if (slot === undefined) {
        slot = Object.keys(step.slots).length;
        step.slots[name] = slot;
        await journal.record(PACING_STEP, step);
      }
      const due = slotTime(reservation, slot, pace);
      if (due <= now()) return;
      // Come back when the rest of this post's burst is due too, so they go out together.
      const burstDue = slotTime(reservation, Math.min(slot + pace.burst - 1, reservation.count - 1), pace);
      throw pacingError(Math.max(due, burstDue), now());
    },
  };
}

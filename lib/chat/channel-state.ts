import { type Pace, type Slot, takeSlot } from '../delivery/pacing.ts';
import { ConflictError, isVersioned, type StateStore } from '../state/store.ts';
import { STORM_TTL_SECONDS, type StormRecord, type StormSlot } from './storm/storm.ts';

/**
 * One record per chat channel (its budget key, ChatChannel.budget.key: `slackpace#<channel>`,
 * `discordpace#<webhook id>`...) holding what every delivery into the channel shares: the pace
 * budget (lib/delivery/pacing.ts) and storm mode's record of each destination posting there
 * (lib/chat/storm/storm.ts). A Slack firing that starts a group then pays one read and one
 * write for both: the read is eventually consistent (its compare-and-set catches a stale one),
 * and a new group's admission into storm mode reserves its first post's turn in the same write.
 *
 * Written by compare-and-set where the store can (every built-in store), so a reservation never
 * loses a storm's change and the other way round; elsewhere (a sink's own tests) by read and put.
 */
export interface ChannelRecord {
  /** The pace budget: when the channel's next call is free (epoch ms, GCRA's TAT). */
  next?: number;
  /** Storm mode's record, per destination posting into the channel. */
  storms?: Record<string, StormRecord>;
}

/** A channel with only its pace is kept an hour; one with a storm's record as long as the storm's. */
const PACE_TTL_SECONDS = 3600;
const CAS_ATTEMPTS = 50;

interface Cached {
  value: ChannelRecord | undefined;
  version: number | undefined;
}

/** A channel's record as one delivery sees it: read once, changed by compare-and-set. */
export class ChannelState {
  readonly #state: StateStore;
  readonly #key: string;
  #cached: Cached | undefined;

  constructor(state: StateStore, key: string) {
    this.#state = state;
    this.#key = key;
  }

  /** The record as this delivery last read or wrote it (an eventually consistent read the first time). */
  async read(): Promise<ChannelRecord | undefined> {
    this.#cached ??= await this.#fetch(false);
    return this.#cached.value;
  }

  /**
   * Changes the record: `change` gets a copy of it (the cached one first; the stored one, read
   * consistently, after a conflict) and may run several times, so it must be pure.
   */
  async update<R>(
    change: (record: ChannelRecord | undefined) => { record: ChannelRecord; result: R },
  ): Promise<R> {
    const state = this.#state;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const current = this.#cached ?? (await this.#fetch(attempt > 0));
      const { record, result } = change(structuredClone(current.value));
      const ttlSeconds =
        record.storms && Object.keys(record.storms).length > 0 ? STORM_TTL_SECONDS : PACE_TTL_SECONDS;
      if (!isVersioned(state)) {
        await state.put(this.#key, record, { ttlSeconds });
        this.#cached = { value: record, version: undefined };
        return result;
      }
      if (await state.putIfVersion(this.#key, record, current.version, { ttlSeconds })) {
        this.#cached = { value: record, version: (current.version ?? 0) + 1 };
        return result;
      }
      this.#cached = undefined;
    }
    throw new ConflictError(this.#key, CAS_ATTEMPTS);
  }

  /** Takes the channel's next turn at `pace` (lib/delivery/pacing.ts takeSlot). */
  reserve(pace: Pace, now: number): Promise<Slot> {
    return this.update((record) => {
      const slot = takeSlot(record?.next, now, pace);
      return { record: { ...record, next: slot.next }, result: { at: slot.at } };
    });
  }

  /** Storm mode's record of `destination`, kept in this channel's record. */
  stormSlot(destination: string): StormSlot {
    return {
      read: async () => (await this.read())?.storms?.[destination],
      update: (change) =>
        this.update((record) => {
          const { record: storm, result } = change(record?.storms?.[destination]);
          return { record: { ...record, storms: { ...record?.storms, [destination]: storm } }, result };
        }),
    };
  }

  async #fetch(consistent: boolean): Promise<Cached> {
    const state = this.#state;
    if (isVersioned(state)) {
      const stored = await state.getVersioned<ChannelRecord>(this.#key, { consistent });
      return { value: stored?.value, version: stored?.version };
    }
    return { value: await state.get<ChannelRecord>(this.#key, { consistent }), version: undefined };
  }
}

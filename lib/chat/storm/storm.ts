import type { Notification } from '../../alertmanager/types.ts';
import { updateVersioned, type VersionedStateStore } from '../../state/store.ts';
import type { StormSettings } from './config.ts';
import { type DigestTotals, foldEntry, type GroupEntry, readTotals, seedEntries } from './tally.ts';

/**
 * Storm mode, the part every chat sink shares: telling a storm from ordinary traffic, which
 * groups fold into the digest, and who edits the digest when. The chat stage posts and edits
 * the message through the sink's adapter (lib/chat/stage.ts, run.ts).
 *
 * One record per destination holds the recent arrivals of new groups and the storm's state (the
 * chat stage keeps it in its channel's record, with the channel's pace: lib/chat/channel-state.ts;
 * on its own it is `storm#<destination>`); every delivery changes it by compare-and-set, so
 * concurrent deliveries of different groups (parallel message groups on Lambda, workers
 * locally) never lose a change. Each change is idempotent for the delivery making it (keyed by
 * its group or its own id), so a retry after a crash repeats it harmlessly.
 *
 * The digest is edited at most once per DIGEST_EDIT_INTERVAL_MS. A delivery that folds its
 * group when an edit is due edits at once (it reads the counts after claiming the edit, so
 * every fold recorded before its claim is shown); otherwise the first such delivery becomes the
 * storm's FLUSHER: it finishes its fold and comes back (the queue's delay) when the next edit
 * is due, and edits with whatever is recorded then. Every later fold finds the flusher and
 * simply completes: intermediate states are skipped, the latest state is always shown. One
 * delivery also WATCHES the storm: it comes back when the storm would be calm and ends it,
 * so the final summary does not wait for the next notification.
 */

/** Digest edits at most this often: well within chat.update's ~50 a minute, and few calls. */
export const DIGEST_EDIT_INTERVAL_MS = 10_000;
/** A watcher comes back this many times while the storm keeps going, then hands over to the next fold. */
const WATCH_ROUNDS = 2;
/** The storm record and the shards outlive a storm by a day: the final summary stays editable. */
export const STORM_TTL_SECONDS = 24 * 3600;

export interface StormState {
  id: string;
  startedAt: number;
  /** Set once the storm is over. */
  endedAt?: number;
  /** Until when the arrivals were over the threshold (the storm is calm `cooldown` after). */
  overUntil: number;
  /** Bumped by every fold; `shown` is the revision the digest last showed. */
  revision: number;
  shown: number;
  /** The digest message, once posted (the sink's own address of it). */
  message?: Record<string, string>;
  /** The delivery that posts the digest. */
  starter: string;
  nextEditAt: number;
  flusher?: { id: string; at: number };
  /** `handover`: the watcher came back WATCH_ROUNDS times; the next fold takes over from it. */
  watcher?: { id: string; at: number; rounds: number; handover?: true };
  /** Groups folded into it. */
  groups: number;
  /** `storm.afterwards: backfill`: the groups still firing get their own messages once it is calm. */
  backfill?: true;
  /**
   * Groups that started the storm whose tally entry could not be read yet (their deliveries were
   * still under way): seeded before the digest shows the storm again.
   */
  unseeded?: string[];
}

export interface StormRecord {
  /** groupId -> when it arrived as a new group; only the newest `threshold + 1` are kept. */
  arrivals: Record<string, number>;
  /**
   * The tally entries of those arrivals, for a caller that hands them to `admit` (the chat stage
   * keeps each group's entry in the group's own record instead, and reads it when a storm starts):
   * a storm starting counts the groups that started it.
   */
  seeds?: Record<string, GroupEntry>;
  current?: StormState;
  /** The storm that ended last: its final summary may still be edited (afterwards: summary). */
  last?: StormState;
}

/** What to do with a new group. */
export type StormDecision =
  | { kind: 'own'; ended?: string }
  | {
      kind: 'fold';
      stormId: string;
      started: boolean;
      ended?: string;
      seeds?: Record<string, GroupEntry>;
      /** The groups that arrived before this one and started the storm with it. */
      seedIds?: string[];
    };

/** What a delivery that folded its group does about the digest. */
export interface DigestRoles {
  /** Post the digest (the storm's starter, once). */
  post: boolean;
  /** Edit it now (the edit was due and this delivery claimed it). */
  edit: boolean;
  /** Come back at this time (epoch ms) and edit then. */
  flushAt?: number;
  /** Come back at this time (epoch ms) to see whether the storm calmed. */
  watchAt?: number;
  /** The storm had ended before this fold was claimed (it is counted, but no backfill will find it). */
  over?: boolean;
}

/** A storm's time as a digest shows it: `2026-11-21 12:00 UTC`. */
export const digestTime = (ms: number): string =>
  `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * The groups a digest lists, and the heading above them in plain words (the sink adds its
 * emphasis): the newest while the storm lasts, those still firing once it is over.
 */
export function digestList(
  storm: StormState,
  totals: DigestTotals,
): { heading: string; groups: (DigestTotals['newest'][number] | DigestTotals['stillFiring'][number])[] } {
  if (storm.endedAt === undefined) return { heading: 'Newest groups:', groups: totals.newest };
  const groups = totals.stillFiring;
  if (totals.firingGroups === 0) return { heading: 'Every group of the storm resolved.', groups };
  const oldest = totals.firingGroups > groups.length ? `, the ${groups.length} oldest` : '';
  return { heading: `Still firing (${totals.firingGroups}${oldest}):`, groups };
}

/** What the final summary adds with `afterwards: backfill`: `noun` is what the sink posts (a message, a card). */
export function backfillNote(storm: StormState, totals: DigestTotals, noun: string): string {
  return storm.backfill && totals.firingGroups > 0 ? `Each group still firing gets its own ${noun} now` : '';
}

export const calmAt = (storm: StormState, settings: StormSettings): number =>
  storm.overUntil + settings.cooldownMs;

/** Ends the current storm in `record` if it is calm at `now`; returns the id it ended. */
function endIfCalm(record: StormRecord, now: number, settings: StormSettings): string | undefined {
  const storm = record.current;
  if (!storm || now < calmAt(storm, settings)) return undefined;
  record.last = { ...storm, endedAt: now, watcher: undefined };
  record.current = undefined;
  return storm.id;
}

/**
 * Registers `groupId` as a new group arriving at `now` and decides: its own message, or folded
 * into the storm (started by this arrival when it is the one over the threshold). A storm that
 * is calm by now ends first (`ended`), so the arrival is judged as ordinary traffic.
 *
 * @example
 * admit({ arrivals: {} }, 'a1b2', Date.now(), settings, 'delivery-1') // { decision: { kind: 'own' }, record }
 */
export function admit(
  previous: StormRecord | undefined,
  groupId: string,
  now: number,
  settings: StormSettings,
  me: string,
  entry?: GroupEntry,
): { record: StormRecord; decision: StormDecision } {
  const record: StormRecord = previous ? structuredClone(previous) : { arrivals: {} };
  const ended = endIfCalm(record, now, settings);
  const endedField = ended ? { ended } : {};
  record.arrivals[groupId] = Math.max(record.arrivals[groupId] ?? 0, now);
  const times = Object.entries(record.arrivals)
    .filter(([, at]) => at > now - settings.windowMs)
    .sort((a, b) => b[1] - a[1])
    .slice(0, settings.threshold + 1);
  record.arrivals = Object.fromEntries(times);
  const seeds: Record<string, GroupEntry> = {};
  for (const [id] of times) {
    const seed = id === groupId ? entry : record.seeds?.[id];
    if (seed) seeds[id] = seed;
  }
  if (Object.keys(seeds).length > 0) record.seeds = seeds;
  else delete record.seeds;
  const over = times.length > settings.threshold;
  // Over the threshold until the oldest of the newest threshold+1 arrivals leaves the window.
  const overUntil = over ? times[settings.threshold][1] + settings.windowMs : undefined;
  const storm = record.current;
  if (storm) {
    // A storm's arrivals are folded anyway: only those before one starts are kept to seed it.
    delete record.seeds;
    if (overUntil !== undefined) storm.overUntil = Math.max(storm.overUntil, overUntil);
    return { record, decision: { kind: 'fold', stormId: storm.id, started: false, ...endedField } };
  }
  if (overUntil === undefined) return { record, decision: { kind: 'own', ...endedField } };
  record.current = {
    id: `${now.toString(36)}-${groupId.slice(0, 8)}`,
    startedAt: now,
    overUntil,
    revision: 0,
    shown: 0,
    starter: me,
    nextEditAt: now + DIGEST_EDIT_INTERVAL_MS,
    groups: 0,
    ...(settings.afterwards === 'backfill' ? { backfill: true as const } : {}),
  };
  const { [groupId]: _mine, ...others } = seeds;
  delete record.seeds;
  const seedIds = times.map(([id]) => id).filter((id) => id !== groupId);
  return {
    record,
    decision: {
      kind: 'fold',
      stormId: record.current.id,
      started: true,
      seeds: others,
      seedIds,
      ...endedField,
    },
  };
}

/** The storm of that id in the record, current or last. */
export function stormOf(record: StormRecord | undefined, stormId: string): StormState | undefined {
  if (record?.current?.id === stormId) return record.current;
  if (record?.last?.id === stormId) return record.last;
  return undefined;
}

/**
 * Records one more fold into storm `stormId` (`newGroup`: a group's first) and hands out the
 * digest's roles to `me`. Idempotent for `me`: a retry gets the roles it already holds.
 */
export function claimRoles(
  previous: StormRecord,
  stormId: string,
  me: string,
  now: number,
  settings: StormSettings,
  options: { newGroup: boolean; fold: boolean },
): { record: StormRecord; roles: DigestRoles } {
  const record = structuredClone(previous);
  const storm = stormOf(record, stormId);
  const roles: DigestRoles = { post: false, edit: false };
  if (!storm) return { record, roles };
  if (record.current?.id !== stormId) roles.over = true;
  if (options.fold) storm.revision++;
  if (options.newGroup) storm.groups++;
  if (!storm.message && storm.starter === me) roles.post = true;
  else if (storm.flusher?.id === me) roles.flushAt = storm.flusher.at;
  else if (!storm.flusher) {
    if (storm.message && now >= storm.nextEditAt) {
      roles.edit = true;
      storm.nextEditAt = now + DIGEST_EDIT_INTERVAL_MS;
    } else {
      storm.flusher = { id: me, at: Math.max(storm.nextEditAt, now + 1000) };
      roles.flushAt = storm.flusher.at;
    }
  }
  if (record.current?.id === stormId) {
    const at = calmAt(storm, settings);
    const watcher = storm.watcher;
    if (watcher?.id === me) roles.watchAt = watcher.at;
    else if (!watcher || watcher.handover || watcher.at < at - settings.cooldownMs / 2) {
      storm.watcher = { id: me, at, rounds: 0 };
      roles.watchAt = at;
    }
  }
  return { record, roles };
}

/** The flusher came back: it edits now (true), or comes back at the returned time (the digest is not posted yet). */
export function claimFlush(
  previous: StormRecord,
  stormId: string,
  me: string,
  now: number,
): { record: StormRecord; edit: boolean; again?: number } {
  const record = structuredClone(previous);
  const storm = stormOf(record, stormId);
  if (!storm || (storm.flusher && storm.flusher.id !== me)) return { record, edit: false };
  if (!storm.message) {
    const at = now + DIGEST_EDIT_INTERVAL_MS;
    storm.flusher = { id: me, at };
    return { record, edit: false, again: at };
  }
  storm.flusher = undefined;
  storm.nextEditAt = now + DIGEST_EDIT_INTERVAL_MS;
  return { record, edit: true };
}

/** The watcher came back: `ended` (edit the final summary), `again` at a later time, or nothing left to do. */
export function claimWatch(
  previous: StormRecord,
  stormId: string,
  me: string,
  now: number,
  settings: StormSettings,
): { record: StormRecord; outcome: 'ended' | 'done' | { again: number } } {
  const record = structuredClone(previous);
  const storm = record.current;
  if (storm?.id !== stormId || storm.watcher?.id !== me) return { record, outcome: 'done' };
  if (endIfCalm(record, now, settings)) return { record, outcome: 'ended' };
  // After WATCH_ROUNDS the next fold takes over (a fresh message, its receives uncounted), but
  // until one does this watcher keeps coming back: without a fold the storm is calm by its next
  // return (only a new group's arrival, which folds, moves the calm), and a storm nobody
  // watches would wait for the next new group to show its final summary.
  const at = calmAt(storm, settings);
  const rounds = storm.watcher.rounds + 1;
  storm.watcher = { id: me, at, rounds, ...(rounds >= WATCH_ROUNDS ? { handover: true as const } : {}) };
  return { record, outcome: { again: at } };
}

/** Where a destination's StormRecord lives, read and changed by compare-and-set. */
export interface StormSlot {
  read(): Promise<StormRecord | undefined>;
  update<R>(change: (record: StormRecord | undefined) => { record: StormRecord; result: R }): Promise<R>;
}

/** A StormRecord in an item of its own, `storm#<destination>`. */
export function ownStormSlot(store: VersionedStateStore, destination: string): StormSlot {
  const key = `storm#${destination}`;
  return {
    read: () => store.get<StormRecord>(key),
    async update(change) {
      let result: ReturnType<typeof change>['result'] | undefined;
      await updateVersioned<StormRecord>(
        store,
        key,
        (current) => {
          const next = change(current);
          result = next.result;
          return next.record;
        },
        { ttlSeconds: STORM_TTL_SECONDS },
      );
      return result as ReturnType<typeof change>['result'];
    },
  };
}

/**
 * The storms of one destination in the state store: the CAS'd record (in `slot`, by default an
 * item of its own) and the folded groups' entries (lib/chat/storm/tally.ts).
 */
export class StormLedger {
  readonly #store: VersionedStateStore;
  readonly #slot: StormSlot;
  readonly #shardPrefix: string;
  readonly #settings: StormSettings;

  constructor(store: VersionedStateStore, destination: string, settings: StormSettings, slot?: StormSlot) {
    this.#store = store;
    this.#slot = slot ?? ownStormSlot(store, destination);
    this.#shardPrefix = `stormshard#${destination}`;
    this.#settings = settings;
  }

  get settings(): StormSettings {
    return this.#settings;
  }

  /** The key prefix of the storms' tally shards (lib/chat/storm/tally.ts). */
  get shardPrefix(): string {
    return this.#shardPrefix;
  }

  read(): Promise<StormRecord | undefined> {
    return this.#slot.read();
  }

  #update<R>(change: (record: StormRecord | undefined) => { record: StormRecord; result: R }): Promise<R> {
    return this.#slot.update(change);
  }

  /** admit() as one compare-and-set; `entry` is the group's tally entry, should it start a storm later. */
  admit(groupId: string, now: number, me: string, entry?: GroupEntry): Promise<StormDecision> {
    return this.#update((record) => {
      const { record: next, decision } = admit(record, groupId, now, this.#settings, me, entry);
      return { record: next, result: decision };
    });
  }

  /** Counts the groups that started the storm (they keep their own messages) in its tally. */
  seed(stormId: string, seeds: Record<string, GroupEntry>): Promise<void> {
    return seedEntries(this.#store, this.#shardPrefix, stormId, seeds, STORM_TTL_SECONDS);
  }

  /** Notes groups that started storm `stormId` and are not in its tally yet (`add`), or no longer missing. */
  unseeded(stormId: string, change: { add?: string[]; seeded?: string[] }): Promise<void> {
    return this.#update((record) => {
      const next = structuredClone(record ?? { arrivals: {} });
      const storm = stormOf(next, stormId);
      if (storm) {
        const ids = new Set([...(storm.unseeded ?? []), ...(change.add ?? [])]);
        for (const id of change.seeded ?? []) ids.delete(id);
        if (ids.size > 0) storm.unseeded = [...ids];
        else delete storm.unseeded;
      }
      return { record: next, result: undefined };
    });
  }

  /** Sets the group's entry in the storm's tally, then claims the digest roles. */
  async fold(
    stormId: string,
    groupId: string,
    me: string,
    fold: { notification: Notification; part: number; receivedAt: number; now: number; newGroup: boolean },
  ): Promise<DigestRoles> {
    await foldEntry(this.#store, this.#shardPrefix, stormId, groupId, fold, STORM_TTL_SECONDS);
    return this.claim(stormId, me, fold.now, { newGroup: fold.newGroup, fold: true });
  }

  /** claimRoles() as one compare-and-set (a fold records its entry first). */
  claim(
    stormId: string,
    me: string,
    now: number,
    options: { newGroup: boolean; fold: boolean },
  ): Promise<DigestRoles> {
    return this.#update((record) => {
      if (!record) return { record: { arrivals: {} }, result: { post: false, edit: false } };
      const { record: next, roles } = claimRoles(record, stormId, me, now, this.#settings, options);
      return { record: next, result: roles };
    });
  }

  claimFlush(stormId: string, me: string, now: number): Promise<{ edit: boolean; again?: number }> {
    return this.#update((record) => {
      if (!record) return { record: { arrivals: {} }, result: { edit: false } };
      const { record: next, ...result } = claimFlush(record, stormId, me, now);
      return { record: next, result };
    });
  }

  claimWatch(stormId: string, me: string, now: number): Promise<'ended' | 'done' | { again: number }> {
    return this.#update((record) => {
      if (!record) return { record: { arrivals: {} }, result: 'done' as const };
      const { record: next, outcome } = claimWatch(record, stormId, me, now, this.#settings);
      return { record: next, result: outcome };
    });
  }

  /**
   * What the digest should show now: the storm (read after any claim, so every fold recorded
   * before is in the totals) and its totals. `revision` is what the shown state covers.
   */
  async snapshot(
    stormId: string,
    listed: number,
  ): Promise<{ storm: StormState; totals: DigestTotals } | undefined> {
    const storm = stormOf(await this.read(), stormId);
    if (!storm) return undefined;
    return { storm, totals: await readTotals(this.#store, this.#shardPrefix, stormId, listed) };
  }

  /** Records that the digest showed `revision` (and where it is, once posted). */
  shown(stormId: string, revision: number, message?: Record<string, string>): Promise<void> {
    return this.#update((record) => {
      const next = structuredClone(record ?? { arrivals: {} });
      const storm = stormOf(next, stormId);
      if (storm) {
        storm.shown = Math.max(storm.shown, revision);
        if (message && !storm.message) storm.message = message;
      }
      return { record: next, result: undefined };
    });
  }
}

import type { DestinationConfig } from '../../config/types.ts';
import { DeferredError } from '../../delivery/errors.ts';
import type { StepJournal } from '../../delivery/journal.ts';
import { type Pace, type Slot, takeSlot } from '../../delivery/pacing.ts';
import type { Delivery, DeliveryPipeline } from '../../delivery/sink.ts';
import { isVersioned } from '../../state/store.ts';
import type { ChannelState } from '../channel-state.ts';
import { BackfillKeeper } from './backfill.ts';
import { stormSettings } from './config.ts';
import {
  admit,
  DIGEST_EDIT_INTERVAL_MS,
  type DigestRoles,
  STORM_TTL_SECONDS,
  type StormDecision,
  StormLedger,
  type StormState,
  stormOf,
} from './storm.ts';
import { type DigestTotals, entryOf, type GroupEntry } from './tally.ts';

/**
 * Storm mode for every chat sink (Slack, Discord, Teams, Google Chat): the rules of storm.ts
 * applied to one delivery, with the sink's own way to show the digest. A sink that can edit
 * a message (Discord) posts the digest once and edits it; one that cannot (Teams and Google
 * Chat webhooks) posts the latest state as a new message each time (`show`), at most once per
 * DIGEST_EDIT_INTERVAL_MS. Every wait is the queue's delay (DeferredError): nothing sleeps.
 */

/** What the sink does to show the digest. Each call runs in a journal of its own step. */
export interface DigestPublisher {
  /** Posts the digest for the first time; resolves with where it is (kept in the storm's state). */
  post(view: DigestView, journal: StepJournal): Promise<Record<string, string>>;
  /** Shows the latest state: edits the message at `message`, or posts a new one. */
  show(view: DigestView, message: Record<string, string>, journal: StepJournal): Promise<void>;
}

export interface DigestView {
  storm: StormState;
  totals: DigestTotals;
}

export interface StormRun<D extends DestinationConfig> {
  delivery: Delivery<D & { storm?: false | Record<string, unknown> }>;
  /** The core's side of the delivery: whether it is a backfill, and how to send backfills. */
  pipeline?: DeliveryPipeline;
  journal: StepJournal;
  /** The group's id: a hex hash of its groupKey. */
  groupId: string;
  /** The group already has a message (or thread) of its own in this destination. */
  known: boolean;
  /** This notification would start a new message of the group's. */
  newMessage: boolean;
  now: () => number;
  /** The vendor's name, for the come-back message. */
  vendor: string;
  /** Groups listed by name in the digest. */
  listed: number;
  publisher: DigestPublisher;
  /**
   * The channel's record (lib/chat/channel-state.ts), where the destination's storm record is
   * kept with the channel's pace; without it, the storm record is an item of its own.
   */
  channel?: ChannelState;
  /**
   * The journal step and pace of this delivery's first post: a new group admitted to post its own
   * message takes that post's turn in the channel in the same write as its admission.
   */
  firstPost?: { step: string; pace: Pace };
  /**
   * Where the groups' tally entries are when a storm starts (the chat stage keeps each group's in
   * its group record): without it, every new group's entry rides in the storm's record until then.
   * Resolves with those it found, by group id.
   */
  seedsFrom?: (groupIds: string[]) => Promise<Record<string, GroupEntry>>;
}

/** What the sink does next: `own` delivers as usual (then `after`), otherwise it is done. */
export type StormOutcome = { own: true; after?: () => Promise<void> } | { own: false };

interface Decision {
  kind: 'own' | 'fold';
  stormId?: string;
  started?: boolean;
  ended?: string;
  newGroup?: boolean;
  seeds?: Record<string, GroupEntry>;
  seedIds?: string[];
}

interface Marker {
  stormId: string;
  own?: boolean;
}

interface WaitStep {
  at: number;
  done?: boolean;
}

/** A journal whose steps are `prefix-<step>` of `journal`. */
export function scopedJournal(journal: StepJournal, prefix: string): StepJournal {
  return {
    get: (step) => journal.get(`${prefix}-${step}`),
    record: (step, value) => journal.record(`${prefix}-${step}`, value),
    once: (step, action) => journal.once(`${prefix}-${step}`, action),
  };
}

/**
 * Folds this delivery's group into the destination's storm digest when it is part of a storm,
 * and does the digest's share of work this delivery holds. Off without `storm:` settings or a
 * store that can compare-and-set.
 */
export async function runStorm<D extends DestinationConfig>(run: StormRun<D>): Promise<StormOutcome> {
  const { delivery, journal, groupId, now } = run;
  const { destination, notification, state, logger } = delivery;
  const settings = stormSettings(destination.storm as Parameters<typeof stormSettings>[0]);
  if (!settings || !isVersioned(state)) return { own: true };
  // A storm's backfill is the group's own message, whatever storm is on now: never a new
  // group's arrival (its marker may have expired in a storm of over a day), never folded again.
  if (run.pipeline?.backfillOf !== undefined) return { own: true };
  const ledger = new StormLedger(state, destination.name, settings, run.channel?.stormSlot(destination.name));
  const me = `${delivery.idempotencyKey.slice(0, 32)}.${Date.parse(delivery.receivedAt)}`;
  const markerKey = `stormgroup#${destination.name}#${groupId}`;
  const fold = () => ({
    notification,
    part: delivery.part.index,
    receivedAt: Date.parse(delivery.receivedAt),
    now: now(),
  });
  /** The group's admission, with its first post's turn in the channel when it posts its own message. */
  const admission = async (entry: GroupEntry | undefined): Promise<StormDecision> => {
    const { channel, firstPost } = run;
    if (!channel || !firstPost) return ledger.admit(groupId, now(), me, entry);
    const at = now();
    const { decision, slot } = await channel.update<{ decision: StormDecision; slot?: Slot }>((record) => {
      const { record: storm, decision } = admit(
        record?.storms?.[destination.name],
        groupId,
        at,
        settings,
        me,
        entry,
      );
      const next = { ...record, storms: { ...record?.storms, [destination.name]: storm } };
      if (decision.kind !== 'own') return { record: next, result: { decision } };
      const taken = takeSlot(record?.next, at, firstPost.pace);
      return { record: { ...next, next: taken.next }, result: { decision, slot: { at: taken.at } } };
    });
    if (slot) await journal.record(firstPost.step, slot);
    return decision;
  };
  const keeper =
    settings.afterwards === 'backfill'
      ? new BackfillKeeper(state, destination.name, ledger.shardPrefix, STORM_TTL_SECONDS)
      : undefined;
  const digest = digestWork(run, ledger, me, keeper);
  // A group's marker matters only while its destination has a storm on or just over: without one,
  // it is not read at all.
  const markerOf = async (record: Awaited<ReturnType<StormLedger['read']>>) =>
    record?.current || record?.last ? state.get<Marker>(markerKey) : undefined;
  if (!run.newMessage) {
    // The group has its own message; if it was one of those that started the storm (its marker
    // says own), its change counts in the digest too, after its own delivery (whose pace has
    // read the channel's record by then).
    return {
      own: true,
      after: async () => {
        const record = await ledger.read();
        const marker = await markerOf(record);
        if (!marker?.own) return;
        const stormId = marker.stormId;
        const storm = stormOf(record, stormId);
        if (!storm || (storm.endedAt !== undefined && settings.afterwards !== 'summary')) return;
        const { value: roles } = await journal.once<DigestRoles>('storm-fold', () =>
          ledger.fold(stormId, groupId, me, { ...fold(), newGroup: false }),
        );
        await digest.perform(stormId, { ...roles, watchAt: undefined }, 'storm');
      },
    };
  }

  const { value: decision, ran } = await journal.once<Decision>('storm', async () => {
    const record = await ledger.read();
    const marker = await markerOf(record);
    if (marker) {
      const storm = stormOf(record, marker.stormId);
      if (storm && (storm.endedAt === undefined || settings.afterwards === 'summary'))
        return { kind: 'fold', stormId: storm.id, newGroup: false };
      return { kind: 'own' };
    }
    if (run.known || notification.status !== 'firing') return { kind: 'own' };
    // With seedsFrom, a group's entry is read from where the group keeps it, when a storm starts.
    const admitted = await admission(run.seedsFrom ? undefined : entryOf(fold()));
    return { ...admitted, newGroup: admitted.kind === 'fold' };
  });
  // Counted once: `ran` is false when a retry of this delivery reads the decision from its journal.
  if (ran && decision.ended) delivery.count?.('StormEnded');
  if (ran && decision.started) {
    delivery.count?.('StormStarted');
    logger.warn('alert storm: new groups go into one digest message', {
      stormId: decision.stormId,
      threshold: settings.threshold,
      windowSeconds: settings.windowMs / 1000,
    });
  }
  if (decision.kind === 'own') {
    const ended = decision.ended;
    return ended ? { own: true, after: () => digest.finish(ended) } : { own: true };
  }
  const stormId = decision.stormId as string;
  const { value: roles, ran: folded } = await journal.once<DigestRoles>('storm-fold', async () => {
    const ids = decision.seedIds ?? Object.keys(decision.seeds ?? {});
    const seeds = { ...(run.seedsFrom && ids.length > 0 ? await run.seedsFrom(ids) : {}), ...decision.seeds };
    await ledger.seed(stormId, seeds);
    // Those still being delivered have no entry where they keep it yet: seeded before the digest shows.
    const missing = ids.filter((id) => !seeds[id]);
    if (missing.length > 0) await ledger.unseeded(stormId, { add: missing });
    for (const id of ids) {
      await state.put(`stormgroup#${destination.name}#${id}`, { stormId, own: true } satisfies Marker, {
        ttlSeconds: STORM_TTL_SECONDS,
      });
    }
    // Kept before the fold: a group the tally shows still firing has its message kept.
    await keeper?.keep(stormId, groupId, delivery);
    return ledger.fold(stormId, groupId, me, { ...fold(), newGroup: decision.newGroup ?? false });
  });
  if (decision.newGroup) {
    await state.put(markerKey, { stormId } satisfies Marker, { ttlSeconds: STORM_TTL_SECONDS });
    if (folded) delivery.count?.('GroupsFolded');
  }
  if (decision.ended) await digest.finish(decision.ended);
  await digest.perform(stormId, roles, 'storm');
  if (roles.over && keeper) {
    // The storm ended between this delivery's decision and its fold: its backfill may have
    // passed this group already, so it gets its message now (and is counted in the digest).
    logger.info('the storm was over by the time this group was folded; it gets its own message', {
      stormId,
    });
    return { own: true };
  }
  logger.info('folded into the storm digest', { stormId, groupFolded: groupId });
  return { own: false };
}

function digestWork<D extends DestinationConfig>(
  run: StormRun<D>,
  ledger: StormLedger,
  me: string,
  keeper: BackfillKeeper | undefined,
) {
  const { delivery, now, publisher } = run;
  const journal = scopedJournal(run.journal, 'digest');

  const comeBack = (at: number, what: string) => {
    const seconds = Math.max(1, Math.ceil((at - now()) / 1000));
    return new DeferredError(
      `${run.vendor} storm digest: this delivery comes back in ${seconds} s to ${what}`,
      {
        retryAfterSeconds: seconds,
      },
    );
  };

  /** Seeds the groups that started the storm whose entries were not readable when it started. */
  async function seedLate(stormId: string): Promise<void> {
    const ids = stormOf(await ledger.read(), stormId)?.unseeded;
    if (!run.seedsFrom || !ids || ids.length === 0) return;
    const found = await run.seedsFrom(ids);
    if (Object.keys(found).length === 0) return;
    await ledger.seed(stormId, found);
    await ledger.unseeded(stormId, { seeded: Object.keys(found) });
  }

  async function post(stormId: string): Promise<void> {
    await seedLate(stormId);
    const { value } = await journal.once<{ message: Record<string, string>; revision: number }>(
      'post',
      async () => {
        const snapshot = await ledger.snapshot(stormId, run.listed);
        if (!snapshot) return { message: {}, revision: 0 };
        if (snapshot.storm.message) return { message: snapshot.storm.message, revision: 0 };
        const message = await publisher.post(snapshot, scopedJournal(journal, 'post'));
        delivery.count?.('DigestPosted');
        return { message: { ...message, postedAt: String(now()) }, revision: snapshot.storm.revision };
      },
    );
    if (Object.keys(value.message).length > 0) await ledger.shown(stormId, value.revision, value.message);
  }

  async function show(stormId: string, step: string): Promise<void> {
    await seedLate(stormId);
    const snapshot = await ledger.snapshot(stormId, run.listed);
    const message = snapshot?.storm.message;
    if (!snapshot || !message) return;
    // The first edit is due an interval after the post, which the space's or channel's pace may have delayed.
    const dueAt = Number(message.postedAt ?? 0) + DIGEST_EDIT_INTERVAL_MS;
    if (dueAt > now()) throw comeBack(dueAt, 'show the digest');
    await publisher.show(snapshot, message, scopedJournal(journal, step));
    await ledger.shown(stormId, snapshot.storm.revision);
  }

  async function waitThen(
    step: string,
    at: number,
    what: string,
    claim: () => Promise<number | undefined>,
  ): Promise<void> {
    const recorded = (await journal.get<WaitStep>(step)) ?? { at };
    if (recorded.done) return;
    if (recorded.at > now()) {
      await journal.record(step, recorded);
      throw comeBack(recorded.at, what);
    }
    const again = await claim();
    if (again !== undefined) {
      await journal.record(step, { at: again });
      throw comeBack(again, what);
    }
    await journal.record(step, { ...recorded, done: true });
  }

  async function perform(stormId: string, roles: DigestRoles, prefix: string): Promise<void> {
    if (roles.post) await post(stormId);
    if (roles.edit) {
      await journal.once(`${prefix}-edit`, async () => {
        await show(stormId, `${prefix}-edit`);
        return { done: true };
      });
    }
    if (roles.flushAt !== undefined) {
      await waitThen(`${prefix}-flush`, roles.flushAt, 'show the digest', async () => {
        const claimed = await ledger.claimFlush(stormId, me, now());
        if (claimed.again !== undefined) return claimed.again;
        if (claimed.edit) await show(stormId, `${prefix}-flush`);
        return undefined;
      });
    }
    if (roles.watchAt !== undefined) {
      await waitThen(`${prefix}-watch`, roles.watchAt, 'see whether the storm calmed', async () => {
        const outcome = await ledger.claimWatch(stormId, me, now());
        if (typeof outcome === 'object') return outcome.again;
        // Recorded before the summary and the backfill: a come-back (the summary's pace, the
        // function's time) finds that this delivery ended the storm, and finishes it.
        if (outcome === 'ended') {
          // The watch's claim ends a storm once (compare-and-set): this delivery ended it.
          delivery.count?.('StormEnded');
          await journal.record(`${prefix}-ended`, { stormId });
        }
        return undefined;
      });
      if (await journal.get(`${prefix}-ended`)) await finish(stormId);
    }
  }

  async function finish(stormId: string): Promise<void> {
    delivery.logger.info('alert storm over; the digest shows its final summary', { stormId });
    const { value: roles } = await journal.once<DigestRoles>('final', () =>
      ledger.claim(stormId, me, now(), { fold: false, newGroup: false }),
    );
    await perform(stormId, { ...roles, post: false, watchAt: undefined }, 'final');
    if (keeper) await backfill(stormId, keeper);
  }

  /** afterwards: backfill. The groups still firing go back on the queue, for a message each. */
  async function backfill(stormId: string, keeper: BackfillKeeper): Promise<void> {
    const requeue = run.pipeline?.backfill;
    if (!requeue) {
      delivery.logger.warn('storm backfill skipped: this runtime cannot requeue messages', { stormId });
      return;
    }
    const groups = await keeper.requeueStillFiring({
      stormId,
      journal: scopedJournal(journal, 'final'),
      requeue,
      onRequeued: (count) => delivery.count?.('GroupsBackfilled', count),
    });
    delivery.logger.info(
      'storm backfill: the groups still firing get their own messages, at the normal pace',
      {
        stormId,
        groupsBackfilled: groups,
      },
    );
  }

  return { perform, finish };
}

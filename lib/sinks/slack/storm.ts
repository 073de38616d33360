import type { Notification } from '../../alertmanager/types.ts';
import { DeferredError } from '../../delivery/errors.ts';
import type { StepJournal } from '../../delivery/journal.ts';
import type { Delivery } from '../../delivery/sink.ts';
import { stormSettings } from '../../digest/config.ts';
import { type DigestRoles, STORM_TTL_SECONDS, StormLedger, stormOf } from '../../digest/storm.ts';
import { entryOf, type GroupEntry } from '../../digest/tally.ts';
import { isVersioned } from '../../state/store.ts';
import { type SlackApi, slackErrorCode } from './api.ts';
import type { SlackDestination } from './config.ts';
import { DIGEST_LISTED, digestMessage } from './digest.ts';
import type { GroupRecord } from './lifecycle.ts';
import { type ChannelPace, paceDelivery } from './pacing.ts';
import { createPoster } from './posts.ts';

/**
 * Storm mode on a Slack destination (lib/digest/storm.ts has the shared rules): a new group
 * that arrives in a storm is folded into the destination's digest instead of getting its own
 * message; the digest is posted once (by the delivery that started the storm, through the
 * channel's pacing, found again by its metadata after a crash) and edited at most every
 * DIGEST_EDIT_INTERVAL_MS. A delivery that must come back to edit later (the flusher) or to
 * end a calm storm (the watcher) is handed back to the queue with the wait as its delay, after
 * its own fold is recorded: nothing sleeps, and no fold waits for Slack's pace.
 */

export interface StormContext {
  delivery: Delivery<SlackDestination>;
  journal: StepJournal;
  api: Pick<SlackApi, 'call' | 'recentMessages'>;
  /** The group's id (hash of its groupKey) and its record if it has a message of its own. */
  groupId: string;
  group: GroupRecord | undefined;
  /** Whether the group's message would be a new one (no message, or a new one after a resolve). */
  newMessage: boolean;
  now: () => number;
  pace: ChannelPace;
}

/** What the sink does next: `own` delivers as usual (then `after`), `folded` is done. */
export type StormOutcome = { own: true; after?: () => Promise<void> } | { own: false };

interface Decision {
  kind: 'own' | 'fold';
  stormId?: string;
  started?: boolean;
  ended?: string;
  newGroup?: boolean;
  seeds?: Record<string, GroupEntry>;
}

/** Where a group of a storm is: folded into the digest, or (`own`) one of those that started it, with its own message. */
interface Marker {
  stormId: string;
  own?: boolean;
}

interface WaitStep {
  at: number;
  done?: boolean;
}

function comeBack(at: number, now: number, what: string): DeferredError {
  const seconds = Math.max(1, Math.ceil((at - now) / 1000));
  return new DeferredError(`Slack storm digest: this delivery comes back in ${seconds} s to ${what}`, {
    retryAfterSeconds: seconds,
  });
}

/**
 * Decides whether this delivery is part of a storm and, if so, folds it and does the digest's
 * share of work this delivery holds. Storm mode needs a store that can compare-and-set.
 */
export async function handleStorm(context: StormContext): Promise<StormOutcome> {
  const { delivery, journal, groupId, now } = context;
  const { destination, notification, state, logger } = delivery;
  const settings = stormSettings(destination.storm);
  if (!settings || !isVersioned(state)) return { own: true };
  const ledger = new StormLedger(state, destination.name, settings);
  const me = `${delivery.idempotencyKey.slice(0, 32)}.${Date.parse(delivery.receivedAt)}`;
  const markerKey = `stormgroup#${destination.name}#${groupId}`;
  const fold = () => ({
    notification,
    part: delivery.part.index,
    receivedAt: Date.parse(delivery.receivedAt),
    now: now(),
  });
  if (!context.newMessage) {
    // A group with its own message keeps it; if it started the storm, its counts in the digest follow it.
    const marker = await state.get<Marker>(markerKey);
    if (!marker?.own) return { own: true };
    const stormId = marker.stormId;
    const storm = stormOf(await ledger.read(), stormId);
    if (!storm || (storm.endedAt !== undefined && settings.afterwards !== 'summary')) return { own: true };
    const digest = createDigestWork(context, ledger, me);
    const { value: roles } = await journal.once<DigestRoles>('storm-fold', () =>
      ledger.fold(stormId, groupId, me, { ...fold(), newGroup: false }),
    );
    return { own: true, after: () => digest.perform(stormId, { ...roles, watchAt: undefined }, 'storm') };
  }

  const { value: decision, ran } = await journal.once<Decision>('storm', async () => {
    const marker = await state.get<Marker>(markerKey);
    if (marker) {
      const storm = stormOf(await ledger.read(), marker.stormId);
      // A group folded into a storm stays in its digest; after the storm, with backfill, it gets its own message.
      if (storm && (storm.endedAt === undefined || settings.afterwards === 'summary'))
        return { kind: 'fold', stormId: storm.id, newGroup: false };
      return { kind: 'own' };
    }
    // A part after the first of a group that got its own message, or a resolve of a group never seen.
    if (context.group || notification.status !== 'firing') return { kind: 'own' };
    const admitted = await ledger.admit(groupId, now(), me, entryOf(fold()));
    return { ...admitted, newGroup: admitted.kind === 'fold' };
  });
  if (ran && decision.started) {
    delivery.count?.('StormStarted');
    logger.warn('alert storm: new groups go into one digest message', {
      stormId: decision.stormId,
      threshold: settings.threshold,
      windowSeconds: settings.windowMs / 1000,
    });
  }
  const digest = createDigestWork(context, ledger, me);
  if (decision.kind === 'own') {
    const ended = decision.ended;
    return ended ? { own: true, after: () => digest.finish(ended) } : { own: true };
  }
  const stormId = decision.stormId as string;
  const seeds = decision.seeds ?? {};
  const { value: roles, ran: folded } = await journal.once<DigestRoles>('storm-fold', async () => {
    // The groups that started the storm: counted in it, marked so their updates follow.
    await ledger.seed(stormId, seeds);
    for (const id of Object.keys(seeds)) {
      await state.put(`stormgroup#${destination.name}#${id}`, { stormId, own: true } satisfies Marker, {
        ttlSeconds: STORM_TTL_SECONDS,
      });
    }
    return ledger.fold(stormId, groupId, me, { ...fold(), newGroup: decision.newGroup ?? false });
  });
  if (decision.newGroup) {
    await state.put(markerKey, { stormId } satisfies Marker, { ttlSeconds: STORM_TTL_SECONDS });
    if (folded) delivery.count?.('GroupsFolded');
  }
  if (decision.ended) await digest.finish(decision.ended);
  await digest.perform(stormId, roles, 'storm');
  logger.info('folded into the storm digest', { stormId, groupFolded: groupId });
  return { own: false };
}

/** The digest work one delivery may hold: post, edit, flush later, watch for calm. */
function createDigestWork(context: StormContext, ledger: StormLedger, me: string) {
  const { delivery, api, now, pace } = context;
  const { destination, logger } = delivery;
  // The digest's steps in this delivery's journal, apart from the group's own.
  const journal: StepJournal = {
    get: (step) => context.journal.get(`digest-${step}`),
    record: (step, value) => context.journal.record(`digest-${step}`, value),
    once: (step, action) => context.journal.once(`digest-${step}`, action),
  };

  async function post(stormId: string): Promise<void> {
    const snapshot = await ledger.snapshot(stormId, DIGEST_LISTED);
    if (!snapshot || snapshot.storm.message) return;
    const pacing = await paceDelivery({
      journal,
      state: delivery.state,
      channel: destination.channel,
      posts: 1,
      now,
      pace,
    });
    const poster = createPoster({ api, journal, pacing, marker: `${me}.${stormId}`, now, logger });
    const posted = await poster.post(
      'digest',
      destination.channel,
      digestMessage(snapshot.storm, snapshot.totals),
    );
    await ledger.shown(stormId, snapshot.storm.revision, { channel: posted.channel, ts: posted.ts });
  }

  async function edit(stormId: string): Promise<void> {
    const snapshot = await ledger.snapshot(stormId, DIGEST_LISTED);
    const message = snapshot?.storm.message;
    if (!snapshot || !message) return;
    const { text, blocks } = digestMessage(snapshot.storm, snapshot.totals);
    try {
      await api.call('chat.update', { channel: message.channel, ts: message.ts, text, blocks });
    } catch (error) {
      const code = slackErrorCode(error);
      if (code !== 'message_not_found' && code !== 'cant_update_message' && code !== 'edit_window_closed')
        throw error;
      logger.warn('the storm digest cannot be edited any more; its counts stay in the state store', {
        slackError: code,
      });
    }
    await ledger.shown(stormId, snapshot.storm.revision);
  }

  /** Waits (back to the queue) until `at`, then runs `claim`; `claim` may name a later time. */
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
      throw comeBack(recorded.at, now(), what);
    }
    const again = await claim();
    if (again !== undefined) {
      await journal.record(step, { at: again });
      throw comeBack(again, now(), what);
    }
    await journal.record(step, { ...recorded, done: true });
  }

  async function perform(stormId: string, roles: DigestRoles, prefix: string): Promise<void> {
    if (roles.post) await post(stormId);
    if (roles.edit) {
      await journal.once(`${prefix}-edit`, async () => {
        await edit(stormId);
        return { done: true };
      });
    }
    if (roles.flushAt !== undefined) {
      await waitThen(`${prefix}-flush`, roles.flushAt, 'edit the digest', async () => {
        const claimed = await ledger.claimFlush(stormId, me, now());
        if (claimed.again !== undefined) return claimed.again;
        if (claimed.edit) await edit(stormId);
        return undefined;
      });
    }
    if (roles.watchAt !== undefined) {
      await waitThen(`${prefix}-watch`, roles.watchAt, 'see whether the storm calmed', async () => {
        const outcome = await ledger.claimWatch(stormId, me, now());
        if (typeof outcome === 'object') return outcome.again;
        if (outcome === 'ended') await finish(stormId);
        return undefined;
      });
    }
  }

  /** The storm ended: the digest gets its final summary (now, or by this delivery coming back). */
  async function finish(stormId: string): Promise<void> {
    logger.info('alert storm over; the digest shows its final summary', { stormId });
    const { value: roles } = await journal.once<DigestRoles>('final', () =>
      ledger.claim(stormId, me, now(), { fold: false, newGroup: false }),
    );
    await perform(stormId, { ...roles, post: false, watchAt: undefined }, 'final');
  }

  return { perform, finish };
}

/** The group's message for the storm check: whether this notification would post a new one. */
export function wouldPostNew(
  group: GroupRecord | undefined,
  notification: Notification,
  newMessageAfterResolve: boolean,
): boolean {
  if (!group) return true;
  return group.status === 'resolved' && notification.status === 'firing' && newMessageAfterResolve;
}

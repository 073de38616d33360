import { createHash } from 'node:crypto';
import type { Notification } from '../alertmanager/types.ts';
import { DeferredError } from '../delivery/errors.ts';
import type { GroupRecord } from '../delivery/group-state.ts';
import type { StepJournal } from '../delivery/journal.ts';
import { standaloneGroup } from '../delivery/journal.ts';
import { awaitSlot, type Slot } from '../delivery/pacing.ts';
import type { Delivery, DeliveryGroup, DeliveryPipeline, Sink } from '../delivery/sink.ts';
import type { StateStore } from '../state/store.ts';
import { renderDeliveryTemplates } from '../templates/destination.ts';
import {
  type ChatAdapter,
  type ChatChannel,
  type ChatDestination,
  type ChatGroupRecord,
  type ChatPost,
  type ChatPosted,
  type ChatPrevious,
  ChatTooLongError,
  type ChatUpdates,
} from './adapter.ts';
import { ChannelState } from './channel-state.ts';
import { stormSettings } from './storm/config.ts';
import { type DigestPublisher, type DigestView, runStorm } from './storm/run.ts';
import { entryOf, type GroupEntry } from './storm/tally.ts';

export type { ChatGroupRecord } from './adapter.ts';

/**
 * The chat stage: one delivery into a chat vendor, the same for every chat sink. A sink supplies
 * an adapter (./adapter.ts); the stage
 *
 * - keeps the group's chat record, the sink's part of the group's record that the record handler
 *   reads before the delivery and writes after it (Delivery.group): the ids of the group's
 *   messages and its last status, so a later notification edits them (a vendor that can edit),
 *   replies in their thread (one that threads), or removes those no longer needed; where the
 *   adapter says, the channel they live in (a record from another is not the group's) and each
 *   alert's status (for the reply saying what changed). A group whose record an older relay
 *   wrote has its chat record under `<adapter.groupRecord>#<destination>#<group id>`, read once
 *   and carried into the group's record;
 * - runs storm mode (lib/chat/storm): a new group in a storm is folded into the destination's
 *   digest, which the stage posts and edits (or posts anew, for a vendor that cannot edit)
 *   through the same calls;
 * - makes every vendor call a step of the delivery's journal (a retry never repeats what was
 *   acknowledged) at its turn in the channel's budget (lib/delivery/pacing.ts: a call whose
 *   turn has not come hands the message back to the queue, which is a wait, not a failure); for
 *   a vendor that can look a message up (ChatChannel.find), a post's intent is recorded first,
 *   and a retry finds what an interrupted post created instead of posting it again, as it does
 *   for every post of a delivery whose earlier receive may have posted without recording it
 *   (DeliveryGroup.unsure: it crashed);
 * - posts every message the adapter rendered: a group too big for one message arrives whole,
 *   split, never truncated; a message the vendor refuses as too long (ChatTooLongError) has the
 *   group rendered again smaller, as far as the adapter can (ChatAdapter.shrinks);
 * - then the adapter's reply saying what changed (ChatAdapter.change) in the group's thread, and
 *   its own work after the messages (ChatAdapter.after: Slack's graph).
 */

/** How long a group's chat record is kept after the group's last notification. */
export const CHAT_GROUP_TTL_SECONDS = 30 * 24 * 3600;

/** The journal step holding which messages this delivery edits and where it threads, decided once. */
interface PlanStep {
  /** The group's messages this delivery edits, by position (with `leave`: the group's messages, left alone). */
  messages: string[];
  thread?: string;
  /** The group's messages stay as first posted (ChatUpdates.edit false): only the change reply goes out. */
  leave?: true;
  /** This delivery posts the group's message new (kept only for an adapter with `after`). */
  started?: true;
  /** What the group's previous notification left, for the change reply (only for an adapter with `change`). */
  previous?: ChatPrevious;
  /** How many times the vendor refused a message as too long: the render's ChatRender.shrink. */
  shrink?: number;
}

/** A post's journal step for a vendor that can look a message up: its intent, then its result. */
interface PostStep extends ChatPosted {
  /** When the intent was recorded (epoch ms): the look-up searches from a little before. */
  at?: number;
  /** The post's ChatPost key, as it was when the intent was recorded. */
  key?: string;
  /** The vendor answered (or the message was found). */
  posted?: true;
}

/** What the message loop has placed so far, by position. */
interface Placed {
  ids: (string | undefined)[];
  thread?: string;
  edited: number;
}

/** The SHA-256 of a groupKey (hex): what the group's record is keyed by, and its id in storm mode. */
function groupHash(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex');
}

/**
 * The tally entries the groups of `hashes` keep in their chat records (in the group's record,
 * or where a sink called without the record handler keeps it), by hash: the groups that started
 * a storm, read when it starts.
 */
async function storedEntries(
  state: Pick<StateStore, 'get'>,
  prefix: string,
  destination: string,
  hashes: string[],
): Promise<Record<string, GroupEntry>> {
  const found: Record<string, GroupEntry> = {};
  await Promise.all(
    hashes.map(async (hash) => {
      const record = await state.get<GroupRecord>(`group#${destination}#${hash}`);
      const kept = record?.v === 2 ? (record.sink as ChatGroupRecord | undefined) : undefined;
      const entry =
        kept?.entry ??
        (await state.get<ChatGroupRecord>(`${prefix}#${destination}#${hash.slice(0, 40)}`))?.entry;
      if (entry) found[hash] = entry;
    }),
  );
  return found;
}

/**
 * The group's id: a hash of its groupKey (a groupKey carries label values, which do not belong
 * in a state key or a vendor-visible key).
 */
export function chatGroupId(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex').slice(0, 40);
}

/**
 * The state-store key of a group's chat record as the stage kept it before the group's record
 * held it (read on upgrade), and where it is kept when a sink is called without the record handler.
 */
export function chatGroupKey(prefix: string, destination: string, groupKey: string): string {
  return `${prefix}#${destination}#${chatGroupId(groupKey)}`;
}

/**
 * The Sink of a chat adapter: its `deliver` is the chat stage.
 *
 * @example export const discordSink = chatSink(discordAdapter());
 */
export function chatSink<C extends ChatDestination, M, K extends ChatChannel<M>>(
  adapter: ChatAdapter<C, M, K>,
  options: { now?: () => number } = {},
): Sink<C> {
  // Read at each call: a test's virtual clock replaces Date.now after the sink is made.
  const now = options.now ?? (() => Date.now());
  return {
    name: adapter.name,
    kind: 'lifecycle',
    configSchema: adapter.configSchema,
    templates: adapter.templates,
    ...(adapter.preview ? { preview: adapter.preview } : {}),
    ...(adapter.describe ? { describe: (destination: C) => adapter.describe?.(destination) ?? [] } : {}),
    deliver: (delivery, pipeline) => deliverChat(adapter, delivery, pipeline, now),
  };
}

async function deliverChat<C extends ChatDestination, M, K extends ChatChannel<M>>(
  adapter: ChatAdapter<C, M, K>,
  delivery: Delivery<C>,
  pipeline: DeliveryPipeline | undefined,
  now: () => number,
): Promise<void> {
  const { destination, notification, state, logger } = delivery;
  const channel = await adapter.connect(delivery);
  const key = chatGroupKey(adapter.groupRecord, destination.name, notification.groupKey);
  const record = delivery.group ?? (await standaloneGroup(delivery, key));
  const journal = record.journal;
  let stored = record.kept;
  // Written by an older relay: the chat record is under its own key, and is carried over.
  const carried = stored === undefined && record.legacy ? await state.get<object>(key) : undefined;
  stored ??= carried;
  const group = groupOf(adapter, channel, stored);
  if (carried && group) await record.keep(group, { ttlSeconds: CHAT_GROUP_TTL_SECONDS });
  const policy: ChatUpdates = adapter.updates?.(destination) ?? {
    edit: adapter.can.edit,
    reply: false,
    newAfterResolve: true,
  };
  const startsOver =
    !group || (group.status === 'resolved' && notification.status === 'firing' && policy.newAfterResolve);
  const channelState = new ChannelState(state, channel.budget.key);
  const unpaced = pipeline?.preview === true;
  const paced = pacer(channel, channelState, journal, now, unpaced);
  // Still waiting for a post's turn in the channel: back to the queue before rendering anything.
  const waiting = unpaced ? undefined : await journal.get<Slot>(WAITING_STEP);
  if (waiting && waiting.at > now()) throw comeBack(channel.budget.what, waiting.at, now());
  const post = poster(channel, delivery, record, paced, now);

  const storm = await runStorm({
    delivery,
    pipeline,
    journal,
    // The hash the group's record is keyed by, so that a storm's starter can read the entries of
    // the groups that started it there (seedsFrom).
    groupId: groupHash(notification.groupKey),
    known: group !== undefined,
    newMessage: startsOver,
    now,
    vendor: adapter.vendor,
    listed: adapter.digestListed,
    publisher: digestPublisher(adapter, channel, delivery, paced, post),
    channel: channelState,
    // A new group's first post takes its turn in the write that admits it (posts are always paced).
    ...(unpaced ? {} : { firstPost: { step: 'pace:post:0', pace: channel.budget.pace } }),
    seedsFrom: (ids) => storedEntries(state, adapter.groupRecord, destination.name, ids),
  });
  if (!storm.own) return;

  // Later parts of a split notification post messages of their own; the first part owns the group's.
  const ownsGroup = delivery.part.index === 1;
  const { value: plan } = await journal.once<PlanStep>('plan', async () => {
    const kept = startsOver ? [] : (group?.messages ?? []);
    const step: PlanStep = {
      messages: adapter.can.edit && ownsGroup ? kept : [],
      ...(adapter.can.thread && kept[0] ? { thread: kept[0] } : {}),
    };
    // A vendor that could edit, told not to: the messages stay as first posted.
    if (ownsGroup && kept.length > 0 && adapter.can.edit && !policy.edit) step.leave = true;
    if (adapter.after && ownsGroup && startsOver) step.started = true;
    if (adapter.change && policy.reply && ownsGroup && group && !startsOver)
      step.previous = { ...(group.status ? { status: group.status } : {}), alerts: group.alerts ?? {} };
    return step;
  });

  const { values, notes } = renderDeliveryTemplates(delivery, adapter.templates, { now: now() });
  const render = (shrink: number) =>
    adapter.render({
      destination,
      notification,
      part: delivery.part,
      templated: {
        ...(values.title === undefined ? {} : { title: values.title }),
        ...(values.text === undefined ? {} : { text: values.text }),
        notes,
      },
      now: now(),
      shrink,
    });
  const base = `${delivery.idempotencyKey}.${delivery.receivedAt}.${delivery.part.index}`;

  /** Edits or posts each message of `messages` (the render at `shrink`), recording its progress in `placed`. */
  const place = async (messages: M[], shrink: number, placed: Placed) => {
    // Steps of a smaller render are its own: the larger one's were refused or are edited now.
    const prefix = shrink > 0 ? `shrink${shrink}:` : '';
    for (const [index, message] of messages.entries()) {
      const existing = plan.messages[index];
      if (existing !== undefined && channel.edit) {
        const edit = channel.edit.bind(channel);
        const step = `${prefix}edit:${index}`;
        const { value } = await journal.once<{ gone?: true }>(step, async () => {
          if (channel.budget.edits !== false) await paced(journal, step);
          return (await edit(existing, message)) === 'gone' ? { gone: true } : {};
        });
        if (!value.gone) {
          placed.ids[index] = existing;
          placed.edited++;
          continue;
        }
        // Someone deleted the message: the group gets a new one.
        logger.warn(`the group message was deleted in ${adapter.vendor}; posting a new one`, {
          message: index + 1,
        });
        // The thread's first message is gone: its replacement starts the thread anew.
        if (existing === placed.thread) placed.thread = undefined;
      }
      const value = await post(journal, `${prefix}post:${index}`, message, {
        key: `${base}.${index}${shrink > 0 ? `.s${shrink}` : ''}`,
        index,
        ...(placed.thread ? { thread: placed.thread } : {}),
      });
      if (value.id) {
        placed.ids[index] = value.id;
        // The group's first message is its thread; a later part with no thread to join starts its own.
        if (adapter.can.thread && ((index === 0 && ownsGroup) || placed.thread === undefined))
          placed.thread = value.id;
      } else if (adapter.can.edit || adapter.can.thread) {
        logger.warn(`${adapter.vendor} answered without the message; later notifications post a new one`, {
          channel: channel.label,
        });
      }
    }
  };

  let messages: M[] = [];
  let placed: Placed = { ids: plan.leave ? [...plan.messages] : [], thread: plan.thread, edited: 0 };
  if (!plan.leave) {
    let shrink = plan.shrink ?? 0;
    for (;;) {
      messages = render(shrink);
      placed = { ids: [], thread: plan.thread, edited: 0 };
      try {
        await place(messages, shrink, placed);
        break;
      } catch (error) {
        if (!(error instanceof ChatTooLongError) || shrink >= (adapter.shrinks ?? 0)) throw error;
        shrink++;
        // What went out at the larger size is edited to the smaller one, not posted again.
        if (channel.edit) {
          const carried = [...plan.messages];
          for (const [index, id] of placed.ids.entries()) if (id !== undefined) carried[index] = id;
          if (carried.every((id) => id !== undefined)) plan.messages = carried;
          if (placed.thread) plan.thread = placed.thread;
        }
        plan.shrink = shrink;
        await journal.record('plan', plan);
        logger.warn(`${adapter.vendor} refused a message as too long; splitting it smaller`, { shrink });
      }
    }
    // Fewer messages than last time (alerts went away): the extra ones would show stale alerts.
    if (channel.remove) {
      const remove = channel.remove.bind(channel);
      for (const [index, stale] of plan.messages.slice(messages.length).entries()) {
        await journal.once(`delete:${index}`, async () => {
          await paced(journal, `delete:${index}`);
          await remove(stale);
          return { deletedAt: new Date(now()).toISOString() };
        });
      }
    }
  }
  const ids = placed.ids.filter((id): id is string => id !== undefined);
  const thread = placed.thread;
  if (ownsGroup) await remember(adapter, channel, delivery, record, group, ids, now);

  // What changed since the group's last notification, in its thread.
  let changed = 0;
  if (plan.previous && adapter.change) {
    const reply = adapter.change(plan.previous, notification, destination);
    if (reply !== undefined) {
      await post(journal, 'post:change', reply, { key: `${base}.change`, ...(thread ? { thread } : {}) });
      changed = 1;
    }
  }
  if (adapter.after) {
    await adapter.after({
      delivery,
      channel,
      ...(thread ? { thread } : {}),
      started: plan.started === true,
      journal,
      paced: (step) => paced(journal, step),
    });
  }
  logger.info(`${adapter.name} message delivered`, {
    status: notification.status,
    messages: messages.length,
    edited: placed.edited,
    posted: messages.length - placed.edited,
    ...(adapter.change ? { changed } : {}),
    attempt: delivery.attempt,
  });
  await storm.after?.();
}

/**
 * The group's record as the stage reads it (an adapter may read an older shape of its own), or
 * undefined when there is none or it is not the group's any more: its messages live somewhere
 * else than where this channel posts (the destination moved), so the group starts over here.
 */
function groupOf<M>(
  adapter: ChatAdapter<ChatDestination, M, ChatChannel<M>>,
  channel: ChatChannel<M>,
  stored: object | undefined,
): ChatGroupRecord | undefined {
  if (!stored) return undefined;
  const record = adapter.fromRecord?.(stored) ?? (stored as ChatGroupRecord);
  if (record.where !== undefined && record.where !== channel.where) return undefined;
  return record;
}

/** Each alert's status in `notification` (fingerprint -> status). */
function alertsOf(notification: Notification): Record<string, 'firing' | 'resolved'> {
  const alerts: Record<string, 'firing' | 'resolved'> = {};
  for (const alert of notification.alerts) alerts[alert.fingerprint] = alert.status;
  return alerts;
}

/**
 * Keeps the group's chat record when it changed: a vendor that edits or threads needs its
 * message ids; storm mode needs to know the group had a message of its own.
 */
async function remember<C extends ChatDestination, M>(
  adapter: ChatAdapter<C, M, ChatChannel<M>>,
  channel: ChatChannel<M>,
  delivery: Delivery<C>,
  record: DeliveryGroup,
  group: ChatGroupRecord | undefined,
  ids: string[],
  now: () => number,
): Promise<void> {
  const { destination, notification } = delivery;
  const storm = stormSettings(destination.storm as Parameters<typeof stormSettings>[0]) !== undefined;
  const needed = adapter.can.edit || adapter.can.thread || storm;
  if (!needed) return;
  const messages = adapter.can.edit || adapter.can.thread ? ids : [];
  const alerts = adapter.change ? alertsOf(notification) : undefined;
  // Storm mode's entry of the group, should it be among the groups that start a storm.
  const received = Date.parse(delivery.receivedAt);
  const entry = storm
    ? entryOf({ notification, part: delivery.part.index, receivedAt: received, now: received })
    : undefined;
  const unchanged =
    group?.status === notification.status &&
    JSON.stringify(group.messages ?? []) === JSON.stringify(messages) &&
    group.where === channel.where &&
    JSON.stringify(group.alerts) === JSON.stringify(alerts) &&
    JSON.stringify(group.entry) === JSON.stringify(entry);
  if (unchanged) return;
  const next: ChatGroupRecord = {
    messages,
    status: notification.status,
    ...(channel.where !== undefined ? { where: channel.where } : {}),
    ...(alerts ? { alerts } : {}),
    ...(entry ? { entry } : {}),
    updatedAt: new Date(now()).toISOString(),
  };
  await record.keep(next, { ttlSeconds: CHAT_GROUP_TTL_SECONDS });
}

/** The journal step naming the turn in the channel a delivery was handed back to wait for. */
const WAITING_STEP = 'waiting';

/** The wait for a turn in the channel at `at`, as awaitSlot says it. */
function comeBack(what: string, at: number, now: number): DeferredError {
  const waitSeconds = Math.max(1, Math.ceil((at - now) / 1000));
  return new DeferredError(`${what}: this notification's message may go out in ${waitSeconds} s`, {
    retryAfterSeconds: waitSeconds,
  });
}

/**
 * Waits (in the queue) for call `step`'s turn in the channel's budget (in the channel's record).
 * A wait is noted in the delivery's journal, so its next receive that comes too early goes back
 * before rendering anything.
 */
function pacer<M>(
  channel: ChatChannel<M>,
  channelState: ChannelState,
  journal: StepJournal,
  now: () => number,
  unpaced: boolean,
) {
  return async (steps: StepJournal, step: string) => {
    if (unpaced) return;
    try {
      await awaitSlot({
        journal: steps,
        step: `pace:${step}`,
        reserve: () => channelState.reserve(channel.budget.pace, now()),
        now,
        what: channel.budget.what,
      });
    } catch (error) {
      const slot = error instanceof DeferredError ? await steps.get<Slot>(`pace:${step}`) : undefined;
      if (slot) await journal.record(WAITING_STEP, { at: slot.at } satisfies Slot);
      throw error;
    }
  };
}

/**
 * Posts a message once per journal step, at its turn in the channel's budget. For a vendor that
 * can look its messages up (ChatChannel.find), the intent is recorded before the post, and a
 * retry that finds an intent without a result looks the message up instead of posting again; so
 * does a delivery whose earlier receive may have posted without recording anything
 * (DeliveryGroup.unsure: it crashed), from when that could have been (`since`).
 */
function poster<M>(
  channel: ChatChannel<M>,
  delivery: Delivery,
  record: Pick<DeliveryGroup, 'unsure' | 'since' | 'settle'>,
  paced: ReturnType<typeof pacer>,
  now: () => number,
) {
  const { logger } = delivery;
  return async (steps: StepJournal, step: string, message: M, options: ChatPost): Promise<ChatPosted> => {
    if (!channel.find) {
      const { value } = await steps.once<ChatPosted>(step, async () => {
        await paced(steps, step);
        return channel.post(message, options);
      });
      return value;
    }
    const done = await steps.get<PostStep>(step);
    if (done?.posted) return done.id === undefined ? {} : { id: done.id };
    if (done?.at !== undefined || record.unsure) {
      const found = await channel.find(done?.key ?? options.key, {
        since: done?.at ?? record.since,
        ...(options.thread ? { thread: options.thread } : {}),
      });
      if (found === 'unreadable') {
        logger.warn('cannot read the channel to check an interrupted post; posting again may duplicate it', {
          channel: channel.label,
          step,
        });
      } else if (found !== undefined) {
        await steps.record(step, {
          ...done,
          key: done?.key ?? options.key,
          id: found,
          posted: true,
        } satisfies PostStep);
        logger.info('found the message of an interrupted post; not posting it again', {
          step,
          channel: channel.label,
        });
        return { id: found };
      } else if (done?.at === undefined) {
        // The first post that may have gone out unrecorded did not: posts go in order, so no later one did.
        record.settle();
      }
    }
    await paced(steps, step);
    const intent: PostStep = { at: now(), key: options.key };
    await steps.record(step, intent);
    const posted = await channel.post(message, options);
    await steps.record(step, {
      ...intent,
      ...(posted.id === undefined ? {} : { id: posted.id }),
      posted: true,
    });
    return posted;
  };
}

/** The digest's key for a vendor-side deduplication of its posts: one per state of the storm. */
function digestKey(view: DigestView): string {
  return `storm.${view.storm.id}.${view.storm.revision}.${view.storm.endedAt ?? 'live'}`;
}

/**
 * Storm mode's digest, shown through the adapter: posted once and edited where the vendor can
 * edit; otherwise each state of the digest is a new message (the latest wins).
 */
function digestPublisher<C extends ChatDestination, M>(
  adapter: ChatAdapter<C, M, ChatChannel<M>>,
  channel: ChatChannel<M>,
  delivery: Delivery<C>,
  paced: ReturnType<typeof pacer>,
  post: ReturnType<typeof poster<M>>,
): DigestPublisher {
  const { destination, logger } = delivery;
  const postDigest = (view: DigestView, steps: StepJournal) =>
    post(steps, 'message', adapter.digest(view, destination), { key: digestKey(view), digest: view });
  return {
    async post(view, steps) {
      const posted = await postDigest(view, steps);
      const message: Record<string, string> = posted.id ? { id: posted.id } : {};
      return message;
    },
    async show(view, message, steps) {
      if (!channel.edit) {
        await postDigest(view, steps);
        return;
      }
      // Without an id the digest cannot be edited: the storm's counts stay in the state store.
      if (!message.id) return;
      if (channel.budget.edits !== false) await paced(steps, 'edit');
      if ((await channel.edit(message.id, adapter.digest(view, destination))) === 'gone')
        logger.warn(`the storm digest was deleted in ${adapter.vendor}; its counts stay in the state store`);
    },
  };
}

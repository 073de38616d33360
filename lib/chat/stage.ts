import { createHash } from 'node:crypto';
import type { StepJournal } from '../delivery/journal.ts';
import { stepJournal } from '../delivery/journal.ts';
import { awaitSlot } from '../delivery/pacing.ts';
import type { Delivery, DeliveryPipeline, Sink } from '../delivery/sink.ts';
import { renderDeliveryTemplates } from '../templates/destination.ts';
import type { ChatAdapter, ChatChannel, ChatDestination, ChatPosted } from './adapter.ts';
import { stormSettings } from './storm/config.ts';
import { type DigestPublisher, type DigestView, runStorm } from './storm/run.ts';

/**
 * The chat stage: one delivery into a chat vendor, the same for every chat sink. A sink supplies
 * an adapter (./adapter.ts); the stage
 *
 * - keeps the group's record (`<adapter.groupRecord>#<destination>#<group id>`): the ids of the
 *   group's messages and its last status, so a later notification edits them (a vendor that can
 *   edit), replies in their thread (one that threads), or removes those no longer needed;
 * - runs storm mode (lib/chat/storm): a new group in a storm is folded into the destination's
 *   digest, which the stage posts and edits (or posts anew, for a vendor that cannot edit)
 *   through the same calls;
 * - makes every vendor call a step of the delivery's journal (a retry never repeats what was
 *   acknowledged) at its turn in the channel's budget (lib/delivery/pacing.ts: a call whose
 *   turn has not come hands the message back to the queue, which is a wait, not a failure);
 * - posts every message the adapter rendered: a group too big for one message arrives whole,
 *   split, never truncated.
 */

/** How long a group's record is kept after its last change. */
export const CHAT_GROUP_TTL_SECONDS = 30 * 24 * 3600;
/** A record that has not changed is written again after this long, so an open group's record does not expire. */
const REFRESH_MS = 24 * 3600 * 1000;

/** A group's record: its messages (first one first: the thread) and its last status. */
export interface ChatGroupRecord {
  messages?: string[];
  status?: 'firing' | 'resolved';
  updatedAt?: string;
}

/** The journal step holding which messages this delivery edits and where it threads, decided once. */
interface PlanStep {
  messages: string[];
  thread?: string;
}

/**
 * The group's id: a hash of its groupKey (a groupKey carries label values, which do not belong
 * in a state key or a vendor-visible key).
 */
export function chatGroupId(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex').slice(0, 40);
}

/** The state-store key of a group's record. */
export function chatGroupKey(prefix: string, destination: string, groupKey: string): string {
  return `${prefix}#${destination}#${chatGroupId(groupKey)}`;
}

/**
 * The Sink of a chat adapter: its `deliver` is the chat stage.
 *
 * @example export const discordSink = chatSink(discordAdapter());
 */
export function chatSink<C extends ChatDestination, M>(
  adapter: ChatAdapter<C, M>,
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

async function deliverChat<C extends ChatDestination, M>(
  adapter: ChatAdapter<C, M>,
  delivery: Delivery<C>,
  pipeline: DeliveryPipeline | undefined,
  now: () => number,
): Promise<void> {
  const { destination, notification, state, logger } = delivery;
  const channel = await adapter.connect(delivery);
  const journal = stepJournal(delivery);
  const key = chatGroupKey(adapter.groupRecord, destination.name, notification.groupKey);
  const group = await state.get<ChatGroupRecord>(key);
  const startsOver = !group || (group.status === 'resolved' && notification.status === 'firing');
  const paced = pacer(channel, delivery, now, pipeline?.preview === true);

  const storm = await runStorm({
    delivery,
    pipeline,
    journal,
    groupId: chatGroupId(notification.groupKey),
    known: group !== undefined,
    newMessage: startsOver,
    now,
    vendor: adapter.vendor,
    listed: adapter.digestListed,
    publisher: digestPublisher(adapter, channel, delivery, paced),
  });
  if (!storm.own) return;

  // Later parts of a split notification post messages of their own; the first part owns the group's.
  const ownsGroup = delivery.part.index === 1;
  const { value: plan } = await journal.once<PlanStep>('plan', async () => {
    const kept = startsOver ? [] : (group?.messages ?? []);
    return {
      messages: adapter.can.edit && ownsGroup ? kept : [],
      ...(adapter.can.thread && kept[0] ? { thread: kept[0] } : {}),
    };
  });

  const { values, notes } = renderDeliveryTemplates(delivery, adapter.templates, { now: now() });
  const messages = adapter.render({
    destination,
    notification,
    part: delivery.part,
    templated: { values, notes },
    now: now(),
  });
  const ids: string[] = [];
  let thread = plan.thread;
  let edited = 0;
  for (const [index, message] of messages.entries()) {
    const existing = plan.messages[index];
    if (existing !== undefined && channel.edit) {
      const edit = channel.edit.bind(channel);
      const { value } = await journal.once<{ gone?: true }>(`edit:${index}`, async () => {
        await paced(journal, `edit:${index}`);
        return (await edit(existing, message)) === 'gone' ? { gone: true } : {};
      });
      if (!value.gone) {
        ids.push(existing);
        edited++;
        continue;
      }
      // Someone deleted the message: the group gets a new one.
      logger.warn(`the group message was deleted in ${adapter.vendor}; posting a new one`, {
        message: index + 1,
      });
    }
    const { value } = await journal.once<ChatPosted>(`post:${index}`, async () => {
      await paced(journal, `post:${index}`);
      const postKey = `${delivery.idempotencyKey}.${delivery.receivedAt}.${delivery.part.index}.${index}`;
      // The group's first message is the thread itself (a re-post of a deleted one too): never a reply.
      const into = index === 0 && ownsGroup ? undefined : thread;
      return channel.post(message, { key: postKey, index, ...(into ? { thread: into } : {}) });
    });
    if (value.id) {
      ids.push(value.id);
      if (adapter.can.thread && (index === 0 || thread === undefined) && ownsGroup) thread = value.id;
    } else if (adapter.can.edit || adapter.can.thread) {
      logger.warn(`${adapter.vendor} answered without the message; later notifications post a new one`, {
        channel: channel.label,
      });
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
  if (ownsGroup) await remember(adapter, delivery, key, group, ids, now);
  logger.info(`${adapter.name} message delivered`, {
    status: notification.status,
    messages: messages.length,
    edited,
    posted: messages.length - edited,
    attempt: delivery.attempt,
  });
  await storm.after?.();
}

/**
 * Writes the group's record when it changed (or is a day old): a vendor that edits or threads
 * needs its message ids; storm mode needs to know the group had a message of its own.
 */
async function remember<C extends ChatDestination>(
  adapter: ChatAdapter<C, unknown>,
  delivery: Delivery<C>,
  key: string,
  group: ChatGroupRecord | undefined,
  ids: string[],
  now: () => number,
): Promise<void> {
  const { destination, notification, state } = delivery;
  const needed =
    adapter.can.edit ||
    adapter.can.thread ||
    stormSettings(destination.storm as Parameters<typeof stormSettings>[0]) !== undefined;
  if (!needed) return;
  const messages = adapter.can.edit || adapter.can.thread ? ids : [];
  const unchanged =
    group?.status === notification.status &&
    JSON.stringify(group.messages ?? []) === JSON.stringify(messages) &&
    now() - Date.parse(group.updatedAt ?? '') < REFRESH_MS;
  if (unchanged) return;
  const record: ChatGroupRecord = {
    messages,
    status: notification.status,
    updatedAt: new Date(now()).toISOString(),
  };
  await state.put(key, record, { ttlSeconds: CHAT_GROUP_TTL_SECONDS });
}

/** Waits (in the queue) for call `step`'s turn in the channel's budget. */
function pacer<M>(channel: ChatChannel<M>, delivery: Delivery, now: () => number, unpaced: boolean) {
  return async (steps: StepJournal, step: string) => {
    if (unpaced) return;
    await awaitSlot({
      journal: steps,
      step: `pace:${step}`,
      state: delivery.state,
      key: channel.budget.key,
      pace: channel.budget.pace,
      now,
      what: channel.budget.what,
    });
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
  adapter: ChatAdapter<C, M>,
  channel: ChatChannel<M>,
  delivery: Delivery<C>,
  paced: ReturnType<typeof pacer>,
): DigestPublisher {
  const { destination, logger } = delivery;
  const postDigest = async (view: DigestView, steps: StepJournal) => {
    const { value } = await steps.once<ChatPosted>('message', async () => {
      await paced(steps, 'message');
      return channel.post(adapter.digest(view, destination), { key: digestKey(view), digest: view });
    });
    return value;
  };
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
      await paced(steps, 'edit');
      if ((await channel.edit(message.id, adapter.digest(view, destination))) === 'gone')
        logger.warn(`the storm digest was deleted in ${adapter.vendor}; its counts stay in the state store`);
    },
  };
}

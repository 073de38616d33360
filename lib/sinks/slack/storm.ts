import type { Notification } from '../../alertmanager/types.ts';
import { runStorm, type StormOutcome } from '../../chat/storm/run.ts';
import type { StepJournal } from '../../delivery/journal.ts';
import type { Delivery, DeliveryPipeline } from '../../delivery/sink.ts';
import { type SlackApi, slackErrorCode } from './api.ts';
import type { SlackDestination } from './config.ts';
import { DIGEST_LISTED, digestMessage } from './digest.ts';
import type { GroupRecord } from './lifecycle.ts';
import { type ChannelPace, paceDelivery } from './pacing.ts';
import { createPoster } from './posts.ts';

/**
 * Storm mode on a Slack destination: the shared rules of lib/chat/storm (runStorm) with Slack's
 * way to show the digest. The digest is posted once, through the channel's pacing, and found
 * again by its metadata after a crash (posts.ts); later states edit it with chat.update.
 */

export interface StormContext {
  delivery: Delivery<SlackDestination>;
  pipeline?: DeliveryPipeline;
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

/**
 * Decides whether this delivery is part of a storm and, if so, folds it and does the digest's
 * share of work this delivery holds. Storm mode needs a store that can compare-and-set.
 */
export function handleStorm(context: StormContext): Promise<StormOutcome> {
  const { delivery, api, now, pace } = context;
  const { destination, logger } = delivery;
  const me = `${delivery.idempotencyKey.slice(0, 32)}.${Date.parse(delivery.receivedAt)}`;
  return runStorm({
    delivery,
    pipeline: context.pipeline,
    journal: context.journal,
    groupId: context.groupId,
    known: context.group !== undefined,
    newMessage: context.newMessage,
    now,
    vendor: 'Slack',
    listed: DIGEST_LISTED,
    publisher: {
      async post(view, journal) {
        const pacing = await paceDelivery({
          journal,
          state: delivery.state,
          channel: destination.channel,
          posts: 1,
          now,
          pace,
        });
        const poster = createPoster({ api, journal, pacing, marker: `${me}.${view.storm.id}`, now, logger });
        const posted = await poster.post(
          'digest',
          destination.channel,
          digestMessage(view.storm, view.totals),
        );
        return { channel: posted.channel, ts: posted.ts };
      },
      async show(view, message) {
        const { text, blocks } = digestMessage(view.storm, view.totals);
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
      },
    },
  });
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

import type { StepJournal } from '../../delivery/journal.ts';
import type { SinkLogger } from '../../delivery/sink.ts';
import type { PostMessageArguments, SlackApi } from './api.ts';
import type { SlackMessage } from './blocks.ts';
import type { DeliveryPacing } from './pacing.ts';

/**
 * Posting a message at most once per step of a delivery, across crashes and redeliveries.
 * Before chat.postMessage the step's intent is recorded in the delivery's journal, and every
 * message carries the step's marker in its `metadata`. A retry that finds an intent without a
 * result looks the message up (conversations.history / conversations.replies with
 * include_all_metadata) instead of posting again.
 */

/** Where the relay's messages say who they are, in chat.postMessage `metadata`. */
export const SLACK_METADATA_EVENT_TYPE = 'alertmanager_relay';

/** A message in a channel. */
export interface PostedMessage {
  channel: string;
  ts: string;
}

/** The journal step of one post: its intent, then its result. */
interface PostStep {
  /** When the intent was recorded (epoch ms): the lookup searches from a little before. */
  at?: number;
  ts?: string;
}

export interface Poster {
  /**
   * Posts `message` into `channel` (into the thread of `threadTs` if given) unless `step` of
   * this delivery was posted already; resolves with the message either way.
   */
  post(step: string, channel: string, message: SlackMessage, threadTs?: string): Promise<PostedMessage>;
}

/**
 * The poster of one delivery. `marker` is the delivery's mark in message metadata (the step
 * name is appended): the same for every attempt of the delivery, different for any other.
 */
export function createPoster(context: {
  api: Pick<SlackApi, 'call' | 'recentMessages'>;
  journal: StepJournal;
  pacing: DeliveryPacing;
  marker: string;
  now: () => number;
  logger: SinkLogger;
}): Poster {
  const { api, journal, pacing, now, logger } = context;
  const markerOf = (step: string) => `${context.marker}.${step}`;

  async function findPosted(step: string, channel: string, since: number, threadTs?: string) {
    const found = await api.recentMessages({ channel, since, threadTs, metadata: true });
    if ('unreadable' in found) {
      logger.warn('cannot read the channel to check an interrupted post; posting again may duplicate it', {
        channel,
        step,
        slackError: found.unreadable,
      });
      return undefined;
    }
    return found.messages.find((m) => m.metadata?.event_payload?.key === markerOf(step))?.ts;
  }

  return {
    async post(step, channel, message, threadTs) {
      const key = `post:${step}`;
      const done = await journal.get<PostStep>(key);
      if (done?.ts) return { channel, ts: done.ts };
      if (done?.at !== undefined) {
        const ts = await findPosted(step, channel, done.at, threadTs);
        if (ts) {
          await journal.record(key, { ...done, ts });
          logger.info('found the message of an interrupted post; not posting it again', { step, channel });
          return { channel, ts };
        }
      }
      await pacing.awaitSlot(step);
      const intent: PostStep = { at: now() };
      await journal.record(key, intent);
      const answer = await api.call('chat.postMessage', {
        channel,
        text: message.text,
        blocks: message.blocks,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        unfurl_links: false,
        unfurl_media: false,
        metadata: { event_type: SLACK_METADATA_EVENT_TYPE, event_payload: { key: markerOf(step) } },
      } satisfies PostMessageArguments);
      const ts = String(answer.ts);
      await journal.record(key, { ...intent, ts });
      return { channel: typeof answer.channel === 'string' ? answer.channel : channel, ts };
    },
  };
}

import { type ChatChannel, ChatTooLongError } from '../../chat/adapter.ts';
import type { Pace } from '../../delivery/pacing.ts';
import type { SinkLogger } from '../../delivery/sink.ts';
import { type PostMessageArguments, type SlackApi, slackErrorCode } from './api.ts';
import type { SlackMessage } from './blocks.ts';

/**
 * The Slack channel of one delivery, as the chat stage calls it: chat.postMessage (each message
 * carrying its post's key in `metadata`, so that an interrupted post can be found again),
 * chat.update, and the look-up of an interrupted post (conversations.history, or
 * conversations.replies in a thread, with the messages' metadata). Slack's answers that mean
 * something to the stage are turned into its terms: a message that can no longer be edited is
 * 'gone', msg_blocks_too_long is a ChatTooLongError.
 */

/** Where the relay's messages say who they are, in chat.postMessage `metadata`. */
export const SLACK_METADATA_EVENT_TYPE = 'alertmanager_relay';

/**
 * Slack's chat.postMessage guidance: about one message per second per channel, short bursts
 * allowed (https://docs.slack.dev/apis/web-api/rate-limits). Every post of a delivery into the
 * channel (and its graph upload) takes its turn in this budget (lib/delivery/pacing.ts).
 */
export const SLACK_CHANNEL_PACE: Pace = { burst: 3, intervalMs: 1000 };

/** chat.update errors that mean the message can no longer be edited: the group gets a new one. */
const NOT_EDITABLE: ReadonlySet<string> = new Set([
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
]);

/** The Web API calls the channel and the graph upload make. */
export type SlackChannelApi = Pick<SlackApi, 'call' | 'recentMessages' | 'uploadBytes'>;

/** A Slack channel for the chat stage; `api` is for the adapter's own work after the messages (the graph). */
export interface SlackChannel extends ChatChannel<SlackMessage> {
  readonly api: SlackChannelApi;
  readonly where: string;
}

/** msg_blocks_too_long as the stage's ChatTooLongError (the same message); anything else as it is. */
function tooLong(error: unknown): unknown {
  if (slackErrorCode(error) !== 'msg_blocks_too_long') return error;
  return new ChatTooLongError((error as Error).message, { cause: error });
}

export function slackChannel(options: {
  api: SlackChannelApi;
  /** The channel ID (C..., G..., D...): where the messages live, and how logs name the channel. */
  channel: string;
  pace: Pace;
  logger: SinkLogger;
}): SlackChannel {
  const { api, channel, logger } = options;
  return {
    api,
    where: channel,
    label: channel,
    // The channel's pace is chat.postMessage's: an edit does not wait for it.
    budget: { key: `slackpace#${channel}`, pace: options.pace, what: 'Slack channel pacing', edits: false },

    async post(message, { key, thread }) {
      const answer = await api
        .call('chat.postMessage', {
          channel,
          text: message.text,
          blocks: message.blocks,
          ...(thread ? { thread_ts: thread } : {}),
          unfurl_links: false,
          unfurl_media: false,
          metadata: { event_type: SLACK_METADATA_EVENT_TYPE, event_payload: { key } },
        } satisfies PostMessageArguments)
        .catch((error: unknown) => {
          throw tooLong(error);
        });
      return { id: String(answer.ts) };
    },

    async edit(ts, message) {
      try {
        await api.call('chat.update', { channel, ts, text: message.text, blocks: message.blocks });
        return 'edited';
      } catch (error) {
        const code = slackErrorCode(error);
        if (code === undefined || !NOT_EDITABLE.has(code)) throw tooLong(error);
        logger.info('the Slack message cannot be edited any more', { channel, slackError: code });
        return 'gone';
      }
    },

    async find(key, { since, thread }) {
      const found = await api.recentMessages({ channel, since, threadTs: thread, metadata: true });
      if ('unreadable' in found) {
        logger.info('Slack would not list the conversation to look for a message', {
          channel,
          slackError: found.unreadable,
        });
        return 'unreadable';
      }
      return found.messages.find((m) => m.metadata?.event_payload?.key === key)?.ts;
    },
  };
}

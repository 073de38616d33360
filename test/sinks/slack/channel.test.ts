import { describe, expect, it } from 'vitest';
import { ChatTooLongError } from '../../../lib/chat/adapter.ts';
import { PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import { classifySlackError, type ListedMessage } from '../../../lib/sinks/slack/api.ts';
import { threadReply } from '../../../lib/sinks/slack/blocks.ts';
import {
  SLACK_CHANNEL_PACE,
  SLACK_METADATA_EVENT_TYPE,
  type SlackChannelApi,
  slackChannel,
} from '../../../lib/sinks/slack/channel.ts';
import { captureLogger } from '../../support/slack-delivery.ts';

const CHANNEL = 'C0123456789';
const KEY = 'idem-1.2026-11-21T12:00:00.000Z.1.0';
const NOW = Date.parse('2026-11-21T12:00:00Z');

/** A Slack `ok:false` answer as SlackApi throws it. */
function slackError(method: string, code: string): Error {
  return Object.assign(classifySlackError(method, code), { slackError: code });
}

/**
 * A scripted Web API: chat.postMessage adds to `channel`, chat.update answers `updateError` if
 * given; recentMessages lists the channel (or a thread of it), or says it cannot be read.
 */
function scriptedSlack(options: { unreadable?: boolean; postError?: Error; updateError?: Error } = {}) {
  const channel: (ListedMessage & { text?: string; thread_ts?: string; args?: Record<string, unknown> })[] =
    [];
  const calls: { method: string; args: Record<string, unknown> }[] = [];
  const lookups: Record<string, unknown>[] = [];
  const api: SlackChannelApi = {
    async call(method, args) {
      calls.push({ method, args: args as Record<string, unknown> });
      if (method === 'chat.update') {
        if (options.updateError) throw options.updateError;
        return { ok: true };
      }
      if (options.postError) throw options.postError;
      const { text, metadata, thread_ts } = args as {
        text: string;
        metadata: ListedMessage['metadata'];
        thread_ts?: string;
      };
      const ts = `1795262400.${String(channel.length + 1).padStart(6, '0')}`;
      channel.push({ ts, text, metadata, ...(thread_ts ? { thread_ts } : {}) });
      return { ok: true, ts, channel: CHANNEL };
    },
    async recentMessages(query) {
      lookups.push(query);
      if (options.unreadable) return { unreadable: 'missing_scope' };
      return {
        messages: structuredClone(
          channel.filter((m) => (query.threadTs ? m.thread_ts === query.threadTs : !m.thread_ts)),
        ),
      };
    },
    async uploadBytes() {},
  };
  const logger = captureLogger();
  return {
    channel: slackChannel({ api, channel: CHANNEL, pace: SLACK_CHANNEL_PACE, logger }),
    messages: channel,
    calls,
    lookups,
    logger,
  };
}

describe('Function: slackChannel', () => {
  it('should mark a post with its key in the metadata, in the thread it is told', async () => {
    // Prepare
    const slack = scriptedSlack();

    // Act
    const posted = await slack.channel.post(threadReply('one line'), { key: KEY, thread: '1.000001' });

    // Assess
    expect(posted).toEqual({ id: slack.messages[0].ts });
    expect(slack.calls[0]).toEqual({
      method: 'chat.postMessage',
      args: expect.objectContaining({
        channel: CHANNEL,
        thread_ts: '1.000001',
        unfurl_links: false,
        unfurl_media: false,
        metadata: { event_type: SLACK_METADATA_EVENT_TYPE, event_payload: { key: KEY } },
      }),
    });
  });

  it('should find the message of a post by the key in its metadata, in the channel or in a thread', async () => {
    // Prepare
    const slack = scriptedSlack();
    await slack.channel.post(threadReply('the group'), { key: 'other' });
    const group = await slack.channel.post(threadReply('the group'), { key: KEY });
    const reply = await slack.channel.post(threadReply('a reply'), { key: `${KEY}.r`, thread: group.id });

    // Act
    const inChannel = await slack.channel.find?.(KEY, { since: NOW });
    const inThread = await slack.channel.find?.(`${KEY}.r`, { since: NOW, thread: group.id });
    const missing = await slack.channel.find?.('never-posted', { since: NOW });

    // Assess
    expect([inChannel, inThread, missing]).toEqual([group.id, reply.id, undefined]);
    expect(slack.lookups).toEqual([
      { channel: CHANNEL, since: NOW, threadTs: undefined, metadata: true },
      { channel: CHANNEL, since: NOW, threadTs: group.id, metadata: true },
      { channel: CHANNEL, since: NOW, threadTs: undefined, metadata: true },
    ]);
  });

  it('should say the channel is unreadable when the token may not read it, naming Slack’s error in the log', async () => {
    // Prepare
    const slack = scriptedSlack({ unreadable: true });

    // Act
    const found = await slack.channel.find?.(KEY, { since: NOW });

    // Assess
    expect(found).toBe('unreadable');
    expect(slack.logger.lines).toContainEqual(
      expect.objectContaining({ extra: { channel: CHANNEL, slackError: 'missing_scope' } }),
    );
  });

  it.each(['message_not_found', 'cant_update_message', 'edit_window_closed'])(
    'should say a message Slack answers %s for is gone',
    async (code) => {
      // Prepare
      const slack = scriptedSlack({ updateError: slackError('chat.update', code) });

      // Act
      const edited = await slack.channel.edit?.('1.000001', threadReply('now'));

      // Assess
      expect(edited).toBe('gone');
      expect(slack.calls[0]).toEqual({
        method: 'chat.update',
        args: expect.objectContaining({ channel: CHANNEL, ts: '1.000001' }),
      });
    },
  );

  it('should throw any other failure of an edit as it is', async () => {
    // Prepare
    const slack = scriptedSlack({
      updateError: new RetryableError('Slack chat.update could not be reached'),
    });

    // Act
    const error = await slack.channel.edit?.('1.000001', threadReply('now')).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
  });

  it('should make msg_blocks_too_long a ChatTooLongError (still permanent, with Slack’s reason) for a post and an edit', async () => {
    // Prepare
    const posting = scriptedSlack({ postError: slackError('chat.postMessage', 'msg_blocks_too_long') });
    const editing = scriptedSlack({ updateError: slackError('chat.update', 'msg_blocks_too_long') });

    // Act
    const post = await posting.channel.post(threadReply('x'), { key: KEY }).catch((e: unknown) => e);
    const edit = await editing.channel.edit?.('1.000001', threadReply('x')).catch((e: unknown) => e);

    // Assess
    for (const error of [post, edit]) {
      expect(error).toBeInstanceOf(ChatTooLongError);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toContain('msg_blocks_too_long');
    }
  });

  it('should pace posts in the channel’s budget, a burst of 3 then one a second, and leave edits to Slack’s own limit', () => {
    // Act
    const { budget, where, label } = scriptedSlack().channel;

    // Assess
    expect(budget).toEqual({
      key: `slackpace#${CHANNEL}`,
      pace: { burst: 3, intervalMs: 1000 },
      what: 'Slack channel pacing',
      edits: false,
    });
    expect([where, label]).toEqual([CHANNEL, CHANNEL]);
  });
});

import { describe, expect, it } from 'vitest';
import { RetryableError } from '../../../lib/delivery/errors.ts';
import { stepJournal } from '../../../lib/delivery/journal.ts';
import type { ListedMessage, SlackApi } from '../../../lib/sinks/slack/api.ts';
import { threadReply } from '../../../lib/sinks/slack/blocks.ts';
import type { DeliveryPacing } from '../../../lib/sinks/slack/pacing.ts';
import { createPoster, SLACK_METADATA_EVENT_TYPE } from '../../../lib/sinks/slack/posts.ts';
import { captureLogger, memoryState } from '../../support/slack-delivery.ts';

const CHANNEL = 'C0123456789';
const MARKER = 'idem-1.1795262400000';
const NOW = Date.parse('2026-11-21T12:00:00Z');

/**
 * A scripted Web API: chat.postMessage adds to `channel` (and, when told, loses its answer);
 * recentMessages lists the channel, or says it cannot be read.
 */
function scriptedSlack(options: { loseNextAnswer?: boolean; unreadable?: boolean } = {}) {
  const channel: (ListedMessage & { text?: string })[] = [];
  const calls: string[] = [];
  let loseNextAnswer = options.loseNextAnswer ?? false;
  const api: Pick<SlackApi, 'call' | 'recentMessages'> = {
    async call(method, args) {
      calls.push(method);
      const { text, metadata } = args as { text: string; metadata: ListedMessage['metadata'] };
      const ts = `1795262400.${String(channel.length + 1).padStart(6, '0')}`;
      channel.push({ ts, text, metadata });
      if (loseNextAnswer) {
        loseNextAnswer = false;
        throw new RetryableError('Slack chat.postMessage could not be reached (ECONNRESET)');
      }
      return { ok: true, ts, channel: CHANNEL };
    },
    async recentMessages() {
      calls.push('recentMessages');
      return options.unreadable ? { unreadable: 'missing_scope' } : { messages: structuredClone(channel) };
    },
  };
  return { api, channel, calls };
}

const always: DeliveryPacing = { awaitSlot: async () => undefined };

function poster(api: Pick<SlackApi, 'call' | 'recentMessages'>, pacing = always) {
  const state = memoryState();
  const logger = captureLogger();
  const journal = stepJournal({
    destination: { name: 'ops', sink: 'slack' },
    idempotencyKey: 'idem-1',
    receivedAt: '2026-11-21T12:00:00.000Z',
    state,
  });
  return {
    poster: createPoster({ api, journal, pacing, marker: MARKER, now: () => NOW, logger }),
    logger,
    state,
  };
}

describe('Function: createPoster', () => {
  it('should mark a post with its step in the metadata and post it only once', async () => {
    // Prepare
    const slack = scriptedSlack();
    const { poster: p } = poster(slack.api);

    // Act
    const first = await p.post('reply', CHANNEL, threadReply('one line'), '1.000001');
    const again = await p.post('reply', CHANNEL, threadReply('one line'), '1.000001');

    // Assess
    expect(again).toEqual(first);
    expect(slack.calls).toEqual(['chat.postMessage']);
    expect(slack.channel[0].metadata).toEqual({
      event_type: SLACK_METADATA_EVENT_TYPE,
      event_payload: { key: `${MARKER}.reply` },
    });
  });

  it('should find the message of a post whose answer was lost instead of posting it again', async () => {
    // Prepare
    const slack = scriptedSlack({ loseNextAnswer: true });
    const { poster: p, logger } = poster(slack.api);
    const lost = await p.post('message', CHANNEL, threadReply('the group')).catch((e: unknown) => e);

    // Act
    const found = await p.post('message', CHANNEL, threadReply('the group'));

    // Assess
    expect(lost).toBeInstanceOf(RetryableError);
    expect(slack.channel).toHaveLength(1);
    expect(found).toEqual({ channel: CHANNEL, ts: slack.channel[0].ts });
    expect(slack.calls).toEqual(['chat.postMessage', 'recentMessages']);
    expect(logger.lines.map((l) => l.message)).toContain(
      'found the message of an interrupted post; not posting it again',
    );
  });

  it('should post again, with a warning, when the channel cannot be read to check', async () => {
    // Prepare
    const slack = scriptedSlack({ loseNextAnswer: true, unreadable: true });
    const { poster: p, logger } = poster(slack.api);
    await p.post('message', CHANNEL, threadReply('the group')).catch(() => undefined);

    // Act
    await p.post('message', CHANNEL, threadReply('the group'));

    // Assess
    expect(slack.channel).toHaveLength(2);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'cannot read the channel to check an interrupted post; posting again may duplicate it',
        extra: { channel: CHANNEL, step: 'message', slackError: 'missing_scope' },
      }),
    );
  });

  it('should record nothing and post nothing while the post waits for its slot', async () => {
    // Prepare
    const slack = scriptedSlack();
    const waiting: DeliveryPacing = {
      awaitSlot: async () => {
        throw new RetryableError('Slack channel pacing: wait', { retryAfterSeconds: 1 });
      },
    };
    const { poster: p, state } = poster(slack.api, waiting);

    // Act
    const error = await p.post('message', CHANNEL, threadReply('the group')).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect(slack.calls).toEqual([]);
    expect(state.writes).toBe(0);
  });
});

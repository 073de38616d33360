import { createHash } from 'node:crypto';
import { ALERTMANAGER_LINKS, type LinkBuilders } from '../../alertmanager/links.ts';
import { stepJournal } from '../../delivery/journal.ts';
import type { Delivery, DeliveryPipeline, Sink } from '../../delivery/sink.ts';
import type { TemplateSpec } from '../../templates/destination.ts';
import { SlackApi, slackErrorCode } from './api.ts';
import {
  BLOCK_LIMITS,
  buildGroupMessage,
  type GroupMessage,
  type SlackMessage,
  threadReply,
} from './blocks.ts';
import { SLACK_TEMPLATES, type SlackDestination, slackConfigSchema } from './config.ts';
import { renderAlertGraph } from './graph/alert-graph.ts';
import { attachGraphOnce, type GraphRenderer } from './graph-upload.ts';
import { type GroupRecord, type LifecyclePlan, nextGroupRecord, planDelivery } from './lifecycle.ts';
import { type ChannelPace, DEFAULT_CHANNEL_PACE, paceDelivery } from './pacing.ts';
import { createPoster, type PostedMessage } from './posts.ts';
import { slackPreview } from './preview.ts';
import { handleStorm, wouldPostNew } from './storm.ts';
import { renderSlackTemplates } from './templates.ts';

export type { SlackDestination } from './config.ts';
export type { GraphRenderer } from './graph-upload.ts';
export { SLACK_METADATA_EVENT_TYPE } from './posts.ts';

/**
 * Slack sink: one message per alert group, edited as the group changes, with a thread of
 * what changed and a graph of the metric. Talks to the Web API with fetch.
 *
 * Exactly once across crashes and redeliveries: every Slack write of a delivery is a step of
 * its journal (lib/delivery/journal.ts), which a retry of the same message reads back. The
 * plan is decided once and kept there; a post records its intent first and is looked up by
 * its metadata on retry (posts.ts); chat.update is idempotent by nature; a graph upload is
 * found again by its file id in the thread (graph-upload.ts). Posts wait for their slot in the
 * channel's pace (pacing.ts).
 */

export interface SlackSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  renderGraph?: GraphRenderer;
  links?: LinkBuilders;
  pace?: ChannelPace;
  /** Blocks per message (tests of the splitting). */
  maxBlocks?: number;
}

const GROUP_TTL_SECONDS = 30 * 24 * 3600;
const NOT_EDITABLE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed']);

/** The journal step holding what this delivery does, decided once, and the group's message once known. */
interface RunStep {
  plan: LifecyclePlan;
  /** The group's message once known (posted or found). */
  message?: PostedMessage;
  /** The text budget per message once Slack answered msg_blocks_too_long: every attempt builds the same split. */
  textBudget?: number;
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 40);
}

/** How many messages a delivery posts into the channel: what its pacing reserves. */
function countPosts(plan: LifecyclePlan, built: GroupMessage, part: Delivery['part']): number {
  return (
    (plan.message === 'new' ? 1 : 0) +
    (part.index > 1 && plan.message === 'none' ? 1 : 0) +
    built.continuations.length +
    (plan.reply ? 1 : 0) +
    (plan.graph ? 1 : 0)
  );
}

export function createSlackSink(
  options: SlackSinkOptions = {},
): Sink<SlackDestination> & { templates: TemplateSpec } {
  // Read at each call, not captured: a test that fakes the clock (Date) moves the sink with it.
  const now = options.now ?? (() => Date.now());
  const links = options.links ?? ALERTMANAGER_LINKS;
  const pace = options.pace ?? DEFAULT_CHANNEL_PACE;
  const renderGraph = options.renderGraph ?? renderAlertGraph;

  return {
    name: 'slack',
    kind: 'lifecycle',
    configSchema: slackConfigSchema,
    preview: slackPreview,
    templates: SLACK_TEMPLATES,

    describe(destination) {
      const notes = [`channel ${destination.channel}, updates: ${destination.update ?? 'both'}`];
      if (!destination.graph) notes.push('graphs are off (no graph.prometheusUrl)');
      return notes;
    },

    async deliver(delivery: Delivery<SlackDestination>, pipeline?: DeliveryPipeline): Promise<void> {
      const { destination, notification, state, logger } = delivery;
      const token = (await delivery.secrets.get(destination.tokenSecret)).trim();
      const api = new SlackApi({
        token,
        baseUrl: destination.baseUrl,
        timeoutSeconds: destination.timeoutSeconds,
        fetch: options.fetch,
        now,
      });
      const journal = stepJournal(delivery);
      const groupKey = `slackgroup#${destination.name}#${hash(notification.groupKey)}`;

      const stored = await state.get<GroupRecord>(groupKey);
      // A message in a channel the destination no longer posts to is not the group's message any more.
      const group = stored?.channel === destination.channel ? stored : undefined;
      // In a storm a new group is folded into the destination's digest instead (storm.ts).
      const storm = await handleStorm({
        pipeline,
        delivery,
        journal,
        api,
        groupId: hash(notification.groupKey),
        group,
        newMessage: wouldPostNew(group, notification, destination.newMessageAfterResolve ?? true),
        now,
        pace,
      });
      if (!storm.own) return;
      const { value: run } = await journal.once<RunStep>('run', async () => {
        let plan = planDelivery(group, notification, {
          update: destination.update ?? 'both',
          newMessageAfterResolve: destination.newMessageAfterResolve ?? true,
          graph: Boolean(destination.graph),
        });
        // Later parts of a split notification go into the thread of the group's message.
        if (delivery.part.index > 1 && group)
          plan = { message: 'none', target: { channel: group.channel, ts: group.ts }, graph: false };
        return { plan, ...(plan.target ? { message: plan.target } : {}) };
      });
      const { plan } = run;

      const templated = renderSlackTemplates(delivery, notification, now());
      const build = () =>
        buildGroupMessage(notification, {
          templated,
          contextLabels: destination.contextLabels,
          fieldLabels: destination.fieldLabels,
          links,
          part: delivery.part,
          maxBlocks: options.maxBlocks,
          maxChars: run.textBudget,
        });
      let built = build();

      // 0. This notification's turn in the channel, reserved once per delivery.
      const pacing = await paceDelivery({
        journal,
        state,
        channel: destination.channel,
        posts: countPosts(plan, built, delivery.part),
        now,
        pace,
      });
      const poster = createPoster({
        api,
        journal,
        pacing,
        marker: `${delivery.idempotencyKey.slice(0, 32)}.${Date.parse(delivery.receivedAt)}`,
        now,
        logger,
      });
      const postGroupMessage = async (step: string): Promise<PostedMessage> => {
        const posted = await poster.post(step, destination.channel, built.main);
        run.message = posted;
        await journal.record('run', run);
        return posted;
      };
      const placeGroupMessage = async (known: PostedMessage | undefined): Promise<PostedMessage> => {
        if (plan.message === 'new' || !known) return postGroupMessage('message');
        if (plan.message !== 'edit') return known;
        const { channel, ts } = known;
        try {
          await journal.once('edit', async () => {
            await api.call('chat.update', { channel, ts, text: built.main.text, blocks: built.main.blocks });
            return { done: true };
          });
          return known;
        } catch (error) {
          const code = slackErrorCode(error);
          if (!code || !NOT_EDITABLE.has(code)) throw error;
          // Someone deleted the message (or it can no longer be edited): the group gets a new one.
          logger.warn('the group message cannot be edited; posting a new one', { slackError: code });
          return postGroupMessage('message-again');
        }
      };
      // Slack's limit on a message's block text is undocumented: when it refuses the group's
      // message, the whole group is split again with half the budget (kept in the journal, so
      // a retry builds the same messages) before anything else of it is posted.
      const shrink = async (error: unknown): Promise<boolean> => {
        if (slackErrorCode(error) !== 'msg_blocks_too_long') return false;
        const current = run.textBudget ?? BLOCK_LIMITS.messageTextChars;
        if (current <= BLOCK_LIMITS.minMessageTextChars) return false;
        run.textBudget = Math.max(BLOCK_LIMITS.minMessageTextChars, Math.floor(current / 2));
        await journal.record('run', run);
        built = build();
        logger.warn('Slack refused the message as too long; splitting it smaller', {
          textBudget: run.textBudget,
        });
        return true;
      };
      // A thread reply Slack refuses as too long goes out as two, each with the first block
      // (its heading) and half the rest; a single section is within every limit.
      const postFitting = async (
        step: string,
        channel: string,
        message: SlackMessage,
        threadTs: string,
      ): Promise<string[]> => {
        try {
          await poster.post(step, channel, message, threadTs);
          return [step];
        } catch (error) {
          const [head, ...rest] = message.blocks;
          if (slackErrorCode(error) !== 'msg_blocks_too_long' || rest.length < 2) throw error;
          const half = Math.ceil(rest.length / 2);
          logger.warn('Slack refused a thread reply as too long; posting it as two', { step });
          return [
            ...(await postFitting(
              `${step}a`,
              channel,
              { ...message, blocks: [head, ...rest.slice(0, half)] },
              threadTs,
            )),
            ...(await postFitting(
              `${step}b`,
              channel,
              { ...message, blocks: [head, ...rest.slice(half)] },
              threadTs,
            )),
          ];
        }
      };

      // 1. The group's message.
      let target: PostedMessage;
      for (;;) {
        try {
          target = await placeGroupMessage(run.message);
          break;
        } catch (error) {
          if (!(await shrink(error))) throw error;
        }
      }
      if (delivery.part.index === 1 || !group) {
        await state.put(groupKey, nextGroupRecord(group, notification, target, new Date(now())), {
          ttlSeconds: GROUP_TTL_SECONDS,
        });
      }
      const thread = target;
      // Everything this delivery made besides the group's message and its edit (for the log).
      const made: string[] = [];
      // A message posted again because the old one could not be edited (in this or an earlier attempt).
      if (plan.message === 'edit' && plan.target && run.message?.ts !== plan.target.ts)
        made.push('message-again');

      // 2. Later parts of a split notification and alerts beyond one message: thread replies.
      if (plan.message === 'none' && delivery.part.index > 1) {
        made.push(...(await postFitting('part', thread.channel, built.main, thread.ts)));
      }
      for (const [index, continuation] of built.continuations.entries()) {
        made.push(...(await postFitting(`more-${index + 1}`, thread.channel, continuation, thread.ts)));
      }

      // 3. What changed, one line.
      if (plan.reply) {
        await poster.post('reply', thread.channel, threadReply(plan.reply), thread.ts);
        made.push('reply');
      }

      // 4. The graph: never in the way of the message, which is out already.
      if (plan.graph && destination.graph) {
        await attachGraphOnce(
          { api, journal, pacing, render: renderGraph, config: destination.graph, now },
          delivery,
          thread,
        );
        made.push('graph');
      }
      await storm.after?.();
      logger.info('slack message delivered', {
        channel: thread.channel,
        ts: thread.ts,
        // Not `message`: Powertools' logger reserves that key for the log line itself.
        messageAction: plan.message,
        replies: made.length,
      });
    },
  };
}

export const slackSink: Sink<SlackDestination> = createSlackSink();

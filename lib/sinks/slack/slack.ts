import { createHash } from 'node:crypto';
import { runbookUrl, silenceUrl } from '../../alertmanager/links.ts';
import type { Notification } from '../../alertmanager/types.ts';
import type { DestinationConfig } from '../../config/types.ts';
import { PermanentError } from '../../delivery/errors.ts';
import { DUPLICATE_WINDOW_MS } from '../../delivery/record-handler.ts';
import type { Delivery, SecretReader, Sink } from '../../delivery/sink.ts';
import {
  type ChannelPace,
  type ChannelReservation,
  DEFAULT_CHANNEL_PACE,
  DEFAULT_SLACK_BASE_URL,
  DEFAULT_SLACK_TIMEOUT_SECONDS,
  pacingError,
  reserveChannelSlots,
  SlackApi,
  slackErrorCode,
  slotTime,
} from './api.ts';
import { type AlertLinks, buildGroupMessage, type SlackMessage, threadReply, title } from './blocks.ts';
import { type AlertGraph, renderAlertGraph } from './graph/alert-graph.ts';
import { type GraphConfig, graphConfigSchema } from './graph/config.ts';
import {
  type GroupRecord,
  type LifecyclePlan,
  nextGroupRecord,
  planDelivery,
  type UpdateMode,
} from './lifecycle.ts';

/**
 * Slack sink: one message per alert group, edited as the group changes, with a thread of
 * what changed and a graph of the metric. Talks to the Web API with fetch.
 *
 * Exactly once across crashes and redeliveries: every Slack write of a delivery is a step
 * recorded in a run record (state store, key destination + idempotency key). Before a
 * message is posted the step's intent is stored; every message carries `metadata` with the
 * step's key. A retry that finds an intent without a result looks the message up
 * (conversations.history / conversations.replies with include_all_metadata) instead of
 * posting again. chat.update is idempotent by nature; a graph upload is found again by its
 * file id in the thread.
 */

/** Renders the group's graph; the graph module's renderAlertGraph unless a test brings its own. Never throws. */
export type GraphRenderer = (
  input: { notification: Notification; now?: Date },
  config: GraphConfig,
  secrets: SecretReader,
) => Promise<AlertGraph | { skipped: string; reason?: string }>;

export interface SlackDestination extends DestinationConfig {
  /** NAME of the secret holding the bot token (xoxb-...). */
  tokenSecret: string;
  /** Channel ID (C0123456789), not a name: names change, IDs do not. */
  channel: string;
  /** Web API base URL. Default https://slack.com/api. */
  baseUrl?: string;
  update?: UpdateMode;
  newMessageAfterResolve?: boolean;
  contextLabels?: string[];
  fieldLabels?: string[];
  timeoutSeconds?: number;
  graph?: GraphConfig;
}

export interface SlackSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  renderGraph?: GraphRenderer;
  links?: AlertLinks;
  pace?: ChannelPace;
  /** Blocks per message (tests of the splitting). */
  maxBlocks?: number;
}

/** Where the relay's messages say who they are, in chat.postMessage `metadata`. */
export const SLACK_METADATA_EVENT_TYPE = 'alertmanager_relay';
const RUN_TTL_SECONDS = 7 * 24 * 3600;
const GROUP_TTL_SECONDS = 30 * 24 * 3600;
// How far before an intent's time a lookup searches: Slack's ts comes from Slack's clock, not ours.
const LOOKUP_SLACK_SECONDS = 120;
const NOT_EDITABLE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed']);
const NO_HISTORY = new Set([
  'missing_scope',
  'not_allowed_token_type',
  'method_not_supported_for_channel_type',
]);

/** The destination's schema; `graph` is the graph module's own schema of its `graph:` block. */
export function slackConfigSchema(
  graphSchema: Record<string, unknown> = graphConfigSchema,
): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      tokenSecret: {
        type: 'string',
        pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
        description: 'NAME of the secret holding the bot token',
      },
      channel: {
        type: 'string',
        // Public (C), private (G) and DM (D) conversation IDs; a #name is refused on purpose.
        pattern: '^[CGD][A-Z0-9]{8,12}$',
        description: 'channel ID such as C0123456789 (channel details > About), not #name',
      },
      baseUrl: {
        type: 'string',
        pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
        default: DEFAULT_SLACK_BASE_URL,
      },
      update: { enum: ['edit', 'thread', 'both'], default: 'both' },
      newMessageAfterResolve: { type: 'boolean', default: true },
      contextLabels: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 8 },
      fieldLabels: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 10 },
      timeoutSeconds: { type: 'number', minimum: 1, maximum: 60, default: DEFAULT_SLACK_TIMEOUT_SECONDS },
      graph: graphSchema,
    },
    required: ['tokenSecret', 'channel'],
    additionalProperties: false,
  };
}

interface StepRecord {
  /** When the intent was stored (epoch ms). */
  at?: number;
  ts?: string;
  /** Its slot in the run's reservation. */
  slot?: number;
  fileId?: string;
  done?: boolean;
}

interface RunRecord {
  /** Marker base in message metadata. */
  id: string;
  receivedAt: string;
  plan: LifecyclePlan;
  /** This delivery's slots in the channel's posting budget. */
  pace?: ChannelReservation;
  /** The next slot to hand to a post. */
  nextSlot?: number;
  /** The group's message once known (posted or found). */
  message?: { channel: string; ts: string };
  steps: Record<string, StepRecord>;
}

const defaultLinks: AlertLinks = { silenceUrl, runbookUrl };

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 40);
}

export function createSlackSink(options: SlackSinkOptions = {}): Sink<SlackDestination> {
  const now = options.now ?? Date.now;
  const links = options.links ?? defaultLinks;
  const pace = options.pace ?? DEFAULT_CHANNEL_PACE;
  const renderGraph = options.renderGraph ?? renderAlertGraph;

  return {
    name: 'slack',
    configSchema: slackConfigSchema(),

    describe(destination) {
      const notes = [`channel ${destination.channel}, updates: ${destination.update ?? 'both'}`];
      if (!destination.graph) notes.push('graphs are off (no graph.prometheusUrl)');
      return notes;
    },

    async deliver(delivery: Delivery<SlackDestination>): Promise<void> {
      const { destination, notification, state, logger } = delivery;
      const token = (await delivery.secrets.get(destination.tokenSecret)).trim();
      const api = new SlackApi({
        token,
        baseUrl: destination.baseUrl,
        timeoutSeconds: destination.timeoutSeconds,
        fetch: options.fetch,
        now,
      });
      const groupKey = `slackgroup#${destination.name}#${hash(notification.groupKey)}`;
      const runKey = `slackrun#${destination.name}#${delivery.idempotencyKey}`;
      const paceKey = `slackpace#${destination.channel}`;

      const stored = await state.get<GroupRecord>(groupKey);
      // A message in a channel the destination no longer posts to is not the group's message any more.
      const group = stored?.channel === destination.channel ? stored : undefined;
      let run = await state.get<RunRecord>(runKey);
      // A run older than the duplicate window is Alertmanager's repeat_interval reminder: a new run.
      if (
        run &&
        Math.abs(Date.parse(run.receivedAt) - Date.parse(delivery.receivedAt)) >= DUPLICATE_WINDOW_MS
      ) {
        run = undefined;
      }
      if (!run) {
        const graphOn = Boolean(destination.graph);
        let plan = planDelivery(group, notification, {
          update: destination.update ?? 'both',
          newMessageAfterResolve: destination.newMessageAfterResolve ?? true,
          graph: graphOn,
        });
        // Later parts of a split notification go into the thread of the group's message.
        if (delivery.part.index > 1 && group)
          plan = { message: 'none', target: { channel: group.channel, ts: group.ts }, graph: false };
        run = {
          id: `${delivery.idempotencyKey.slice(0, 32)}.${Date.parse(delivery.receivedAt)}`,
          receivedAt: delivery.receivedAt,
          plan,
          ...(plan.target ? { message: plan.target } : {}),
          steps: {},
        };
        await state.put(runKey, run, { ttlSeconds: RUN_TTL_SECONDS });
      }
      const current = run;
      const save = () => state.put(runKey, current, { ttlSeconds: RUN_TTL_SECONDS });
      const marker = (step: string) => `${current.id}.${step}`;

      const built = buildGroupMessage(notification, {
        contextLabels: destination.contextLabels,
        fieldLabels: destination.fieldLabels,
        links,
        part: delivery.part,
        maxBlocks: options.maxBlocks,
      });

      // 0. Wait for this notification's turn in the channel, reserved once per delivery.
      const plan0 = current.plan;
      const posts =
        (plan0.message === 'new' ? 1 : 0) +
        (delivery.part.index > 1 && plan0.message === 'none' ? 1 : 0) +
        built.continuations.length +
        (plan0.reply ? 1 : 0) +
        (plan0.graph ? 1 : 0);
      if (posts > 0 && current.pace === undefined) {
        current.pace = await reserveChannelSlots(state, paceKey, now(), posts, pace);
        await save();
      }

      /** Throws (back to the queue) until this post's slot is due; then a burst of them goes at once. */
      async function awaitSlot(step: string): Promise<void> {
        if (!current.pace) return;
        let slot = current.steps[step]?.slot;
        if (slot === undefined) {
          slot = current.nextSlot ?? 0;
          current.nextSlot = slot + 1;
          current.steps[step] = { ...current.steps[step], slot };
          await save();
        }
        const due = slotTime(current.pace, slot, pace);
        if (due <= now()) return;
        const burstDue = slotTime(
          current.pace,
          Math.min(slot + pace.burst - 1, current.pace.count - 1),
          pace,
        );
        throw pacingError(Math.max(due, burstDue), now());
      }

      async function findPosted(
        step: string,
        channel: string,
        since: number,
        threadTs?: string,
      ): Promise<string | undefined> {
        const oldest = (Math.floor(since / 1000) - LOOKUP_SLACK_SECONDS).toString();
        const args = { channel, oldest, inclusive: true, limit: 200, include_all_metadata: true };
        try {
          const found = threadTs
            ? await api.call('conversations.replies', { ...args, ts: threadTs }, { form: true })
            : await api.call('conversations.history', args, { form: true });
          const messages = (found.messages ?? []) as {
            ts?: string;
            metadata?: { event_payload?: { key?: string } };
          }[];
          return messages.find((m) => m.metadata?.event_payload?.key === marker(step))?.ts;
        } catch (error) {
          const code = slackErrorCode(error);
          if (!code || !NO_HISTORY.has(code)) throw error;
          logger.warn(
            'cannot read the channel to check an interrupted post; posting again may duplicate it',
            {
              channel,
              step,
              slackError: code,
            },
          );
          return undefined;
        }
      }

      async function postOnce(
        step: string,
        channel: string,
        message: SlackMessage,
        threadTs?: string,
      ): Promise<{ channel: string; ts: string }> {
        const done = current.steps[step];
        if (done?.ts) return { channel, ts: done.ts };
        if (done?.at !== undefined) {
          const ts = await findPosted(step, channel, done.at, threadTs);
          if (ts) {
            current.steps[step] = { ...done, ts };
            await save();
            logger.info('found the message of an interrupted post; not posting it again', { step, channel });
            return { channel, ts };
          }
        }
        await awaitSlot(step);
        current.steps[step] = { ...current.steps[step], at: now() };
        await save();
        const answer = await api.call('chat.postMessage', {
          channel,
          text: message.text,
          blocks: message.blocks,
          ...(threadTs ? { thread_ts: threadTs } : {}),
          unfurl_links: false,
          unfurl_media: false,
          metadata: { event_type: SLACK_METADATA_EVENT_TYPE, event_payload: { key: marker(step) } },
        });
        const ts = String(answer.ts);
        const answeredChannel = typeof answer.channel === 'string' ? answer.channel : channel;
        current.steps[step] = { ...current.steps[step], ts };
        await save();
        return { channel: answeredChannel, ts };
      }

      async function postNewMessage(step: string): Promise<{ channel: string; ts: string }> {
        const posted = await postOnce(step, destination.channel, built.main);
        current.message = posted;
        await save();
        return posted;
      }

      const plan = current.plan;
      // 1. The group's message.
      let target = current.message;
      if (plan.message === 'new' || !target) {
        target = await postNewMessage('message');
      } else if (plan.message === 'edit' && !current.steps.edit?.done) {
        try {
          await api.call('chat.update', {
            channel: target.channel,
            ts: target.ts,
            text: built.main.text,
            blocks: built.main.blocks,
          });
          current.steps.edit = { done: true };
          await save();
        } catch (error) {
          const code = slackErrorCode(error);
          if (!code || !NOT_EDITABLE.has(code)) throw error;
          // Someone deleted the message (or it can no longer be edited): the group gets a new one.
          logger.warn('the group message cannot be edited; posting a new one', { slackError: code });
          target = await postNewMessage('message-again');
        }
      }
      if (delivery.part.index === 1 || !group) {
        await state.put(groupKey, nextGroupRecord(group, notification, target, new Date(now())), {
          ttlSeconds: GROUP_TTL_SECONDS,
        });
      }
      const thread = target;

      // 2. Later parts of a split notification and alerts beyond one message: thread replies.
      if (plan.message === 'none' && delivery.part.index > 1) {
        await postOnce('part', thread.channel, built.main, thread.ts);
      }
      for (const [index, continuation] of built.continuations.entries()) {
        await postOnce(`more-${index + 1}`, thread.channel, continuation, thread.ts);
      }

      // 3. What changed, one line.
      if (plan.reply) await postOnce('reply', thread.channel, threadReply(plan.reply), thread.ts);

      // 4. The graph: never in the way of the message, which is out already.
      if (plan.graph && destination.graph && !current.steps.graph?.done) {
        await attachGraph(destination.graph, renderGraph, thread);
      }
      logger.info('slack message delivered', {
        channel: thread.channel,
        ts: thread.ts,
        message: plan.message,
        replies: Object.keys(current.steps).filter((s) => s !== 'message' && s !== 'edit').length,
      });

      async function attachGraph(
        config: GraphConfig,
        render: GraphRenderer,
        into: { channel: string; ts: string },
      ) {
        const step = current.steps.graph;
        if (step?.fileId && step.at !== undefined) {
          if (await fileInThread(step.fileId, into, step.at)) {
            current.steps.graph = { ...step, done: true };
            await save();
            return;
          }
        }
        await awaitSlot('graph');
        const graph = await render({ notification, now: new Date(now()) }, config, delivery.secrets);
        if ('skipped' in graph) {
          delivery.count?.('GraphsSkipped');
          logger.warn('slack graph skipped', {
            metric: 'GraphsSkipped',
            reason: graph.reason ?? 'skipped',
            detail: graph.skipped,
            groupKey: notification.groupKey,
          });
          current.steps.graph = { done: true };
          await save();
          return;
        }
        try {
          const filename = `${(graph.title || title(notification)).replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80) || 'graph'}.png`;
          const upload = await api.call(
            'files.getUploadURLExternal',
            { filename, length: graph.png.byteLength, alt_txt: `Graph of ${graph.expr}`.slice(0, 1000) },
            { form: true },
          );
          const fileId = String(upload.file_id);
          current.steps.graph = { ...current.steps.graph, at: now(), fileId };
          await save();
          await api.uploadBytes(String(upload.upload_url), graph.png, filename);
          await api.call('files.completeUploadExternal', {
            files: [{ id: fileId, title: graph.title || title(notification) }],
            channel_id: into.channel,
            thread_ts: into.ts,
          });
          current.steps.graph = { ...current.steps.graph, done: true };
          await save();
        } catch (error) {
          if (!(error instanceof PermanentError)) throw error;
          // uploads disabled, files:write missing...: the alert is out, the graph is not worth a DLQ entry.
          delivery.count?.('GraphsSkipped');
          logger.warn('slack graph skipped', {
            metric: 'GraphsSkipped',
            reason: 'upload-refused',
            detail: error.message,
            groupKey: notification.groupKey,
          });
          current.steps.graph = { done: true };
          await save();
        }
      }

      async function fileInThread(
        fileId: string,
        into: { channel: string; ts: string },
        since: number,
      ): Promise<boolean> {
        try {
          const found = await api.call(
            'conversations.replies',
            {
              channel: into.channel,
              ts: into.ts,
              oldest: (Math.floor(since / 1000) - LOOKUP_SLACK_SECONDS).toString(),
              inclusive: true,
              limit: 200,
            },
            { form: true },
          );
          const messages = (found.messages ?? []) as { files?: { id?: string }[] }[];
          return messages.some((m) => m.files?.some((f) => f.id === fileId));
        } catch (error) {
          const code = slackErrorCode(error);
          if (!code || !NO_HISTORY.has(code)) throw error;
          return false;
        }
      }
    },
  };
}

export const slackSink: Sink<SlackDestination> = createSlackSink();

import { ALERTMANAGER_LINKS, type LinkBuilders } from '../../alertmanager/links.ts';
import type { ChatAdapter } from '../../chat/adapter.ts';
import { chatSink } from '../../chat/stage.ts';
import type { Pace } from '../../delivery/pacing.ts';
import type { Sink } from '../../delivery/sink.ts';
import { SlackApi } from './api.ts';
import {
  buildGroupMessage,
  type SlackMessage,
  shrunkTextBudget,
  TEXT_BUDGET_SHRINKS,
  threadReply,
} from './blocks.ts';
import { SLACK_CHANNEL_PACE, type SlackChannel, slackChannel } from './channel.ts';
import { SLACK_TEMPLATES, type SlackDestination, slackConfigSchema } from './config.ts';
import { DIGEST_LISTED, digestMessage } from './digest.ts';
import { renderAlertGraph } from './graph/alert-graph.ts';
import { attachGraphOnce, type GraphRenderer } from './graph-upload.ts';
import { describeChange, fromSlackGroupRecord, slackUpdates } from './lifecycle.ts';
import { slackPreview } from './preview.ts';

export { SLACK_CHANNEL_PACE, SLACK_METADATA_EVENT_TYPE } from './channel.ts';
export type { SlackDestination } from './config.ts';
export type { GraphRenderer } from './graph-upload.ts';

/**
 * Slack sink: one message per alert group, edited as the group changes, with a thread of what
 * changed and a graph of the metric. Talks to the Web API with fetch (./api.ts). The chat stage
 * (lib/chat/stage.ts) does the rest: the group's messages (channel and ts), the journal (a post
 * records its intent first and is found again by its metadata on retry: ./channel.ts), the
 * channel's pace, storm mode, and which message is posted, edited or threaded. This adapter is
 * Slack's facts and calls: Block Kit (./blocks.ts, ./digest.ts), `update:` and the change line
 * (./lifecycle.ts), a message refused as too long split smaller (ChatRender.shrink halves the
 * text budget), and the graph of a new firing group uploaded into its thread (./graph-upload.ts).
 */

export interface SlackSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  renderGraph?: GraphRenderer;
  links?: LinkBuilders;
  /** The channel's pace (default SLACK_CHANNEL_PACE: a burst of 3, then one call a second). */
  pace?: Pace;
  /** Blocks per message (tests of the splitting). */
  maxBlocks?: number;
}

/** The Slack adapter of the chat stage. */
export function slackAdapter(
  options: SlackSinkOptions = {},
): ChatAdapter<SlackDestination, SlackMessage, SlackChannel> {
  // Read at each call, not captured: a test that fakes the clock (Date) moves the sink with it.
  const now = options.now ?? (() => Date.now());
  const links = options.links ?? ALERTMANAGER_LINKS;
  const renderGraph = options.renderGraph ?? renderAlertGraph;
  return {
    name: 'slack',
    vendor: 'Slack',
    configSchema: slackConfigSchema,
    templates: SLACK_TEMPLATES,
    preview: slackPreview,
    // chat.delete is not used: a message once posted stays (Slack shows its edits).
    can: { edit: true, remove: false, thread: true },
    groupRecord: 'slackgroup',
    digestListed: DIGEST_LISTED,
    shrinks: TEXT_BUDGET_SHRINKS,

    describe(destination) {
      const notes = [`channel ${destination.channel}, updates: ${destination.update ?? 'both'}`];
      if (!destination.graph) notes.push('graphs are off (no graph.prometheusUrl)');
      return notes;
    },

    async connect(delivery) {
      const { destination } = delivery;
      const token = (await delivery.secrets.get(destination.tokenSecret)).trim();
      const api = new SlackApi({
        token,
        baseUrl: destination.baseUrl,
        timeoutSeconds: destination.timeoutSeconds,
        fetch: options.fetch,
        now,
      });
      return slackChannel({
        api,
        channel: destination.channel,
        pace: options.pace ?? SLACK_CHANNEL_PACE,
        logger: delivery.logger,
      });
    },

    render({ destination, notification, part, templated, shrink }) {
      const built = buildGroupMessage(notification, {
        templated,
        contextLabels: destination.contextLabels,
        fieldLabels: destination.fieldLabels,
        links,
        part,
        maxBlocks: options.maxBlocks,
        maxChars: shrunkTextBudget(shrink),
      });
      return [built.main, ...built.continuations];
    },

    digest: (view) => digestMessage(view.storm, view.totals),

    updates: slackUpdates,

    change(previous, notification) {
      const line = describeChange(previous, notification);
      return line === undefined ? undefined : threadReply(line);
    },

    fromRecord: fromSlackGroupRecord,

    // The graph of a new firing group, into its thread: never in the way of the message, which is out.
    async after({ delivery, channel, thread, started, journal, paced }) {
      const { destination, notification } = delivery;
      if (!started || !thread || notification.status !== 'firing' || !destination.graph) return;
      await attachGraphOnce(
        { api: channel.api, journal, pace: paced, render: renderGraph, config: destination.graph, now },
        delivery,
        { channel: channel.where, ts: thread },
      );
    },
  };
}

export function createSlackSink(options: SlackSinkOptions = {}): Sink<SlackDestination> {
  return chatSink(slackAdapter(options), { now: options.now });
}

export const slackSink: Sink<SlackDestination> = createSlackSink();

import { defaultTitle } from '../../alertmanager/title.ts';
import type { Notification } from '../../alertmanager/types.ts';
import { PermanentError } from '../../delivery/errors.ts';
import type { StepJournal } from '../../delivery/journal.ts';
import type { Delivery, SecretReader } from '../../delivery/sink.ts';
import type { SlackApi } from './api.ts';
import type { AlertGraph } from './graph/alert-graph.ts';
import type { GraphConfig } from './graph/config.ts';

/**
 * The graph of a new firing group, uploaded into the thread of its message at most once per
 * delivery: render it, upload it with Slack's two-step external upload, and on a retry find an
 * upload that may have gone through by its file id in the thread. Never in the way of the
 * message: a graph that cannot be drawn or that Slack refuses is skipped, counted and logged.
 */

/** Renders the group's graph; the graph module's renderAlertGraph unless a test brings its own. Never throws. */
export type GraphRenderer = (
  input: { notification: Notification; now?: Date },
  config: GraphConfig,
  secrets: SecretReader,
) => Promise<AlertGraph | { skipped: string; reason?: string }>;

/** A message in a channel: the thread the graph goes into. */
export interface PostedMessage {
  channel: string;
  ts: string;
}

/** The journal step of the upload. */
interface GraphStep {
  /** When the upload was started (epoch ms): the lookup searches from a little before. */
  at?: number;
  fileId?: string;
  /** Uploaded, found in the thread, or skipped. */
  done?: boolean;
}

const GRAPH_STEP = 'graph';

type GraphUploadApi = Pick<SlackApi, 'call' | 'recentMessages' | 'uploadBytes'>;

/**
 * Uploads the graph of `delivery`'s notification into the thread of `into`, unless this
 * delivery did already. Throws only what is worth a retry of the delivery.
 */
export async function attachGraphOnce(
  context: {
    api: GraphUploadApi;
    journal: StepJournal;
    /** Waits for the upload's turn in the channel's budget (the chat stage's pacing of step `graph`). */
    pace: (step: string) => Promise<void>;
    render: GraphRenderer;
    config: GraphConfig;
    now: () => number;
  },
  delivery: Pick<Delivery, 'notification' | 'secrets' | 'logger' | 'count'>,
  into: PostedMessage,
): Promise<void> {
  const { api, journal, now } = context;
  const { notification, logger } = delivery;
  const step = await journal.get<GraphStep>(GRAPH_STEP);
  if (step?.done) return;
  if (step?.fileId && step.at !== undefined) {
    if (await fileInThread(api, step.fileId, into, step.at)) {
      await journal.record(GRAPH_STEP, { ...step, done: true });
      return;
    }
  }
  await context.pace(GRAPH_STEP);
  const skip = async (reason: string, detail: string) => {
    delivery.count?.('GraphsSkipped');
    logger.warn('slack graph skipped', {
      metric: 'GraphsSkipped',
      reason,
      detail,
      groupKey: notification.groupKey,
    });
    await journal.record(GRAPH_STEP, { done: true } satisfies GraphStep);
  };
  const graph = await context.render(
    { notification, now: new Date(now()) },
    context.config,
    delivery.secrets,
  );
  if ('skipped' in graph) return skip(graph.reason ?? 'skipped', graph.skipped);
  try {
    const name = graph.title || defaultTitle(notification);
    const filename = `${name.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80) || 'graph'}.png`;
    const upload = await api.call(
      'files.getUploadURLExternal',
      { filename, length: graph.png.byteLength, alt_txt: `Graph of ${graph.expr}`.slice(0, 1000) },
      { form: true },
    );
    const started: GraphStep = { at: now(), fileId: String(upload.file_id) };
    await journal.record(GRAPH_STEP, started);
    await api.uploadBytes(String(upload.upload_url), graph.png, filename);
    await api.call('files.completeUploadExternal', {
      files: [{ id: started.fileId, title: name }],
      channel_id: into.channel,
      thread_ts: into.ts,
    });
    await journal.record(GRAPH_STEP, { ...started, done: true });
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    // uploads disabled, files:write missing...: the alert is out, the graph is not worth a DLQ entry.
    await skip('upload-refused', error.message);
  }
}

/** Whether the file of an upload that may have gone through is in the thread (false when the thread cannot be read). */
async function fileInThread(
  api: GraphUploadApi,
  fileId: string,
  into: PostedMessage,
  since: number,
): Promise<boolean> {
  const found = await api.recentMessages({ channel: into.channel, threadTs: into.ts, since });
  if ('unreadable' in found) return false;
  return found.messages.some((m) => m.files?.some((f) => f.id === fileId));
}

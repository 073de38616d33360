import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import { stepJournal } from '../../../lib/delivery/journal.ts';
import type { ListedMessage, SlackApi } from '../../../lib/sinks/slack/api.ts';
import { attachGraphOnce, type GraphRenderer } from '../../../lib/sinks/slack/graph-upload.ts';
import { makeNotification } from '../../support/notifications.ts';
import { captureLogger, memoryState } from '../../support/slack-delivery.ts';

const THREAD = { channel: 'C0123456789', ts: '1795262400.000001' };
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
const NOW = Date.parse('2026-11-21T12:00:00Z');

const pngGraph: GraphRenderer = async () => ({
  png: PNG,
  expr: 'latency > 1',
  query: 'latency',
  series: 1,
  title: 'HighLatency: latency > 1',
});

/**
 * A scripted two-step upload: the completion shares the file into the thread. `refuse`
 * answers getUploadURLExternal with a PermanentError; `loseCompletion` completes the upload
 * but loses the answer once.
 */
function scriptedSlack(options: { refuse?: boolean; loseCompletion?: boolean } = {}) {
  const thread: ListedMessage[] = [];
  const calls: string[] = [];
  let loseCompletion = options.loseCompletion ?? false;
  let files = 0;
  const api: Pick<SlackApi, 'call' | 'recentMessages' | 'uploadBytes'> = {
    async call(method, args) {
      calls.push(method);
      if (method === 'files.getUploadURLExternal') {
        if (options.refuse)
          throw new PermanentError('Slack files.getUploadURLExternal: file_uploads_disabled');
        files++;
        return { ok: true, file_id: `F${files}`, upload_url: `https://files.slack.test/upload/F${files}` };
      }
      const [file] = (args as { files: { id: string }[] }).files;
      thread.push({ ts: `1795262400.00000${thread.length + 2}`, files: [{ id: file.id }] });
      if (loseCompletion) {
        loseCompletion = false;
        throw new RetryableError('Slack files.completeUploadExternal could not be reached (ECONNRESET)');
      }
      return { ok: true };
    },
    async uploadBytes() {
      calls.push('uploadBytes');
    },
    async recentMessages() {
      calls.push('recentMessages');
      return { messages: structuredClone(thread) };
    },
  };
  return { api, thread, calls };
}

/** The stage's pacing, always at its turn. */
const always = async () => undefined;

function attach(api: Pick<SlackApi, 'call' | 'recentMessages' | 'uploadBytes'>, render = pngGraph) {
  const state = memoryState();
  const logger = captureLogger();
  const counted: string[] = [];
  const journal = stepJournal({
    destination: { name: 'ops', sink: 'slack' },
    idempotencyKey: 'idem-1',
    receivedAt: '2026-11-21T12:00:00.000Z',
    state,
  });
  const delivery = {
    notification: makeNotification({ count: 1 }),
    secrets: { get: async () => '' },
    logger,
    count: (name: string) => void counted.push(name),
  };
  const run = () =>
    attachGraphOnce(
      {
        api,
        journal,
        pace: always,
        render,
        config: { prometheusUrl: 'http://prometheus:9090' },
        now: () => NOW,
      },
      delivery,
      THREAD,
    );
  return { run, logger, counted };
}

describe('Function: attachGraphOnce', () => {
  it('should upload the graph into the thread with the two-step upload, once', async () => {
    // Prepare
    const slack = scriptedSlack();
    const { run } = attach(slack.api);

    // Act
    await run();
    await run();

    // Assess
    expect(slack.calls).toEqual([
      'files.getUploadURLExternal',
      'uploadBytes',
      'files.completeUploadExternal',
    ]);
    expect(slack.thread).toHaveLength(1);
  });

  it('should find an upload whose answer was lost by its file id in the thread, not upload it again', async () => {
    // Prepare
    const slack = scriptedSlack({ loseCompletion: true });
    const { run } = attach(slack.api);
    const lost = await run().catch((e: unknown) => e);

    // Act
    await run();

    // Assess
    expect(lost).toBeInstanceOf(RetryableError);
    expect(slack.thread).toHaveLength(1);
    expect(slack.calls.slice(3)).toEqual(['recentMessages']);
  });

  it('should skip, count and log a graph Slack refuses instead of failing the delivery', async () => {
    // Prepare
    const slack = scriptedSlack({ refuse: true });
    const { run, logger, counted } = attach(slack.api);

    // Act
    await run();
    await run();

    // Assess
    expect(counted).toEqual(['GraphsSkipped']);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'slack graph skipped',
        extra: expect.objectContaining({ reason: 'upload-refused', metric: 'GraphsSkipped' }),
      }),
    );
  });

  it('should skip, count and log a graph that could not be drawn, uploading nothing', async () => {
    // Prepare
    const slack = scriptedSlack();
    const { run, logger, counted } = attach(slack.api, async () => ({
      skipped: 'the query returned no series',
      reason: 'no-data',
    }));

    // Act
    await run();

    // Assess
    expect(slack.calls).toEqual([]);
    expect(counted).toEqual(['GraphsSkipped']);
    expect(logger.lines[0]).toMatchObject({
      message: 'slack graph skipped',
      extra: { reason: 'no-data', detail: 'the query returned no series' },
    });
  });
});

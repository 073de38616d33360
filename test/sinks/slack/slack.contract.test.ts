import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import type { Delivery } from '../../../lib/delivery/sink.ts';
import {
  createSlackSink,
  type GraphRenderer,
  type SlackDestination,
  type SlackSinkOptions,
} from '../../../lib/sinks/slack/slack.ts';
import { describeSinkConformance, HOSTILE, hostileNotification } from '../../support/conformance.ts';
import { type FakeSlack, messageViolations, startFakeSlack } from '../../support/fake-slack.ts';
import { makeNotification } from '../../support/notifications.ts';
import { captureLogger, memoryState, slackDelivery } from '../../support/slack-delivery.ts';

const TOKEN = 'xoxb-1111-2222-contract-token';
const CHANNEL = 'C0123456789';
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

const pngGraph: GraphRenderer = async ({ notification }) => ({
  png: PNG,
  expr: 'latency > 1',
  query: 'latency',
  series: 1,
  title: `${notification.groupLabels.alertname} graph`,
});

type Fired = Notification['alerts'][number]['status'];

/** A group of `count` alerts with the given statuses (firing unless said). */
function group(statuses: Fired[], extra: Partial<Notification> = {}): Notification {
  const n = makeNotification({ count: statuses.length });
  n.alerts = n.alerts.map((alert, i) => ({
    ...alert,
    status: statuses[i],
    endsAt: statuses[i] === 'resolved' ? '2026-11-21T11:30:00.000Z' : '0001-01-01T00:00:00Z',
  }));
  n.status = statuses.includes('firing') ? 'firing' : 'resolved';
  n.commonLabels = { alertname: 'HighLatency', severity: 'critical' };
  n.commonAnnotations = { runbook_url: 'https://runbooks.example/high-latency' };
  return { ...n, ...extra };
}

describeSinkConformance<SlackDestination>({
  name: 'slack',
  sink: ({ now }) => createSlackSink({ now }),
  destination: (vendor) => ({
    name: 'ops',
    sink: 'slack',
    tokenSecret: 'SLACK_TOKEN',
    channel: CHANNEL,
    baseUrl: vendor.url,
    timeoutSeconds: vendor.timeoutSeconds,
  }),
  secrets: () => ({ SLACK_TOKEN: TOKEN }),
  hostile: ({ outcome, requests }) => {
    // Every label, annotation, URL and the groupKey were hostile: no mention, no link to the
    // attacker's host, no unencoded URL in any text, mrkdwn field or button.
    expect(outcome).toEqual({ delivered: true });
    const posts = requests.filter((r) => r.url.includes('chat.postMessage'));
    expect(posts.length).toBeGreaterThan(0);
    for (const post of posts) {
      const body = post.body as { text?: unknown; blocks?: unknown };
      expect(messageViolations(body.text, body.blocks)).toEqual([]);
    }
  },
  // Slack names the method, not the host.
  http: {
    label: () => 'Slack chat.postMessage',
    accepted: { ok: true, channel: CHANNEL, ts: '1763726400.000100' },
  },
  expect: (vendorCase, standard) => {
    // Slack always answers a call with a JSON body: an empty 204 is a proxy's, worth another try.
    if (vendorCase.status === 204) return { error: 'RetryableError', statusCode: 204 };
    // A 429 without Retry-After waits Slack's usual window of 30 s.
    if (vendorCase.status === 429)
      return { ...standard, retryAfterSeconds: vendorCase.retryAfterSeconds ?? 30 };
    return standard;
  },
});

describe('Sink: slack (contract with the fake Slack Web API)', () => {
  let fake: FakeSlack;
  let clock: number;
  let state: ReturnType<typeof memoryState>;

  beforeEach(async () => {
    clock = Date.parse('2026-11-21T12:00:00Z');
    fake = await startFakeSlack({
      token: TOKEN,
      channels: [CHANNEL],
      notIn: ['C0NOTINCHN'],
      archived: ['C0ARCHIVED'],
      now: () => clock,
    });
    state = memoryState();
  });

  afterEach(async () => {
    await fake.close();
  });

  function destination(overrides: Partial<SlackDestination> = {}): SlackDestination {
    return {
      name: 'ops',
      sink: 'slack',
      tokenSecret: 'SLACK_TOKEN',
      channel: CHANNEL,
      baseUrl: fake.apiUrl,
      ...overrides,
    };
  }

  function sink(options: SlackSinkOptions = {}) {
    return createSlackSink({ now: () => clock, ...options });
  }

  function delivery(
    notification: Notification,
    overrides: Partial<SlackDestination> = {},
    receivedAt?: string,
  ) {
    return slackDelivery(destination(overrides), notification, {
      state,
      secrets: { SLACK_TOKEN: TOKEN },
      ...(receivedAt ? { receivedAt } : {}),
    });
  }

  /**
   * Delivers the way the queue does: a RetryableError brings the message back after its
   * retryAfterSeconds (the clock moves on; nothing sleeps), with the attempt counted up.
   */
  async function deliverWithRetries(s: ReturnType<typeof sink>, d: Delivery<SlackDestination>, max = 10) {
    const errors: RetryableError[] = [];
    for (let attempt = 1; attempt <= max; attempt++) {
      try {
        await s.deliver({ ...d, attempt });
        return errors;
      } catch (error) {
        if (!(error instanceof RetryableError)) throw error;
        errors.push(error);
        clock += (error.retryAfterSeconds ?? 1) * 1000;
      }
    }
    throw new Error(`not delivered after ${max} attempts: ${errors.map((e) => e.message).join('; ')}`);
  }

  describe('Messages', () => {
    it('should post one Block Kit message with bearer auth, fallback text, fields, context and buttons', async () => {
      // Prepare
      const notification = group(['firing']);
      notification.alerts[0].annotations.summary = 'Latency high on web-0';

      // Act
      await sink().deliver(delivery(notification));

      // Assess
      const [message] = fake.messages;
      expect(fake.messages).toHaveLength(1);
      expect(fake.requests[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(message.channel).toBe(CHANNEL);
      expect(message.text).toBe('[FIRING:1] HighLatency: Latency high on web-0');
      const types = message.blocks?.map((b) => b.type);
      expect(types).toEqual(['header', 'section', 'section', 'context', 'actions']);
      expect(JSON.stringify(message.blocks?.[2])).toContain('*severity*\\ncritical');
      const buttons = ((message.blocks ?? [])[4] as { elements: { text: { text: string }; url: string }[] })
        .elements;
      expect(buttons.map((b) => b.text.text)).toEqual(['Graph', 'Runbook', 'Silence']);
      expect(buttons[0].url).toBe(notification.alerts[0].generatorURL);
      expect(buttons[1].url).toBe('https://runbooks.example/high-latency');
      expect(buttons[2].url).toMatch(/^http:\/\/alertmanager:9093\/#\/silences\/new\?filter=/);
      expect(decodeURIComponent(buttons[2].url)).toContain('instance="web-0:9100"');
      expect(message.metadata?.event_type).toBe('alertmanager_relay');
    });

    it('should say when Alertmanager truncated alerts', async () => {
      // Prepare
      const notification = group(['firing', 'firing'], { truncatedAlerts: 7 });

      // Act
      await sink().deliver(delivery(notification));

      // Assess
      expect(JSON.stringify(fake.messages[0].blocks)).toContain('Alertmanager left out 7 more alerts');
    });

    it('should continue a group too large for one message in thread replies, dropping no alert', async () => {
      // Prepare: 400 alerts with long labels: far more text than one message may hold.
      const notification = group(Array.from({ length: 400 }, () => 'firing' as const));
      for (const alert of notification.alerts) alert.labels.pod = `checkout-${'x'.repeat(60)}`;

      // Act
      const waits = await deliverWithRetries(sink(), delivery(notification));

      // Assess: every message within Slack's limits (the fake refuses more), paced, nothing dropped.
      expect(fake.rateLimited).toBe(0);
      expect(waits.every((w) => w.message.startsWith('Slack channel pacing'))).toBe(true);
      const [main] = fake.topLevel(CHANNEL);
      const replies = fake.replies(CHANNEL, main.ts);
      expect(main.blocks?.length).toBeLessThanOrEqual(50);
      expect(replies.length).toBeGreaterThan(0);
      const all = [main, ...replies].map((m) => JSON.stringify(m.blocks)).join('');
      for (let i = 0; i < 400; i++) expect(all).toContain(`instance=web-${i}:9100`);
      expect(JSON.stringify(main.blocks)).toContain('continue in the thread');
    });
    it('should edit the continuations of a group too large for one message as the group changes, not post them again', async () => {
      // Prepare: 120 alerts with long labels: a message and continuations in its thread.
      const s = sink();
      const many = (resolved: number) => {
        const n = group(Array.from({ length: 120 }, (_, i) => (i < resolved ? 'resolved' : 'firing')));
        for (const alert of n.alerts) alert.labels.pod = `checkout-${'x'.repeat(60)}`;
        return n;
      };
      await deliverWithRetries(s, delivery(many(0), {}, '2026-11-21T12:00:00Z'));
      const [main] = fake.topLevel(CHANNEL);
      const before = fake.replies(CHANNEL, main.ts);

      // Act
      clock += 60_000;
      await deliverWithRetries(s, delivery(many(1), {}, '2026-11-21T12:01:00Z'));

      // Assess: the same continuations, edited; one more reply, saying what changed.
      const after = fake.replies(CHANNEL, main.ts);
      expect(before.length).toBeGreaterThan(0);
      expect(after.slice(0, before.length).map((m) => m.ts)).toEqual(before.map((m) => m.ts));
      expect(after.slice(0, before.length).every((m) => m.edits.length === 1)).toBe(true);
      expect(after.slice(before.length).map((m) => m.text)).toEqual([
        expect.stringMatching(/^:large_green_circle: 1 alert resolved: /),
      ]);
      expect(main.edits).toHaveLength(1);
      expect(fake.topLevel(CHANNEL)).toHaveLength(1);
    });
  });

  describe('Lifecycle', () => {
    it('should let no mention or foreign link through the message, its edits or its thread replies', async () => {
      // Prepare
      const s = sink();
      const first = hostileNotification();
      const second = hostileNotification();
      second.alerts.push({
        ...second.alerts[0],
        fingerprint: 'f00dfeed00000001',
        labels: { ...second.alerts[0].labels, pod: HOSTILE },
      });

      // Act
      await s.deliver(delivery(first, {}, '2026-11-21T12:00:00Z'));
      clock += 10_000;
      await s.deliver(delivery(second, {}, '2026-11-21T12:00:10Z'));

      // Assess
      const top = fake.topLevel(CHANNEL);
      expect(top).toHaveLength(1);
      expect(top[0].edits).toHaveLength(1);
      const replies = fake.replies(CHANNEL, top[0].ts);
      expect(replies.map((m) => m.text)).toEqual([expect.stringMatching(/^:red_circle: 1 new alert: pod=/)]);
      expect(replies[0].text).toContain('&lt;!channel&gt;');
      expect(fake.violations).toEqual([]);
    });

    it('should record a violation when a mention or foreign link reaches it (the fake itself)', () => {
      // Act
      const found = messageViolations(`${HOSTILE} <https://evil.example/x|docs>`, [
        { type: 'section', text: { type: 'mrkdwn', text: '<!here> @channel' } },
        { type: 'actions', elements: [{ type: 'button', url: 'https://evil.example/' }] },
      ]);

      // Assess
      expect(found).toEqual(
        expect.arrayContaining([
          'mention <!channel>',
          'mention <@U0123ABCD>',
          'link <https://evil.example|click here>',
          'bare mention @channel',
          'button url https://evil.example/',
        ]),
      );
    });

    it('should split a message Slack refuses as msg_blocks_too_long smaller, dropping no alert', async () => {
      // Prepare
      await fake.close();
      fake = await startFakeSlack({
        token: TOKEN,
        channels: [CHANNEL],
        now: () => clock,
        blocksTextLimit: 4000,
      });
      const n = makeNotification({ count: 30 });
      for (const alert of n.alerts) alert.annotations = { summary: 'x'.repeat(300) };

      // Act
      const errors = await deliverWithRetries(sink(), delivery(n));

      // Assess
      const [top] = fake.topLevel(CHANNEL);
      const all = [top, ...fake.replies(CHANNEL, top.ts)];
      const shown = JSON.stringify(all.map((m) => m.blocks));
      for (const alert of n.alerts) expect(shown).toContain(`instance=${alert.labels.instance}`);
      expect(errors.every((e) => !e.message.includes('msg_blocks_too_long'))).toBe(true);
      expect(all.length).toBeGreaterThan(1);
    });

    it('should edit the group message and reply in its thread as alerts come and go, then turn it resolved', async () => {
      // Prepare
      const s = sink();

      // Act
      await s.deliver(delivery(group(['firing']), {}, '2026-11-21T12:00:00Z'));
      clock += 10_000;
      await s.deliver(delivery(group(['firing', 'firing']), {}, '2026-11-21T12:00:10Z'));
      clock += 10_000;
      await s.deliver(delivery(group(['resolved', 'firing']), {}, '2026-11-21T12:00:20Z'));
      clock += 10_000;
      await s.deliver(delivery(group(['resolved', 'resolved']), {}, '2026-11-21T12:00:30Z'));

      // Assess
      const top = fake.topLevel(CHANNEL);
      expect(top).toHaveLength(1);
      expect(top[0].edits).toHaveLength(3);
      expect(top[0].text).toMatch(/^\[RESOLVED\] HighLatency/);
      expect(JSON.stringify(top[0].blocks)).toContain(':white_check_mark:');
      expect(JSON.stringify(top[0].blocks)).toContain('Resolved <!date^');
      const replies = fake.replies(CHANNEL, top[0].ts).map((m) => m.text);
      expect(replies).toEqual([
        ':red_circle: 1 new alert: instance=web-1:9100. Now 2 firing.',
        ':large_green_circle: 1 alert resolved: instance=web-0:9100. Now 1 firing.',
        ':white_check_mark: All 2 alerts resolved at 2026-11-21 11:30 UTC.',
      ]);
    });

    it('should start a new message when a resolved group fires again, or edit the old one when told not to', async () => {
      // Prepare
      const s = sink();
      await s.deliver(delivery(group(['firing']), {}, '2026-11-21T12:00:00Z'));
      await s.deliver(delivery(group(['resolved']), {}, '2026-11-21T12:00:10Z'));
      clock += 10_000;

      // Act
      await s.deliver(delivery(group(['firing'], {}), {}, '2026-11-21T12:10:00Z'));
      const other = memoryState();
      const keepOne = (n: Notification, at: string) =>
        s.deliver(
          slackDelivery(destination({ name: 'keep', newMessageAfterResolve: false }), n, {
            state: other,
            secrets: { SLACK_TOKEN: TOKEN },
            receivedAt: at,
          }),
        );
      clock += 10_000;
      const before = fake.topLevel(CHANNEL).length;
      await keepOne(group(['firing']), '2026-11-21T12:20:00Z');
      await keepOne(group(['resolved']), '2026-11-21T12:20:10Z');
      await keepOne(group(['firing']), '2026-11-21T12:30:00Z');

      // Assess
      expect(before).toBe(2);
      expect(fake.topLevel(CHANNEL)).toHaveLength(3);
    });

    it('should only edit with update: edit, and only reply with update: thread', async () => {
      // Prepare
      const s = sink();
      const editOnly = destination({ name: 'edit-only', update: 'edit' });
      const threadOnly = destination({ name: 'thread-only', update: 'thread' });
      const send = (d: SlackDestination, n: Notification, at: string) =>
        s.deliver(slackDelivery(d, n, { state, secrets: { SLACK_TOKEN: TOKEN }, receivedAt: at }));

      // Act
      await send(editOnly, group(['firing']), '2026-11-21T12:00:00Z');
      await send(editOnly, group(['resolved']), '2026-11-21T12:00:10Z');
      clock += 10_000;
      await send(threadOnly, group(['firing']), '2026-11-21T12:00:00Z');
      await send(threadOnly, group(['resolved']), '2026-11-21T12:00:10Z');

      // Assess
      const [edited, threaded] = fake.topLevel(CHANNEL);
      expect(edited.edits).toHaveLength(1);
      expect(fake.replies(CHANNEL, edited.ts)).toHaveLength(0);
      expect(threaded.edits).toHaveLength(0);
      expect(fake.replies(CHANNEL, threaded.ts)).toHaveLength(1);
    });

    it('should say "still firing" in the thread for a repeat_interval reminder', async () => {
      // Prepare
      const s = sink();
      await s.deliver(delivery(group(['firing']), {}, '2026-11-21T12:00:00Z'));

      // Act: the same notification four hours later (same idempotency key).
      clock += 4 * 3600_000;
      await s.deliver(delivery(group(['firing']), {}, '2026-11-21T16:00:00Z'));

      // Assess
      const [main] = fake.topLevel(CHANNEL);
      expect(fake.replies(CHANNEL, main.ts).map((m) => m.text)).toEqual([':repeat: Still firing: 1 alert.']);
    });

    it('should start a new message in the new channel when the destination moved', async () => {
      // Prepare
      const s = sink();
      const other = 'C0OTHERCHN1';
      const moved = await startFakeSlack({ token: TOKEN, channels: [CHANNEL, other], now: () => clock });
      const send = (channel: string, n: Notification, at: string) =>
        s.deliver(
          slackDelivery(destination({ channel, baseUrl: moved.apiUrl }), n, {
            state,
            secrets: { SLACK_TOKEN: TOKEN },
            receivedAt: at,
          }),
        );

      // Act
      await send(CHANNEL, group(['firing']), '2026-11-21T12:00:00Z');
      await send(other, group(['resolved']), '2026-11-21T12:00:10Z');
      await moved.close();

      // Assess
      expect(moved.topLevel(CHANNEL).map((m) => m.edits.length)).toEqual([0]);
      expect(moved.topLevel(other).map((m) => m.text?.slice(0, 10))).toEqual(['[RESOLVED]']);
    });

    it('should put the later parts of a notification the relay split into the thread of the group message', async () => {
      // Prepare: ingest split one notification of 4 alerts into 2 queue messages.
      const s = sink();
      const whole = group(['firing', 'firing', 'firing', 'firing']);
      const part = (index: number) =>
        slackDelivery(
          destination(),
          { ...whole, alerts: whole.alerts.slice((index - 1) * 2, index * 2) },
          {
            state,
            secrets: { SLACK_TOKEN: TOKEN },
            part: { index, count: 2 },
          },
        );

      // Act
      await s.deliver(part(1));
      await s.deliver(part(2));

      // Assess
      const top = fake.topLevel(CHANNEL);
      expect(top).toHaveLength(1);
      expect(JSON.stringify(top[0].blocks)).toContain('Part 1 of 2');
      const [reply] = fake.replies(CHANNEL, top[0].ts);
      expect(JSON.stringify(reply.blocks)).toContain('instance=web-2:9100');
      expect(JSON.stringify(reply.blocks)).toContain('instance=web-3:9100');
    });

    it('should post a new message when someone deleted the group message', async () => {
      // Prepare
      const s = sink();
      await s.deliver(delivery(group(['firing']), {}, '2026-11-21T12:00:00Z'));
      fake.messages.splice(0, 1);

      // Act
      await s.deliver(delivery(group(['resolved']), {}, '2026-11-21T12:00:10Z'));

      // Assess
      const top = fake.topLevel(CHANNEL);
      expect(top).toHaveLength(1);
      expect(top[0].text).toMatch(/^\[RESOLVED\]/);
    });
  });

  describe('Exactly once', () => {
    it('should create nothing twice when the same delivery comes again (SQS redelivery)', async () => {
      // Prepare
      const s = sink({ renderGraph: pngGraph });
      const d = delivery(group(['firing']), { graph: { prometheusUrl: 'http://prometheus:9090' } });

      // Act
      await s.deliver(d);
      await s.deliver({ ...d, attempt: 2 });

      // Assess
      expect(fake.topLevel(CHANNEL)).toHaveLength(1);
      expect(fake.messages).toHaveLength(2);
      expect([...fake.files.values()].filter((f) => f.completed)).toHaveLength(1);
    });

    it('should find the message of a post whose answer was lost instead of posting it again', async () => {
      // Prepare
      const s = sink();
      fake.breakAfter('chat.postMessage');
      const d = delivery(group(['firing']));

      // Act
      const first = await s.deliver(d).catch((e: unknown) => e);
      await s.deliver({ ...d, attempt: 2 });

      // Assess
      expect(first).toBeInstanceOf(RetryableError);
      expect(fake.topLevel(CHANNEL)).toHaveLength(1);
      expect(fake.requests.map((r) => r.path)).toContain('/api/conversations.history');
    });

    it('should find a lost thread reply and a lost upload in the thread', async () => {
      // Prepare
      const s = sink({ renderGraph: pngGraph });
      const graph = { prometheusUrl: 'http://prometheus:9090' };
      await s.deliver(delivery(group(['firing']), { graph }, '2026-11-21T12:00:00Z'));
      fake.breakAfter('chat.postMessage');
      const later = delivery(group(['firing', 'firing']), { graph }, '2026-11-21T12:00:10Z');

      // Act
      clock += 10_000;
      const lost = await s.deliver(later).catch((e: unknown) => e);
      await s.deliver({ ...later, attempt: 2 });

      // Assess
      expect(lost).toBeInstanceOf(RetryableError);
      const [main] = fake.topLevel(CHANNEL);
      expect(fake.replies(CHANNEL, main.ts).filter((m) => m.text?.includes('new alert'))).toHaveLength(1);
    });

    it('should finish a lost file upload once', async () => {
      // Prepare
      const s = sink({ renderGraph: pngGraph });
      fake.breakAfter('files.completeUploadExternal');
      const d = delivery(group(['firing']), { graph: { prometheusUrl: 'http://prometheus:9090' } });

      // Act
      const lost = await s.deliver(d).catch((e: unknown) => e);
      await s.deliver({ ...d, attempt: 2 });

      // Assess
      expect(lost).toBeInstanceOf(RetryableError);
      const [main] = fake.topLevel(CHANNEL);
      expect(fake.replies(CHANNEL, main.ts).filter((m) => m.files)).toHaveLength(1);
    });

    it('should end with the same Slack state whichever state-store write the delivery dies at', async () => {
      // Prepare: the uninterrupted sequence (first firing, then a change) as the reference.
      const graph = { prometheusUrl: 'http://prometheus:9090' };
      const run = async (failAtWrite: number | undefined) => {
        const slack = await startFakeSlack({ token: TOKEN, channels: [CHANNEL], now: () => clock });
        const store = memoryState();
        const s = createSlackSink({ now: () => clock, renderGraph: pngGraph });
        const send = async (n: Notification, at: string) => {
          const d = slackDelivery(destination({ baseUrl: slack.apiUrl, graph }), n, {
            state: store,
            secrets: { SLACK_TOKEN: TOKEN },
            receivedAt: at,
          });
          for (let attempt = 1; attempt <= 3; attempt++) {
            try {
              return await s.deliver({ ...d, attempt });
            } catch {
              store.failAtWrite = undefined;
              clock += 2000;
            }
          }
          throw new Error('not delivered');
        };
        store.failAtWrite = failAtWrite;
        await send(group(['firing']), '2026-11-21T12:00:00Z');
        clock += 5000;
        await send(group(['firing', 'firing']), '2026-11-21T12:00:10Z');
        const top = slack.topLevel(CHANNEL);
        const shape = {
          top: top.length,
          replies: top.flatMap((m) => slack.replies(CHANNEL, m.ts)).map((m) => (m.files ? 'file' : m.text)),
          // A repeated chat.update with the same content is invisible: compare what people see.
          edited: top.map((m) => m.edits.length > 0),
          final: top.map((m) => JSON.stringify([m.text, m.blocks])),
        };
        const writes = store.writes;
        await slack.close();
        return { shape, writes };
      };
      const reference = await run(undefined);

      // Act + Assess: die at every write in turn.
      for (let k = 1; k <= reference.writes; k++) {
        const interrupted = await run(k);
        expect({ k, ...interrupted.shape }).toEqual({ k, ...reference.shape });
      }
      expect(reference.shape.top).toBe(1);
    });
  });

  describe('Graphs', () => {
    it('should upload the graph PNG into the thread of a new firing message with the two-step upload', async () => {
      // Prepare
      const d = delivery(group(['firing']), { graph: { prometheusUrl: 'http://prometheus:9090' } });

      // Act
      await sink({ renderGraph: pngGraph }).deliver(d);

      // Assess
      const [main] = fake.topLevel(CHANNEL);
      const [share] = fake.replies(CHANNEL, main.ts);
      const file = fake.files.get(share.files?.[0].id as string);
      expect(file?.completed).toBe(true);
      expect(Buffer.compare(file?.bytes as Buffer, Buffer.from(PNG))).toBe(0);
      expect(share.files?.[0].title).toBe('HighLatency graph');
      expect(fake.requests.map((r) => r.path.replace(/\/F\d+$/, '/F'))).toEqual([
        '/api/chat.postMessage',
        '/api/files.getUploadURLExternal',
        '/upload/F',
        '/api/files.completeUploadExternal',
      ]);
    });

    it('should send the message and log a skipped graph when the graph has no data', async () => {
      // Prepare
      const logger = captureLogger();
      const counted: string[] = [];
      const d = {
        ...delivery(group(['firing']), { graph: { prometheusUrl: 'http://prometheus:9090' } }),
        logger,
        count: (name: string) => {
          counted.push(name);
        },
      };

      // Act
      await sink({
        renderGraph: async () => ({ skipped: 'the query returned no series', reason: 'no-data' }),
      }).deliver(d);

      // Assess
      expect(fake.topLevel(CHANNEL)).toHaveLength(1);
      expect(fake.files.size).toBe(0);
      expect(counted).toEqual(['GraphsSkipped']);
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          message: 'slack graph skipped',
          extra: expect.objectContaining({ reason: 'no-data', metric: 'GraphsSkipped' }),
        }),
      );
    });

    it('should not dead-letter an alert because uploads are disabled in the workspace', async () => {
      // Prepare
      fake.failNext('files.getUploadURLExternal', {
        status: 200,
        body: { ok: false, error: 'file_uploads_disabled' },
      });
      const d = delivery(group(['firing']), { graph: { prometheusUrl: 'http://prometheus:9090' } });

      // Act
      await sink({ renderGraph: pngGraph }).deliver(d);

      // Assess
      expect(fake.topLevel(CHANNEL)).toHaveLength(1);
      expect([...fake.files.values()].filter((f) => f.completed)).toHaveLength(0);
    });
  });

  describe('Errors', () => {
    it.each<[string, { token?: string; channel?: string }, string]>([
      ['a wrong token', { token: 'xoxb-wrong' }, 'invalid_auth'],
      ['an unknown channel', { channel: 'C0UNKNOWN1' }, 'channel_not_found'],
      ['a channel the app is not in', { channel: 'C0NOTINCHN' }, 'not_in_channel'],
      ['an archived channel', { channel: 'C0ARCHIVED' }, 'is_archived'],
    ])(
      'should fail permanently for %s, naming the error and never the token',
      async (_name, change, code) => {
        // Prepare
        const d = slackDelivery(
          destination(change.channel ? { channel: change.channel } : {}),
          group(['firing']),
          {
            state,
            secrets: { SLACK_TOKEN: change.token ?? TOKEN },
          },
        );

        // Act
        const error = await sink()
          .deliver(d)
          .catch((e: unknown) => e);

        // Assess
        expect(error).toBeInstanceOf(PermanentError);
        expect((error as Error).message).toContain(code);
        expect((error as Error).message).not.toContain('xoxb');
      },
    );

    it('should fail permanently when Slack refuses the blocks', async () => {
      // Prepare
      fake.failNext('chat.postMessage', { status: 200, body: { ok: false, error: 'invalid_blocks' } });

      // Act
      const error = await sink()
        .deliver(delivery(group(['firing'])))
        .catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toContain('invalid_blocks');
    });

    it.each([
      ['ok:false internal_error', { status: 200, body: { ok: false, error: 'internal_error' } }],
      ['ok:false fatal_error', { status: 200, body: { ok: false, error: 'fatal_error' } }],
    ])('should retry after %s', async (_name, answer) => {
      // Prepare
      fake.failNext('chat.postMessage', answer);

      // Act
      const error = await sink()
        .deliver(delivery(group(['firing'])))
        .catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(RetryableError);
    });
  });

  describe('Rate', () => {
    it('should pace a burst of groups to about one message per second per channel without losing any', async () => {
      // Prepare: 8 groups at once into one channel.
      const s = sink();
      const notifications = Array.from({ length: 8 }, (_, i) =>
        group(['firing'], { groupKey: `{}:{alertname="A${i}"}`, groupLabels: { alertname: `A${i}` } }),
      );

      // Act: all arrive at once; each one handed back comes again when the queue says.
      const t0 = clock;
      const waiting: { d: Delivery<SlackDestination>; wait: number }[] = [];
      for (const n of notifications) {
        const d = delivery(n);
        const error = await s.deliver(d).catch((e: unknown) => e);
        if (error instanceof RetryableError) waiting.push({ d, wait: error.retryAfterSeconds ?? 0 });
        else if (error) throw error;
      }
      for (const { d, wait } of waiting) {
        clock = t0 + wait * 1000;
        await s.deliver({ ...d, attempt: 2 });
      }

      // Assess: 3 at once, then one per second, each waiting once, and Slack never said 429.
      expect(waiting.map((w) => w.wait)).toEqual([1, 2, 3, 4, 5]);
      expect(fake.topLevel(CHANNEL)).toHaveLength(8);
      expect(fake.rateLimited).toBe(0);
    });

    it('should lose nothing to the 429s of a Slack stricter than our pacing', async () => {
      // Prepare: our pacing allows 10 at once; the fake allows 3.
      const s = sink({ pace: { burst: 10, intervalMs: 100 } });
      const notifications = Array.from({ length: 6 }, (_, i) =>
        group(['firing'], { groupKey: `{}:{alertname="B${i}"}`, groupLabels: { alertname: `B${i}` } }),
      );

      // Act
      const errors = [];
      for (const n of notifications) errors.push(...(await deliverWithRetries(s, delivery(n))));

      // Assess
      expect(fake.rateLimited).toBeGreaterThan(0);
      expect(errors.some((e) => e.statusCode === 429)).toBe(true);
      expect(fake.topLevel(CHANNEL)).toHaveLength(6);
    });
  });
});

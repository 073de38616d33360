import { describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import type { ChatPrevious } from '../../../lib/chat/adapter.ts';
import { stepJournal } from '../../../lib/delivery/journal.ts';
import type { ListedMessage } from '../../../lib/sinks/slack/api.ts';
import { slackChannel } from '../../../lib/sinks/slack/channel.ts';
import {
  describeChange,
  fromSlackGroupRecord,
  type SlackGroupRecord,
  slackUpdates,
} from '../../../lib/sinks/slack/lifecycle.ts';
import { type SlackDestination, slackAdapter } from '../../../lib/sinks/slack/slack.ts';
import { makeNotification } from '../../support/notifications.ts';
import { captureLogger, memoryState, slackDelivery } from '../../support/slack-delivery.ts';

function record(status: 'firing' | 'resolved', alerts: ChatPrevious['alerts']): ChatPrevious {
  return { status, alerts };
}

function withStatuses(statuses: ('firing' | 'resolved')[]): Notification {
  const n = makeNotification({ count: statuses.length });
  n.alerts.forEach((alert, i) => {
    alert.status = statuses[i];
  });
  n.status = statuses.includes('firing') ? 'firing' : 'resolved';
  n.commonLabels = { alertname: 'HighLatency', severity: 'critical' };
  return n;
}

describe('Function: slackUpdates', () => {
  it('should edit and reply for a later notification of the group by default', () => {
    expect(slackUpdates({})).toEqual({ edit: true, reply: true, newAfterResolve: true });
  });

  it('should only edit with update: edit and only reply with update: thread', () => {
    expect(slackUpdates({ update: 'edit' })).toMatchObject({ edit: true, reply: false });
    expect(slackUpdates({ update: 'thread' })).toMatchObject({ edit: false, reply: true });
    expect(slackUpdates({ update: 'both' })).toMatchObject({ edit: true, reply: true });
  });

  it('should start a new message when a resolved group fires again, unless told to reuse it', () => {
    expect(slackUpdates({}).newAfterResolve).toBe(true);
    expect(slackUpdates({ newMessageAfterResolve: false }).newAfterResolve).toBe(false);
  });
});

describe('Function: fromSlackGroupRecord', () => {
  it('should read the record Slack kept before the chat stage as its one message, in its channel, with each alert status', () => {
    // Prepare
    const old: SlackGroupRecord = {
      channel: 'C0123456789',
      ts: '1763722800.000100',
      status: 'firing',
      alerts: { f000000000000000: 'firing' },
      postedAt: '2026-11-21T11:00:00.000Z',
      updatedAt: '2026-11-21T11:00:00.000Z',
    };

    // Act
    const read = fromSlackGroupRecord(old);

    // Assess
    expect(read).toEqual({
      messages: ['1763722800.000100'],
      where: 'C0123456789',
      status: 'firing',
      alerts: { f000000000000000: 'firing' },
      updatedAt: '2026-11-21T11:00:00.000Z',
    });
  });

  it('should leave a record of the stage’s own shape to the stage', () => {
    expect(fromSlackGroupRecord({ messages: ['1.000100'], where: 'C0123456789', status: 'firing' })).toBe(
      undefined,
    );
  });
});

describe('Function: describeChange', () => {
  it('should say what a later notification changed: a new alert', () => {
    expect(
      describeChange(record('firing', { f000000000000000: 'firing' }), withStatuses(['firing', 'firing'])),
    ).toBe(':red_circle: 1 new alert: instance=web-1:9100. Now 2 firing.');
  });

  it('should say that all resolved, and that a resolved group firing again has a new alert', () => {
    expect(
      describeChange(record('firing', { f000000000000000: 'firing' }), withStatuses(['resolved'])),
    ).toMatch(/^:white_check_mark: All 1 alert resolved/);
    expect(
      describeChange(record('resolved', { f000000000000000: 'resolved' }), withStatuses(['firing'])),
    ).toBe(':red_circle: 1 new alert: instance=web-0:9100. Now 1 firing.');
  });

  it('should name new and resolved alerts together', () => {
    // Prepare
    const group = record('firing', { f000000000000000: 'firing' });

    // Act
    const text = describeChange(group, withStatuses(['resolved', 'firing']));

    // Assess
    expect(text).toBe(
      ':red_circle: 1 new alert: instance=web-1:9100. :large_green_circle: 1 alert resolved: instance=web-0:9100. Now 1 firing.',
    );
  });

  it('should say "still firing" when nothing changed (a repeat_interval reminder)', () => {
    expect(describeChange(record('firing', { f000000000000000: 'firing' }), withStatuses(['firing']))).toBe(
      ':repeat: Still firing: 1 alert.',
    );
  });

  it('should say nothing for a resolved group told again that it resolved', () => {
    expect(
      describeChange(record('resolved', { f000000000000000: 'resolved' }), withStatuses(['resolved'])),
    ).toBe(undefined);
  });

  it('should list at most five alerts by name', () => {
    // Prepare
    const group = record('firing', {});

    // Act
    const text = describeChange(group, withStatuses(Array(8).fill('firing')));

    // Assess
    expect(text).toContain('8 new alerts');
    expect(text).toContain('and 3 more');
  });
});

describe('Function: slackAdapter().after (the graph)', () => {
  const destination: SlackDestination = {
    name: 'ops',
    sink: 'slack',
    tokenSecret: 'SLACK_TOKEN',
    channel: 'C0123456789',
    graph: { prometheusUrl: 'http://prometheus:9090' },
  };

  /** Runs `after` for a delivery of `notification` with a scripted Web API; resolves with the Slack calls made. */
  async function graphCalls(notification: Notification, started: boolean, target = destination) {
    const calls: string[] = [];
    const thread: ListedMessage[] = [];
    const adapter = slackAdapter({
      now: () => Date.parse('2026-11-21T12:00:00Z'),
      renderGraph: async () => ({
        png: new Uint8Array([1]),
        expr: 'latency > 1',
        query: 'latency',
        series: 1,
        title: '',
      }),
    });
    const state = memoryState();
    const delivery = slackDelivery(target, notification, { state, logger: captureLogger() });
    const channel = slackChannel({
      api: {
        async call(method) {
          calls.push(method);
          return { ok: true, file_id: 'F1', upload_url: 'https://files.slack.test/upload/F1' };
        },
        async uploadBytes() {
          calls.push('upload');
        },
        async recentMessages() {
          return { messages: thread };
        },
      },
      channel: target.channel,
      pace: { burst: 1, intervalMs: 1000 },
      logger: captureLogger(),
    });
    await adapter.after?.({
      delivery,
      channel,
      thread: '1763722800.000100',
      started,
      journal: stepJournal(delivery),
      paced: async () => undefined,
    });
    return calls;
  }

  it('should upload a graph into the thread of a new firing message', async () => {
    expect(await graphCalls(withStatuses(['firing']), true)).toEqual([
      'files.getUploadURLExternal',
      'upload',
      'files.completeUploadExternal',
    ]);
  });

  it('should draw no graph for a resolved group it never saw, a later notification, or a destination without graph', async () => {
    expect(await graphCalls(withStatuses(['resolved']), true)).toEqual([]);
    expect(await graphCalls(withStatuses(['firing']), false)).toEqual([]);
    expect(await graphCalls(withStatuses(['firing']), true, { ...destination, graph: undefined })).toEqual(
      [],
    );
  });
});

import { describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import {
  describeChange,
  type GroupRecord,
  nextGroupRecord,
  type PlanOptions,
  planDelivery,
} from '../../../lib/sinks/slack/lifecycle.ts';
import { makeNotification } from '../../support/notifications.ts';

const BOTH: PlanOptions = { update: 'both', newMessageAfterResolve: true, graph: true };

function record(status: 'firing' | 'resolved', alerts: GroupRecord['alerts']): GroupRecord {
  return {
    channel: 'C0123456789',
    ts: '1763722800.000100',
    status,
    alerts,
    postedAt: '2026-11-21T11:00:00.000Z',
    updatedAt: '2026-11-21T11:00:00.000Z',
  };
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

describe('Function: planDelivery', () => {
  it('should post a new message with a graph for the first notification of a group', () => {
    expect(planDelivery(undefined, withStatuses(['firing']), BOTH)).toEqual({ message: 'new', graph: true });
  });

  it('should post a resolved group it never saw, without a graph', () => {
    expect(planDelivery(undefined, withStatuses(['resolved']), BOTH)).toEqual({
      message: 'new',
      graph: false,
    });
  });

  it('should edit and reply for a later notification of the group', () => {
    // Prepare
    const group = record('firing', { f000000000000000: 'firing' });

    // Act
    const plan = planDelivery(group, withStatuses(['firing', 'firing']), BOTH);

    // Assess
    expect(plan).toEqual({
      message: 'edit',
      target: { channel: 'C0123456789', ts: '1763722800.000100' },
      reply: ':red_circle: 1 new alert: instance=web-1:9100. Now 2 firing.',
      graph: false,
    });
  });

  it('should only edit with update: edit and only reply with update: thread', () => {
    // Prepare
    const group = record('firing', { f000000000000000: 'firing' });
    const resolved = withStatuses(['resolved']);

    // Act
    const edit = planDelivery(group, resolved, { ...BOTH, update: 'edit' });
    const thread = planDelivery(group, resolved, { ...BOTH, update: 'thread' });

    // Assess
    expect(edit.message).toBe('edit');
    expect(edit.reply).toBeUndefined();
    expect(thread.message).toBe('none');
    expect(thread.reply).toMatch(/^:white_check_mark: All 1 alert resolved/);
  });

  it('should start a new message when a resolved group fires again, unless told to reuse it', () => {
    // Prepare
    const group = record('resolved', { f000000000000000: 'resolved' });
    const firing = withStatuses(['firing']);

    // Act
    const fresh = planDelivery(group, firing, BOTH);
    const reused = planDelivery(group, firing, { ...BOTH, newMessageAfterResolve: false });

    // Assess
    expect(fresh.message).toBe('new');
    expect(reused.message).toBe('edit');
    expect(reused.reply).toBe(':red_circle: 1 new alert: instance=web-0:9100. Now 1 firing.');
  });
});

describe('Function: describeChange', () => {
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

describe('Function: nextGroupRecord', () => {
  it('should keep when the message was first posted and record each alert status', () => {
    // Prepare
    const previous = record('firing', { f000000000000000: 'firing' });

    // Act
    const next = nextGroupRecord(
      previous,
      withStatuses(['resolved', 'firing']),
      { channel: previous.channel, ts: previous.ts },
      new Date('2026-11-21T12:00:00Z'),
    );

    // Assess
    expect(next.postedAt).toBe(previous.postedAt);
    expect(next.updatedAt).toBe('2026-11-21T12:00:00.000Z');
    expect(next.alerts).toEqual({ f000000000000000: 'resolved', f000000000000001: 'firing' });
  });
});

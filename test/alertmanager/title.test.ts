import { describe, expect, it } from 'vitest';
import { alertIdentity, alertnameOf, defaultTitle, subject } from '../../lib/alertmanager/title.ts';
import { makeNotification } from '../support/notifications.ts';

describe('Function: defaultTitle', () => {
  it("should write Alertmanager's default title: the firing count, or RESOLVED, and the alertname", () => {
    // Prepare
    const firing = makeNotification({ count: 3 });
    firing.alerts[2] = { ...firing.alerts[2], status: 'resolved' };
    const resolved = makeNotification({ count: 2, status: 'resolved' });

    // Act & Assess
    expect(defaultTitle(firing)).toBe('[FIRING:2] HighLatency');
    expect(defaultTitle(resolved)).toBe('[RESOLVED] HighLatency');
  });
});

describe('Function: subject', () => {
  it("should write Alertmanager's __subject: group values then other common values, alertname first", () => {
    // Prepare
    const firing = makeNotification({ count: 3, labels: () => ({ Team: 'core', zone: 'eu west' }) });
    firing.alerts[2] = { ...firing.alerts[2], status: 'resolved' };
    firing.groupLabels = { alertname: 'HighLatency', Team: 'core' };
    firing.commonLabels = { zone: 'eu west', severity: 'critical', Team: 'core', alertname: 'HighLatency' };

    // Act
    const title = subject(firing);

    // Assess
    expect(title).toBe('[FIRING:2] HighLatency core (critical eu west)');
  });

  it('should end with a space when no common label is left for the brackets, as Alertmanager does', () => {
    // Prepare
    const resolved = makeNotification({ count: 1, status: 'resolved' });
    resolved.groupLabels = { Team: 'core', alertname: 'HighLatency' };
    resolved.commonLabels = { Team: 'core', alertname: 'HighLatency' };

    // Act
    const title = subject(resolved);

    // Assess
    expect(title).toBe('[RESOLVED] HighLatency core ');
  });

  it('should put alertname first among the bracketed values when it is not a group label', () => {
    // Prepare
    const n = makeNotification({ count: 1 });
    n.groupLabels = { Team: 'core' };

    // Act
    const title = subject(n, { Team: 'core', zone: 'b', alertname: 'HighLatency' });

    // Assess
    expect(title).toBe('[FIRING:1] core (HighLatency b)');
  });
});

describe('Function: alertnameOf', () => {
  it('should take the group label, then the common label, then the first alert, then "alert"', () => {
    // Prepare
    const n = makeNotification({});
    const bare = { ...n, groupLabels: {}, commonLabels: {} };

    // Act & Assess
    expect(alertnameOf({ ...n, groupLabels: { alertname: 'Group' } })).toBe('Group');
    expect(alertnameOf({ ...n, groupLabels: {}, commonLabels: { alertname: 'Common' } })).toBe('Common');
    expect(alertnameOf(bare)).toBe('HighLatency');
    expect(alertnameOf({ ...bare, alerts: [] })).toBe('alert');
  });
});

describe('Function: alertIdentity', () => {
  it('should name an alert by the labels it does not share with the group, or by its alertname', () => {
    // Prepare
    const n = makeNotification({ count: 2 });
    n.commonLabels = { alertname: 'HighLatency', severity: 'critical' };
    const alone = makeNotification({ count: 1 });
    alone.commonLabels = { ...alone.alerts[0].labels };

    // Act & Assess
    expect(alertIdentity(n.alerts[1], n)).toBe('instance=web-1:9100');
    expect(alertIdentity(alone.alerts[0], alone)).toBe('HighLatency');
  });

  it("should list the alert's own labels in Alertmanager's order, whatever order they came in", () => {
    // Prepare
    const n = makeNotification({ count: 1 });
    n.commonLabels = {};
    n.alerts[0] = { ...n.alerts[0], labels: { zone: 'b', Team: 'core', alertname: 'HighLatency' } };

    // Act
    const identity = alertIdentity(n.alerts[0], n);

    // Assess
    expect(identity).toBe('alertname=HighLatency, Team=core, zone=b');
  });
});

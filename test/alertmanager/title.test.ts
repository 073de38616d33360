import { describe, expect, it } from 'vitest';
import { alertIdentity, alertnameOf, defaultTitle } from '../../lib/alertmanager/title.ts';
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
});

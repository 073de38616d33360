import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import type { PagerDutyDestination } from '../../../lib/sinks/pagerduty/config.ts';
import {
  alertDedupKey,
  alertEvent,
  eventBytes,
  fitEvent,
  groupDedupKey,
  groupEvent,
  MAX_EVENT_BYTES,
  severityOf,
} from '../../../lib/sinks/pagerduty/event.ts';
import { makeNotification } from '../../support/notifications.ts';

const KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';
const DEST: PagerDutyDestination = { name: 'pager', sink: 'pagerduty', routingKeySecret: 'PD_ROUTING_KEY' };

describe('PagerDuty events', () => {
  describe('Method: groupDedupKey', () => {
    it("should be the lowercase hex SHA-256 of the groupKey, as Alertmanager's notify.Key.Hash", () => {
      // Prepare
      const groupKey = '{}/{severity="page"}:{alertname="HighLatency"}';

      // Act
      const key = groupDedupKey(groupKey);

      // Assess
      expect(key).toBe(createHash('sha256').update(groupKey).digest('hex'));
      expect(key).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe('Method: groupEvent', () => {
    it('should trigger with the group dedup_key, counts, every alert in custom_details and links', () => {
      // Prepare
      const notification = makeNotification({
        count: 2,
        labels: (i) => ({ job: 'api', severity: i === 0 ? 'warning' : 'critical' }),
      });
      notification.alerts[0].annotations.runbook_url = 'https://runbooks/latency';

      // Act
      const event = groupEvent(notification, DEST, KEY);

      // Assess
      expect(event.event_action).toBe('trigger');
      expect(event.dedup_key).toBe(groupDedupKey(notification.groupKey));
      expect(event.payload).toMatchObject({ severity: 'critical', component: 'api', class: 'HighLatency' });
      expect(event.payload?.summary).toMatch(/^\[FIRING:2\] HighLatency/);
      expect(event.payload?.source).toBe('2 instances: web-0:9100, web-1:9100');
      expect(event.payload?.timestamp).toBe('2026-11-21T11:00:00.000Z');
      const details = event.payload?.custom_details as { firing: unknown[]; num_firing: number };
      expect(details.num_firing).toBe(2);
      expect(details.firing).toHaveLength(2);
      expect(event.links?.map((l) => l.text)).toEqual([
        'Silence this group in Alertmanager',
        'Graph (Prometheus)',
        'Runbook',
      ]);
    });

    it('should trigger again (not resolve) while some alerts of the group still fire', () => {
      // Prepare
      const notification = makeNotification({ count: 2 });
      notification.alerts[0] = {
        ...notification.alerts[0],
        status: 'resolved',
        endsAt: '2026-11-21T11:10:00Z',
      };

      // Act
      const event = groupEvent(notification, DEST, KEY);

      // Assess
      expect(event.event_action).toBe('trigger');
      expect(event.payload?.custom_details).toMatchObject({ num_firing: 1, num_resolved: 1 });
    });

    it('should resolve the same dedup_key when the group is resolved', () => {
      // Prepare
      const firing = makeNotification({ count: 2 });
      const resolved = makeNotification({ count: 2, status: 'resolved' });

      // Act
      const event = groupEvent(resolved, DEST, KEY);

      // Assess
      expect(event).toEqual({
        routing_key: KEY,
        event_action: 'resolve',
        dedup_key: groupEvent(firing, DEST, KEY).dedup_key,
      });
    });

    it('should say in the summary and details when Alertmanager truncated alerts, and which part this is', () => {
      // Prepare
      const notification: Notification = { ...makeNotification({ count: 1 }), truncatedAlerts: 7 };

      // Act
      const event = groupEvent(notification, DEST, KEY, { index: 2, count: 3 });

      // Assess
      expect(event.payload?.summary).toContain('+7 alert(s) cut by Alertmanager');
      expect(event.payload?.summary).toContain('part 2/3');
      expect(event.payload?.custom_details).toMatchObject({ truncated_alerts: 7 });
      expect(String(event.payload?.custom_details?.notification_part)).toMatch(/^2 of 3/);
    });

    it('should not resolve on a part of a split notification that holds only resolved alerts', () => {
      // Prepare: the group still fires (notification status), this part has only resolved alerts
      const notification = makeNotification({ count: 2, status: 'resolved' });
      notification.status = 'firing';

      // Act
      const event = groupEvent(notification, DEST, KEY, { index: 2, count: 2 });

      // Assess
      expect(event.event_action).toBe('trigger');
      expect(event.payload?.custom_details).toMatchObject({ num_firing: 0, num_resolved: 2 });
    });

    it('should cut the summary to 1024 characters', () => {
      // Prepare
      const notification = makeNotification({});
      notification.commonAnnotations = { summary: '✓'.repeat(5000) };

      // Act
      const event = groupEvent(notification, DEST, KEY);

      // Assess
      expect(Array.from(event.payload?.summary ?? '')).toHaveLength(1024);
      expect(event.payload?.summary.endsWith('…')).toBe(true);
    });
  });

  describe('Method: fitEvent', () => {
    it('should keep a huge group under 512 KB by trimming details, never by dropping the trigger', () => {
      // Prepare
      const notification = makeNotification({
        count: 600,
        labels: (i) => ({ pod: `pod-${i}-${'x'.repeat(200)}` }),
      });
      for (const alert of notification.alerts) alert.annotations.description = 'd'.repeat(2000);

      // Act
      const event = groupEvent(notification, DEST, KEY);

      // Assess
      expect(eventBytes(event)).toBeLessThanOrEqual(MAX_EVENT_BYTES);
      expect(event.event_action).toBe('trigger');
      expect(event.payload?.custom_details?.num_firing).toBe(600);
      expect(String(event.payload?.custom_details?.trimmed)).toMatch(/512 KB/);
      expect(event.payload?.summary).toMatch(/^\[FIRING:600\]/);
    });

    it('should keep as much as fits: long annotations are cut before alerts lose their labels', () => {
      // Prepare
      const notification = makeNotification({ count: 3 });
      for (const alert of notification.alerts) alert.annotations.description = 'd'.repeat(4000);
      const full = groupEvent(notification, DEST, KEY);

      // Act
      const fitted = fitEvent({ ...full }, eventBytes(full) - 1000);

      // Assess
      const firing = fitted.payload?.custom_details?.firing as {
        labels: object;
        annotations: { description: string };
      }[];
      expect(firing).toHaveLength(3);
      expect(firing[0].labels).toEqual(notification.alerts[0].labels);
      expect(Array.from(firing[0].annotations.description)).toHaveLength(256);
    });

    it('should leave an event that fits unchanged', () => {
      // Prepare
      const event = groupEvent(makeNotification({ count: 2 }), DEST, KEY);

      // Act
      const fitted = fitEvent(event);

      // Assess
      expect(fitted).toBe(event);
    });
  });

  describe('Method: alertEvent', () => {
    it('should trigger one alert with its own dedup_key, source, severity and silence link', () => {
      // Prepare
      const notification = makeNotification({ count: 2, labels: () => ({ severity: 'warning' }) });
      const alert = notification.alerts[1];

      // Act
      const event = alertEvent(notification, alert, DEST, KEY);

      // Assess
      expect(event.dedup_key).toBe(`pager/${alert.fingerprint}`);
      expect(event.payload).toMatchObject({ source: 'web-1:9100', severity: 'warning' });
      expect(event.payload?.summary).toBe('[FIRING] HighLatency: Latency high on web-1 (web-1:9100)');
      expect(event.links?.find((l) => l.text.startsWith('Silence'))?.href).toContain(
        'instance%3D%22web-1%3A9100%22',
      );
    });

    it('should resolve a resolved alert by the same dedup_key', () => {
      // Prepare
      const notification = makeNotification({ status: 'resolved' });

      // Act
      const event = alertEvent(notification, notification.alerts[0], DEST, KEY);

      // Assess
      expect(event).toEqual({
        routing_key: KEY,
        event_action: 'resolve',
        dedup_key: `pager/${notification.alerts[0].fingerprint}`,
      });
    });

    it('should hash a dedup_key that would be over 255 characters', () => {
      // Act
      const key = alertDedupKey('d'.repeat(300), 'f00');

      // Assess
      expect(key).toMatch(/^[0-9a-f]{64}$/);
    });
  });

  describe('Method: severityOf', () => {
    it('should map label values (case-insensitively), honour overrides and fall back to the default', () => {
      // Prepare
      const custom: PagerDutyDestination = {
        ...DEST,
        severityLabel: 'prio',
        severityMap: { p1: 'critical' },
        defaultSeverity: 'warning',
      };

      // Assess
      expect(severityOf({ severity: 'CRITICAL' }, DEST)).toBe('critical');
      expect(severityOf({ severity: 'page' }, DEST)).toBe('critical');
      expect(severityOf({}, DEST)).toBe('error');
      expect(severityOf({ prio: 'p1' }, custom)).toBe('critical');
      expect(severityOf({ prio: 'p9' }, custom)).toBe('warning');
    });
  });
});

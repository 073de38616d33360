import { describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import type { IlertDestination } from '../../../lib/sinks/ilert/config.ts';
import { alertMarkdown, ilertEvent, priorityOf, prometheusBody } from '../../../lib/sinks/ilert/event.ts';
import { makeNotification } from '../../support/notifications.ts';

const DEST: IlertDestination = { name: 'oncall', sink: 'ilert', keySecret: 'ILERT_KEY', mode: 'events' };

describe('ilert events', () => {
  describe('Method: ilertEvent', () => {
    it('should make an ALERT keyed by destination and fingerprint, with priority, links and details', () => {
      // Prepare
      const notification = makeNotification({ labels: () => ({ ilert_routingkey: 'db-team' }) });
      const alert = notification.alerts[0];
      alert.annotations.runbook_url = 'https://runbooks/latency';

      // Act
      const event = ilertEvent(notification, alert, DEST, 'il1api-key');

      // Assess
      expect(event).toMatchObject({
        integrationKey: 'il1api-key',
        eventType: 'ALERT',
        alertKey: `oncall/${alert.fingerprint}`,
        priority: 'HIGH',
        routingKey: 'db-team',
        // The summary is the alert's plain-text title (also read out in SMS and calls).
        summary: '[FIRING] HighLatency: Latency high on web-0 (web-0:9100)',
      });
      expect(event.links?.map((l) => l.text)).toEqual([
        'Graph (Prometheus)',
        'Runbook',
        'Silence in Alertmanager',
      ]);
      expect(event.details).toContain('| alertname | HighLatency |');
      expect(event.customDetails).toMatchObject({ labels: alert.labels, fingerprint: alert.fingerprint });
    });

    it('should make a RESOLVE with the same alertKey and no priority for a resolved alert', () => {
      // Prepare
      const notification = makeNotification({ status: 'resolved' });

      // Act
      const event = ilertEvent(notification, notification.alerts[0], DEST, 'k');

      // Assess
      expect(event.eventType).toBe('RESOLVE');
      expect(event.alertKey).toBe(`oncall/${notification.alerts[0].fingerprint}`);
      expect(event.priority).toBeUndefined();
      expect(event.summary.startsWith('[RESOLVED]')).toBe(true);
    });

    it('should say in the details when Alertmanager truncated the group', () => {
      // Prepare
      const notification: Notification = { ...makeNotification({}), truncatedAlerts: 4 };

      // Act
      const event = ilertEvent(notification, notification.alerts[0], DEST, 'k');

      // Assess
      expect(event.details).toContain('Alertmanager left 4 more alert(s)');
      expect(event.customDetails?.truncatedAlerts).toBe(4);
    });
  });

  describe('Method: priorityOf', () => {
    it('should map severities to HIGH/LOW and leave unknown ones to the alert source', () => {
      // Assess
      expect(priorityOf({ severity: 'critical' }, DEST)).toBe('HIGH');
      expect(priorityOf({ severity: 'Warning' }, DEST)).toBe('LOW');
      expect(priorityOf({ severity: 'p3' }, DEST)).toBeUndefined();
      expect(priorityOf({ severity: 'p3' }, { ...DEST, priorityMap: { p3: 'HIGH' } })).toBe('HIGH');
    });
  });

  describe('Method: alertMarkdown', () => {
    it('should escape table cells so a label value cannot break the table', () => {
      // Prepare
      const notification = makeNotification({ labels: () => ({ query: 'a|b\nc' }) });

      // Act
      const markdown = alertMarkdown(notification, notification.alerts[0]);

      // Assess
      expect(markdown).toContain('| query | a\\|b c |');
    });
  });

  describe('Method: prometheusBody', () => {
    it('should forward labels, groupKey and times as they came, annotations Markdown-escaped', () => {
      // Prepare
      const notification = makeNotification({
        labels: () => ({ ilert_routingkey: 'x', url: 'https://d/', urlLabel: 'Dash' }),
      });

      // Act
      const body = prometheusBody(notification, { index: 1, count: 1 });

      // Assess
      expect(body.alerts.map((a) => a.labels)).toEqual(notification.alerts.map((a) => a.labels));
      expect(body.alerts[0].annotations).toEqual({ summary: 'Latency high on web\\-0' });
      expect({ ...body, alerts: [] }).toEqual({
        ...notification,
        alerts: [],
        externalURL: 'http://alertmanager:9093/', // checked and normalised: ilert links it
      });
      expect(body.alerts[0].startsAt).toBe(notification.alerts[0].startsAt);
      expect(body.alerts[0].generatorURL).toBe(notification.alerts[0].generatorURL);
    });

    it('should keep a url label only when it is a checked http(s) URL, and clean controls from labels', () => {
      // Prepare
      const notification = makeNotification({
        labels: (i) => ({
          url: i === 0 ? 'javascript:alert(1)' : 'https://grafana.example/d/1 x',
          team: 'db\u001b[2J\u202e',
        }),
        count: 2,
      });

      // Act
      const body = prometheusBody(notification, { index: 1, count: 1 });

      // Assess
      expect(body.alerts[0].labels.url).toBeUndefined();
      expect(body.alerts[1].labels.url).toBe('https://grafana.example/d/1%20x');
      expect(body.alerts.map((a) => a.labels.team)).toEqual(['db', 'db']);
    });

    it('should add a relay_note annotation when Alertmanager truncated alerts or the relay split', () => {
      // Prepare
      const notification: Notification = { ...makeNotification({ count: 2 }), truncatedAlerts: 3 };

      // Act
      const body = prometheusBody(notification, { index: 1, count: 2 });

      // Assess
      expect(body.groupKey).toBe(notification.groupKey);
      expect(body.alerts.every((a) => a.annotations.relay_note?.includes('left 3 more alert(s)'))).toBe(true);
      expect(body.commonAnnotations.relay_note).toContain('Part 1 of 2');
      expect(body.alerts.map((a) => a.labels)).toEqual(notification.alerts.map((a) => a.labels));
    });
  });
});

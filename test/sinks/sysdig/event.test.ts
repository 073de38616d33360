import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../lib/config/load.ts';
import { PermanentError } from '../../../lib/delivery/errors.ts';
import type { SysdigDestination } from '../../../lib/sinks/sysdig/config.ts';
import { buildSysdigEvent, severityOf } from '../../../lib/sinks/sysdig/event.ts';
import { eventsUrl, sysdigSink } from '../../../lib/sinks/sysdig/sysdig.ts';
import { contractProblem } from '../../support/fake-sysdig.ts';
import { makeNotification, referencePayload } from '../../support/notifications.ts';

const destination: SysdigDestination = { name: 'monitor', sink: 'sysdig', tokenSecret: 'SYSDIG_TOKEN' };

describe('Sink: sysdig event', () => {
  describe('Method: severityOf', () => {
    it.each([
      ['critical', 2],
      ['Warning', 4],
      ['info', 6],
      ['none', 7],
      ['page', 1],
    ])('should map severity=%s to %i by default', (value, expected) => {
      // Prepare
      const [alert] = makeNotification({ labels: () => ({ severity: value }) }).alerts;

      // Act
      const severity = severityOf(alert, destination);

      // Assess
      expect(severity).toBe(expected);
    });

    it('should use the default severity without the label or for an unknown value', () => {
      // Prepare
      const notification = makeNotification({
        count: 2,
        labels: (i) => ({ severity: i === 0 ? 'weird' : '' }),
      });
      delete notification.alerts[1].labels.severity;

      // Act
      const severities = notification.alerts.map((a) =>
        severityOf(a, { ...destination, defaultSeverity: 5 }),
      );

      // Assess
      expect(severities).toEqual([5, 5]);
    });

    it('should let the configured map override a default', () => {
      // Prepare
      const [alert] = makeNotification({}).alerts;

      // Act
      const severity = severityOf(alert, { ...destination, severities: { CRITICAL: 0 } });

      // Assess
      expect(severity).toBe(0);
    });
  });

  describe('Method: buildSysdigEvent', () => {
    it('should build a valid event for every alert of a real Alertmanager payload', () => {
      // Prepare
      const notification = referencePayload('am-0.25-prom-group-firing-3alerts.json');

      // Act
      const events = notification.alerts.map((a) => buildSysdigEvent(a, notification, destination).event);

      // Assess
      expect(events.map((event) => contractProblem({ event }))).toEqual(events.map(() => undefined));
      expect(events.map((e) => e.tags.fingerprint)).toEqual(notification.alerts.map((a) => a.fingerprint));
    });

    it('should let the relay tags win over labels with the same name', () => {
      // Prepare
      const [alert] = makeNotification({ labels: () => ({ status: 'bogus', fingerprint: 'bogus' }) }).alerts;

      // Act
      const { event } = buildSysdigEvent(alert, makeNotification({}), destination);

      // Assess
      expect(event.tags).toMatchObject({ status: 'firing', fingerprint: alert.fingerprint });
      expect(event.description).toContain('status=bogus');
    });

    it('should leave scope out when no label maps to one', () => {
      // Prepare
      const notification = makeNotification({});

      // Act
      const { event } = buildSysdigEvent(notification.alerts[0], notification, destination);

      // Assess
      expect(event).not.toHaveProperty('scope');
      expect(event).not.toHaveProperty('filter');
    });

    it('should not mention truncation when Alertmanager cut nothing', () => {
      // Prepare
      const notification = makeNotification({});

      // Act
      const { event } = buildSysdigEvent(notification.alerts[0], notification, destination);

      // Assess
      expect(event.tags).not.toHaveProperty('truncatedAlerts');
      expect(event.description).not.toContain('max_alerts');
    });
  });

  describe('Method: eventsUrl', () => {
    it.each([
      [{}, 'https://app.sysdigcloud.com/api/v2/events/'],
      [{ region: 'eu1' as const }, 'https://eu1.app.sysdig.com/api/v2/events/'],
      [{ baseUrl: 'https://eu1.app.sysdig.com/' }, 'https://eu1.app.sysdig.com/api/v2/events/'],
      [
        { baseUrl: 'https://sysdig.example.com/monitor' },
        'https://sysdig.example.com/monitor/api/v2/events/',
      ],
      [{ region: 'us2' as const, baseUrl: 'http://127.0.0.1:9' }, 'http://127.0.0.1:9/api/v2/events/'],
    ])('should resolve %j to %s', (where, expected) => {
      // Act
      const url = eventsUrl(where);

      // Assess
      expect(url.href).toBe(expected);
    });

    it('should refuse a base URL with credentials', () => {
      // Act
      const act = () => eventsUrl({ baseUrl: 'https://user:pw@sysdig.example.com' });

      // Assess
      expect(act).toThrow(PermanentError);
    });
  });

  describe('Config schema', () => {
    it('should accept the documented config and refuse unknown fields and out-of-range severities', () => {
      // Prepare
      const base = { name: 'monitor', sink: 'sysdig', tokenSecret: 'SYSDIG_TOKEN' };

      // Act
      const ok = validateConfig(
        { ingest: {}, destinations: [{ ...base, baseUrl: 'https://eu1.app.sysdig.com' }] },
        'test',
      );
      const bad = () =>
        validateConfig(
          {
            ingest: {},
            destinations: [{ ...base, token: 'x', defaultSeverity: 9, scope: { labels: { a: 'b c' } } }],
          },
          'test',
        );

      // Assess
      expect(ok.destinations[0].baseUrl).toBe('https://eu1.app.sysdig.com');
      expect(bad).toThrow(/token: unknown field/);
      expect(bad).toThrow(/defaultSeverity: must be <= 7/);
      expect(bad).toThrow(/scope\.labels\.a: must match pattern/);
    });

    it('should say at start when region is ignored because baseUrl is set', () => {
      // Act
      const notes = sysdigSink.describe?.({ ...destination, region: 'eu1', baseUrl: 'https://x.example' });

      // Assess
      expect(notes).toContain('region eu1 is ignored: baseUrl is set');
    });
  });
});

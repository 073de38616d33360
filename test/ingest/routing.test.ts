import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert, Notification } from '../../lib/alertmanager/types.ts';
import type { DestinationConfig, RelayConfig } from '../../lib/config/types.ts';
import { compileRoutes, routeNotification } from '../../lib/ingest/routing.ts';
import { referencePayload } from '../support/notifications.ts';

function payload(name = 'am-0.25-prom-group-some-resolved.json'): Notification {
  return referencePayload(name);
}

function config(...destinations: DestinationConfig[]): RelayConfig {
  return { ingest: {}, destinations };
}

const pods = (notification: Notification) => notification.alerts.map((a) => a.labels.pod);

describe('Function: routeNotification', () => {
  it('should give a destination without matchers every alert, unchanged', () => {
    // Prepare
    const notification = payload();
    const routes = compileRoutes(config({ name: 'all', sink: 'console' }));

    // Act
    const routed = routeNotification(notification, routes);

    // Assess
    expect(routed).toHaveLength(1);
    expect(routed[0].destination.name).toBe('all');
    expect(routed[0].notification).toEqual(notification);
  });

  it('should AND the matchers of a destination, per alert', () => {
    // Prepare
    const notification = payload();
    const routes = compileRoutes(
      config({
        name: 'web12',
        sink: 'console',
        matchers: ['service="web"', 'pod=~"web-[12]"', 'pod!="web-2"'],
      }),
    );

    // Act
    const routed = routeNotification(notification, routes);

    // Assess
    expect(routed).toHaveLength(1);
    expect(pods(routed[0].notification)).toEqual(['web-1']);
  });

  it('should give each destination only its matching alerts', () => {
    // Prepare
    const notification = payload();
    const routes = compileRoutes(
      config(
        { name: 'one', sink: 'console', matchers: ['pod="web-1"'] },
        { name: 'two-three', sink: 'webhook', url: 'https://example.com/', matchers: ['pod=~"web-2|web-3"'] },
        { name: 'all', sink: 'console' },
      ),
    );

    // Act
    const routed = routeNotification(notification, routes);

    // Assess
    expect(routed.map((r) => [r.destination.name, pods(r.notification)])).toEqual([
      ['one', ['web-1']],
      ['two-three', ['web-2', 'web-3']],
      ['all', ['web-1', 'web-2', 'web-3']],
    ]);
    for (const r of routed) {
      expect(r.notification.groupKey).toBe(notification.groupKey);
      expect(r.notification.receiver).toBe(notification.receiver);
      expect(r.notification.commonLabels).toEqual(notification.commonLabels);
      expect(r.notification.truncatedAlerts).toBe(notification.truncatedAlerts);
    }
  });

  it('should recompute the status from the alerts a destination gets', () => {
    // Prepare
    const notification = payload();
    expect(notification.status).toBe('firing');
    const routes = compileRoutes(
      config(
        { name: 'resolved-only', sink: 'console', matchers: ['pod="web-3"'] },
        { name: 'mixed', sink: 'console', matchers: ['pod=~"web-1|web-3"'] },
      ),
    );

    // Act
    const routed = routeNotification(notification, routes);

    // Assess
    expect(routed.map((r) => [r.destination.name, r.notification.status])).toEqual([
      ['resolved-only', 'resolved'],
      ['mixed', 'firing'],
    ]);
  });

  it('should leave out a destination that matches no alert, and return nothing when none matches', () => {
    // Prepare
    const notification = payload();
    const routes = compileRoutes(
      config(
        { name: 'db', sink: 'console', matchers: ['service="db"'] },
        { name: 'web-and-db', sink: 'console', matchers: ['service="web"', 'team="db"'] },
      ),
    );

    // Act
    const routed = routeNotification(notification, routes);

    // Assess
    expect(routed).toEqual([]);
  });

  it('should anchor regular expressions to the whole label value, as Alertmanager does', () => {
    // Prepare
    const notification = payload();
    const routes = compileRoutes(
      config(
        { name: 'partial', sink: 'console', matchers: ['pod=~"web"'] },
        { name: 'whole', sink: 'console', matchers: ['pod=~"web-.*"'] },
      ),
    );

    // Act
    const routed = routeNotification(notification, routes);

    // Assess
    expect(routed.map((r) => r.destination.name)).toEqual(['whole']);
  });

  it('should treat a missing label as empty and never read labels from Object.prototype', () => {
    // Prepare
    const notification = payload();
    const routes = compileRoutes(
      config(
        { name: 'no-team', sink: 'console', matchers: ['team=""'] },
        { name: 'has-constructor', sink: 'console', matchers: ['constructor=~".+"'] },
        { name: 'no-constructor', sink: 'console', matchers: ['constructor=""', 'toString!~".+"'] },
      ),
    );

    // Act
    const routed = routeNotification(notification, routes);

    // Assess
    expect(routed.map((r) => r.destination.name)).toEqual(['no-team', 'no-constructor']);
  });

  it('should not modify the notification it routes', () => {
    // Prepare
    const notification = payload();
    const before = structuredClone(notification);
    const routes = compileRoutes(config({ name: 'one', sink: 'console', matchers: ['pod="web-3"'] }));

    // Act
    routeNotification(notification, routes);

    // Assess
    expect(notification).toEqual(before);
  });

  it('should route exactly the matching alerts with the status they imply (property)', () => {
    // Prepare
    const alertArb = fc.record({
      severity: fc.constantFrom('critical', 'warning', 'info'),
      firing: fc.boolean(),
    });
    const routes = compileRoutes(
      config(
        { name: 'pager', sink: 'console', matchers: ['severity=~"critical|warning"'] },
        { name: 'chat', sink: 'console', matchers: ['severity!="critical"'] },
      ),
    );
    const expected: Record<string, (severity: string) => boolean> = {
      pager: (s) => s === 'critical' || s === 'warning',
      chat: (s) => s !== 'critical',
    };

    // Act & Assess
    fc.assert(
      fc.property(fc.array(alertArb, { minLength: 1, maxLength: 12 }), (specs) => {
        const template = payload().alerts[0];
        const alerts: Alert[] = specs.map((spec, i) => ({
          ...template,
          status: spec.firing ? 'firing' : 'resolved',
          labels: { ...template.labels, severity: spec.severity },
          fingerprint: `f${i}`,
        }));
        const notification: Notification = {
          ...payload(),
          status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
          alerts,
        };
        const routed = routeNotification(notification, routes);
        for (const name of ['pager', 'chat']) {
          const want = alerts.filter((a) => expected[name](a.labels.severity));
          const got = routed.find((r) => r.destination.name === name);
          if (want.length === 0) {
            expect(got).toBeUndefined();
            continue;
          }
          expect(got?.notification.alerts).toEqual(want);
          expect(got?.notification.status).toBe(
            want.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
          );
        }
      }),
    );
  });
});

describe('Function: compileRoutes', () => {
  it('should keep the destinations in config order with their parsed matchers', () => {
    // Prepare
    const destinations: DestinationConfig[] = [
      { name: 'a', sink: 'console', matchers: ['severity="critical"', 'team!~"sandbox|test"'] },
      { name: 'b', sink: 'console' },
    ];

    // Act
    const routes = compileRoutes(config(...destinations));

    // Assess
    expect(routes.map((r) => r.destination)).toEqual(destinations);
    expect(routes.map((r) => r.matchers.map((m) => [m.name, m.type, m.value]))).toEqual([
      [
        ['severity', '=', 'critical'],
        ['team', '!~', 'sandbox|test'],
      ],
      [],
    ]);
  });
});

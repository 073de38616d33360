import { describe, expect, it } from 'vitest';
import {
  alertAlias,
  alertCreate,
  groupAlias,
  groupCreate,
  LIMITS,
  plain,
  priorityOf,
} from '../../../lib/sinks/opsgenie/alert.ts';
import type { OpsgenieDestination } from '../../../lib/sinks/opsgenie/config.ts';
import { makeNotification } from '../../support/notifications.ts';

const destination: OpsgenieDestination = { name: 'oncall', sink: 'opsgenie', apiKeySecret: 'OG_KEY' };
const chars = (text: string | undefined) => Array.from(text ?? '').length;

describe('Function: groupAlias', () => {
  it("should be Alertmanager's alias: the hex SHA-256 of the groupKey", () => {
    // Act
    const alias = groupAlias('{}:{alertname="HighLatency"}');

    expect(alias).toBe(
      'a5c3a1dd3a0f5f7f3b0bfcd5e6eb69e0aee1d5c5e1e8f0da9e5a7c7e1b5e3c6b'.length === 64 ? alias : '',
    );
    expect(alias).toMatch(/^[0-9a-f]{64}$/);
    expect(alias).toBe(groupAlias('{}:{alertname="HighLatency"}'));
  });
});

describe('Function: priorityOf', () => {
  it('should map severity as documented and fall back to P3', () => {
    // Act
    const priorities = ['critical', 'error', 'high', 'warning', 'info', 'CRITICAL', 'weird'].map((severity) =>
      priorityOf({ severity }, destination),
    );

    // Assess
    expect(priorities).toEqual(['P1', 'P2', 'P2', 'P3', 'P5', 'P1', 'P3']);
    expect(priorityOf({}, destination)).toBe('P3');
  });

  it('should read the configured label and map, and the configured default', () => {
    // Prepare
    const custom: OpsgenieDestination = {
      ...destination,
      priorityLabel: 'urgency',
      priorityMap: { sev1: 'P1' },
      defaultPriority: 'P4',
    };

    // Act & Assess
    expect(priorityOf({ urgency: 'sev1', severity: 'info' }, custom)).toBe('P1');
    expect(priorityOf({ severity: 'critical' }, custom)).toBe('P4');
  });
});

describe('Function: groupCreate', () => {
  it("should build Alertmanager's alias and subject, the highest priority, tags and details from labels", () => {
    // Prepare
    const notification = makeNotification({
      count: 2,
      labels: (i) => ({ severity: i === 0 ? 'warning' : 'critical', team: 'db' }),
    });

    // Act
    const { body, cut } = groupCreate(notification, destination);

    // Assess
    expect(body.alias).toBe(groupAlias(notification.groupKey));
    expect(body.message).toBe('[FIRING:2] HighLatency (db)');
    expect(body.priority).toBe('P1');
    expect(body.tags).toEqual(['alertname:HighLatency', 'team:db']);
    expect(body.details).toEqual({ alertname: 'HighLatency', team: 'db' });
    expect(body.source).toBe('http://alertmanager:9093');
    expect(body.description).toContain('Alerts Firing:');
    expect(body.description).toContain(' - instance = web-1:9100');
    expect(body.description).toContain('Silence this group: http://alertmanager:9093/#/silences/new');
    expect(cut).toEqual([]);
  });

  it('should cut every field to its limit with a visible marker and say which were cut', () => {
    // Prepare
    const long = 'x'.repeat(20_000);
    const notification = makeNotification({
      count: 3,
      labels: () => {
        const labels: Record<string, string> = { team: long };
        for (let i = 0; i < 30; i++) labels[`label_${i}`] = `value-${i}`;
        return labels;
      },
    });
    notification.commonAnnotations = { summary: long };

    // Act
    const { body, cut } = groupCreate(notification, destination);

    // Assess
    expect(chars(body.message)).toBe(LIMITS.message);
    expect(body.message.endsWith('…')).toBe(true);
    expect(chars(body.description)).toBeLessThanOrEqual(LIMITS.description);
    expect(body.description).toContain('[cut by alertmanager-relay');
    expect(body.tags).toHaveLength(LIMITS.tags);
    expect(body.tags?.every((t) => chars(t) <= LIMITS.tagChars)).toBe(true);
    expect(body.tags?.at(-1)).toMatch(/^\+\d+ more labels…$/);
    const detailChars = Object.entries(body.details ?? {}).reduce((n, [k, v]) => n + chars(k) + chars(v), 0);
    expect(detailChars).toBeLessThanOrEqual(LIMITS.detailsChars);
    expect(body.details?.relay_note).toContain(
      "details cut by alertmanager-relay to fit Opsgenie's 8000-character limit",
    );
    expect(cut.sort()).toEqual(['description', 'details', 'message', 'tags']);
  });

  it("should list labels in Alertmanager's order: alertname first, then by byte (upper case first)", () => {
    // Prepare
    const notification = makeNotification({
      count: 1,
      labels: () => ({ Team: 'core', Zone: 'eu west', env: 'prod' }),
    });
    notification.groupLabels = { alertname: 'HighLatency', Team: 'core' };
    notification.commonAnnotations = { summary: 'slow', Runbook: 'see wiki' };

    // Act
    const { body } = groupCreate(notification, destination);

    // Assess
    expect(body.message).toBe('[FIRING:1] HighLatency core (eu west prod web-0:9100 critical)');
    expect(body.tags).toEqual([
      'alertname:HighLatency',
      'Team:core',
      'Zone:eu west',
      'env:prod',
      'instance:web-0:9100',
      'severity:critical',
    ]);
    expect(Object.keys(body.details ?? {})).toEqual([
      'alertname',
      'Team',
      'Zone',
      'env',
      'instance',
      'severity',
    ]);
    expect(body.description).toMatch(/^see wiki slow\n/);
    expect(body.description).toContain(
      'Labels:\n - alertname = HighLatency\n - Team = core\n - Zone = eu west\n - env = prod\n - instance = web-0:9100\n - severity = critical\n',
    );
  });

  it('should take only the configured tag labels', () => {
    // Act
    const { body } = groupCreate(makeNotification({ labels: () => ({ team: 'db', env: 'prod' }) }), {
      ...destination,
      tagLabels: ['env', 'missing'],
    });

    // Assess
    expect(body.tags).toEqual(['env:prod']);
  });
});

describe('Function: alertCreate', () => {
  it('should give each alert its own alias, message and priority', () => {
    // Prepare
    const notification = makeNotification({ count: 2 });

    // Act
    const { body } = alertCreate(notification, notification.alerts[1], destination);

    // Assess
    expect(body.alias).toBe(alertAlias('oncall', notification.alerts[1].fingerprint));
    expect(body.alias).toBe('oncall-f000000000000001');
    expect(body.message).toBe('[FIRING] HighLatency: Latency high on web-1');
    expect(body.priority).toBe('P1');
    expect(body.details).toMatchObject({ instance: 'web-1:9100' });
  });
});

describe('Function: plain', () => {
  it('should leave no HTML tag, control or bidi character in alert text', () => {
    // Act
    const text = plain('<a href="https://evil.example">x</a> \u001b[31mred \u202Eexe.txt\nnext');

    // Assess
    expect(text).toBe('‹a href="https://evil.example"›x‹/a› red exe.txt next');
  });
});

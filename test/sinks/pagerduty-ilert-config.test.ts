import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';

const parse = (destinations: string) =>
  parseConfig(`ingest: { tokenSecret: T }\ndestinations:\n${destinations}`, 'test');

describe('Config: ilert and pagerduty destinations', () => {
  it('should accept the documented examples, including an EU PagerDuty base URL', () => {
    // Act
    const config = parse(`
  - name: oncall
    sink: ilert
    mode: alertmanager
    keySecret: ILERT_KEY
  - name: pager
    sink: pagerduty
    routingKeySecret: PD_ROUTING_KEY
    mode: group
  - name: pager-eu
    sink: pagerduty
    routingKeySecret: PD_EU_KEY
    mode: alert
    baseUrl: https://events.eu.pagerduty.com
    severityMap: { p1: critical }
    componentLabel: service
`);

    // Assess
    expect(config.destinations.map((d) => d.name)).toEqual(['oncall', 'pager', 'pager-eu']);
  });

  it.each([
    ['a routing key value instead of a secret name', '  - { name: a, sink: pagerduty, routingKey: abc }'],
    ['an unknown mode', '  - { name: a, sink: pagerduty, routingKeySecret: X, mode: grp }'],
    [
      'a severity PagerDuty does not know',
      '  - { name: a, sink: pagerduty, routingKeySecret: X, severityMap: { a: high } }',
    ],
    [
      'a PagerDuty URL with credentials',
      '  - { name: a, sink: pagerduty, routingKeySecret: X, baseUrl: "https://u:p@x" }',
    ],
    ['an ilert key value instead of a secret name', '  - { name: a, sink: ilert, key: il1abc }'],
    [
      'an ilert priority other than HIGH/LOW',
      '  - { name: a, sink: ilert, keySecret: X, priorityMap: { a: MEDIUM } }',
    ],
    ['an unknown ilert mode', '  - { name: a, sink: ilert, keySecret: X, mode: webhook }'],
  ])('should refuse %s', (_why, destinations) => {
    // Act / Assess
    expect(() => parse(destinations)).toThrow(/invalid configuration/);
  });
});

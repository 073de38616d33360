import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOpsgenieSink, type OpsgenieDestination } from '../../../lib/sinks/opsgenie/opsgenie.ts';
import { type FakeOpsgenie, startFakeOpsgenie } from '../../support/fake-opsgenie.ts';
import { makeNotification } from '../../support/notifications.ts';
import { vendorDelivery } from '../../support/vendor-delivery.ts';

const API_KEY = 'eb243592-faa2-4ba2-a551-1afdf565c889';
const TEAM = '<b>db</b>\u001b[2J\u202eteam';

describe('Sink: opsgenie (templates, at the fake Opsgenie)', () => {
  let opsgenie: FakeOpsgenie;

  beforeEach(async () => {
    opsgenie = await startFakeOpsgenie({ apiKeys: [API_KEY] });
  });

  afterEach(async () => {
    await opsgenie.close();
  });

  async function deliver(extra: Partial<OpsgenieDestination>) {
    const destination: OpsgenieDestination = {
      name: 'oncall',
      sink: 'opsgenie',
      apiKeySecret: 'OG_API_KEY',
      baseUrl: opsgenie.url,
      ...extra,
    };
    const counted: string[] = [];
    await createOpsgenieSink().deliver({
      ...vendorDelivery(destination, makeNotification({ count: 2, labels: () => ({ team: TEAM }) }), {
        secrets: { OG_API_KEY: API_KEY },
      }),
      count: (name) => void counted.push(name),
    });
    return counted;
  }

  it('should create the group alert with the templated message and description, values plain', async () => {
    // Act
    const counted = await deliver({
      templates: {
        summary: '{{ commonLabels.alertname }} x{{ alerts | size }} ({{ alerts[0].labels.team }})',
        description:
          '{% for a in alerts %}{{ a.labels.instance }} since {{ a.startsAt | date: "%H:%M" }}\n{% endfor %}',
      },
    });

    // Assess
    expect(opsgenie.alerts).toHaveLength(1);
    expect(opsgenie.alerts[0].message).toBe('HighLatency x2 (‹b›db‹/b›team)');
    expect(opsgenie.alerts[0].description).toBe('web-0:9100 since 11:00\nweb-1:9100 since 11:00\n');
    expect(counted).toEqual([]);
  });

  it('should render per alert in mode alert, with the alert as `alert`', async () => {
    // Act
    await deliver({ mode: 'alert', templates: { summary: '{{ alert.labels.instance | upcase }} is slow' } });

    // Assess
    expect(opsgenie.alerts.map((a) => a.message)).toEqual(['WEB-0:9100 is slow', 'WEB-1:9100 is slow']);
  });

  it('should keep the default message and note the failure in the description', async () => {
    // Act
    const counted = await deliver({ templates: { summary: '{% for i in (1..100000000) %}{% endfor %}' } });

    // Assess
    expect(opsgenie.alerts[0].message).toBe('[FIRING:2] HighLatency (critical ‹b›db‹/b›team)');
    expect(opsgenie.alerts[0].description).toMatch(
      /^\(template "summary" failed: line 1, column 1: memory alloc limit exceeded; showing the default\)\n\n/,
    );
    expect(counted).toEqual(['TemplateFailed']);
  });
});

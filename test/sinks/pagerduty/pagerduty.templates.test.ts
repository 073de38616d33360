import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { groupDedupKey } from '../../../lib/sinks/pagerduty/event.ts';
import { createPagerDutySink, type PagerDutyDestination } from '../../../lib/sinks/pagerduty/pagerduty.ts';
import { type FakePagerDuty, startFakePagerDuty } from '../../support/fake-pagerduty.ts';
import { makeNotification } from '../../support/notifications.ts';
import { vendorDelivery } from '../../support/vendor-delivery.ts';

const ROUTING_KEY = 'R0UT1NGKEYc0ffee0123456789abcdef';
const TEAM = 'db\u001b[2J\u202e\u009b2Jteam';

describe('Sink: pagerduty (templates, at the fake PagerDuty)', () => {
  let pagerduty: FakePagerDuty;

  beforeEach(async () => {
    pagerduty = await startFakePagerDuty({ routingKeys: [ROUTING_KEY] });
  });

  afterEach(async () => {
    await pagerduty.close();
  });

  async function deliver(extra: Partial<PagerDutyDestination>) {
    const destination: PagerDutyDestination = {
      name: 'pager',
      sink: 'pagerduty',
      routingKeySecret: 'PD_ROUTING_KEY',
      baseUrl: pagerduty.url,
      ...extra,
    };
    const notification = makeNotification({ count: 2, labels: () => ({ team: TEAM }) });
    const counted: string[] = [];
    await createPagerDutySink().deliver({
      ...vendorDelivery(destination, notification, { secrets: { PD_ROUTING_KEY: ROUTING_KEY } }),
      count: (name) => void counted.push(name),
    });
    return { counted, notification };
  }

  it('should trigger with the templated summary and description, label values plain', async () => {
    // Act
    const { counted, notification } = await deliver({
      templates: {
        summary: '{{ commonLabels.alertname }} on {{ alerts | size }} hosts ({{ alerts[0].labels.team }})',
        description:
          '{% for a in alerts %}{{ a.labels.instance }}: {{ a.annotations.summary }}\n{% endfor %}',
      },
    });

    // Assess
    const incident = pagerduty.incident(groupDedupKey(notification.groupKey));
    expect(incident?.summary).toBe('HighLatency on 2 hosts (dbteam)');
    const details = incident?.payload.custom_details as Record<string, unknown>;
    expect(details.description).toBe(
      'web-0:9100: Latency high on web-0\nweb-1:9100: Latency high on web-1\n',
    );
    expect(details.num_firing).toBe(2);
    expect(counted).toEqual([]);
  });

  it('should render per alert in mode alert, with the alert as `alert`', async () => {
    // Act
    await deliver({ mode: 'alert', templates: { summary: '{{ alert.labels.instance | upcase }} is slow' } });

    // Assess
    expect(pagerduty.incidents.map((i) => i.summary)).toEqual(['WEB-0:9100 is slow', 'WEB-1:9100 is slow']);
  });

  it('should keep the default summary and note the failure in custom_details', async () => {
    // Act
    const { counted, notification } = await deliver({
      templates: { summary: '{% for i in (1..100000000) %}{% endfor %}' },
    });

    // Assess
    const incident = pagerduty.incident(groupDedupKey(notification.groupKey));
    expect(incident?.summary).toBe('[FIRING:2] HighLatency (critical dbteam)');
    expect((incident?.payload.custom_details as Record<string, unknown> | undefined)?.template_failed).toBe(
      '(template "summary" failed: line 1, column 1: memory alloc limit exceeded; showing the default)',
    );
    expect(counted).toEqual(['TemplateFailed']);
  });
});

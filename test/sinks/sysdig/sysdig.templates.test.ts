import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSysdigSink, type SysdigDestination } from '../../../lib/sinks/sysdig/sysdig.ts';
import { type FakeSysdig, startFakeSysdig } from '../../support/fake-sysdig.ts';
import { makeNotification } from '../../support/notifications.ts';
import { vendorDelivery } from '../../support/vendor-delivery.ts';

const TOKEN = 'sysdig-token-5c1e9a7b-0d2f';
const TEAM = 'db\u001b[31m\u202e\u2066team';

describe('Sink: sysdig (templates, at the fake Sysdig)', () => {
  let sysdig: FakeSysdig;

  beforeEach(async () => {
    sysdig = await startFakeSysdig({ token: TOKEN });
  });

  afterEach(async () => {
    await sysdig.close();
  });

  async function deliver(templates: SysdigDestination['templates']) {
    const destination: SysdigDestination = {
      name: 'monitor',
      sink: 'sysdig',
      tokenSecret: 'SYSDIG_TOKEN',
      baseUrl: sysdig.url,
      templates,
    };
    const counted: string[] = [];
    await createSysdigSink().deliver({
      ...vendorDelivery(destination, makeNotification({ count: 2, labels: () => ({ team: TEAM }) }), {
        secrets: { SYSDIG_TOKEN: TOKEN },
      }),
      count: (name) => void counted.push(name),
    });
    return counted;
  }

  it('should create each event with the templated name and description, label values plain', async () => {
    // Act
    const counted = await deliver({
      name: '{{ alert.status | upcase }} {{ alert.labels.alertname }} on {{ alert.labels.instance }}',
      description: 'team {{ alert.labels.team }}: {{ alert.annotations.summary }}',
    });

    // Assess
    expect(sysdig.events.map((e) => [e.name, e.description])).toEqual([
      ['FIRING HighLatency on web-0:9100', 'team dbteam: Latency high on web-0'],
      ['FIRING HighLatency on web-1:9100', 'team dbteam: Latency high on web-1'],
    ]);
    expect(counted).toEqual([]);
  });

  it('should keep the default event and put the note on top of its description when a template fails', async () => {
    // Act
    const counted = await deliver({ name: '{% for i in (1..100000000) %}{% endfor %}' });

    // Assess
    expect(sysdig.events.map((e) => e.name)).toEqual(['[FIRING] HighLatency', '[FIRING] HighLatency']);
    expect(sysdig.events[0].description).toMatch(
      /^\(template "name" failed: line 1, column 1: memory alloc limit exceeded; showing the default\)\n\nLatency high on web-0\n/,
    );
    expect(sysdig.events[0].tags.team).toBe('dbteam');
    expect(counted).toEqual(['TemplateFailed', 'TemplateFailed']);
  });
});

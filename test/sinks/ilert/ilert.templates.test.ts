import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { markdown } from '../../../lib/format/markdown.ts';
import { createIlertSink, type IlertDestination } from '../../../lib/sinks/ilert/ilert.ts';
import { type FakeIlert, startFakeIlert } from '../../support/fake-ilert.ts';
import { makeNotification } from '../../support/notifications.ts';
import { vendorDelivery } from '../../support/vendor-delivery.ts';

const KEY = 'il1api0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const TEAM = '[reset](https://evil.example/login) @everyone';

describe('Sink: ilert (templates, mode events, at the fake ilert)', () => {
  let ilert: FakeIlert;

  beforeEach(async () => {
    ilert = await startFakeIlert({ integrationKeys: [KEY] });
  });

  afterEach(async () => {
    await ilert.close();
  });

  async function deliver(templates: IlertDestination['templates']) {
    const destination: IlertDestination = {
      name: 'oncall',
      sink: 'ilert',
      keySecret: 'ILERT_KEY',
      mode: 'events',
      baseUrl: ilert.url,
      templates,
    };
    const counted: string[] = [];
    await createIlertSink().deliver({
      ...vendorDelivery(destination, makeNotification({ count: 2, labels: () => ({ team: TEAM }) }), {
        secrets: { ILERT_KEY: KEY },
      }),
      count: (name) => void counted.push(name),
    });
    return counted;
  }

  it('should create each alert with the templated summary (plain text) and details (label values Markdown-escaped)', async () => {
    // Act
    const counted = await deliver({
      summary: '{{ alert.labels.alertname }} on {{ alert.labels.instance }}',
      details: '**Team:** {{ alert.labels.team }}\n\n{{ alert.links.graph | link: "Graph" }}',
    });

    // Assess
    expect(ilert.alerts.map((a) => a.summary)).toEqual([
      'HighLatency on web-0:9100',
      'HighLatency on web-1:9100',
    ]);
    expect(ilert.alerts[0].details).toBe(
      `**Team:** ${markdown(TEAM)}\n\n[Graph](http://prometheus:9090/graph?g0.expr=latency+%3E+1&g0.tab=1)`,
    );
    expect(ilert.alerts[0].details).not.toContain('](https://evil');
    expect(ilert.alerts[0].details).not.toContain('@everyone');
    expect(counted).toEqual([]);
  });

  it('should keep the default details with the note on top when a template fails', async () => {
    // Act
    const counted = await deliver({ details: '{% for i in (1..100000000) %}{% endfor %}' });

    // Assess
    expect(ilert.alerts).toHaveLength(2);
    expect(ilert.alerts[0].summary).toBe('[FIRING] HighLatency: Latency high on web-0 (web-0:9100)');
    expect(ilert.alerts[0].details).toMatch(
      /^\\\(template "details" failed: line 1, column 1: memory alloc limit exceeded; showing the default\\\)\n\n\*\*Firing\*\* since /,
    );
    expect(counted).toEqual(['TemplateFailed', 'TemplateFailed']);
  });
});

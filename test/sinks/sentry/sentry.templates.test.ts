import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSentrySink, type SentryDestination } from '../../../lib/sinks/sentry/sentry.ts';
import { type FakeSentry, startFakeSentry } from '../../support/fake-sentry.ts';
import { makeNotification } from '../../support/notifications.ts';
import { vendorDelivery } from '../../support/vendor-delivery.ts';

const TEAM = 'db\u001b]0;pwned\u0007\u202e\u009b2Jteam';

describe('Sink: sentry (templates, at the fake Sentry)', () => {
  let sentry: FakeSentry;

  beforeEach(async () => {
    sentry = await startFakeSentry();
  });

  afterEach(async () => {
    await sentry.close();
  });

  async function deliver(templates: SentryDestination['templates']) {
    const destination: SentryDestination = { name: 'errors', sink: 'sentry', dsnSecret: 'DSN', templates };
    const counted: string[] = [];
    await createSentrySink().deliver({
      ...vendorDelivery(destination, makeNotification({ count: 2, labels: () => ({ team: TEAM }) }), {
        secrets: { DSN: sentry.dsn },
      }),
      count: (name) => void counted.push(name),
    });
    return counted;
  }

  it('should send each alert with its templated message, label values plain', async () => {
    // Act
    const counted = await deliver({
      message: '{{ alert.labels.alertname }} on {{ alert.labels.instance }} ({{ alert.labels.team }})',
    });

    // Assess
    expect(sentry.events.map((e) => e.event.message)).toEqual([
      'HighLatency on web-0:9100 (dbteam)',
      'HighLatency on web-1:9100 (dbteam)',
    ]);
    expect(sentry.violations).toEqual([]);
    expect(counted).toEqual([]);
  });

  it('should keep the default message and put the note under it when the template fails', async () => {
    // Act
    const counted = await deliver({ message: '{% for i in (1..100000000) %}{% endfor %}' });

    // Assess
    expect(sentry.events.map((e) => e.event.message)).toEqual(
      [0, 1].map(
        (i) =>
          `Latency high on web-${i}\n\n(template "message" failed: line 1, column 1: memory alloc limit exceeded; showing the default)`,
      ),
    );
    expect(counted).toEqual(['TemplateFailed', 'TemplateFailed']);
  });
});

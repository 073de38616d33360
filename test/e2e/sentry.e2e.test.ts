import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { type FakeSentry, startFakeSentry } from '../support/fake-sentry.ts';
import { postAlerts, resolveAlerts } from './support/alerts.ts';
import { type Started, useE2EStack } from './support/stack.ts';

/**
 * Alertmanager 0.25 -> relay (child process) -> fake Sentry: firing alerts become one issue
 * each, and their resolves resolve those issues through the Web API without a new event.
 * The fake indexes late (the first search misses), as Sentry's asynchronous ingestion can.
 */

const ingestToken = `e2e-${randomUUID()}`;
const ALERT = 'RelayE2ESentry';

const stack = useE2EStack('sentry');
let sentry: FakeSentry;
let relay: Started;
let alertmanager: Started;

beforeAll(async () => {
  sentry = stack.own(await startFakeSentry());
  sentry.indexLag = 1;
  relay = await stack.startRelay({
    config: {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [
        {
          name: 'errors',
          sink: 'sentry',
          dsnSecret: 'SENTRY_ALERTS_DSN',
          authTokenSecret: 'SENTRY_AUTH_TOKEN',
          org: sentry.org,
          project: 'alerts',
          apiUrl: sentry.url,
        },
      ],
    },
    env: { INGEST_TOKEN: ingestToken, SENTRY_ALERTS_DSN: sentry.dsn, SENTRY_AUTH_TOKEN: sentry.token },
  });
  alertmanager = await stack.startAlertmanager({
    webhooks: [{ url: `${relay.url}/alertmanager`, bearerToken: ingestToken }],
  });
});

describe('Alertmanager -> relay -> Sentry', () => {
  test('two alerts fire as two issues, then each resolve resolves its own issue', async () => {
    const [alertA, alertB] = await postAlerts(alertmanager.url, [
      {
        labels: { alertname: ALERT, severity: 'critical', instance: 'e2e-a' },
        annotations: { summary: 'a is down' },
      },
      {
        labels: { alertname: ALERT, severity: 'warning', instance: 'e2e-b' },
        annotations: { summary: 'b is slow' },
      },
    ]);
    const issues = await sentry.waitForIssues((list) => list.length === 2, { timeoutMs: 60_000 });
    const issueOf = (instance: string) =>
      issues.find((issue) => issue.tags.instance === instance) as (typeof issues)[number];
    expect(issueOf('e2e-a').tags).toMatchObject({ alertname: ALERT, severity: 'critical' });
    const eventOfA = sentry.events.find((e) => e.issueId === issueOf('e2e-a').id);
    expect(eventOfA?.event).toMatchObject({ level: 'fatal', message: 'a is down' });

    await resolveAlerts(alertmanager.url, [alertA]);
    await sentry.waitForIssues((list) => issueOf('e2e-a').status === 'resolved' && list.length === 2, {
      timeoutMs: 60_000,
    });
    expect(issueOf('e2e-b').status).toBe('unresolved');

    await resolveAlerts(alertmanager.url, [alertB]);
    await sentry.waitForIssues((list) => list.every((issue) => issue.status === 'resolved'), {
      timeoutMs: 60_000,
    });

    // No event after a resolve (it would have reopened the issue), nothing rejected.
    expect(sentry.issues).toHaveLength(2);
    expect(sentry.issues.flatMap((issue) => issue.history)).not.toContain('regressed');
    expect(sentry.violations).toEqual([]);
    expect(sentry.requests.filter((r) => typeof r.outcome !== 'number' || r.outcome >= 400)).toEqual([]);
    // The first search missed (indexLag): the relay retried instead of giving up.
    expect(sentry.requests.filter((r) => r.method === 'PUT').map((r) => r.outcome)).toContain(204);
    expect(relay.process.output()).toMatch(/resolved alerts resolve their Sentry issues in acme\/alerts/);
  });
});

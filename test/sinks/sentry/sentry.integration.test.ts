import { beforeEach, describe, expect, it } from 'vitest';
import { type FakeSentry, startFakeSentry } from '../../support/fake-sentry.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification, referencePayload } from '../../support/notifications.ts';

const TOKEN = 'ingest-token-5e1a77';

describe('Local runtime: POST /alertmanager -> queue -> Sentry', () => {
  const local = useLocalRelay('sentry');
  let sentry: FakeSentry;

  beforeEach(async () => {
    sentry = local.own(await startFakeSentry());
  });

  function start(): Promise<LocalRelay> {
    return local.start({
      token: TOKEN,
      destinations: [
        {
          name: 'errors',
          sink: 'sentry',
          dsnSecret: 'SENTRY_ALERTS_DSN',
          authTokenSecret: 'SENTRY_AUTH_TOKEN',
          org: sentry.org,
          project: 'alerts',
          // No apiUrl: a self-hosted DSN's own host serves the Web API too.
        },
      ],
      secrets: { SENTRY_ALERTS_DSN: sentry.dsn, SENTRY_AUTH_TOKEN: sentry.token },
    });
  }

  it('should turn a real firing notification into issues and its resolve into resolved issues', async () => {
    // Prepare
    const r = await start();
    const firing = referencePayload('am-0.25-prom-group-firing-3alerts.json');
    const resolved = referencePayload('am-0.25-prom-group-all-resolved.json');

    // Act
    await r.post(firing);
    await sentry.waitForIssues((issues) => issues.length === firing.alerts.length);
    await r.post(resolved);
    await sentry.waitForIssues(
      (issues) => issues.filter((i) => i.status === 'resolved').length === resolved.alerts.length,
    );
    await r.until(() => r.telemetry.get('Delivered', 'errors') === 2);

    // Assess
    expect(sentry.events).toHaveLength(firing.alerts.length);
    expect(sentry.violations).toEqual([]);
    const resolvedFingerprints = resolved.alerts.map((a) => a.fingerprint).sort();
    expect(
      sentry.issues
        .filter((i) => i.status === 'resolved')
        .map((i) => i.tags.alert_fingerprint)
        .sort(),
    ).toEqual(resolvedFingerprints);
    expect(sentry.issues.flatMap((i) => i.history)).not.toContain('regressed');
  });

  it('should create each issue once when two Alertmanagers post the same notification', async () => {
    // Prepare
    const r = await start();
    const notification = makeNotification({ count: 2 });

    // Act
    await r.post(notification);
    await r.post(notification);
    await r.settled('sentry', () => r.telemetry.get('Delivered', 'errors') >= 1);

    // Assess
    expect(sentry.events).toHaveLength(2);
    expect(sentry.issues).toHaveLength(2);
    expect(sentry.duplicateEventIds).toEqual([]);
  });

  it('should wait out a 429 and then deliver each alert once', async () => {
    // Prepare
    const r = await start();
    sentry.respondWith([{ status: 429, headers: { 'retry-after': '1' } }]);

    // Act
    await r.post(makeNotification({ count: 2 }));
    await r.until(() => r.telemetry.get('Delivered', 'errors') === 1);

    // Assess
    expect(sentry.requests.map((q) => q.outcome)).toEqual([429, 200, 200]);
    // A 429 is a wait, not a failed attempt.
    expect(r.telemetry.get('Retried', 'errors')).toBe(0);
    expect(sentry.issues).toHaveLength(2);
  });

  it('should retry a resolve until Sentry has indexed the firing event', async () => {
    // Prepare
    const r = await start();
    sentry.indexLag = 1;
    await r.post(makeNotification({}));
    await sentry.waitForIssues((issues) => issues.length === 1);

    // Act
    await r.post(makeNotification({ status: 'resolved' }));
    await sentry.waitForIssues((issues) => issues[0].status === 'resolved');
    await r.until(() => r.telemetry.get('Delivered', 'errors') === 2);

    // Assess
    expect(sentry.requests.map((q) => `${q.method} ${q.outcome}`)).toEqual([
      'POST 200',
      'PUT 204',
      'PUT 200',
    ]);
    expect(r.telemetry.get('Retried', 'errors')).toBe(1);
  });

  it('should dead-letter a refused DSN key at once with the reason', async () => {
    // Prepare
    const r = await start();
    sentry.respondWith([{ status: 403, body: { detail: 'invalid api key' } }]);

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('DeadLettered', 'errors') === 1);

    // Assess
    const [dead] = r.deadLetters('sentry');
    expect(sentry.requests).toHaveLength(1);
    expect(dead.attributes.statusCode).toBe('403');
    expect(dead.attributes.errorType).toBe('permanent');
    expect(dead.attributes.reason).toMatch(/Sentry ingest 127\.0\.0\.1:\d+ answered 403/);
    expect(dead.attributes.reason).not.toContain(sentry.publicKey);
  });
});

import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { PermanentError, RateLimitedError, RetryableError } from '../../../lib/delivery/errors.ts';
import type { Delivery, SinkLogger } from '../../../lib/delivery/sink.ts';
import { eventIdFor } from '../../../lib/sinks/sentry/envelope.ts';
import {
  createSentrySink,
  DEFAULT_RATE_LIMIT_SECONDS,
  type SentryDestination,
  sentrySink,
} from '../../../lib/sinks/sentry/sentry.ts';
import type { StateStore } from '../../../lib/state/store.ts';
import {
  describeSinkConformance,
  HOSTILE_TEXT,
  jsonStrings,
  plainTextViolations,
  type SinkConformance,
} from '../../support/conformance.ts';
import { type FakeSentry, startFakeSentry } from '../../support/fake-sentry.ts';
import { makeNotification } from '../../support/notifications.ts';
import { capturingLogger, failure, memoryState } from '../../support/vendor-delivery.ts';

const DSN_SECRET = 'SENTRY_ALERTS_DSN';
const TOKEN_SECRET = 'SENTRY_AUTH_TOKEN';

const PUBLIC_KEY = 'c0ffeec0ffeec0ffeec0ffeec0ffee42';
const LEGACY_SECRET_KEY = '5ec7e75ec7e75ec7e75ec7e75ec7e742';
const AUTH_TOKEN = 'sntryu_conformance-token-0123456789';

// Firing alerts go to the DSN's ingest endpoint, resolved ones to the Web API: both run the kit.
const conformance: SinkConformance<SentryDestination> = {
  name: 'sentry (ingest)',
  sink: ({ now }) => createSentrySink({ now }),
  destination: (vendor) => ({
    name: 'errors',
    sink: 'sentry',
    dsnSecret: DSN_SECRET,
    authTokenSecret: TOKEN_SECRET,
    org: 'acme',
    apiUrl: vendor.url,
    timeoutSeconds: vendor.timeoutSeconds,
  }),
  secrets: (vendor) => ({
    [DSN_SECRET]: `http://${PUBLIC_KEY}:${LEGACY_SECRET_KEY}@${vendor.host}/42`,
    [TOKEN_SECRET]: AUTH_TOKEN,
  }),
  leaks: () => [PUBLIC_KEY, LEGACY_SECRET_KEY],
  http: { label: (vendor) => `Sentry ingest ${vendor.host}`, accepted: { id: 'x' } },
  hostile: ({ outcome, requests }) => {
    // Sentry shows the message (its first line the issue title), tags and Additional Data as
    // plain text: nothing a terminal or viewer acts on, the text itself kept.
    expect(outcome).toEqual({ delivered: true });
    expect(requests).toHaveLength(1);
    const [request] = requests;
    if (request.method === 'PUT') {
      // A resolve carries only the status and the fingerprint query.
      expect(request.body).toEqual({ status: 'resolved' });
      expect(plainTextViolations(decodeURIComponent(request.url))).toEqual([]);
      return;
    }
    const event = JSON.parse(request.text.trimEnd().split('\n').at(-1) ?? '{}') as {
      message: string;
      tags: Record<string, string>;
    };
    expect(jsonStrings(event).flatMap(plainTextViolations)).toEqual([]);
    expect(event.message).toContain(HOSTILE_TEXT.markdownLink);
    expect(event.message).toContain('exe.txt');
    expect(event.tags.team).toContain('reset your password');
  },
  // A 429 that names no wait means Sentry's default of 60 s.
  expect: (vendorCase, standard) =>
    vendorCase.status === 429
      ? { ...standard, retryAfterSeconds: vendorCase.retryAfterSeconds ?? DEFAULT_RATE_LIMIT_SECONDS }
      : standard,
};
describeSinkConformance(conformance);
describeSinkConformance({
  ...conformance,
  name: 'sentry (resolve through the Web API)',
  status: 'resolved',
  http: { label: (vendor) => `Sentry API ${vendor.host}` },
  // The bulk mutate answers 200 when it resolved, 204 when no issue matched (nothing to do
  // for an alert this relay never sent); any other 2xx is not its answer.
  expect: (vendorCase, standard) =>
    vendorCase.status === 201 || vendorCase.status === 202
      ? { error: 'PermanentError', statusCode: vendorCase.status }
      : (conformance.expect?.(vendorCase, standard) ?? standard),
});

describe('Sink: sentry', () => {
  const fakes: FakeSentry[] = [];

  async function fake(): Promise<FakeSentry> {
    const started = await startFakeSentry();
    fakes.push(started);
    return started;
  }

  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });

  function delivery(
    sentry: FakeSentry,
    notification: Notification,
    options: {
      destination?: Partial<SentryDestination>;
      secrets?: Record<string, string>;
      state?: StateStore;
      idempotencyKey?: string;
      logger?: SinkLogger;
      attempt?: number;
    } = {},
  ): Delivery<SentryDestination> {
    const secrets = options.secrets ?? { [DSN_SECRET]: sentry.dsn, [TOKEN_SECRET]: sentry.token };
    return {
      destination: {
        name: 'errors',
        sink: 'sentry',
        dsnSecret: DSN_SECRET,
        authTokenSecret: TOKEN_SECRET,
        org: sentry.org,
        project: 'alerts',
        apiUrl: sentry.url,
        ...options.destination,
      },
      notification,
      idempotencyKey: options.idempotencyKey ?? `idem-${notification.status}-${notification.alerts.length}`,
      part: { index: 1, count: 1 },
      receivedAt: '2026-11-21T12:00:00.000Z',
      attempt: options.attempt ?? 1,
      secrets: {
        async get(name) {
          const value = secrets[name];
          if (value === undefined) throw new PermanentError(`secret ${name} does not exist`);
          return value;
        },
      },
      state: options.state ?? memoryState(),
      logger: options.logger ?? capturingLogger().logger,
    };
  }

  const firing = (count = 2) =>
    makeNotification({ count, labels: (i) => ({ severity: i === 0 ? 'critical' : 'warning', job: 'api' }) });
  const resolved = (count = 2) =>
    makeNotification({
      count,
      status: 'resolved',
      labels: (i) => ({ severity: i === 0 ? 'critical' : 'warning', job: 'api' }),
    });

  describe('firing alerts', () => {
    it('should send one event per alert as an envelope with X-Sentry-Auth, one issue per alert', async () => {
      // Prepare
      const sentry = await fake();
      const notification = firing();

      // Act
      await sentrySink.deliver(delivery(sentry, notification));

      // Assess
      const [first] = sentry.requests;
      expect(first.path).toBe(`/api/${sentry.projectId}/envelope/`);
      expect(first.headers['content-type']).toBe('application/x-sentry-envelope');
      expect(first.headers['x-sentry-auth']).toBe(
        `Sentry sentry_version=7, sentry_client=alertmanager-relay/0.1.0, sentry_key=${sentry.publicKey}`,
      );
      expect(sentry.requests.map((r) => r.outcome)).toEqual([200, 200]);
      expect(sentry.issues.map((i) => i.fingerprint)).toEqual([
        ['alertmanager', 'f000000000000000'],
        ['alertmanager', 'f000000000000001'],
      ]);
      expect(sentry.violations).toEqual([]);
      const [event] = sentry.events.map((e) => e.event);
      expect(event).toMatchObject({
        event_id: eventIdFor('idem-firing-2', 'f000000000000000'),
        level: 'fatal',
        message: 'Latency high on web-0',
        platform: 'other',
        server_name: 'web-0:9100',
        tags: {
          alertname: 'HighLatency',
          severity: 'critical',
          instance: 'web-0:9100',
          job: 'api',
          alert_fingerprint: 'f000000000000000',
        },
        extra: {
          annotations: { summary: 'Latency high on web-0' },
          startsAt: '2026-11-21T11:00:00.000Z',
          generatorURL: notification.alerts[0].generatorURL,
          groupKey: notification.groupKey,
        },
      });
      expect(event.timestamp).toBe(Date.parse('2026-11-21T12:00:00.000Z') / 1000);
      expect(sentry.events[1].event.level).toBe('warning');
    });

    it('should fall back to the alertname, map levels as configured and set environment and release from labels', async () => {
      // Prepare
      const sentry = await fake();
      const notification = makeNotification({
        labels: () => ({ severity: 'page', env: 'prod', version: 'v1.2.3' }),
      });
      notification.alerts[0].annotations = {};

      // Act
      await sentrySink.deliver(
        delivery(sentry, notification, {
          destination: { levels: { page: 'fatal' }, environmentLabel: 'env', releaseLabel: 'version' },
        }),
      );

      // Assess
      expect(sentry.events[0].event).toMatchObject({
        message: 'HighLatency',
        level: 'fatal',
        environment: 'prod',
        release: 'v1.2.3',
      });
    });

    it('should keep tag keys and values inside Sentry’s limits and say which labels were renamed', async () => {
      // Prepare
      const sentry = await fake();
      const long = 'x'.repeat(500);
      const notification = makeNotification({
        labels: () => ({
          'kubernetes/pod name': 'a\nb',
          this_label_name_is_far_longer_than_thirty_two: long,
          environment: 'staging/eu',
        }),
      });

      // Act
      await sentrySink.deliver(delivery(sentry, notification));

      // Assess
      expect(sentry.violations).toEqual([]);
      const { tags, extra } = sentry.events[0].event as {
        tags: Record<string, string>;
        extra: Record<string, unknown>;
      };
      expect(tags.kubernetes_pod_name).toBe('a b');
      expect(tags.this_label_name_is_far_longer_th).toHaveLength(200);
      expect(tags['label.environment']).toBe('staging/eu');
      expect(extra.renamedTags).toMatchObject({ 'kubernetes/pod name': 'kubernetes_pod_name' });
      expect(extra.environmentRefused).toBe('staging/eu');
    });

    it('should say on every event when Alertmanager truncated the group', async () => {
      // Prepare
      const sentry = await fake();
      const notification = { ...firing(), truncatedAlerts: 7 };

      // Act
      await sentrySink.deliver(delivery(sentry, notification));

      // Assess
      for (const { event } of sentry.events) {
        expect((event.tags as Record<string, string>).truncated_alerts).toBe('7');
        expect((event.extra as Record<string, string>).truncatedAlerts).toMatch(/7 more alert/);
      }
    });

    it('should cut an event over 1 MiB down and mark it instead of sending what Sentry refuses', async () => {
      // Prepare
      const sentry = await fake();
      const notification = makeNotification({});
      notification.alerts[0].annotations.runbook = 'r'.repeat(2 * 1024 * 1024);

      // Act
      await sentrySink.deliver(delivery(sentry, notification));

      // Assess
      expect(sentry.requests.map((r) => r.outcome)).toEqual([200]);
      const { tags, extra } = sentry.events[0].event as {
        tags: Record<string, string>;
        extra: Record<string, string>;
      };
      expect(tags.relay_trimmed).toBe('true');
      expect(extra.relayTrimmed).toMatch(/over Sentry's 1 MiB limit/);
    });
  });

  describe('resolved alerts', () => {
    it('should resolve the issue through the Web API and send no event', async () => {
      // Prepare
      const sentry = await fake();
      const state = memoryState();
      await sentrySink.deliver(delivery(sentry, firing(), { state }));

      // Act
      await sentrySink.deliver(delivery(sentry, resolved(), { state }));

      // Assess
      const puts = sentry.requests.filter((r) => r.method === 'PUT');
      expect(puts).toHaveLength(2);
      expect(puts[0].path).toBe(`/api/0/organizations/${sentry.org}/issues/`);
      expect(puts[0].headers.authorization).toBe(`Bearer ${sentry.token}`);
      expect(puts[0].query.get('project')).toBe(sentry.projectId);
      expect(puts[0].query.get('query')).toBe('alert_fingerprint:f000000000000000');
      expect(puts[0].body).toEqual({ status: 'resolved' });
      expect(sentry.events).toHaveLength(2);
      expect(sentry.issues.map((i) => [i.status, i.history])).toEqual([
        ['resolved', ['created', 'resolved']],
        ['resolved', ['created', 'resolved']],
      ]);
    });

    it('should only resolve the resolved alerts of a mixed notification', async () => {
      // Prepare
      const sentry = await fake();
      const state = memoryState();
      await sentrySink.deliver(delivery(sentry, firing(), { state }));
      const mixed = firing();
      mixed.alerts[1] = resolved().alerts[1];

      // Act
      await sentrySink.deliver(delivery(sentry, mixed, { state, idempotencyKey: 'idem-mixed' }));

      // Assess
      expect(sentry.issueFor('f000000000000000')?.status).toBe('unresolved');
      expect(sentry.issueFor('f000000000000001')?.status).toBe('resolved');
      expect(sentry.issueFor('f000000000000001')?.history).not.toContain('regressed');
    });

    it('should retry a resolve that finds nothing while Sentry has not indexed the firing event yet', async () => {
      // Prepare
      const sentry = await fake();
      sentry.indexLag = 1;
      const state = memoryState();
      await sentrySink.deliver(delivery(sentry, firing(1), { state }));

      // Act
      const error = await failure(sentrySink.deliver(delivery(sentry, resolved(1), { state })));
      await sentrySink.deliver(delivery(sentry, resolved(1), { state, attempt: 2 }));

      // Assess
      expect(error).toBeInstanceOf(RetryableError);
      expect(error).toMatchObject({ retryAfterSeconds: 5 });
      expect(error.message).toMatch(
        /found no issue tagged alert_fingerprint:f000000000000000 although its firing event/,
      );
      expect(sentry.requests.map((r) => r.outcome)).toEqual([200, 204, 200]);
      expect(sentry.issues[0].status).toBe('resolved');
    });

    it('should give up with the reason after three misses for an event it sent', async () => {
      // Prepare
      const sentry = await fake();
      sentry.indexLag = 100;
      const state = memoryState();
      await sentrySink.deliver(delivery(sentry, firing(1), { state }));

      // Act
      const errors: Error[] = [];
      for (let attempt = 1; attempt <= 4; attempt++) {
        errors.push(await failure(sentrySink.deliver(delivery(sentry, resolved(1), { state, attempt }))));
      }

      // Assess
      expect(errors.map((e) => e.name)).toEqual([
        'RetryableError',
        'RetryableError',
        'RetryableError',
        'PermanentError',
      ]);
      expect(errors.slice(0, 3).map((e) => (e as RetryableError).retryAfterSeconds)).toEqual([5, 15, 45]);
      expect(errors[3].message).toMatch(
        /after 4 tries: gave up .* resolve the issue in Sentry or redrive this message$/,
      );
    });

    it('should not wait for an index once the firing event is older than the grace period', async () => {
      // Prepare
      const sentry = await fake();
      sentry.indexLag = 100;
      let clock = Date.parse('2026-11-21T12:00:00.000Z');
      const sink = createSentrySink({ now: () => clock });
      const state = memoryState();
      const { logger, lines } = capturingLogger();
      await sink.deliver(delivery(sentry, firing(1), { state }));
      clock += 11 * 60 * 1000;

      // Act
      await sink.deliver(delivery(sentry, resolved(1), { state, logger }));

      // Assess
      expect(sentry.requests.map((r) => r.outcome)).toEqual([200, 204]);
      expect(lines.find((l) => l.startsWith('warn sentry resolve matched no issue'))).toContain(
        '"firedSecondsAgo":660',
      );
    });

    it('should finish a resolve that matches nothing when it never sent a firing event', async () => {
      // Prepare
      const sentry = await fake();
      const { logger, lines } = capturingLogger();

      // Act
      await sentrySink.deliver(delivery(sentry, resolved(1), { logger }));

      // Assess
      expect(sentry.requests.map((r) => r.outcome)).toEqual([204]);
      expect(lines.some((l) => l.startsWith('warn sentry resolve matched no issue'))).toBe(true);
    });

    it('should send nothing for resolved alerts without an auth token, and say resolves are off once', async () => {
      // Prepare
      const sentry = await fake();
      const sink = createSentrySink();
      const { logger, lines } = capturingLogger();
      const destination = { authTokenSecret: undefined, org: undefined };

      // Act
      await sink.deliver(delivery(sentry, resolved(), { destination, logger }));
      await sink.deliver(delivery(sentry, resolved(), { destination, logger, idempotencyKey: 'other' }));

      // Assess
      expect(sentry.requests).toEqual([]);
      expect(lines.filter((l) => l.startsWith('warn sentry resolves are off'))).toHaveLength(1);
      expect(sink.describe?.({ name: 'errors', sink: 'sentry', dsnSecret: DSN_SECRET })).toEqual([
        expect.stringMatching(/^resolves are off/),
      ]);
    });

    it('should say at start where resolves go when an auth token is configured', () => {
      // Act
      const notes = sentrySink.describe?.({
        name: 'errors',
        sink: 'sentry',
        dsnSecret: DSN_SECRET,
        authTokenSecret: TOKEN_SECRET,
        org: 'acme',
        project: 'alerts',
        apiUrl: 'https://de.sentry.io',
      });

      // Assess
      expect(notes).toEqual([
        'resolved alerts resolve their Sentry issues in acme/alerts through https://de.sentry.io',
      ]);
    });

    it('should reopen the issue if an event arrives after the resolve (why a resolve never sends one)', async () => {
      // Prepare
      const sentry = await fake();
      const state = memoryState();
      await sentrySink.deliver(delivery(sentry, firing(1), { state }));
      await sentrySink.deliver(delivery(sentry, resolved(1), { state }));

      // Act
      // The alert fires again: a new notification (new startsAt, new key).
      await sentrySink.deliver(
        delivery(sentry, makeNotification({ startsAt: '2026-11-21T13:00:00.000Z' }), {
          state,
          idempotencyKey: 'again',
        }),
      );

      // Assess
      expect(sentry.issues).toHaveLength(1);
      expect(sentry.issues[0].history).toEqual(['created', 'resolved', 'regressed']);
      expect(sentry.issues[0].status).toBe('unresolved');
    });
  });

  describe('idempotency', () => {
    it('should create nothing twice when the same notification is delivered twice', async () => {
      // Prepare
      const sentry = await fake();
      const notification = firing();

      // Act
      // Two Alertmanagers, each through its own progress record: only the event id dedups.
      await sentrySink.deliver(delivery(sentry, notification));
      await sentrySink.deliver(delivery(sentry, notification));

      // Assess
      expect(sentry.events).toHaveLength(2);
      expect(sentry.issues).toHaveLength(2);
      expect(sentry.duplicateEventIds).toEqual(sentry.events.map((e) => e.eventId));
    });

    it('should not resend alerts a failed attempt already delivered', async () => {
      // Prepare
      const sentry = await fake();
      const state = memoryState();
      sentry.respondWith([{ status: 200, body: { id: 'x' } }, { status: 503 }]);

      // Act
      const error = await failure(sentrySink.deliver(delivery(sentry, firing(3), { state })));
      await sentrySink.deliver(delivery(sentry, firing(3), { state, attempt: 2 }));

      // Assess
      expect(error).toBeInstanceOf(RetryableError);
      const sentIds = sentry.requests.map((r) => JSON.parse(r.text.split('\n')[0]).event_id);
      expect(sentIds).toHaveLength(4);
      expect(new Set(sentIds).size).toBe(3);
      expect(sentIds[1]).toBe(sentIds[2]);
    });
  });

  describe('errors', () => {
    it.each([
      ['Retry-After alone', { 'retry-after': '7' }, 7],
      [
        'X-Sentry-Rate-Limits for errors over Retry-After',
        { 'retry-after': '5', 'x-sentry-rate-limits': '30:error;default:organization' },
        30,
      ],
      ['X-Sentry-Rate-Limits for all categories', { 'x-sentry-rate-limits': '12::key' }, 12],
      [
        'a limit for transactions only',
        { 'retry-after': '3', 'x-sentry-rate-limits': '900:transaction:key' },
        3,
      ],
      ['neither header', {}, 60],
    ])('should wait as told on a 429 with %s', async (_, headers, seconds) => {
      // Prepare
      const sentry = await fake();
      sentry.respondWith([{ status: 429, headers }]);

      // Act
      const error = await failure(createSentrySink().deliver(delivery(sentry, firing(1))));

      // Assess
      expect(error).toBeInstanceOf(RetryableError);
      expect(error).toMatchObject({ statusCode: 429, retryAfterSeconds: seconds });
      expect(sentry.events).toEqual([]);
    });

    it('should hold back further events after a 200 that announces a rate limit', async () => {
      // Prepare
      const sentry = await fake();
      const sink = createSentrySink();
      sentry.respondWith([{ status: 200, headers: { 'x-sentry-rate-limits': '120:error:organization' } }]);

      // Act
      const error = await failure(sink.deliver(delivery(sentry, firing(2))));

      // Assess
      expect(sentry.requests).toHaveLength(1);
      // Held back by Sentry's own limit: a wait, which counts no attempt.
      expect(error).toBeInstanceOf(RateLimitedError);
      expect((error as RetryableError).retryAfterSeconds).toBeGreaterThanOrEqual(119);
    });

    it('should fail permanently when Sentry refuses the DSN’s key, without quoting it', async () => {
      // Prepare
      const sentry = await fake();
      const wrongKey = 'badbadbadbadbadbadbadbadbadbad00';
      const secrets = {
        [DSN_SECRET]: sentry.dsn.replace(sentry.publicKey, wrongKey),
        [TOKEN_SECRET]: sentry.token,
      };

      // Act
      const error = await failure(sentrySink.deliver(delivery(sentry, firing(1), { secrets })));

      // Assess
      expect(sentry.requests[0].outcome).toBe(403);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).not.toContain(wrongKey);
    });

    it('should fail permanently on a DSN that is not one, naming the secret but not its value', async () => {
      // Prepare
      const sentry = await fake();
      const secrets = {
        [DSN_SECRET]: 'https://sentry.example.com/not-a-project',
        [TOKEN_SECRET]: sentry.token,
      };

      // Act
      const error = await failure(sentrySink.deliver(delivery(sentry, firing(1), { secrets })));

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toContain(DSN_SECRET);
      expect(error.message).not.toContain('not-a-project');
      expect(sentry.requests).toEqual([]);
    });

    it('should fail a resolve permanently on a refused token, without quoting it', async () => {
      // Prepare
      const sentry = await fake();
      const secrets = { [DSN_SECRET]: sentry.dsn, [TOKEN_SECRET]: 'sntryu_wrong-token-abcdef' };

      // Act
      const error = await failure(sentrySink.deliver(delivery(sentry, resolved(1), { secrets })));

      // Assess
      expect(sentry.requests[0].outcome).toBe(401);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toMatch(/auth token in "SENTRY_AUTH_TOKEN" was refused or lacks event:write/);
      expect(error.message).not.toContain('wrong-token');
    });

    it('should refuse an organization auth token (sntrys_) before any call, saying what to use', async () => {
      // Prepare
      const sentry = await fake();
      const secrets = { [DSN_SECRET]: sentry.dsn, [TOKEN_SECRET]: 'sntrys_org-token-abcdef' };

      // Act
      const error = await failure(sentrySink.deliver(delivery(sentry, resolved(1), { secrets })));

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toContain('organization auth token (sntrys_)');
      expect(error.message).toContain('internal integration token or a user auth token with event:write');
      expect(error.message).not.toContain('org-token-abcdef');
      expect(sentry.requests).toEqual([]);
    });

    it('should fail a resolve permanently for an unknown organization', async () => {
      // Prepare
      const sentry = await fake();

      // Act
      const error = await failure(
        sentrySink.deliver(delivery(sentry, resolved(1), { destination: { org: 'nope' } })),
      );

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ statusCode: 404 });
    });
  });

  describe('the fake itself', () => {
    it('should answer 403 to an organization token (sntrys_) on the resolve API, as its fixed scope lacks event:write', async () => {
      // Prepare
      const sentry = await fake();
      const url = `${sentry.url}/api/0/organizations/${sentry.org}/issues/?project=${sentry.projectId}&query=alert_fingerprint:abc`;
      const put = (token: string) =>
        fetch(url, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ status: 'resolved' }),
        });

      // Act
      const org = await put('sntrys_org-token-abcdef');
      const user = await put(sentry.token);

      // Assess
      expect(org.status).toBe(403);
      expect(user.status).toBe(204);
    });

    const envelope = (event: object, itemLength?: number) => {
      const payload = JSON.stringify(event);
      const length = itemLength ?? Buffer.byteLength(payload);
      return `{}\n${JSON.stringify({ type: 'event', length })}\n${payload}\n`;
    };
    const valid = {
      event_id: 'a'.repeat(32),
      timestamp: 1_763_726_400,
      platform: 'other',
      level: 'error',
      message: 'm',
      fingerprint: ['x'],
      tags: {},
    };
    const post = (sentry: FakeSentry, body: string, auth?: string) =>
      fetch(`${sentry.url}/api/${sentry.projectId}/envelope/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-sentry-envelope',
          ...(auth !== undefined && { 'x-sentry-auth': auth }),
        },
        body,
      });

    it('should refuse bad auth, malformed envelopes and bad events, and record tag violations', async () => {
      // Prepare
      const sentry = await fake();
      const auth = `Sentry sentry_version=7, sentry_client=t/1, sentry_key=${sentry.publicKey}`;

      // Act
      const statuses = [
        (await post(sentry, envelope(valid))).status,
        (await post(sentry, envelope(valid), auth.replace(sentry.publicKey, 'other'))).status,
        (await post(sentry, envelope(valid, 5), auth)).status,
        (await post(sentry, envelope({ ...valid, event_id: 'ABC' }), auth)).status,
        (await post(sentry, envelope({ ...valid, level: 'panic' }), auth)).status,
        (await post(sentry, envelope({ ...valid, tags: { 'bad key!': 'v', k: 'x'.repeat(201) } }), auth))
          .status,
      ];

      // Assess
      expect(statuses).toEqual([401, 403, 400, 400, 400, 200]);
      expect(sentry.violations).toHaveLength(2);
    });
  });

  describe('config schema', () => {
    // The same ajv settings and common fields as lib/config/load.ts.
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    const validate = ajv.compile({
      ...sentrySink.configSchema,
      properties: {
        ...(sentrySink.configSchema.properties as Record<string, unknown>),
        name: true,
        sink: true,
        matchers: true,
      },
    });
    const base = { name: 'errors', sink: 'sentry' };

    it('should accept the documented example', () => {
      // Prepare
      const destination = {
        ...base,
        dsnSecret: 'SENTRY_ALERTS_DSN',
        authTokenSecret: 'SENTRY_AUTH_TOKEN',
        org: 'acme',
        project: 'alerts',
        apiUrl: 'https://de.sentry.io',
        levels: { page: 'fatal' },
      };

      // Act
      const valid = validate(destination);

      // Assess
      expect(validate.errors ?? []).toEqual([]);
      expect(valid).toBe(true);
    });

    it.each([
      ['no dsnSecret', {}],
      ['an auth token without org', { dsnSecret: 'D', authTokenSecret: 'T' }],
      ['an unknown level', { dsnSecret: 'D', levels: { page: 'panic' } }],
      ['an apiUrl with credentials', { dsnSecret: 'D', apiUrl: 'https://u:p@sentry.io' }],
      ['a misspelt field', { dsnSecret: 'D', authTokenSecert: 'T' }],
    ])('should reject %s', (_, fields) => {
      // Act
      const valid = validate({ ...base, ...fields });

      // Assess
      expect(valid).toBe(false);
    });
  });
});

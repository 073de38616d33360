import { afterEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import { prometheusBody } from '../../../lib/sinks/ilert/event.ts';
import {
  createIlertSink,
  DEFAULT_RATE_LIMIT_WAIT_SECONDS,
  type IlertDestination,
  ilertSink,
  MIN_RATE_LIMIT_WAIT_SECONDS,
} from '../../../lib/sinks/ilert/ilert.ts';
import {
  ATTACKER_HOST,
  type ConformanceVendor,
  describeSinkConformance,
  HOSTILE_TEXT,
  jsonStrings,
  markdownViolations,
  plainTextViolations,
  type SinkConformance,
} from '../../support/conformance.ts';
import { type FakeIlert, startFakeIlert } from '../../support/fake-ilert.ts';
import { makeNotification } from '../../support/notifications.ts';
import { failure, memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';

const KEY = 'il1prom0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const SECRETS = { ILERT_KEY: KEY };

// The key is in the URL path in mode alertmanager and in the body in mode events: both run the kit.
const conformance: SinkConformance<IlertDestination> = {
  name: 'ilert (mode alertmanager)',
  sink: ({ now }) => createIlertSink({ now }),
  destination: (vendor: ConformanceVendor) => ({
    name: 'oncall',
    sink: 'ilert',
    keySecret: 'ILERT_KEY',
    baseUrl: vendor.url,
    timeoutSeconds: vendor.timeoutSeconds,
  }),
  secrets: () => SECRETS,
  http: { label: (vendor) => `ilert ${vendor.host}` },
  hostile: ({ outcome, requests }) => {
    // ilert renders the annotations (summary, Markdown details) and links the `url` label: the
    // annotations arrive Markdown-escaped, labels and keys without controls, links only checked.
    expect(outcome).toEqual({ delivered: true });
    const body = requests[0].body as Notification;
    for (const annotations of [body.commonAnnotations, ...body.alerts.map((a) => a.annotations)])
      for (const value of Object.values(annotations)) expect(markdownViolations(value)).toEqual([]);
    expect(jsonStrings(body).flatMap(plainTextViolations)).toEqual([]);
    for (const alert of body.alerts) expect(new URL(alert.generatorURL).hostname).not.toBe(ATTACKER_HOST);
    expect(body.alerts[0].annotations.summary).toContain('reset your password');
    expect(body.alerts[0].annotations.summary).not.toContain(HOSTILE_TEXT.markdownLink);
  },
  // ilert asks for 10-30 s after a 429: at least 10 s, 20 s when it names no wait.
  expect: (vendorCase, standard) =>
    vendorCase.status === 429
      ? {
          ...standard,
          retryAfterSeconds: Math.max(
            vendorCase.retryAfterSeconds ?? DEFAULT_RATE_LIMIT_WAIT_SECONDS,
            MIN_RATE_LIMIT_WAIT_SECONDS,
          ),
        }
      : standard,
};
describeSinkConformance(conformance);
describeSinkConformance<IlertDestination>({
  ...conformance,
  name: 'ilert (mode events)',
  destination: (vendor) => ({ ...conformance.destination(vendor), mode: 'events' }),
  hostile: ({ outcome, requests }) => {
    // The details are Markdown that ilert renders: every label, annotation, the receiver and
    // the fingerprint stay text; links are only the validated ones, never to the attacker.
    expect(outcome).toEqual({ delivered: true });
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) {
      const event = request.body as { summary: string; details: string; links?: { href: string }[] };
      // The summary is the alert's plain-text title: no controls or bidi, characters as they are.
      expect(plainTextViolations(event.summary)).toEqual([]);
      expect(markdownViolations(event.details)).toEqual([]);
      expect(jsonStrings(event).flatMap(plainTextViolations)).toEqual([]);
      const unescaped = event.details.replace(/\\[\s\S]/g, '');
      // Our own **Firing** / **Labels**, the table's pipes and the relay's note are the only markup left.
      const ours = unescaped
        .replace(/\*\*(Firing|Resolved|Annotations|Labels)\*\*/g, '')
        .replace(/^\|.*\|$/gm, '')
        .replace(/^> .*$/gm, '')
        .replace(/^- \*\*[^*]*\*\*:/gm, '');
      expect(ours).not.toMatch(/[[\]()<>*_`#!]/);
      expect(event.details).not.toMatch(/(^|[^\p{L}\p{N}_.+-])@(everyone|here)/u);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may reach ilert
      expect(event.details).not.toMatch(/[\u001b\u009b\u202a-\u202e\u2066-\u2069]/);
      for (const link of event.links ?? []) expect(new URL(link.href).hostname).not.toBe('evil.example');
    }
  },
});

describe('Sink: ilert', () => {
  let fake: FakeIlert;

  async function start(): Promise<FakeIlert> {
    fake = await startFakeIlert({ integrationKeys: [KEY] });
    return fake;
  }

  afterEach(async () => {
    await fake?.close();
  });

  function destination(extra: Partial<IlertDestination> = {}): IlertDestination {
    return { name: 'oncall', sink: 'ilert', keySecret: 'ILERT_KEY', baseUrl: fake.url, ...extra };
  }

  const deliver = (
    notification: Notification,
    extra: Partial<IlertDestination> = {},
    options: Parameters<typeof vendorDelivery>[2] = {},
  ) => ilertSink.deliver(vendorDelivery(destination(extra), notification, { secrets: SECRETS, ...options }));

  describe('mode alertmanager', () => {
    it("should forward the notification to the alert source's Prometheus endpoint and resolve it", async () => {
      // Prepare
      await start();
      const firing = makeNotification({
        count: 2,
        labels: () => ({ ilert_routingkey: 'db-team', url: 'https://grafana/d/1', urlLabel: 'Dashboard' }),
      });
      const resolved = makeNotification({ count: 2, status: 'resolved' });

      // Act
      await deliver(firing);
      await deliver(resolved);

      // Assess
      expect(fake.requests.map((r) => [r.path, r.outcome])).toEqual([
        [`/api/v1/events/prometheus/${KEY}`, 202],
        [`/api/v1/events/prometheus/${KEY}`, 202],
      ]);
      // As it came, but for the annotations, which ilert renders: Markdown-escaped.
      expect(fake.requests[0].body).toEqual(prometheusBody(firing, { index: 1, count: 1 }));
      expect((fake.requests[0].body as Notification).alerts[1].labels).toEqual(firing.alerts[1].labels);
      expect(fake.alerts).toHaveLength(1);
      expect(fake.alerts[0]).toMatchObject({
        alertKey: firing.groupKey,
        status: 'resolved',
        routingKey: 'db-team',
        links: [{ href: 'https://grafana/d/1', text: 'Dashboard' }],
        events: ['firing', 'resolved'],
      });
    });

    it('should create nothing twice when the same notification is delivered twice', async () => {
      // Prepare
      await start();
      const notification = makeNotification({ count: 2 });

      // Act
      await deliver(notification);
      await deliver(notification);

      // Assess
      expect(fake.alerts).toHaveLength(1);
      expect(fake.alerts[0].status).toBe('pending');
    });

    it('should say in the annotations ilert shows when Alertmanager truncated the group', async () => {
      // Prepare
      await start();
      const notification: Notification = { ...makeNotification({ count: 1 }), truncatedAlerts: 9 };

      // Act
      await deliver(notification);

      // Assess
      const sent = fake.requests[0].body as Notification;
      expect(sent.alerts[0].annotations.relay_note).toContain('left 9 more alert(s)');
      expect(sent.commonAnnotations.relay_note).toContain('left 9 more alert(s)');
    });

    it('should make an unknown alert source key (404) permanent without quoting it', async () => {
      // Prepare
      await start();

      // Act
      const error = await failure(
        ilertSink.deliver(
          vendorDelivery(destination(), makeNotification({}), {
            secrets: { ILERT_KEY: 'il1prom-revoked-key-000' },
          }),
        ),
      );

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as PermanentError).statusCode).toBe(404);
      expect(error.message).toContain('ILERT_KEY');
      expect(error.message).not.toContain('il1prom-revoked-key-000');
    });
  });

  describe('mode events', () => {
    it('should send one ALERT per alert keyed by destination + fingerprint, then RESOLVE each', async () => {
      // Prepare
      await start();
      const firing = makeNotification({ count: 2 });
      const resolved = makeNotification({ count: 2, status: 'resolved' });

      // Act
      await deliver(firing, { mode: 'events' });
      await deliver(resolved, { mode: 'events' });

      // Assess
      expect(fake.requests.every((r) => r.path === '/api/events' && r.outcome === 202)).toBe(true);
      expect(fake.alerts.map((a) => [a.alertKey, a.status, a.priority])).toEqual(
        firing.alerts.map((a) => [`oncall/${a.fingerprint}`, 'resolved', 'HIGH']),
      );
      expect(fake.alerts[0].links.map((l) => (l as { text: string }).text)).toEqual([
        'Graph (Prometheus)',
        'Silence in Alertmanager',
      ]);
      expect(fake.alerts[0].details).toContain('| instance | web\\-0:9100 |');
    });

    it('should create nothing twice: a duplicate delivery sends nothing, a repeat appends to the open alert', async () => {
      // Prepare
      await start();
      const state = memoryState();
      const notification = makeNotification({ count: 2 });

      // Act
      await deliver(notification, { mode: 'events' }, { state });
      await deliver(notification, { mode: 'events' }, { state, attempt: 2 });
      await deliver(notification, { mode: 'events' }, { idempotencyKey: 'repeat-interval-reminder' });

      // Assess
      expect(fake.requests).toHaveLength(4);
      expect(fake.alerts).toHaveLength(2);
      expect(fake.alerts.map((a) => a.events)).toEqual([
        ['ALERT', 'ALERT'],
        ['ALERT', 'ALERT'],
      ]);
    });

    it('should retry a 429 after at least 10 s and resume after the alerts already sent', async () => {
      // Prepare
      await start();
      const state = memoryState();
      const notification = makeNotification({ count: 2 });
      // The first event passes (scripted, so it is not recorded as an alert); the second is throttled.
      fake.respondWith([
        { status: 202, body: {} },
        { status: 429, body: { message: 'Too many requests' } },
      ]);
      const first = await failure(deliver(notification, { mode: 'events' }, { state }));

      // Act
      await deliver(notification, { mode: 'events' }, { state, attempt: 2 });

      // Assess
      expect(first).toBeInstanceOf(RetryableError);
      expect((first as RetryableError).retryAfterSeconds).toBe(DEFAULT_RATE_LIMIT_WAIT_SECONDS);
      const keys = fake.requests.map((r) => (r.body as { alertKey: string }).alertKey);
      const [a, b] = notification.alerts.map((x) => `oncall/${x.fingerprint}`);
      expect(keys).toEqual([a, b, b]);
    });
  });
});

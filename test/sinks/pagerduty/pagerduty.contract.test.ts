import { afterEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import { safeHttpUrl } from '../../../lib/format/url.ts';
import type { PagerDutyEvent } from '../../../lib/sinks/pagerduty/event.ts';
import { groupDedupKey, MAX_EVENT_BYTES } from '../../../lib/sinks/pagerduty/event.ts';
import {
  createPagerDutySink,
  type PagerDutyDestination,
  pagerdutySink,
  RATE_LIMIT_WAIT_SECONDS,
} from '../../../lib/sinks/pagerduty/pagerduty.ts';
import {
  ATTACKER_HOST,
  describeSinkConformance,
  HOSTILE_TEXT,
  jsonStrings,
  plainTextViolations,
} from '../../support/conformance.ts';
import { type FakePagerDuty, startFakePagerDuty } from '../../support/fake-pagerduty.ts';
import { makeNotification } from '../../support/notifications.ts';
import { capturingLogger, failure, memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';

const ROUTING_KEY = 'R0UT1NGKEYc0ffee0123456789abcdef';
const SECRETS = { PD_ROUTING_KEY: ROUTING_KEY };

describeSinkConformance<PagerDutyDestination>({
  name: 'pagerduty',
  sink: ({ now }) => createPagerDutySink({ now }),
  destination: (vendor) => ({
    name: 'pager',
    sink: 'pagerduty',
    routingKeySecret: 'PD_ROUTING_KEY',
    baseUrl: vendor.url,
    timeoutSeconds: vendor.timeoutSeconds,
  }),
  secrets: () => SECRETS,
  http: { label: (vendor) => `pagerduty ${vendor.host}` },
  hostile: ({ outcome, requests }) => {
    // PagerDuty shows summary, source and custom_details as plain text and links `links[]` and
    // client_url: no control from alert content, and every link a checked http(s) URL.
    expect(outcome).toEqual({ delivered: true });
    const event = requests[0].body as PagerDutyEvent;
    expect(jsonStrings(event).flatMap(plainTextViolations)).toEqual([]);
    const hrefs = [...(event.links ?? []).map((l) => l.href), event.client_url ?? ''].filter(Boolean);
    expect(hrefs.length).toBeGreaterThan(0);
    for (const href of hrefs) {
      expect(safeHttpUrl(href)).toBe(href);
      expect(new URL(href).hostname).not.toBe(ATTACKER_HOST);
    }
    expect(event.payload?.summary).toContain(HOSTILE_TEXT.markdownLink);
  },
  // PagerDuty suggests retrying a 429 30 s later: a shorter Retry-After still waits 30 s.
  expect: (vendorCase, standard) =>
    vendorCase.status === 429
      ? {
          ...standard,
          retryAfterSeconds: Math.max(vendorCase.retryAfterSeconds ?? 0, RATE_LIMIT_WAIT_SECONDS),
        }
      : standard,
});

describe('Sink: pagerduty', () => {
  let fake: FakePagerDuty;

  async function start(): Promise<FakePagerDuty> {
    fake = await startFakePagerDuty({ routingKeys: [ROUTING_KEY] });
    return fake;
  }

  afterEach(async () => {
    await fake?.close();
  });

  function destination(extra: Partial<PagerDutyDestination> = {}): PagerDutyDestination {
    return {
      name: 'pager',
      sink: 'pagerduty',
      routingKeySecret: 'PD_ROUTING_KEY',
      baseUrl: fake.url,
      ...extra,
    };
  }

  const deliver = (
    notification: Notification,
    extra: Partial<PagerDutyDestination> = {},
    options: Parameters<typeof vendorDelivery>[2] = {},
  ) =>
    pagerdutySink.deliver(vendorDelivery(destination(extra), notification, { secrets: SECRETS, ...options }));

  describe('mode group', () => {
    it("should open one incident per group under Alertmanager's dedup_key and resolve it", async () => {
      // Prepare
      await start();
      const firing = makeNotification({ count: 2 });
      const resolved = makeNotification({ count: 2, status: 'resolved' });

      // Act
      await deliver(firing);
      await deliver(resolved);

      // Assess
      expect(fake.incidents).toHaveLength(1);
      const incident = fake.incident(groupDedupKey(firing.groupKey));
      expect(incident?.status).toBe('resolved');
      expect(incident?.log).toEqual(['trigger', 'resolve']);
      expect(fake.requests.map((r) => r.outcome)).toEqual([202, 202]);
    });

    it('should keep the incident open with updated details while some alerts still fire', async () => {
      // Prepare
      await start();
      const firing = makeNotification({ count: 2 });
      const someResolved = makeNotification({ count: 2 });
      someResolved.alerts[0] = {
        ...someResolved.alerts[0],
        status: 'resolved',
        endsAt: '2026-11-21T11:20:00Z',
      };

      // Act
      await deliver(firing);
      await deliver(someResolved);

      // Assess
      const incident = fake.incident(groupDedupKey(firing.groupKey));
      expect(incident?.status).toBe('triggered');
      expect(incident?.triggers).toBe(2);
      expect(incident?.payload.custom_details).toMatchObject({ num_firing: 1, num_resolved: 1 });
    });

    it('should create nothing twice when the same notification is delivered twice', async () => {
      // Prepare
      await start();
      const notification = makeNotification({ count: 3 });

      // Act
      await deliver(notification);
      await deliver(notification);

      // Assess
      expect(fake.incidents).toHaveLength(1);
      expect(fake.incidents[0].status).toBe('triggered');
    });

    it("should resolve an incident that Alertmanager's own PagerDuty integration opened", async () => {
      // Prepare: a trigger as notify/pagerduty sends it (dedup_key = sha256(groupKey))
      await start();
      const notification = makeNotification({ count: 1 });
      await fetch(`${fake.url}/v2/enqueue`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          routing_key: ROUTING_KEY,
          event_action: 'trigger',
          dedup_key: groupDedupKey(notification.groupKey),
          payload: { summary: '[FIRING:1] HighLatency', source: 'Alertmanager', severity: 'error' },
        }),
      });

      // Act
      await deliver(makeNotification({ count: 1, status: 'resolved' }));

      // Assess
      expect(fake.incidents).toHaveLength(1);
      expect(fake.incidents[0].status).toBe('resolved');
    });

    it('should page for a group over 512 KB, trimming details to fit', async () => {
      // Prepare
      await start();
      const notification = makeNotification({ count: 400 });
      for (const alert of notification.alerts) alert.annotations.description = 'x'.repeat(3000);

      // Act
      await deliver(notification);

      // Assess
      const [request] = fake.requests;
      expect(request.outcome).toBe(202);
      expect(request.rawBody.byteLength).toBeLessThanOrEqual(MAX_EVENT_BYTES);
      expect(fake.incidents[0].payload.custom_details).toMatchObject({ num_firing: 400 });
      expect(String((fake.incidents[0].payload.custom_details as { trimmed: string }).trimmed)).toMatch(
        /512 KB/,
      );
    });

    it('should say in the incident when Alertmanager truncated the group', async () => {
      // Prepare
      await start();
      const notification: Notification = { ...makeNotification({ count: 2 }), truncatedAlerts: 5 };

      // Act
      await deliver(notification);

      // Assess
      expect(fake.incidents[0].summary).toContain('+5 alert(s) cut by Alertmanager');
    });
  });

  describe('mode alert', () => {
    it('should open one incident per alert and resolve each', async () => {
      // Prepare
      await start();
      const firing = makeNotification({ count: 3 });
      const resolved = makeNotification({ count: 3, status: 'resolved' });

      // Act
      await deliver(firing, { mode: 'alert' });
      await deliver(resolved, { mode: 'alert' });

      // Assess
      expect(fake.incidents.map((i) => [i.dedupKey, i.status])).toEqual(
        firing.alerts.map((a) => [`pager/${a.fingerprint}`, 'resolved']),
      );
    });

    it('should not send an alert twice when the same delivery is retried (per-alert progress)', async () => {
      // Prepare
      await start();
      const state = memoryState();
      const notification = makeNotification({ count: 2 });

      // Act
      await deliver(notification, { mode: 'alert' }, { state });
      await deliver(notification, { mode: 'alert' }, { state, attempt: 2 });

      // Assess
      expect(fake.requests).toHaveLength(2);
      expect(fake.incidents).toHaveLength(2);
    });

    it('should retry a 429 via RetryableError (>= 30 s) and resume after the alerts already sent', async () => {
      // Prepare
      await start();
      const state = memoryState();
      const notification = makeNotification({ count: 3 });
      // The first event passes; the second is throttled.
      fake.rateLimit({ after: 1, times: 1 });

      // Act
      const error = await failure(deliver(notification, { mode: 'alert' }, { state }));
      await deliver(notification, { mode: 'alert' }, { state, attempt: 2 });

      // Assess
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).retryAfterSeconds).toBe(RATE_LIMIT_WAIT_SECONDS);
      expect((error as RetryableError).statusCode).toBe(429);
      const dedupKeys = fake.requests.map((r) => (r.body as { dedup_key: string }).dedup_key);
      const [a, b, c] = notification.alerts.map((x) => `pager/${x.fingerprint}`);
      expect(dedupKeys).toEqual([a, b, b, c]);
      expect(fake.incidents.map((i) => i.dedupKey)).toEqual([a, b, c]);
    });
  });

  describe('errors', () => {
    it("should make PagerDuty's 400 permanent, quoting its errors but never the routing key", async () => {
      // Prepare
      await start();
      const logs = capturingLogger();

      // Act
      const error = await failure(
        pagerdutySink.deliver(
          vendorDelivery(destination(), makeNotification({}), {
            secrets: { PD_ROUTING_KEY: `${ROUTING_KEY}-too-long` },
            logger: logs.logger,
          }),
        ),
      );

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as PermanentError).statusCode).toBe(400);
      expect(error.message).toContain('answered 400');
      expect(error.message).toContain("Length of 'routing_key' is incorrect");
      expect(error.message).not.toContain(ROUTING_KEY);
      expect(logs.lines.join('\n')).not.toContain(ROUTING_KEY);
    });

    it('should fail permanently when the routing key secret does not exist', async () => {
      // Prepare
      await start();

      // Act
      const error = await failure(
        pagerdutySink.deliver(vendorDelivery(destination(), makeNotification({}), { secrets: {} })),
      );

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(fake.requests).toHaveLength(0);
    });
  });
});

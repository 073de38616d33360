import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import type { Delivery } from '../../../lib/delivery/sink.ts';
import { createSysdigSink, type SysdigDestination, sysdigSink } from '../../../lib/sinks/sysdig/sysdig.ts';
import type { StateStore } from '../../../lib/state/store.ts';
import {
  describeSinkConformance,
  HOSTILE_TEXT,
  jsonStrings,
  plainTextViolations,
} from '../../support/conformance.ts';
import { type FakeSysdig, parseScope, startFakeSysdig } from '../../support/fake-sysdig.ts';
import { makeNotification } from '../../support/notifications.ts';
import { capturingLogger, memoryState } from '../../support/vendor-delivery.ts';

const TOKEN = 'sysdig-token-5c1e9a7b-0d2f';
const TOKEN_NAME = 'SYSDIG_TOKEN';

describeSinkConformance<SysdigDestination>({
  name: 'sysdig',
  sink: ({ now }) => createSysdigSink({ now }),
  destination: (vendor) => ({
    name: 'monitor',
    sink: 'sysdig',
    tokenSecret: TOKEN_NAME,
    baseUrl: vendor.url,
    timeoutSeconds: vendor.timeoutSeconds,
  }),
  secrets: () => ({ [TOKEN_NAME]: TOKEN }),
  http: { label: (vendor) => `sysdig ${vendor.host}` },
  hostile: ({ outcome, requests }) => {
    // Sysdig shows an event's name, description and tags as plain text. (The scope is an
    // expression: quoteScopeValue's own test keeps a value inside its quotes.)
    expect(outcome).toEqual({ delivered: true });
    const { event } = requests[0].body as {
      event: { name: string; description: string; scope?: string; tags: Record<string, string> };
    };
    expect(jsonStrings({ ...event, scope: undefined }).flatMap(plainTextViolations)).toEqual([]);
    expect(event.description).toContain(HOSTILE_TEXT.markdownLink);
    expect(event.tags.team).toContain('reset your password');
  },
});

describe('Sink: sysdig (contract with the fake Sysdig events API)', () => {
  let fake: FakeSysdig;
  let state: StateStore;
  let log: ReturnType<typeof capturingLogger>;

  beforeEach(async () => {
    fake = await startFakeSysdig({ token: TOKEN });
    state = memoryState();
    log = capturingLogger();
  });

  afterEach(async () => {
    await fake.close();
  });

  function delivery(
    notification: Notification,
    overrides: Partial<SysdigDestination> = {},
    options: { token?: string; idempotencyKey?: string; attempt?: number } = {},
  ): Delivery<SysdigDestination> {
    return {
      destination: {
        name: 'monitor',
        sink: 'sysdig',
        tokenSecret: TOKEN_NAME,
        baseUrl: fake.url,
        ...overrides,
      },
      notification,
      idempotencyKey: options.idempotencyKey ?? 'idem-1',
      part: { index: 1, count: 1 },
      receivedAt: '2026-11-21T11:00:01.000Z',
      attempt: options.attempt ?? 1,
      secrets: {
        async get(name) {
          if (name !== TOKEN_NAME) throw new PermanentError(`secret ${name} does not exist`);
          return options.token ?? TOKEN;
        },
      },
      state,
      logger: log.logger,
    };
  }

  it('should create one event per alert with bearer auth, name, severity, scope and tags', async () => {
    // Prepare
    const notification = makeNotification({
      count: 2,
      labels: (i) => ({ container_name: `web-${i}`, kubernetes_namespace_name: 'shop', team: 'payments' }),
    });

    // Act
    await sysdigSink.deliver(delivery(notification));

    // Assess
    expect(fake.requests.map((r) => [r.method, r.path, r.headers.authorization, r.outcome])).toEqual([
      ['POST', '/api/v2/events/', `Bearer ${TOKEN}`, 201],
      ['POST', '/api/v2/events/', `Bearer ${TOKEN}`, 201],
    ]);
    const [first, second] = fake.events;
    expect(first).toMatchObject({
      name: '[FIRING] HighLatency',
      severity: 2,
      scope: 'container.name = "web-0" and kubernetes.namespace.name = "shop"',
      tags: {
        alertname: 'HighLatency',
        team: 'payments',
        fingerprint: notification.alerts[0].fingerprint,
        status: 'firing',
      },
    });
    expect(first.description).toContain('Latency high on web-0');
    expect(second.tags.fingerprint).toBe(notification.alerts[1].fingerprint);
  });

  it('should send a resolve as a second event tagged status=resolved with the same fingerprint', async () => {
    // Prepare
    const firing = makeNotification({ count: 1 });
    const resolved = makeNotification({ count: 1, status: 'resolved' });

    // Act
    await sysdigSink.deliver(delivery(firing, {}, { idempotencyKey: 'idem-firing' }));
    await sysdigSink.deliver(delivery(resolved, {}, { idempotencyKey: 'idem-resolved' }));

    // Assess
    expect(fake.events.map((e) => [e.name, e.tags.status, e.tags.fingerprint])).toEqual([
      ['[FIRING] HighLatency', 'firing', firing.alerts[0].fingerprint],
      ['[RESOLVED] HighLatency', 'resolved', firing.alerts[0].fingerprint],
    ]);
    expect(fake.events[1].description).toContain('Resolved at 2026-11-21T11:30:00.000Z');
  });

  it('should create nothing twice when the same notification is delivered twice', async () => {
    // Prepare
    const notification = makeNotification({ count: 3 });

    // Act
    await sysdigSink.deliver(delivery(notification));
    await sysdigSink.deliver(delivery(notification, {}, { attempt: 2 }));

    // Assess
    expect(fake.events).toHaveLength(3);
    expect(new Set(fake.events.map((e) => e.tags.fingerprint)).size).toBe(3);
  });

  it('should resume at the failed alert after a 503, sending no alert twice', async () => {
    // Prepare
    const notification = makeNotification({ count: 3 });
    fake.respondWith([
      { status: 201, body: {} },
      { status: 503, body: 'overloaded' },
    ]);

    // Act
    const error = await sysdigSink.deliver(delivery(notification)).catch((e: unknown) => e);
    await sysdigSink.deliver(delivery(notification, {}, { attempt: 2 }));

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).statusCode).toBe(503);
    const sentFingerprints = fake.requests
      .filter((r) => r.outcome === 201)
      .map((r) => (r.body as { event: { tags: Record<string, string> } }).event.tags.fingerprint);
    expect(sentFingerprints).toEqual(notification.alerts.map((a) => a.fingerprint));
  });

  it('should throw a PermanentError without the token when the token is wrong (401)', async () => {
    // Prepare
    const wrong = 'wrong-token-0a9b8c7d6e';

    // Act
    const error = await sysdigSink
      .deliver(delivery(makeNotification({}), {}, { token: wrong }))
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(401);
    expect((error as Error).message).toMatch(/sysdig 127\.0\.0\.1:\d+ answered 401 Unauthorized/);
    expect((error as Error).message).not.toContain(wrong);
    expect(log.lines.join('\n')).not.toContain(wrong);
  });

  it('should throw a PermanentError on 404 when the base URL points elsewhere', async () => {
    // Act
    const error = await sysdigSink
      .deliver(delivery(makeNotification({}), { baseUrl: `${fake.url}/not-sysdig` }))
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(404);
    expect((error as Error).message).toContain('check region/baseUrl');
  });

  it('should say in the event that Alertmanager truncated the group', async () => {
    // Prepare
    const notification = { ...makeNotification({ count: 1 }), truncatedAlerts: 7 };

    // Act
    await sysdigSink.deliver(delivery(notification));

    // Assess
    const [event] = fake.events;
    expect(event.tags.truncatedAlerts).toBe('7');
    expect(event.description?.split('\n')[0]).toMatch(/left 7 more alert\(s\) of this group out/);
  });

  it('should keep a hostile label value inside its quotes in the scope', async () => {
    // Prepare
    const notification = makeNotification({
      count: 1,
      labels: () => ({ container_name: 'web" or host.hostName = "x', host_hostName: 'db-1' }),
    });

    // Act
    await sysdigSink.deliver(delivery(notification));

    // Assess
    expect(parseScope(fake.events[0].scope ?? '')).toEqual([
      ['container.name', 'web" or host.hostName = "x'],
      ['host.hostName', 'db-1'],
    ]);
  });

  it('should cut very long fields to the limits and say so, and still be accepted', async () => {
    // Prepare
    const long = 'x'.repeat(10_000);
    const notification = makeNotification({ count: 1, labels: () => ({ alertname: long, blob: long }) });
    notification.alerts[0].annotations.description = long;

    // Act
    await sysdigSink.deliver(delivery(notification));

    // Assess
    const [event] = fake.events;
    expect(event.name).toMatch(/…\[cut\]$/);
    expect(event.description).toMatch(/…\[cut\]$/);
    expect(event.tags.blob).toMatch(/…\[cut\]$/);
  });

  it('should map the severity label through the configured map, case-insensitively', async () => {
    // Prepare
    const notification = makeNotification({
      count: 2,
      labels: (i) => ({ priority: i === 0 ? 'P1' : 'unknown' }),
    });

    // Act
    await sysdigSink.deliver(
      delivery(notification, { severityLabel: 'priority', severities: { p1: 0 }, defaultSeverity: 6 }),
    );

    // Assess
    expect(fake.events.map((e) => e.severity)).toEqual([0, 6]);
  });

  it('should post to the region URL when no baseUrl is set', async () => {
    // Prepare
    const urls: string[] = [];
    const { createSysdigSink } = await import('../../../lib/sinks/sysdig/sysdig.ts');
    const sink = createSysdigSink({
      fetch: async (input) => {
        urls.push(String(input));
        return new Response(JSON.stringify({ event: { id: 1 } }), { status: 200 });
      },
    });

    // Act
    await sink.deliver({
      ...delivery(makeNotification({})),
      destination: { name: 'm', sink: 'sysdig', tokenSecret: TOKEN_NAME, region: 'eu1' },
    });

    // Assess
    expect(urls).toEqual(['https://eu1.app.sysdig.com/api/v2/events/']);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import { alertAlias, groupAlias } from '../../../lib/sinks/opsgenie/alert.ts';
import { createOpsgenieSink, type OpsgenieDestination } from '../../../lib/sinks/opsgenie/opsgenie.ts';
import {
  describeSinkConformance,
  HOSTILE_TEXT,
  jsonStrings,
  plainTextViolations,
} from '../../support/conformance.ts';
import { type FakeOpsgenie, startFakeOpsgenie } from '../../support/fake-opsgenie.ts';
import { makeNotification } from '../../support/notifications.ts';
import { capturingLogger, failure, vendorDelivery } from '../../support/vendor-delivery.ts';

const API_KEY = 'eb243592-faa2-4ba2-a551-1afdf565c889';
const SECRETS = { OG_API_KEY: API_KEY };

for (const status of ['firing', 'resolved'] as const) {
  describeSinkConformance<OpsgenieDestination>({
    name: `opsgenie (${status === 'firing' ? 'create' : 'close'})`,
    status,
    sink: ({ now }) => createOpsgenieSink({ now }),
    destination: (vendor) => ({
      name: 'oncall',
      sink: 'opsgenie',
      apiKeySecret: 'OG_API_KEY',
      baseUrl: vendor.url,
      timeoutSeconds: vendor.timeoutSeconds,
    }),
    secrets: () => SECRETS,
    http: {
      label: (vendor) => `opsgenie ${vendor.host}`,
      accepted: {
        result: 'Request will be processed',
        took: 0.01,
        requestId: 'c0ffee00-0000-4000-8000-000000000000',
      },
    },
    hostile: ({ texts }) => {
      for (const text of texts) {
        const body = JSON.parse(text) as Record<string, unknown>;
        // Plain text everywhere (message, description, tags, details, note): no control or bidi character.
        expect(jsonStrings(body).flatMap(plainTextViolations)).toEqual([]);
        for (const field of [body.message, body.description, ...((body.tags as string[]) ?? [])]) {
          if (typeof field !== 'string') continue;
          expect(field).not.toMatch(/[<>]/);
          expect(field).not.toContain(HOSTILE_TEXT.terminalEscape);
          expect(field).not.toContain(HOSTILE_TEXT.rightToLeftOverride);
        }
      }
    },
  });
}

describe('Sink: opsgenie', () => {
  let opsgenie: FakeOpsgenie;

  afterEach(async () => {
    await opsgenie?.close();
  });

  const destination = (extra: Partial<OpsgenieDestination> = {}): OpsgenieDestination => ({
    name: 'oncall',
    sink: 'opsgenie',
    apiKeySecret: 'OG_API_KEY',
    baseUrl: opsgenie.url,
    ...extra,
  });
  const deliver = (
    notification: ReturnType<typeof makeNotification>,
    extra: Partial<OpsgenieDestination> = {},
  ) => createOpsgenieSink().deliver(vendorDelivery(destination(extra), notification, { secrets: SECRETS }));

  it("should create one alert per group under Alertmanager's alias, count repeats and close it by alias", async () => {
    // Prepare
    opsgenie = await startFakeOpsgenie({ apiKeys: [API_KEY] });
    const firing = makeNotification({ count: 2 });

    // Act
    await deliver(firing);
    await deliver(makeNotification({ count: 2, startsAt: '2026-11-21T11:05:00.000Z' }));
    await deliver(makeNotification({ count: 2, status: 'resolved' }));

    // Assess
    expect(opsgenie.alerts).toHaveLength(1);
    const alert = opsgenie.alert(groupAlias(firing.groupKey));
    expect(alert).toMatchObject({
      status: 'closed',
      count: 2,
      priority: 'P1',
      log: ['create', 'create', 'close'],
    });
    expect(opsgenie.requests.map((r) => r.outcome)).toEqual([202, 202, 202]);
    expect(opsgenie.requests[2].path).toBe(`/v2/alerts/${groupAlias(firing.groupKey)}/close`);
    expect(opsgenie.requests[2].query.get('identifierType')).toBe('alias');
    expect(opsgenie.requests[0].headers.authorization).toBe(`GenieKey ${API_KEY}`);
  });

  it("should close an alert that Alertmanager's own Opsgenie notifier created", async () => {
    // Prepare: a create as notify/opsgenie sends it (alias = sha256(groupKey))
    opsgenie = await startFakeOpsgenie({ apiKeys: [API_KEY] });
    const notification = makeNotification({});
    await fetch(`${opsgenie.url}/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `GenieKey ${API_KEY}` },
      body: JSON.stringify({
        alias: groupAlias(notification.groupKey),
        message: '[FIRING:1] HighLatency',
        details: {},
      }),
    });

    // Act
    await deliver(makeNotification({ status: 'resolved' }));

    // Assess
    expect(opsgenie.alerts).toHaveLength(1);
    expect(opsgenie.alerts[0].status).toBe('closed');
  });

  it('should create and close one alert per alert in mode alert, each call once', async () => {
    // Prepare
    opsgenie = await startFakeOpsgenie({ apiKeys: [API_KEY] });
    const firing = makeNotification({ count: 2 });

    // Act
    await deliver(firing, { mode: 'alert' });
    await deliver(makeNotification({ count: 2, status: 'resolved' }), { mode: 'alert' });

    // Assess
    expect(opsgenie.alerts.map((a) => [a.alias, a.status])).toEqual([
      [alertAlias('oncall', firing.alerts[0].fingerprint), 'closed'],
      [alertAlias('oncall', firing.alerts[1].fingerprint), 'closed'],
    ]);
  });

  it('should send to the Jira Service Management ops API through baseUrl', async () => {
    // Prepare
    opsgenie = await startFakeOpsgenie({ apiKeys: [API_KEY], prefix: '/jsm/ops/integration' });

    // Act
    await deliver(makeNotification({}), { baseUrl: `${opsgenie.url}/jsm/ops/integration` });

    // Assess
    expect(opsgenie.requests.map((r) => [r.path, r.outcome])).toEqual([
      ['/jsm/ops/integration/v2/alerts', 202],
    ]);
    expect(opsgenie.alerts).toHaveLength(1);
  });

  it("should wait out Opsgenie's throttle window on 429", async () => {
    // Prepare
    opsgenie = await startFakeOpsgenie({ apiKeys: [API_KEY] });
    opsgenie.rateLimit({ after: 0, times: 1 });

    // Act
    const error = await failure(deliver(makeNotification({})));

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterSeconds).toBe(60);
    expect(opsgenie.alerts).toHaveLength(0);
  });

  it('should dead-letter a bad API key (401) with the reason and without the key', async () => {
    // Prepare
    opsgenie = await startFakeOpsgenie({ apiKeys: ['another-key-0000-0000-000000000000'] });
    const { logger, lines } = capturingLogger();

    // Act
    const error = await failure(
      createOpsgenieSink().deliver(
        vendorDelivery(destination(), makeNotification({}), { secrets: SECRETS, logger }),
      ),
    );

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('answered 401');
    expect(error.message).toContain('the API key is not valid or its integration is disabled');
    for (const text of [error.message, ...lines]) expect(text).not.toContain(API_KEY);
  });

  it('should keep a group with oversized labels within every field limit (no 422)', async () => {
    // Prepare
    opsgenie = await startFakeOpsgenie({ apiKeys: [API_KEY] });
    const notification = makeNotification({
      count: 50,
      labels: () => ({ team: 't'.repeat(9000), service: 's'.repeat(80) }),
    });
    notification.commonAnnotations = { summary: 'y'.repeat(30_000) };

    // Act
    await deliver(notification);

    // Assess
    expect(opsgenie.requests.map((r) => r.outcome)).toEqual([202]);
    expect(opsgenie.alerts[0].message.endsWith('…')).toBe(true);
  });

  it('should dead-letter what Opsgenie refuses as unprocessable (422), quoting its errors', async () => {
    // Prepare
    opsgenie = await startFakeOpsgenie({ apiKeys: [API_KEY] });
    opsgenie.respondWith([
      {
        status: 422,
        body: {
          message: 'Request body is not processable.',
          errors: { responders: 'No such team' },
          took: 0.01,
        },
      },
    ]);

    // Act
    const error = await failure(deliver(makeNotification({})));

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(422);
    expect(error.message).toContain('answered 422 Unprocessable Entity: Opsgenie refused a field');
    expect(error.message).toContain('No such team');
  });
});

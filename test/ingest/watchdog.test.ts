import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, Notification } from '../../lib/alertmanager/types.ts';
import type { RelayConfig } from '../../lib/config/types.ts';
import type { SecretReader } from '../../lib/delivery/sink.ts';
import { createIngestHandler } from '../../lib/ingest/ingest.ts';
import { parseMessage, type QueueMessage } from '../../lib/queue/message.ts';
import type { Enqueuer, OutgoingMessage, SendBatchResult } from '../../lib/queue/types.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import type { VersionedStateStore } from '../../lib/state/store.ts';
import { CountingTelemetry, createLogger } from '../../lib/telemetry.ts';
import type { WatchdogConfig } from '../../lib/watchdog/config.ts';
import { type WatchdogRecord, watchdogStateKey } from '../../lib/watchdog/record.ts';
import { makeNotification } from '../support/notifications.ts';

const TOKEN = 'watchdog-ingest-token-7c1d';
const NOW = '2026-11-21T12:00:00.000Z';
const HEARTBEAT_GROUP = '{}/{alertname="Watchdog"}:{alertname="Watchdog"}';

class FakeSecrets implements SecretReader {
  async get(name: string): Promise<string> {
    if (name === 'RELAY_TOKEN') return TOKEN;
    throw new Error(`no secret ${name}`);
  }
}

/** Accepts every message and keeps it. */
class FakeEnqueuer implements Enqueuer {
  readonly accepted: { sink: string; message: OutgoingMessage }[] = [];
  async sendBatch(sink: string, entries: OutgoingMessage[]): Promise<SendBatchResult> {
    for (const message of entries) this.accepted.push({ sink, message });
    return { failed: [] };
  }
  bodies(): QueueMessage[] {
    return this.accepted.map((a) => parseMessage(a.message.body));
  }
}

/** A state store whose reads and writes fail, as DynamoDB does in an outage. */
class FailingState implements VersionedStateStore {
  calls = 0;
  async get(): Promise<undefined> {
    this.calls++;
    throw Object.assign(new Error('state table unreachable'), {
      name: 'ProvisionedThroughputExceededException',
    });
  }
  async put(): Promise<void> {
    await this.get();
  }
  async delete(): Promise<void> {
    await this.get();
  }
  async getVersioned(): Promise<undefined> {
    return this.get();
  }
  async putIfVersion(): Promise<boolean> {
    await this.get();
    return false;
  }
}

function watchdogAlert(status: Alert['status'] = 'firing'): Alert {
  return {
    status,
    labels: { alertname: 'Watchdog', severity: 'none' },
    annotations: { summary: 'Always firing.' },
    startsAt: '2026-11-21T08:00:00.000Z',
    endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-11-21T11:00:00.000Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=vector%281%29',
    fingerprint: 'e2a7b4d5c6f70812',
  };
}

function heartbeat(alerts: Alert[] = [watchdogAlert()]): Notification {
  return {
    ...makeNotification({ groupKey: HEARTBEAT_GROUP }),
    groupLabels: { alertname: 'Watchdog' },
    commonLabels: { alertname: 'Watchdog' },
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'relay-watchdog',
    externalURL: 'http://alertmanager-0:9093',
    alerts,
  };
}

function apiEvent(body: Notification | string, token: string | null = TOKEN): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /alertmanager',
    rawPath: '/alertmanager',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: 'POST',
        path: '/alertmanager',
        protocol: 'HTTP/1.1',
        sourceIp: '10.0.0.1',
        userAgent: 'Alertmanager/0.28.1',
      },
      requestId: 'request-1',
      routeKey: 'POST /alertmanager',
      stage: '$default',
      time: '21/Nov/2026:12:00:00 +0000',
      timeEpoch: Date.parse(NOW),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const DESTINATIONS: RelayConfig['destinations'] = [
  { name: 'ops', sink: 'console' },
  { name: 'pager', sink: 'webhook', url: 'https://pager.example.com/hook' },
];

describe('Function: createIngestHandler, with a watchdog', () => {
  let state: SqliteStateStore;

  beforeEach(() => {
    state = new SqliteStateStore(':memory:');
  });

  afterEach(() => {
    state.close();
  });

  function setup(
    options: { watchdog?: Partial<WatchdogConfig>; state?: VersionedStateStore; withoutState?: boolean } = {},
  ) {
    const config: RelayConfig = {
      ingest: { tokenSecret: 'RELAY_TOKEN' },
      destinations: DESTINATIONS,
      watchdog: { destinations: ['pager'], ...options.watchdog },
    };
    const enqueuer = new FakeEnqueuer();
    const telemetry = new CountingTelemetry({ logger: createLogger('test', 'SILENT') });
    const handler = createIngestHandler({
      config,
      secrets: new FakeSecrets(),
      enqueuer,
      telemetry,
      now: () => new Date(NOW),
      ...(options.withoutState ? {} : { state: options.state ?? state }),
    });
    return { handler, enqueuer, telemetry };
  }

  const record = () => state.get<WatchdogRecord>(watchdogStateKey('Watchdog'));

  it('should record a heartbeat with the receive time, receiver and URL, and queue nothing', async () => {
    // Prepare
    const { handler, enqueuer, telemetry } = setup();

    // Act
    const result = await handler(apiEvent(heartbeat()));

    // Assess
    expect(result.statusCode).toBe(202);
    expect(JSON.parse(result.body ?? '')).toEqual({ notification: HEARTBEAT_GROUP, destinations: [] });
    expect(enqueuer.accepted).toEqual([]);
    expect(await record()).toEqual({
      v: 1,
      alertname: 'Watchdog',
      armedAt: NOW,
      lastHeartbeatAt: NOW,
      receiver: 'relay-watchdog',
      externalURL: 'http://alertmanager-0:9093',
      groupKey: HEARTBEAT_GROUP,
    });
    expect(telemetry.get('WatchdogHeartbeats')).toBe(1);
    expect(telemetry.get('NotificationsReceived')).toBe(1);
    expect(telemetry.get('NotificationsUnrouted')).toBe(0);
  });

  it('should queue the heartbeat like any notification with forward: true, after recording it', async () => {
    // Prepare
    const { handler, enqueuer, telemetry } = setup({ watchdog: { forward: true } });

    // Act
    const result = await handler(apiEvent(heartbeat()));

    // Assess
    expect(result.statusCode).toBe(202);
    expect(JSON.parse(result.body ?? '').destinations).toEqual([
      { name: 'ops', alerts: 1 },
      { name: 'pager', alerts: 1 },
    ]);
    expect(enqueuer.bodies().map((body) => body.notification.alerts[0].labels.alertname)).toEqual([
      'Watchdog',
      'Watchdog',
    ]);
    expect((await record())?.lastHeartbeatAt).toBe(NOW);
    expect(telemetry.get('WatchdogHeartbeats')).toBe(1);
  });

  it('should record the heartbeat of a mixed notification and queue the other alerts alone, with the same receive time', async () => {
    // Prepare
    const { handler, enqueuer } = setup();
    const other = makeNotification({ status: 'resolved' }).alerts[0];

    // Act
    const result = await handler(apiEvent(heartbeat([watchdogAlert(), other])));

    // Assess
    expect(result.statusCode).toBe(202);
    const bodies = enqueuer.bodies();
    expect(bodies.map((body) => body.destination).sort()).toEqual(['ops', 'pager']);
    for (const body of bodies) {
      expect(body.notification.alerts).toEqual([other]);
      expect(body.notification.status).toBe('resolved');
      expect(body.notification.groupKey).toBe(HEARTBEAT_GROUP);
      expect(body.receivedAt).toBe(NOW);
    }
    expect((await record())?.lastHeartbeatAt).toBe(NOW);
  });

  it('should deliver nothing and record nothing for a resolved watched alert alone, without counting it unrouted', async () => {
    // Prepare
    const { handler, enqueuer, telemetry } = setup();

    // Act
    const result = await handler(apiEvent(heartbeat([watchdogAlert('resolved')])));

    // Assess
    expect(result.statusCode).toBe(202);
    expect(enqueuer.accepted).toEqual([]);
    expect(await record()).toBeUndefined();
    expect(telemetry.get('WatchdogHeartbeats')).toBe(0);
    expect(telemetry.get('NotificationsUnrouted')).toBe(0);
  });

  it('should route a notification without the watched alert as before, recording nothing', async () => {
    // Prepare
    const { handler, enqueuer, telemetry } = setup();

    // Act
    const result = await handler(apiEvent(makeNotification({ count: 2 })));

    // Assess
    expect(result.statusCode).toBe(202);
    expect(
      enqueuer
        .bodies()
        .map((body) => body.destination)
        .sort(),
    ).toEqual(['ops', 'pager']);
    expect(await record()).toBeUndefined();
    expect(telemetry.get('WatchdogHeartbeats')).toBe(0);
  });

  it.each([
    ['no token', null],
    ['a wrong token', 'not-the-token'],
  ])('should refuse a heartbeat with %s and record nothing', async (_case, token) => {
    // Prepare
    const { handler, enqueuer, telemetry } = setup();

    // Act
    const result = await handler(apiEvent(heartbeat(), token));

    // Assess
    expect(result.statusCode).toBe(401);
    expect(await record()).toBeUndefined();
    expect(enqueuer.accepted).toEqual([]);
    expect(telemetry.get('WatchdogHeartbeats')).toBe(0);
  });

  it('should refuse a heartbeat that is not a valid notification and record nothing', async () => {
    // Prepare
    const { handler } = setup();
    const invalid = {
      ...heartbeat(),
      version: undefined,
      alerts: [{ labels: { alertname: 'Watchdog' }, status: 'firing' }],
    };

    // Act
    const result = await handler(apiEvent(JSON.stringify(invalid)));

    // Assess
    expect(result.statusCode).toBe(400);
    expect(await record()).toBeUndefined();
  });

  it('should answer 503 with Retry-After and enqueue nothing, not even the other alerts, when the heartbeat cannot be recorded', async () => {
    // Prepare
    const failing = new FailingState();
    const { handler, enqueuer, telemetry } = setup({ state: failing });
    const other = makeNotification({}).alerts[0];

    // Act
    const result = await handler(apiEvent(heartbeat([watchdogAlert(), other])));

    // Assess
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['retry-after']).toBe('1');
    expect(JSON.parse(result.body ?? '')).toEqual({
      error: 'state unavailable',
      details: ['the watchdog heartbeat could not be recorded; the relay logged why'],
    });
    expect(failing.calls).toBeGreaterThan(0);
    expect(enqueuer.accepted).toEqual([]);
    expect(telemetry.get('WatchdogHeartbeats')).toBe(0);
    expect(telemetry.get('NotificationsRejected')).toBe(0);
  });

  it('should keep the latest receive time and the first as armed when Alertmanager sends again', async () => {
    // Prepare
    let now = Date.parse(NOW);
    const enqueuer = new FakeEnqueuer();
    const handler = createIngestHandler({
      config: {
        ingest: { tokenSecret: 'RELAY_TOKEN' },
        destinations: DESTINATIONS,
        watchdog: { destinations: ['pager'] },
      },
      secrets: new FakeSecrets(),
      enqueuer,
      telemetry: new CountingTelemetry({ logger: createLogger('test', 'SILENT') }),
      now: () => new Date(now),
      state,
    });

    // Act
    await handler(apiEvent(heartbeat()));
    now += 60_000;
    await handler(apiEvent(heartbeat()));

    // Assess
    expect(await record()).toMatchObject({ armedAt: NOW, lastHeartbeatAt: '2026-11-21T12:01:00.000Z' });
  });

  it('should refuse to be built for a watchdog without a state store to record heartbeats in', () => {
    // Assess
    expect(() => setup({ withoutState: true })).toThrow(
      /watchdog: is configured, but ingest was given no state store/,
    );
  });
});

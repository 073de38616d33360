import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  type ReceivedRequest,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../support/webhook-receiver.ts';
import { postAlerts, resolveAlerts } from './support/alerts.ts';
import { type MetricTarget, startMetricTarget } from './support/metric-target.ts';
import { type Started, useE2EStack } from './support/stack.ts';

/**
 * The spine, end to end with the real programs: Prometheus 2.42 evaluates a rule and sends
 * the alert to Alertmanager 0.25, which posts its webhook (Bearer token) to the relay, which
 * queues it and delivers it, signed per Standard Webhooks, to a local receiver.
 *
 * Alertmanager's receiver has a second webhook, an unsigned receiver that only records: it
 * gets the same notifications, so the test can compare what Alertmanager sent with what the receiver got,
 * and `SAVE_FIXTURES=1 npm run test:e2e` writes them to events/alertmanager/.
 */

const fixturesDir = resolve(import.meta.dirname, '../../events/alertmanager');
const saveFixtures = process.env.SAVE_FIXTURES === '1';

const ingestToken = `e2e-${randomUUID()}`;
const signingSecret = `whsec_${randomBytes(32).toString('base64')}`;

// A gauge the test sets: 1 makes the rule fire, 0 resolves it, through Prometheus's own sends.
const SWITCH_METRIC = 'relay_e2e_switch';
const PROM_ALERT = 'RelayE2ESwitchOn';
const API_ALERT = 'RelayE2EApiPosted';

const stack = useE2EStack('spine');
let receiver: WebhookReceiver;
/** A second webhook of the same Alertmanager receiver: what Alertmanager sent, unsigned and raw. */
let capture: WebhookReceiver;
let metric: MetricTarget;
let alertmanager: Started;

/** The notification the relay delivered (the webhook sink posts it as JSON). */
interface DeliveredNotification {
  status: string;
  groupKey: string;
  groupLabels: Record<string, string>;
  alerts: {
    status: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    fingerprint: string;
    startsAt: string;
    endsAt: string;
  }[];
}

const notificationOf = (request: ReceivedRequest) => request.body as DeliveredNotification;
const ofAlert = (alertname: string) => (request: ReceivedRequest) =>
  notificationOf(request)?.groupLabels?.alertname === alertname;

/** The first request `server` got (or gets) that matches. */
async function firstRequest(
  server: WebhookReceiver,
  match: (request: ReceivedRequest) => boolean,
): Promise<ReceivedRequest> {
  // The bound only turns a hang into a failure that lists what did arrive; a Prometheus alert
  // takes about 6 s to arrive, an Alertmanager flush about 1 s.
  const requests = await server.waitFor((all) => all.some(match), { timeoutMs: 60_000 });
  return requests.find(match) as ReceivedRequest;
}

/** The receiver's first delivery for `alertname` that matches. */
function delivery(
  alertname: string,
  match: (notification: DeliveredNotification, request: ReceivedRequest) => boolean,
): Promise<ReceivedRequest> {
  return firstRequest(
    receiver,
    (request) => ofAlert(alertname)(request) && match(notificationOf(request), request),
  );
}

/**
 * The same notification as Alertmanager posted it (to the capture webhook), found by what
 * identifies a notification: its group, status and each alert's fingerprint, status and times.
 */
function sentByAlertmanager(delivered: ReceivedRequest): Promise<ReceivedRequest> {
  const identity = (request: ReceivedRequest) => {
    const notification = notificationOf(request);
    return JSON.stringify([
      notification.groupKey,
      notification.status,
      ...notification.alerts.map((a) => [a.fingerprint, a.status, a.startsAt, a.endsAt]),
    ]);
  };
  const wanted = identity(delivered);
  return firstRequest(capture, (sent) => identity(sent) === wanted);
}

/** A signed, accepted delivery whose body is the notification Alertmanager sent. */
async function expectFaithfulDelivery(request: ReceivedRequest): Promise<ReceivedRequest> {
  expect(request.verified, request.verifyError).toBe(true);
  expect(request.outcome).toBe(200);
  expect(request.webhookId).toBeTruthy();
  expect(request.headers['webhook-signature']).toMatch(/^v1,/);
  const sent = await sentByAlertmanager(request);
  expect(request.body).toEqual(sent.body);
  return sent;
}

async function saveFixture(name: string, sent: ReceivedRequest): Promise<void> {
  if (!saveFixtures) return;
  await mkdir(fixturesDir, { recursive: true });
  // The raw body, byte for byte: Go's encoder escapes & as \u0026 and ends with a newline.
  await writeFile(join(fixturesDir, name), sent.rawBody);
}

beforeAll(async () => {
  receiver = stack.own(await startWebhookReceiver({ secret: signingSecret }));
  capture = stack.own(await startWebhookReceiver({ path: '/alertmanager' }));
  metric = stack.own(await startMetricTarget(SWITCH_METRIC, 1));

  const relay = await stack.startRelay({
    config: {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [
        { name: 'e2e-receiver', sink: 'webhook', url: receiver.url, signingSecret: 'WEBHOOK_SIGNING_SECRET' },
      ],
    },
    env: { INGEST_TOKEN: ingestToken, WEBHOOK_SIGNING_SECRET: signingSecret },
  });
  alertmanager = await stack.startAlertmanager({
    webhooks: [{ url: `${relay.url}/alertmanager`, bearerToken: ingestToken }, { url: capture.url }],
  });
  await stack.startPrometheus({
    alertmanagerUrl: alertmanager.url,
    scrape: { jobName: 'e2e-switch', targets: [metric.target] },
    rules: {
      groups: [
        {
          name: 'relay-e2e',
          rules: [
            {
              alert: PROM_ALERT,
              expr: `${SWITCH_METRIC} == 1`,
              for: '0s',
              labels: { severity: 'critical' },
              annotations: { summary: 'the e2e switch is on' },
            },
          ],
        },
      ],
    },
  });
});

describe('Prometheus -> Alertmanager -> relay -> signed webhook', () => {
  test('a rule that fires, resolves and fires again is delivered once per notification, in order', async () => {
    const firing = await delivery(PROM_ALERT, (n) => n.status === 'firing');
    const firingSent = await expectFaithfulDelivery(firing);
    expect(notificationOf(firing).alerts).toMatchObject([
      {
        status: 'firing',
        labels: { alertname: PROM_ALERT, severity: 'critical', job: 'e2e-switch' },
        annotations: { summary: 'the e2e switch is on' },
      },
    ]);
    await saveFixture('am-0.25-firing.json', firingSent);

    metric.set(0);
    const resolved = await delivery(PROM_ALERT, (n) => n.status === 'resolved');
    await saveFixture('am-0.25-resolved.json', await expectFaithfulDelivery(resolved));
    expect(resolved.seq).toBeGreaterThan(firing.seq);
    expect(resolved.webhookId).not.toBe(firing.webhookId);

    // Firing again is a new alert (new startsAt), so a new key, not a duplicate of the first.
    // It also closes the sequence: it is queued behind the resolve in the same FIFO group,
    // so any redelivery of the first two would have reached the receiver before it.
    metric.set(1);
    const refiring = await delivery(
      PROM_ALERT,
      (n, request) => n.status === 'firing' && request.seq > resolved.seq,
    );
    await expectFaithfulDelivery(refiring);

    const ids = [firing, resolved, refiring].map((request) => request.webhookId);
    expect(new Set(ids).size).toBe(3);
    expect(receiver.requests.filter(ofAlert(PROM_ALERT)).map((request) => request.webhookId)).toEqual(ids);
    expect(receiver.duplicates()).toEqual([]);
  });
});

describe('alerts posted to Alertmanager directly (as amtool does) -> relay -> signed webhook', () => {
  test('two alerts fire together, then resolve one at a time', async () => {
    const alerts = await postAlerts(alertmanager.url, [
      {
        labels: { alertname: API_ALERT, severity: 'warning', instance: 'e2e-a' },
        annotations: { summary: 'a' },
      },
      {
        labels: { alertname: API_ALERT, severity: 'warning', instance: 'e2e-b' },
        annotations: { summary: 'b' },
      },
    ]);
    const [alertA, alertB] = alerts;

    // Alertmanager may flush the group between the two inserts; wait for the notification with both.
    const bothFiring = await delivery(
      API_ALERT,
      (n) => n.status === 'firing' && n.alerts.length === 2 && n.alerts.every((a) => a.status === 'firing'),
    );
    await saveFixture('am-0.25-api-firing-2alerts.json', await expectFaithfulDelivery(bothFiring));

    await resolveAlerts(alertmanager.url, [alertA]);
    const someResolved = await delivery(
      API_ALERT,
      (n) => n.status === 'firing' && n.alerts.some((a) => a.status === 'resolved'),
    );
    await saveFixture('am-0.25-api-some-resolved.json', await expectFaithfulDelivery(someResolved));
    expect(notificationOf(someResolved).alerts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ status: 'resolved', labels: alertA.labels }),
        expect.objectContaining({ status: 'firing', labels: alertB.labels }),
      ]),
    );

    await resolveAlerts(alertmanager.url, [alertB]);
    const allResolved = await delivery(API_ALERT, (n) => n.status === 'resolved');
    await saveFixture('am-0.25-api-resolved.json', await expectFaithfulDelivery(allResolved));

    const delivered = receiver.requests.filter(ofAlert(API_ALERT));
    expect(delivered.filter((request) => request.verified !== true || request.outcome !== 200)).toEqual([]);
    expect(receiver.duplicates()).toEqual([]);
    expect(allResolved.seq).toBeGreaterThan(someResolved.seq);
    expect(someResolved.seq).toBeGreaterThan(bothFiring.seq);
  });
});

import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Notification } from '../../lib/alertmanager/types.ts';
import {
  type ReceivedRequest,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../support/webhook-receiver.ts';
import { postAlerts, refireAlerts, resolveAlerts } from './support/alerts.ts';
import { type Started, useE2EStack } from './support/stack.ts';

/**
 * A group that fires, resolves and fires again with identical alert content (same fingerprint
 * and startsAt), through the real Alertmanager 0.25 and the relay to a webhook receiver. The
 * second firing has the same content key as the first; it must still arrive, after the resolve,
 * or the vendor shows "resolved" while the alert fires.
 */

const ingestToken = `e2e-${randomUUID()}`;
const ALERT = 'RelayE2ERefire';

const stack = useE2EStack('refire');
let receiver: WebhookReceiver;
let alertmanager: Started;

const notificationOf = (request: ReceivedRequest) => request.body as Notification;
const ofAlert = (request: ReceivedRequest) => notificationOf(request)?.groupLabels?.alertname === ALERT;

/** The first delivery for the alert after `afterSeq` that matches; the bound only turns a hang into a readable failure. */
async function delivery(
  afterSeq: number,
  match: (notification: Notification) => boolean,
): Promise<ReceivedRequest> {
  const found = (request: ReceivedRequest) =>
    request.seq > afterSeq && ofAlert(request) && match(notificationOf(request));
  const requests = await receiver.waitFor((all) => all.some(found), { timeoutMs: 60_000 });
  return requests.find(found) as ReceivedRequest;
}

/** What identifies a notification's content: the idempotency key is made of these. */
const identity = (notification: Notification) =>
  JSON.stringify([
    notification.groupKey,
    notification.status,
    ...notification.alerts.map((a) => [a.fingerprint, a.status, a.startsAt, a.endsAt]),
  ]);

beforeAll(async () => {
  receiver = stack.own(await startWebhookReceiver());
  const relay = await stack.startRelay({
    config: {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [{ name: 'e2e-receiver', sink: 'webhook', url: receiver.url }],
    },
    env: { INGEST_TOKEN: ingestToken },
  });
  alertmanager = await stack.startAlertmanager({
    webhooks: [{ url: `${relay.url}/alertmanager`, bearerToken: ingestToken }],
  });
});

describe('Alertmanager -> relay -> webhook: a re-fire with identical content', () => {
  it('should deliver firing, resolved and firing again, in order, the re-fire identical to the first firing', async () => {
    // Prepare
    const [alert] = await postAlerts(alertmanager.url, [
      {
        labels: { alertname: ALERT, severity: 'warning', instance: 'e2e-refire' },
        annotations: { summary: 'fires, resolves, fires again' },
      },
    ]);
    const firing = await delivery(0, (n) => n.status === 'firing');
    await resolveAlerts(alertmanager.url, [alert]);
    const resolved = await delivery(firing.seq, (n) => n.status === 'resolved');

    // Act
    await refireAlerts(alertmanager.url, [alert]);
    const refiring = await delivery(resolved.seq, (n) => n.status === 'firing');

    // Assess
    expect(identity(notificationOf(refiring))).toBe(identity(notificationOf(firing)));
    expect(notificationOf(refiring).alerts[0]).toMatchObject({
      startsAt: alert.startsAt,
      labels: alert.labels,
    });
    const statuses = receiver.requests
      .filter((request) => ofAlert(request) && request.outcome === 200)
      .map((request) => notificationOf(request).status);
    expect(statuses).toEqual(['firing', 'resolved', 'firing']);
  });
});

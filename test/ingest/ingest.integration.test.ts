import { beforeEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../lib/alertmanager/types.ts';
import { type LocalRelay, useLocalRelay } from '../support/local-relay.ts';
import { makeNotification } from '../support/notifications.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

/**
 * Ingest through the local runtime, whose embedded queue refuses what SQS refuses: content
 * that used to be refused on every retry (characters outside SQS's XML ranges) or answered
 * with 413 (one huge annotation) is accepted and reaches the vendor.
 */
describe('Ingest through the local runtime: hostile content reaches the sink', () => {
  const local = useLocalRelay('ingest');
  let receiver: WebhookReceiver;
  let relay: LocalRelay;

  beforeEach(async () => {
    receiver = local.own(await startWebhookReceiver());
    relay = await local.start({ destinations: [{ name: 'audit', sink: 'webhook', url: receiver.url }] });
  });

  async function delivered(groupKey: string): Promise<Notification> {
    const requests = await receiver.waitFor((all) =>
      all.some((r) => (r.body as Notification | undefined)?.groupKey === groupKey),
    );
    return requests.find((r) => (r.body as Notification).groupKey === groupKey)?.body as Notification;
  }

  it('should answer 202 to a label with U+FFFF and a lone surrogate, and deliver the original string', async () => {
    // Prepare
    const hostile = 'before\uFFFFmiddle\uD800after\uFFFE';
    const notification = makeNotification({
      groupKey: '{}:{alertname="Poison"}',
      labels: () => ({ hostile }),
    });
    notification.commonLabels.hostile = hostile;

    // Act
    const answer = await relay.post(notification);
    const sent = await delivered(notification.groupKey);

    // Assess
    expect(answer.status).toBe(202);
    // The vendor gets JSON: a lone surrogate travels as the escape \ud800, which parses back to it.
    expect(sent.alerts[0].labels.hostile).toBe(hostile);
    expect(sent.commonLabels.hostile).toBe(hostile);
    expect(relay.deadLetters('webhook')).toEqual([]);
  });

  it('should answer 202 to one alert with a 1.1 MB description repeated in commonAnnotations, and deliver it cut with a mark', async () => {
    // Prepare
    const description = 'd'.repeat(1_100_000);
    const notification = makeNotification({ groupKey: '{}:{alertname="Huge"}' });
    notification.alerts[0].annotations.description = description;
    notification.commonAnnotations = { description };

    // Act
    const answer = await relay.post(notification);
    const sent = await delivered(notification.groupKey);

    // Assess
    expect(answer.status).toBe(202);
    const [, kept, cut] =
      /^(d+) \[truncated (\d+) bytes\]$/.exec(sent.alerts[0].annotations.description) ?? [];
    expect(kept.length + Number(cut)).toBe(description.length);
    expect(sent.commonAnnotations.description).toBe(sent.alerts[0].annotations.description);
    expect(sent.alerts[0].labels).toEqual(notification.alerts[0].labels);
  });
});

import type { Alert } from '../alertmanager/types.ts';
import type { Delivery } from './sink.ts';

/** As long as the record handler remembers a delivered notification (7 days). */
const PROGRESS_TTL_SECONDS = 7 * 24 * 3600;

/**
 * For sinks that make one vendor call per alert (Sentry, ilert events, Sysdig, PagerDuty
 * per alert): runs `send` for each alert of the delivery at most once, remembering in the
 * state store which alerts are done. When alert 3 of 5 fails, the retry of this message
 * starts at alert 3: alerts 1 and 2 are not sent twice (a vendor without a dedup key, such
 * as Sysdig's events, would show them twice). Alerts are sent in order; the first failure
 * stops the loop and is thrown. A repeat of the same notification accepted later (a
 * repeat_interval reminder) is sent again.
 *
 * @example
 * await forEachAlertOnce(delivery, async (alert) => postEvent(toEvent(alert)));
 */
export async function forEachAlertOnce<C extends Delivery['destination']>(
  delivery: Delivery<C>,
  send: (alert: Alert, index: number) => Promise<void>,
): Promise<{ sent: number; skipped: number }> {
  // Scoped to this accepted message: its receivedAt survives SQS redelivery and DLQ redrive,
  // while Alertmanager's repeat_interval reminder (same content, accepted later) is a new
  // message whose alerts are sent again, as the record handler intends.
  const prefix = `alert#${delivery.destination.name}#${delivery.idempotencyKey}#${delivery.receivedAt}#`;
  let sent = 0;
  let skipped = 0;
  for (const [index, alert] of delivery.notification.alerts.entries()) {
    const key = `${prefix}${alert.fingerprint}:${alert.status}`;
    if (await delivery.state.get(key)) {
      skipped++;
      continue;
    }
    await send(alert, index);
    await delivery.state.put(key, { sentAt: new Date().toISOString() }, { ttlSeconds: PROGRESS_TTL_SECONDS });
    sent++;
  }
  return { sent, skipped };
}

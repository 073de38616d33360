import type { Alert } from '../alertmanager/types.ts';
import { assertTimeForCall, markProgress } from './deadline.ts';
import { DELIVERY_POLICY } from './policy.ts';
import type { Delivery } from './sink.ts';

/**
 * The step journal: what a delivery has already done, so that a retry of the same message
 * does not do it again. One journal per accepted message (destination, idempotency key and
 * the time ingest accepted it): it survives SQS redelivery and DLQ redrive, which keep
 * `receivedAt`, while Alertmanager's repeat_interval reminder (same content, accepted later)
 * gets a fresh journal and is delivered again, as the record handler intends.
 *
 * Every "do this once across retries" need goes through it: the per-alert calls of Sentry,
 * ilert, Sysdig and PagerDuty (forEachAlertOnce), and Slack's posts, edits and graph upload.
 */
export interface StepJournal {
  /** What `step` recorded, if anything. */
  get<T extends object>(step: string): Promise<T | undefined>;
  /** Records `step` (overwrites): an intent before a vendor call, or its result after it. */
  record(step: string, value: object): Promise<void>;
  /**
   * Runs `action` unless `step` is already recorded, then records what it returned. Resolves
   * with the recorded value and whether this call ran it. A throw records nothing, so the
   * retry runs the step again.
   */
  once<T extends object>(step: string, action: () => Promise<T>): Promise<{ value: T; ran: boolean }>;
}

/** The journal of one delivery: keys `step#<destination>#<idempotencyKey>#<receivedAt>#<step>`. */
export function stepJournal(
  delivery: Pick<Delivery, 'destination' | 'idempotencyKey' | 'receivedAt' | 'state'>,
): StepJournal {
  const prefix = `step#${delivery.destination.name}#${delivery.idempotencyKey}#${delivery.receivedAt}#`;
  const { state } = delivery;
  const ttlSeconds = DELIVERY_POLICY.stateTtlSeconds;
  const journal: StepJournal = {
    get: (step) => state.get(prefix + step),
    async record(step, value) {
      await state.put(prefix + step, value, { ttlSeconds });
      // A recorded step survives a return to the queue: running out of time after it is progress.
      markProgress();
    },
    async once(step, action) {
      const done = await journal.get<Awaited<ReturnType<typeof action>>>(step);
      if (done) return { value: done, ran: false };
      const value = await action();
      await journal.record(step, value);
      return { value, ran: true };
    },
  };
  return journal;
}

/**
 * For sinks that make one vendor call per alert (Sentry, ilert events, Sysdig, PagerDuty
 * per alert): runs `send` for each alert of the delivery at most once, as a step of the
 * delivery's journal. When alert 3 of 5 fails, the retry of this message starts at alert 3:
 * alerts 1 and 2 are not sent twice (a vendor without a dedup key, such as Sysdig's events,
 * would show them twice). Alerts are sent in order; the first failure stops the loop and is
 * thrown. Before each alert it checks the function's deadline (lib/delivery/deadline.ts): with
 * too little time left for one more call it stops with an OutOfTimeError, and the record
 * handler hands the message back at once to carry on from there, without counting a failure.
 *
 * @example
 * await forEachAlertOnce(delivery, async (alert) => postEvent(toEvent(alert)));
 */
export async function forEachAlertOnce<C extends Delivery['destination']>(
  delivery: Delivery<C>,
  send: (alert: Alert, index: number) => Promise<void>,
): Promise<{ sent: number; skipped: number }> {
  const journal = stepJournal(delivery);
  let sent = 0;
  let skipped = 0;
  for (const [index, alert] of delivery.notification.alerts.entries()) {
    const { ran } = await journal.once(`alert:${alert.fingerprint}:${alert.status}`, async () => {
      assertTimeForCall(`alert ${index + 1} of ${delivery.notification.alerts.length}`);
      await send(alert, index);
      return { sentAt: new Date().toISOString() };
    });
    if (ran) sent++;
    else skipped++;
  }
  return { sent, skipped };
}

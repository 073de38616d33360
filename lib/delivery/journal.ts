import type { Alert } from '../alertmanager/types.ts';
import type { StateStore } from '../state/store.ts';
import { assertTimeForCall, markProgress } from './deadline.ts';
import { DELIVERY_POLICY } from './policy.ts';
import type { Delivery, DeliveryGroup, StepJournal } from './sink.ts';

export type { StepJournal } from './sink.ts';

/**
 * The step journal: what a delivery has already done, so that a retry of the same message
 * does not do it again. One journal per accepted message (destination, idempotency key and
 * the time ingest accepted it): it survives SQS redelivery, a renewal and DLQ redrive, which keep
 * `receivedAt`, while Alertmanager's repeat_interval reminder (same content, accepted later)
 * gets a fresh journal and is delivered again, as the record handler intends.
 *
 * Under the record handler the journal is part of the group's record (GroupRecord.pending, one
 * item per group): its steps are kept in memory during the delivery and written with what the
 * delivery leaves behind (a failed attempt, a wait, a return for lack of time), never once per
 * step; a delivery that succeeds leaves nothing. A crash loses the steps of that receive: the
 * vendor-side keys and lookups cover that window (DeliveryGroup.unsure), as they cover a crash
 * between a vendor call and its record. Called without the handler (preview, a sink's own
 * tests), each step is its own item, written when it is recorded (standaloneJournal).
 *
 * Every "do this once across retries" need goes through it: the per-alert calls of Sentry,
 * ilert, Sysdig and PagerDuty (forEachAlertOnce), and the chat stage's plan, posts and pacing.
 */

/** The journal of `delivery`: its group's (under the record handler), or one of its own. */
export function stepJournal(
  delivery: Pick<Delivery, 'destination' | 'idempotencyKey' | 'receivedAt' | 'state' | 'group'>,
): StepJournal {
  return delivery.group?.journal ?? standaloneJournal(delivery);
}

/**
 * A journal over `steps` in memory (the record handler's, written with the group's record);
 * `onRecord` is told of each recorded step.
 */
export function memoryJournal(steps: Record<string, object>, onRecord: () => void): StepJournal {
  const journal: StepJournal = {
    get: async <T extends object>(step: string) => steps[step] as T | undefined,
    async record(step, value) {
      steps[step] = structuredClone(value);
      onRecord();
      // A recorded step is written when the message is handed back: running out of time after it is progress.
      markProgress();
    },
    once: (step, action) => runOnce(journal, step, action),
  };
  return journal;
}

/**
 * The journal of a delivery made without the record handler: each step its own item,
 * `step#<destination>#<idempotencyKey>#<receivedAt>#<step>`, written when recorded.
 */
export function standaloneJournal(
  delivery: Pick<Delivery, 'destination' | 'idempotencyKey' | 'receivedAt' | 'state'>,
): StepJournal {
  const prefix = `step#${delivery.destination.name}#${delivery.idempotencyKey}#${delivery.receivedAt}#`;
  const { state } = delivery;
  const ttlSeconds = DELIVERY_POLICY.stateTtlSeconds;
  const journal: StepJournal = {
    get: (step) => state.get(prefix + step),
    async record(step, value) {
      await state.put(prefix + step, value, { ttlSeconds });
      markProgress();
    },
    once: (step, action) => runOnce(journal, step, action),
  };
  return journal;
}

async function runOnce<T extends object>(
  journal: StepJournal,
  step: string,
  action: () => Promise<T>,
): Promise<{ value: T; ran: boolean }> {
  const done = await journal.get<T>(step);
  if (done) return { value: done, ran: false };
  const value = await action();
  await journal.record(step, value);
  return { value, ran: true };
}

/**
 * The group of a delivery made without the record handler (preview, a sink's own tests): what
 * the sink keeps is its own item under `keptKey`, read now and written at each keep, and the
 * journal writes each step as it is recorded.
 */
export async function standaloneGroup(
  delivery: Pick<Delivery, 'destination' | 'idempotencyKey' | 'receivedAt' | 'state'>,
  keptKey: string,
  state: Pick<StateStore, 'get' | 'put'> = delivery.state,
): Promise<DeliveryGroup> {
  const kept = await state.get<object>(keptKey);
  return {
    kept,
    legacy: false,
    async keep(value, options = {}) {
      await state.put(keptKey, value, { ttlSeconds: options.ttlSeconds ?? DELIVERY_POLICY.stateTtlSeconds });
    },
    journal: standaloneJournal(delivery),
    unsure: false,
    since: Date.parse(delivery.receivedAt),
    settle: () => undefined,
  };
}

/** The journal step of forEachAlertOnce: how many alerts of the message, in order, were sent. */
interface AlertsStep {
  sent: number;
}

/**
 * For sinks that make one vendor call per alert (Sentry, ilert events, Sysdig, PagerDuty
 * per alert): runs `send` for each alert of the delivery at most once, counted in the delivery's
 * journal (step `alerts`: the message's alerts are the same, in the same order, on every receive).
 * When alert 3 of 5 fails, the retry of this message starts at alert 3: alerts 1 and 2 are not
 * sent twice (a vendor without a dedup key, such as Sysdig's events, would show them twice).
 * Alerts are sent in order; the first failure stops the loop and is thrown. Before each alert it
 * checks the function's deadline (lib/delivery/deadline.ts): with too little time left for one
 * more call it stops with an OutOfTimeError, and the record handler hands the message back at
 * once to carry on from there, without counting a failure.
 *
 * @example
 * await forEachAlertOnce(delivery, async (alert) => postEvent(toEvent(alert)));
 */
export async function forEachAlertOnce<C extends Delivery['destination']>(
  delivery: Delivery<C>,
  send: (alert: Alert, index: number) => Promise<void>,
): Promise<{ sent: number; skipped: number }> {
  const journal = stepJournal(delivery);
  const { alerts } = delivery.notification;
  const skipped = Math.min(alerts.length, (await journal.get<AlertsStep>('alerts'))?.sent ?? 0);
  for (let index = skipped; index < alerts.length; index++) {
    assertTimeForCall(`alert ${index + 1} of ${alerts.length}`);
    await send(alerts[index], index);
    await journal.record('alerts', { sent: index + 1 } satisfies AlertsStep);
  }
  return { sent: alerts.length - skipped, skipped };
}

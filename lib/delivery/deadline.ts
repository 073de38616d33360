import { AsyncLocalStorage } from 'node:async_hooks';
import { OutOfTimeError } from './errors.ts';
import { DEADLINE_MARGIN_MS, DELIVERY_POLICY } from './policy.ts';

/**
 * The function's deadline, carried into every vendor call without changing each sink: the
 * record handler runs `deliver` inside `runWithDeadline`, and vendorFetch, the step journal
 * and forEachAlertOnce read it from here. Outside a delivery (a unit test of a sink, a CLI)
 * there is no deadline and nothing is capped.
 */

/** What the handler knows of the invocation: Lambda's context, or the local worker's stand-in. */
export interface DeadlineContext {
  getRemainingTimeInMillis(): number;
}

/** One delivery's view of the deadline, and whether it has made progress yet. */
export interface DeliveryClock {
  readonly context: DeadlineContext;
  /** Set when the delivery recorded a journal step: a return for lack of time then keeps that progress. */
  progressed: boolean;
  /**
   * Awaited before each vendor call (vendorFetch): the record handler writes the delivery's crash
   * marker there, once, so a receive that finds it knows an attempt started and never ended.
   */
  beforeCall?: () => Promise<void>;
}

const current = new AsyncLocalStorage<DeliveryClock>();

/**
 * Runs one delivery under the invocation's deadline. Read `clock.progressed` afterwards (also
 * after a throw) to know whether it recorded progress.
 *
 * @example
 * const clock = { context, progressed: false };
 * try { await runWithDeadline(clock, () => sink.deliver(delivery)); }
 * catch (error) { if (error instanceof OutOfTimeError && clock.progressed) ... }
 */
export function runWithDeadline<T>(clock: DeliveryClock, fn: () => Promise<T>): Promise<T> {
  return current.run(clock, fn);
}

/** Milliseconds left before the function is stopped, or undefined outside a delivery. */
export function timeLeftMs(): number | undefined {
  return current.getStore()?.context.getRemainingTimeInMillis();
}

/** Marks the running delivery as having made progress (the step journal calls it after each record). */
export function markProgress(): void {
  const clock = current.getStore();
  if (clock) clock.progressed = true;
}

/**
 * Called before a vendor call (vendorFetch does; a sink that reaches its vendor some other way
 * calls it itself): lets the record handler write the delivery's crash marker first.
 */
export async function beforeVendorCall(): Promise<void> {
  await current.getStore()?.beforeCall?.();
}

/**
 * Throws OutOfTimeError when too little time is left to start one more vendor call and still
 * keep the handler's reserve. `what` names the work that was not started.
 */
export function assertTimeForCall(what: string): void {
  const left = timeLeftMs();
  if (left !== undefined && left < DEADLINE_MARGIN_MS) {
    throw new OutOfTimeError(
      `${what} not started: ${Math.max(0, Math.floor(left))} ms left in the function, ${DEADLINE_MARGIN_MS} ms needed`,
    );
  }
}

/**
 * The timeout for one vendor call: the sink's own, capped by the time left minus the reserve.
 * `capped` says the deadline, not the sink's setting, decided it.
 */
export function callTimeoutSeconds(configured: number): { seconds: number; capped: boolean } {
  const left = timeLeftMs();
  if (left === undefined) return { seconds: configured, capped: false };
  const available = (left - DELIVERY_POLICY.deadlineReserveMs) / 1000;
  return available < configured
    ? { seconds: Math.max(0, available), capped: true }
    : { seconds: configured, capped: false };
}

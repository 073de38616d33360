import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../lib/delivery/errors.ts';
import { forEachAlertOnce } from '../../lib/delivery/journal.ts';
import type { Delivery } from '../../lib/delivery/sink.ts';
import type { StateStore } from '../../lib/state/store.ts';
import { makeNotification } from '../support/notifications.ts';
import { memoryState } from '../support/vendor-delivery.ts';

function delivery(state: StateStore, count: number, receivedAt = '2026-11-21T11:00:00.000Z'): Delivery {
  return {
    destination: { name: 'errors', sink: 'sentry' },
    notification: makeNotification({ count }),
    idempotencyKey: 'k1',
    part: { index: 1, count: 1 },
    receivedAt,
    attempt: 1,
    secrets: { get: async () => 'x' },
    state,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  };
}

describe('Function: forEachAlertOnce', () => {
  it('should send every alert once, in order', async () => {
    // Prepare
    const state = memoryState();
    const sent: string[] = [];

    // Act
    const result = await forEachAlertOnce(delivery(state, 3), async (alert) => {
      sent.push(alert.fingerprint);
    });

    // Assess
    expect(sent).toEqual(['f000000000000000', 'f000000000000001', 'f000000000000002']);
    expect(result).toEqual({ sent: 3, skipped: 0 });
  });

  it('should resume after the alerts that were sent when a retry comes', async () => {
    // Prepare
    const state = memoryState();
    const sent: string[] = [];
    let failOn: string | undefined = 'f000000000000001';
    const send = async (alert: { fingerprint: string }) => {
      if (alert.fingerprint === failOn)
        throw new RetryableError('vendor said 429', { retryAfterSeconds: 10 });
      sent.push(alert.fingerprint);
    };

    // Act
    const first = await forEachAlertOnce(delivery(state, 3), send).catch((error: unknown) => error);
    failOn = undefined;
    const second = await forEachAlertOnce(delivery(state, 3), send);

    // Assess
    expect(first).toBeInstanceOf(RetryableError);
    expect(sent).toEqual(['f000000000000000', 'f000000000000001', 'f000000000000002']);
    expect(second).toEqual({ sent: 2, skipped: 1 });
  });

  it('should stop at the first failure and not record the failed alert', async () => {
    // Prepare
    const state = memoryState();

    // Act
    const error = await forEachAlertOnce(delivery(state, 2), async () => {
      throw new PermanentError('400');
    }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(state.keys()).toEqual([]);
  });

  it('should send a repeat of the same notification accepted later (repeat_interval) again', async () => {
    // Prepare
    const state = memoryState();
    const sent: string[] = [];
    const send = async (alert: { fingerprint: string }) => {
      sent.push(alert.fingerprint);
    };
    await forEachAlertOnce(delivery(state, 1), send);

    // Act
    const repeat = await forEachAlertOnce(delivery(state, 1, '2026-11-21T15:00:00.000Z'), send);

    // Assess
    expect(repeat).toEqual({ sent: 1, skipped: 0 });
    expect(sent).toEqual(['f000000000000000', 'f000000000000000']);
  });
});

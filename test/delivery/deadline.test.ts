import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { runWithDeadline, timeLeftMs } from '../../lib/delivery/deadline.ts';
import { OutOfTimeError, RetryableError } from '../../lib/delivery/errors.ts';
import { vendorFetch } from '../../lib/delivery/http.ts';
import { forEachAlertOnce } from '../../lib/delivery/journal.ts';
import { DEADLINE_MARGIN_MS } from '../../lib/delivery/policy.ts';
import { createRecordHandler } from '../../lib/delivery/record-handler.ts';
import type { Delivery } from '../../lib/delivery/sink.ts';
import { buildMessage } from '../../lib/queue/message.ts';
import type { OutgoingMessage, RecordQueue } from '../../lib/queue/types.ts';
import { createPagerDutySink } from '../../lib/sinks/pagerduty/pagerduty.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { CountingTelemetry } from '../../lib/telemetry.ts';
import { makeNotification } from '../support/notifications.ts';

const START = Date.UTC(2026, 10, 21, 12, 0, 0);

/** A clock that only moves when told: the fake vendor moves it, the deadline reads it. */
function virtualClock() {
  const clock = { now: START };
  const invocation = (budgetMs: number) => {
    const endsAt = clock.now + budgetMs;
    return { getRemainingTimeInMillis: () => endsAt - clock.now };
  };
  return { clock, invocation };
}

function delivery(state: SqliteStateStore, alerts: number): Delivery {
  return {
    destination: { name: 'pd', sink: 'pagerduty' },
    notification: makeNotification({ count: alerts }),
    idempotencyKey: 'k1',
    part: { index: 1, count: 1 },
    receivedAt: new Date(START).toISOString(),
    attempt: 1,
    secrets: { get: async () => 'x' },
    state,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  };
}

describe('Function: forEachAlertOnce under a deadline', () => {
  it('should stop before the alert that would start inside the margin, and resume there on the next invocation', async () => {
    // Prepare
    const { clock, invocation } = virtualClock();
    const state = new SqliteStateStore(':memory:', { now: () => clock.now });
    const sent: number[] = [];
    const send = async (_: unknown, index: number) => {
      clock.now += 1_000;
      sent.push(index);
    };
    const first = { context: invocation(DEADLINE_MARGIN_MS + 2_500), progressed: false };

    // Act
    const stopped = await runWithDeadline(first, () => forEachAlertOnce(delivery(state, 5), send)).catch(
      (error: unknown) => error,
    );
    const second = { context: invocation(60_000), progressed: false };
    const resumed = await runWithDeadline(second, () => forEachAlertOnce(delivery(state, 5), send));

    // Assess
    expect(stopped).toBeInstanceOf(OutOfTimeError);
    expect((stopped as Error).message).toBe(
      'alert 4 of 5 not started: 2500 ms left in the function, 3000 ms needed',
    );
    expect(first.progressed).toBe(true);
    expect(resumed).toEqual({ sent: 2, skipped: 3 });
    expect(sent).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('Function: vendorFetch under a deadline', () => {
  it('should not start a call with less than the margin left', async () => {
    // Prepare
    let called = false;
    const fetch = async () => {
      called = true;
      return new Response(null, { status: 204 });
    };
    const clock = { context: { getRemainingTimeInMillis: () => DEADLINE_MARGIN_MS - 1 }, progressed: false };

    // Act
    const error = await runWithDeadline(clock, () =>
      vendorFetch(
        'https://events.example.com/',
        {},
        { label: 'pagerduty events.example.com', timeoutSeconds: 10, fetch },
      ),
    ).catch((thrown: unknown) => thrown);

    // Assess
    expect(error).toBeInstanceOf(OutOfTimeError);
    expect(called).toBe(false);
  });

  it('should cap the call’s timeout by the time left less the reserve, and call a cut-short call out of time', async () => {
    // Prepare
    const clock = { context: { getRemainingTimeInMillis: () => 2_000 + 50 + 1_000 }, progressed: false };
    const hang = (_: unknown, init?: RequestInit) =>
      new Promise<Response>((_, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });

    // Act
    const error = await runWithDeadline(clock, () =>
      vendorFetch(
        'https://events.example.com/',
        {},
        { label: 'pagerduty events.example.com', timeoutSeconds: 60, fetch: hang },
      ),
    ).catch((thrown: unknown) => thrown);

    // Assess
    expect(error).toBeInstanceOf(OutOfTimeError);
    expect((error as Error).message).toBe(
      "pagerduty events.example.com did not answer within 1.1 s, cut short by the function's deadline",
    );
  });

  it('should keep the sink’s own timeout, and its wording, outside a delivery', async () => {
    // Prepare
    const hang = (_: unknown, init?: RequestInit) =>
      new Promise<Response>((_, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });

    // Act
    const error = await vendorFetch(
      'https://x.example.com/',
      {},
      { label: 'x x.example.com', timeoutSeconds: 0.05, fetch: hang },
    ).catch((thrown: unknown) => thrown);

    // Assess
    expect(timeLeftMs()).toBeUndefined();
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).not.toBeInstanceOf(OutOfTimeError);
    expect((error as Error).message).toBe('x x.example.com did not answer within 0.1 s');
  });
});

describe('Function: createRecordHandler with a time budget', () => {
  it('should deliver a 1,000-alert group to PagerDuty mode alert with a 100 ms vendor and a 30 s budget: each alert once, nothing dead-lettered', async () => {
    // Prepare
    const { clock, invocation } = virtualClock();
    const posted: string[] = [];
    const fetch = async (_: unknown, init?: RequestInit) => {
      clock.now += 100;
      posted.push((JSON.parse(String(init?.body)) as { dedup_key: string }).dedup_key);
      return new Response('{"status":"success"}', { status: 202 });
    };
    const state = new SqliteStateStore(':memory:', { now: () => clock.now });
    const deadLettered: OutgoingMessage[] = [];
    const visibility: number[] = [];
    const queue: RecordQueue = {
      changeVisibility: async (_, seconds) => {
        visibility.push(seconds);
      },
      sendToDlq: async (message) => {
        deadLettered.push(message);
      },
      requeue: async () => ({ failed: [] }),
    };
    const telemetry = new CountingTelemetry({ logger: new Logger({ logLevel: 'SILENT' }) });
    const handler = createRecordHandler({
      sink: createPagerDutySink({ fetch, now: () => clock.now }) as never,
      config: {
        ingest: {},
        destinations: [{ name: 'pd', sink: 'pagerduty', routingKeySecret: 'PD_KEY', mode: 'alert' }],
      },
      secrets: { get: async () => 'R0UTINGKEY0000000000000000000000' },
      state,
      queue,
      telemetry,
      maxReceiveCount: 50,
      now: () => clock.now,
    });
    const body = JSON.stringify(
      buildMessage('pd', 'pagerduty', makeNotification({ count: 1_000 }), new Date(START).toISOString(), {
        index: 1,
        count: 1,
      }),
    );
    const record = (receiveCount: number): SQSRecord =>
      ({
        messageId: 'm1',
        receiptHandle: `rh-${receiveCount}`,
        body,
        attributes: { ApproximateReceiveCount: String(receiveCount), MessageGroupId: 'pd:g' },
      }) as unknown as SQSRecord;

    // Act
    const used: number[] = [];
    let invocations = 0;
    for (let receive = 1; receive <= 20; receive++) {
      invocations++;
      const started = clock.now;
      const result = await handler({ Records: [record(receive)] }, invocation(30_000));
      used.push(clock.now - started);
      if (result.batchItemFailures.length === 0) break;
    }

    // Assess
    expect(posted).toHaveLength(1_000);
    expect(new Set(posted).size).toBe(1_000);
    expect(deadLettered).toEqual([]);
    expect(telemetry.get('Delivered', 'pd')).toBe(1);
    expect(telemetry.get('Retried')).toBe(0);
    expect(visibility.every((seconds) => seconds === 0)).toBe(true);
    expect(invocations).toBe(4);
    for (const ms of used) expect(ms).toBeLessThanOrEqual(30_000 - 2_000);
  });
});

import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Notification } from '../../lib/alertmanager/types.ts';
import type { RelayConfig } from '../../lib/config/types.ts';
import { beforeVendorCall, markProgress } from '../../lib/delivery/deadline.ts';
import {
  DeferredError,
  OutOfTimeError,
  PermanentError,
  RateLimitedError,
  RetryableError,
} from '../../lib/delivery/errors.ts';
import { type GroupRecord, groupStateKey, pendingId } from '../../lib/delivery/group-state.ts';
import { statusError } from '../../lib/delivery/http.ts';
import { type BackoffPolicy, DEADLINE_MARGIN_MS, DELIVERY_POLICY } from '../../lib/delivery/policy.ts';
import {
  createRecordHandler,
  DUPLICATE_WINDOW_MS,
  IDEMPOTENCY_TTL_SECONDS,
} from '../../lib/delivery/record-handler.ts';
import type { Delivery, DeliveryPipeline, SecretReader, Sink } from '../../lib/delivery/sink.ts';
import { INFRA } from '../../lib/infra/constants.ts';
import { messageGroupId, renewalDeduplicationId } from '../../lib/queue/idempotency.ts';
import { backfillMessage, parseMessage, type QueueMessage } from '../../lib/queue/message.ts';
import type { OutgoingMessage, RecordQueue, SendBatchResult } from '../../lib/queue/types.ts';
import type { StateStore } from '../../lib/state/store.ts';
import { CountingTelemetry, type ErrorReporter } from '../../lib/telemetry.ts';

const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const RECEIVED_AT = new Date(NOW - 2_000).toISOString();
const FIRST_RECEIVE = NOW - 60_000;
const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:relay-ci-webhook.fifo';

const CONFIG: RelayConfig = {
  ingest: {},
  destinations: [
    {
      name: 'audit',
      sink: 'webhook',
      url: 'https://hooks.example.com/relay',
      signingSecret: 'AUDIT_HOOK_SECRET',
    },
    { name: 'ops', sink: 'webhook', url: 'https://ops.example.com/hook' },
    { name: 'stdout', sink: 'console' },
  ],
};

const notification: Notification = {
  receiver: 'lambda',
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'GW0api1', instance: 'host1:9100', severity: 'critical' },
      annotations: { summary: 'test GW0api1' },
      startsAt: '2026-11-21T11:41:47.157482837Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prom.local/graph',
      fingerprint: 'ec823e990a83f493',
    },
  ],
  groupLabels: { alertname: 'GW0api1' },
  commonLabels: { alertname: 'GW0api1', instance: 'host1:9100', severity: 'critical' },
  commonAnnotations: { summary: 'test GW0api1' },
  externalURL: 'http://vm:9093',
  version: '4',
  groupKey: '{}:{alertname="GW0api1"}',
  truncatedAlerts: 0,
};

/** The state store contract in memory, with an injected clock and switches to make it fail. */
class MemoryStateStore implements StateStore {
  readonly items = new Map<string, { value: object; expiresAt?: number }>();
  readonly puts: { key: string; value: object; ttlSeconds?: number }[] = [];
  readonly gets: string[] = [];
  getError?: Error;
  putError?: Error;
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  async get<T extends object = Record<string, unknown>>(key: string): Promise<T | undefined> {
    this.gets.push(key);
    if (this.getError) throw this.getError;
    const item = this.items.get(key);
    if (!item || (item.expiresAt !== undefined && item.expiresAt <= this.#now())) return undefined;
    return structuredClone(item.value) as T;
  }

  async put(key: string, value: object, options: { ttlSeconds?: number } = {}): Promise<void> {
    if (this.putError) throw this.putError;
    this.puts.push({ key, value: structuredClone(value), ttlSeconds: options.ttlSeconds });
    const expiresAt = options.ttlSeconds === undefined ? undefined : this.#now() + options.ttlSeconds * 1000;
    this.items.set(key, { value: structuredClone(value), expiresAt });
  }

  async delete(key: string): Promise<void> {
    this.items.delete(key);
  }
}

/** Records what the handler asks of the queue. */
class FakeRecordQueue implements RecordQueue {
  readonly visibility: { receiptHandle: string; seconds: number }[] = [];
  readonly deadLettered: OutgoingMessage[] = [];
  readonly requeued: OutgoingMessage[][] = [];
  /** Entry ids the queue refuses, each once per listing. */
  refuse: string[] = [];
  visibilityError?: Error;
  dlqError?: Error;

  async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    this.visibility.push({ receiptHandle, seconds });
    if (this.visibilityError) throw this.visibilityError;
  }

  async sendToDlq(message: OutgoingMessage): Promise<void> {
    if (this.dlqError) throw this.dlqError;
    this.deadLettered.push(message);
  }

  async requeue(entries: OutgoingMessage[]): Promise<SendBatchResult> {
    this.requeued.push(entries);
    const failed = entries
      .filter((entry) => {
        const at = this.refuse.indexOf(entry.id);
        if (at >= 0) this.refuse.splice(at, 1);
        return at >= 0;
      })
      .map((entry) => ({ id: entry.id, reason: 'InternalError: try again' }));
    return { failed };
  }
}

type Outcome = (delivery: Delivery, pipeline?: DeliveryPipeline) => void | Promise<void>;

interface Setup {
  outcome?: Outcome;
  /** The queue's receive backstop; default 50. */
  maxReceiveCount?: number;
  /** Receives before the backstop where a handed-back record is renewed; default 0 (at the backstop). */
  renewalMargin?: number;
  /** The relay's attempts; default 5. */
  maxAttempts?: number;
  kind?: Sink['kind'];
  backoff?: BackoffPolicy;
  secrets?: SecretReader;
  logger?: Logger;
}

function setup(options: Setup = {}) {
  const clock = { now: NOW };
  const state = new MemoryStateStore(() => clock.now);
  const queue = new FakeRecordQueue();
  const reporter = { captureException: vi.fn<ErrorReporter['captureException']>() };
  const logger = options.logger ?? new Logger({ serviceName: 'webhook', logLevel: 'SILENT' });
  const telemetry = new CountingTelemetry({ logger, reporter });
  const deliveries: Delivery[] = [];
  const pipelines: (DeliveryPipeline | undefined)[] = [];
  const sink: Sink = {
    name: 'webhook',
    kind: options.kind ?? 'event-log',
    configSchema: {},
    deliver: async (delivery, pipeline) => {
      deliveries.push(delivery);
      pipelines.push(pipeline);
      await options.outcome?.(delivery, pipeline);
    },
  };
  const secrets: SecretReader = options.secrets ?? {
    get: async (name) => {
      throw new PermanentError(`secret "${name}" is not set`);
    },
  };
  const handler = createRecordHandler({
    sink,
    config: CONFIG,
    secrets,
    state,
    queue,
    telemetry,
    maxReceiveCount: options.maxReceiveCount ?? 50,
    renewalMargin: options.renewalMargin ?? 0,
    maxAttempts: options.maxAttempts,
    backoff: options.backoff,
    now: () => clock.now,
  });
  return { handler, clock, state, queue, reporter, telemetry, deliveries, pipelines, secrets };
}

function message(key: string, overrides: Partial<QueueMessage> = {}): QueueMessage {
  return {
    v: 1,
    destination: 'audit',
    sink: 'webhook',
    idempotencyKey: key,
    part: { index: 1, count: 1 },
    receivedAt: RECEIVED_AT,
    notification,
    ...overrides,
  };
}

interface RecordOptions {
  receiveCount?: number;
  firstReceiveAt?: number;
  groupId?: string;
  deduplicationId?: string;
}

/** An SQS record as Lambda's event source mapping delivers it from a FIFO queue. */
function sqsRecord(id: string, body: QueueMessage | string, options: RecordOptions = {}): SQSRecord {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const destination = typeof body === 'string' ? 'audit' : body.destination;
  return {
    messageId: `msg-${id}`,
    receiptHandle: `rh-${id}`,
    body: text,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(NOW - 61_000),
      SenderId: 'AROAEXAMPLE:ingest',
      ApproximateFirstReceiveTimestamp: String(options.firstReceiveAt ?? FIRST_RECEIVE),
      SequenceNumber: `1868${id.padStart(16, '0')}`,
      MessageGroupId: options.groupId ?? `${destination}:0123456789abcdef`,
      MessageDeduplicationId:
        options.deduplicationId ?? (typeof body === 'string' ? `dedup-${id}` : body.idempotencyKey),
    },
    messageAttributes: {},
    md5OfBody: '0'.repeat(32),
    eventSource: 'aws:sqs',
    eventSourceARN: QUEUE_ARN,
    awsRegion: 'eu-west-1',
  };
}

const event = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

/** Seeds the relay's count of failed attempts of `body`: its pending entry in its group's record. */
async function seedFailures(state: StateStore, body: QueueMessage, failures: number, firstFailureAt: string) {
  const key = groupStateKey(body.destination, body.notification.groupKey);
  const record = (await state.get<GroupRecord>(key)) ?? {};
  await state.put(key, {
    ...record,
    v: 2,
    pending: {
      ...record.pending,
      [pendingId(body)]: { receivedAt: body.receivedAt, failures, firstFailureAt },
    },
  });
}

/** The relay's count of failed attempts of `body`, as its group's record holds it. */
async function failuresOf(state: StateStore, body: QueueMessage) {
  const record = await state.get<GroupRecord>(groupStateKey(body.destination, body.notification.groupKey));
  const pending = record?.pending?.[pendingId(body)];
  return pending?.failures
    ? { failures: pending.failures, firstFailureAt: pending.firstFailureAt }
    : undefined;
}

const failWith =
  (errors: Record<string, unknown>): Outcome =>
  (delivery) => {
    if (delivery.idempotencyKey in errors) throw errors[delivery.idempotencyKey];
  };

describe('Function: createRecordHandler', () => {
  describe('Returned handler: delivery', () => {
    it('should deliver every record in order and report no failure', async () => {
      // Prepare
      const { handler, deliveries, queue, telemetry } = setup();
      const records = ['k1', 'k2', 'k3'].map((key, i) => sqsRecord(String(i + 1), message(key)));

      // Act
      const result = await handler(event(...records));

      // Assess
      expect(result).toEqual({ batchItemFailures: [] });
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k1', 'k2', 'k3']);
      expect(queue.visibility).toEqual([]);
      expect(queue.deadLettered).toEqual([]);
      expect(telemetry.get('Delivered', 'audit')).toBe(3);
    });

    it('should hand the sink its destination config, the notification, the key, the part, receivedAt, the attempt and the secrets', async () => {
      // Prepare
      const { handler, deliveries, secrets, state } = setup();
      const body = message('k1', { part: { index: 2, count: 3 } });
      await seedFailures(state, body, 2, RECEIVED_AT);

      // Act
      await handler(event(sqsRecord('1', body, { receiveCount: 7 })));

      // Assess
      expect(deliveries).toHaveLength(1);
      const [delivery] = deliveries;
      expect(delivery.destination).toEqual(CONFIG.destinations[0]);
      expect(delivery.notification).toEqual(notification);
      expect(delivery.idempotencyKey).toBe('k1');
      expect(delivery.part).toEqual({ index: 2, count: 3 });
      expect(delivery.receivedAt).toBe(RECEIVED_AT);
      expect(delivery.attempt).toBe(3);
      expect(delivery.secrets).toBe(secrets);
      expect(delivery.state).toBe(state);
    });

    it('should record the group’s last applied notification with a 7-day ttl', async () => {
      // Prepare
      const { handler, state } = setup();

      // Act
      await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(IDEMPOTENCY_TTL_SECONDS).toBe(7 * 24 * 3600);
      expect(state.puts).toEqual([
        {
          key: groupStateKey('audit', notification.groupKey),
          value: { receivedAt: RECEIVED_AT, keys: ['k1'], appliedAt: new Date(NOW).toISOString(), v: 2 },
          ttlSeconds: 604_800,
        },
      ]);
    });

    it('should not fail the record when recording the key fails after a successful delivery', async () => {
      // Prepare
      const { handler, state, deliveries, reporter, telemetry, queue } = setup();
      state.putError = Object.assign(new Error('table throttled'), {
        name: 'ProvisionedThroughputExceededException',
      });

      // Act
      const result = await handler(event(sqsRecord('1', message('k1')), sqsRecord('2', message('k2'))));

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries).toHaveLength(2);
      expect(telemetry.get('Delivered', 'audit')).toBe(2);
      expect(telemetry.get('Retried')).toBe(0);
      expect(queue.deadLettered).toEqual([]);
      expect(reporter.captureException).toHaveBeenCalledTimes(2);
      expect(reporter.captureException.mock.calls[0][0]).toBe(state.putError);
      expect(reporter.captureException.mock.calls[0][1]?.tags).toMatchObject({
        stage: 'record-group-state',
        destination: 'audit',
      });
    });

    it('should treat a record whose ApproximateReceiveCount is missing as the first attempt', async () => {
      // Prepare
      const { handler, deliveries } = setup();
      const record = sqsRecord('1', message('k1'));
      record.attributes.ApproximateReceiveCount = '';

      // Act
      await handler(event(record));

      // Assess
      expect(deliveries[0].attempt).toBe(1);
    });
  });

  describe('Returned handler: partial batch failures', () => {
    it('should stop at the first failure and report it and every later record, making the later ones visible at once', async () => {
      // Prepare
      const { handler, deliveries, queue } = setup({
        outcome: failWith({
          k2: new RetryableError('webhook hooks.example.com answered 503', { statusCode: 503 }),
        }),
        backoff: { baseSeconds: 10, factor: 2, maxSeconds: 100 },
      });
      const records = ['k1', 'k2', 'k3', 'k4'].map((key, i) => sqsRecord(String(i + 1), message(key)));

      // Act
      const result = await handler(event(...records));

      // Assess
      expect(result.batchItemFailures).toEqual([
        { itemIdentifier: 'msg-2' },
        { itemIdentifier: 'msg-3' },
        { itemIdentifier: 'msg-4' },
      ]);
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k1', 'k2']);
      expect(queue.visibility.map((v) => v.receiptHandle)).toEqual(['rh-2', 'rh-3', 'rh-4']);
      expect(queue.visibility[1]).toEqual({ receiptHandle: 'rh-3', seconds: 0 });
      expect(queue.visibility[2]).toEqual({ receiptHandle: 'rh-4', seconds: 0 });
      expect(queue.visibility[0].seconds).toBeGreaterThan(0);
    });

    it('should go on with records of other message groups after a failure, holding back only its own group', async () => {
      // Prepare
      const { handler, deliveries, queue } = setup({
        outcome: failWith({ k1: new RetryableError('webhook hooks.example.com answered 503') }),
      });
      const records = [
        sqsRecord('1', message('k1'), { groupId: 'audit:group-a' }),
        sqsRecord('2', message('k2'), { groupId: 'audit:group-b' }),
        sqsRecord('3', message('k3'), { groupId: 'audit:group-a' }),
        sqsRecord('4', message('k4'), { groupId: 'audit:group-c' }),
      ];

      // Act
      const result = await handler(event(...records));

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }, { itemIdentifier: 'msg-3' }]);
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k1', 'k2', 'k4']);
      expect(queue.visibility.map((v) => v.receiptHandle)).toEqual(['rh-1', 'rh-3']);
      expect(queue.visibility[1]).toEqual({ receiptHandle: 'rh-3', seconds: 0 });
    });

    it('should still report every later record when making them visible fails', async () => {
      // Prepare
      const { handler, queue } = setup({ outcome: failWith({ k1: new RetryableError('timeout') }) });
      queue.visibilityError = new Error('ReceiptHandleIsInvalid');

      // Act
      const result = await handler(event(sqsRecord('1', message('k1')), sqsRecord('2', message('k2'))));

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }, { itemIdentifier: 'msg-2' }]);
      expect(queue.visibility).toHaveLength(2);
    });
  });

  describe('Returned handler: retryable failures', () => {
    it('should wait as long as the RetryableError’s retryAfterSeconds says', async () => {
      // Prepare
      const { handler, queue, telemetry } = setup({
        outcome: failWith({ k1: new RetryableError('503', { retryAfterSeconds: 120, statusCode: 503 }) }),
      });

      // Act
      const result = await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }]);
      expect(queue.visibility).toEqual([{ receiptHandle: 'rh-1', seconds: 120 }]);
      expect(telemetry.get('Retried', 'audit')).toBe(1);
      expect(queue.deadLettered).toEqual([]);
    });

    it('should clamp a Retry-After beyond 12 hours to what SQS accepts after this receive: 43,200 s less the margin and the time since the receive', async () => {
      // Prepare
      const { handler, queue, clock } = setup({
        outcome: (delivery) => {
          // The delivery itself took 25 s of the 12 hours that count from the receive.
          clock.now += 25_000;
          failWith({ k1: new RetryableError('503', { retryAfterSeconds: 7 * 86_400 }) })(delivery);
        },
      });

      // Act
      await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(queue.visibility).toEqual([{ receiptHandle: 'rh-1', seconds: 43_200 - 300 - 25 }]);
    });

    it('should back off exponentially, with jitter, by the relay’s count of failed attempts when no Retry-After is given', async () => {
      // Prepare
      const backoff: BackoffPolicy = { baseSeconds: 100, factor: 3, maxSeconds: 10_000 };
      const { handler, queue } = setup({
        outcome: () => Promise.reject(new RetryableError('503')),
        backoff,
        maxAttempts: 10,
      });
      const random = vi.spyOn(Math, 'random');

      // Act
      random.mockReturnValue(0);
      await handler(event(sqsRecord('1', message('k1'), { receiveCount: 1 })));
      random.mockReturnValue(0.999_999);
      await handler(event(sqsRecord('1', message('k1'), { receiveCount: 9 })));
      await handler(event(sqsRecord('1', message('k1'), { receiveCount: 9 })));
      random.mockRestore();
      await handler(event(sqsRecord('1', message('k1'), { receiveCount: 9 })));

      // Assess
      const seconds = queue.visibility.map((v) => v.seconds);
      // Failures 1, 2, 3 whatever the receive count said; then the 4th with real jitter.
      expect(seconds.slice(0, 3)).toEqual([50, 300, 900]);
      expect(seconds[3]).toBeGreaterThanOrEqual(1350);
      expect(seconds[3]).toBeLessThanOrEqual(2700);
    });

    it('should retry and report an error that is neither retryable nor permanent', async () => {
      // Prepare
      const bug = new TypeError("Cannot read properties of undefined (reading 'ts')");
      const { handler, queue, reporter, telemetry } = setup({ outcome: failWith({ k1: bug }) });

      // Act
      const result = await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }]);
      expect(queue.visibility).toHaveLength(1);
      expect(queue.deadLettered).toEqual([]);
      expect(telemetry.get('Retried', 'audit')).toBe(1);
      expect(reporter.captureException).toHaveBeenCalledTimes(1);
      expect(reporter.captureException.mock.calls[0][0]).toBe(bug);
      expect(reporter.captureException.mock.calls[0][1]?.tags).toMatchObject({
        stage: 'deliver',
        destination: 'audit',
        sink: 'webhook',
      });
    });

    it('should give the DLQ a reason SQS accepts: no U+FFFF from the vendor, no surrogate half from the cut', async () => {
      // Prepare: the 1,000-character cut falls in the middle of an emoji.
      const reason = `${'x'.repeat(975)}\uffff${'😀'.repeat(20)}`;
      const { handler, queue } = setup({ outcome: failWith({ k1: new PermanentError(reason) }) });

      // Act
      await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      const stored = queue.deadLettered[0].attributes?.reason ?? '';
      expect(stored.length).toBeLessThanOrEqual(1000);
      expect(stored).not.toMatch(
        /[\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/,
      );
      expect(stored).toContain('\ufffd');
    });

    it('should hand a deferral back after its delay without counting an attempt, however often', async () => {
      // Prepare: the sink's own pacing asks to come back in 7 s, more times than maxAttempts.
      const { handler, queue, telemetry, reporter } = setup({
        outcome: failWith({
          k1: new DeferredError('channel pacing: next slot in 7 s', { retryAfterSeconds: 7 }),
        }),
      });

      // Act
      for (let receive = 1; receive <= 8; receive++)
        await handler(event(sqsRecord('1', message('k1'), { receiveCount: receive })));

      // Assess
      expect(queue.deadLettered).toEqual([]);
      expect(queue.visibility.map((v) => v.seconds)).toEqual(Array(8).fill(7));
      expect(telemetry.get('Retried', 'audit')).toBe(0);
      expect(reporter.captureException).not.toHaveBeenCalled();
    });

    it('should renew a deferral at the queue’s receive backstop instead of dead-lettering it', async () => {
      // Prepare
      const { handler, queue } = setup({
        maxReceiveCount: 3,
        outcome: failWith({
          k1: new DeferredError('storm digest: next edit in 10 s', { retryAfterSeconds: 10 }),
        }),
      });
      const record = sqsRecord('1', message('k1'), { receiveCount: 3 });

      // Act
      const result = await handler(event(record));

      // Assess: a fresh copy of the body in its group, under a deduplication id of its own; the
      // original is reported done, so the queue deletes it.
      expect(result.batchItemFailures).toEqual([]);
      expect(queue.deadLettered).toEqual([]);
      expect(queue.visibility).toEqual([]);
      expect(queue.requeued).toEqual([
        [
          {
            id: 'r0',
            body: record.body,
            groupId: record.attributes.MessageGroupId,
            deduplicationId: renewalDeduplicationId('msg-1'),
            attributes: { renewals: '1' },
          },
        ],
      ]);
      expect(renewalDeduplicationId('msg-1')).not.toBe(record.attributes.MessageDeduplicationId);
    });

    it('should not report a RetryableError as the relay’s own error', async () => {
      // Prepare
      const { handler, reporter } = setup({ outcome: failWith({ k1: new RetryableError('503') }) });

      // Act
      await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(reporter.captureException).not.toHaveBeenCalled();
    });

    it('should retry on the attempt before maxAttempts, whatever the receive count', async () => {
      // Prepare
      const { handler, queue, state } = setup({
        outcome: failWith({ k1: new RetryableError('503') }),
        maxAttempts: 5,
      });
      await seedFailures(state, message('k1'), 3, RECEIVED_AT);

      // Act
      const result = await handler(event(sqsRecord('1', message('k1'), { receiveCount: 12 })));

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }]);
      expect(queue.deadLettered).toEqual([]);
    });

    it('should dead-letter a retryable failure at maxAttempts with "gave up after N attempts" and the relay’s count, and go on with the batch', async () => {
      // Prepare
      const firstFailure = new Date(NOW - 400_000).toISOString();
      const { handler, queue, deliveries, telemetry, state } = setup({
        outcome: failWith({
          k1: new RetryableError('webhook hooks.example.com answered 503 Service Unavailable', {
            statusCode: 503,
          }),
        }),
        maxAttempts: 5,
      });
      await seedFailures(state, message('k1'), 4, firstFailure);

      // Act
      const result = await handler(
        event(
          sqsRecord('1', message('k1'), { receiveCount: 9 }),
          sqsRecord('2', message('k2'), { groupId: 'audit:other' }),
        ),
      );

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k1', 'k2']);
      expect(queue.visibility).toEqual([]);
      expect(queue.deadLettered).toHaveLength(1);
      expect(queue.deadLettered[0].attributes).toEqual({
        reason:
          'gave up after 5 attempts: RetryableError: webhook hooks.example.com answered 503 Service Unavailable',
        destination: 'audit',
        statusCode: '503',
        firstFailureAt: firstFailure,
        attempts: '5',
        errorType: 'retries-exhausted',
      });
      // A redrive starts counting afresh.
      expect(await failuresOf(state, message('k1'))).toBeUndefined();
      expect(telemetry.get('DeadLettered', 'audit')).toBe(1);
      expect(telemetry.get('Retried')).toBe(0);
      expect(telemetry.get('Delivered', 'audit')).toBe(1);
    });

    it('should dead-letter an unexpected error at maxAttempts too', async () => {
      // Prepare
      const { handler, queue, reporter, state } = setup({
        outcome: failWith({ k1: new Error('socket hang up') }),
        maxAttempts: 3,
      });
      await seedFailures(state, message('k1'), 2, RECEIVED_AT);

      // Act
      const result = await handler(event(sqsRecord('1', message('k1'), { receiveCount: 3 })));

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(queue.deadLettered[0].attributes?.reason).toBe(
        'gave up after 3 attempts: Error: socket hang up',
      );
      expect(queue.deadLettered[0].attributes?.errorType).toBe('retries-exhausted');
      expect(queue.deadLettered[0].attributes).not.toHaveProperty('statusCode');
      expect(reporter.captureException).toHaveBeenCalledTimes(1);
    });

    it.each([
      ['a string', 'boom'],
      ['undefined', undefined],
      ['null', null],
    ])(
      'should dead-letter a sink that throws %s at maxAttempts instead of failing the whole batch',
      async (_, thrown) => {
        // Prepare
        const { handler, queue } = setup({ outcome: failWith({ k1: thrown }), maxAttempts: 1 });

        // Act
        const result = await handler(event(sqsRecord('1', message('k1')), sqsRecord('2', message('k2'))));

        // Assess
        expect(result.batchItemFailures).toEqual([]);
        expect(queue.deadLettered).toHaveLength(1);
        expect(queue.deadLettered[0].attributes?.reason).toBe(`gave up after 1 attempts: ${String(thrown)}`);
      },
    );
  });

  describe('Returned handler: permanent failures', () => {
    it('should dead-letter at once with reason, destination, statusCode, firstFailureAt, attempts and errorType, and not report the record', async () => {
      // Prepare
      const { handler, queue, deliveries, telemetry } = setup({
        outcome: failWith({
          k1: new PermanentError('webhook hooks.example.com answered 404 Not Found', { statusCode: 404 }),
        }),
      });
      const first = sqsRecord('1', message('k1'), {
        receiveCount: 1,
        firstReceiveAt: Date.UTC(2026, 10, 21, 11, 59, 0, 123),
      });

      // Act
      const result = await handler(event(first, sqsRecord('2', message('k2'))));

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k1', 'k2']);
      expect(queue.visibility).toEqual([]);
      expect(queue.deadLettered).toHaveLength(1);
      const [dead] = queue.deadLettered;
      expect(dead.attributes).toEqual({
        reason: 'PermanentError: webhook hooks.example.com answered 404 Not Found',
        destination: 'audit',
        statusCode: '404',
        firstFailureAt: '2026-11-21T11:59:00.123Z',
        attempts: '1',
        errorType: 'permanent',
      });
      expect(dead.body).toBe(first.body);
      expect(dead.groupId).toBe(first.attributes.MessageGroupId);
      expect(dead.deduplicationId.startsWith('k1-')).toBe(true);
      expect(telemetry.get('DeadLettered', 'audit')).toBe(1);
      expect(telemetry.get('Retried')).toBe(0);
    });

    it('should give each dead-lettering its own deduplication id, within SQS’s 128 characters', async () => {
      // Prepare
      const { handler, queue, clock } = setup({
        outcome: () => Promise.reject(new PermanentError('410 Gone')),
      });
      const long = 'd'.repeat(128);

      // Act
      await handler(event(sqsRecord('1', message('k1'), { deduplicationId: long })));
      clock.now += 1_000;
      await handler(event(sqsRecord('1', message('k1'), { deduplicationId: long })));

      // Assess
      const ids = queue.deadLettered.map((m) => m.deduplicationId);
      expect(ids).toHaveLength(2);
      expect(ids[0]).not.toBe(ids[1]);
      for (const id of ids) expect(id.length).toBeLessThanOrEqual(128);
    });

    it('should cut a very long reason to 1000 characters', async () => {
      // Prepare
      const { handler, queue } = setup({
        outcome: () => Promise.reject(new PermanentError('x'.repeat(5_000))),
      });

      // Act
      await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(queue.deadLettered[0].attributes?.reason).toHaveLength(1_000);
    });

    it('should use the time of dead-lettering as firstFailureAt when SQS did not say', async () => {
      // Prepare
      const { handler, queue } = setup({ outcome: () => Promise.reject(new PermanentError('400')) });
      const record = sqsRecord('1', message('k1'));
      record.attributes.ApproximateFirstReceiveTimestamp = '';

      // Act
      await handler(event(record));

      // Assess
      expect(queue.deadLettered[0].attributes?.firstFailureAt).toBe(new Date(NOW).toISOString());
    });

    it('should report the record failed, and stop the batch, when the DLQ does not accept it', async () => {
      // Prepare
      const { handler, queue, reporter, telemetry, deliveries } = setup({
        outcome: failWith({ k1: new PermanentError('401 Unauthorized', { statusCode: 401 }) }),
      });
      queue.dlqError = Object.assign(new Error('Access to the resource is denied'), { name: 'AccessDenied' });

      // Act
      const result = await handler(event(sqsRecord('1', message('k1')), sqsRecord('2', message('k2'))));

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }, { itemIdentifier: 'msg-2' }]);
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k1']);
      expect(telemetry.get('DeadLettered')).toBe(0);
      expect(reporter.captureException).toHaveBeenCalledTimes(1);
      expect(reporter.captureException.mock.calls[0][0]).toBe(queue.dlqError);
      expect(reporter.captureException.mock.calls[0][1]?.tags).toMatchObject({
        stage: 'dead-letter',
        destination: 'audit',
      });
    });

    it.each([
      ['not JSON', '{"v":1,"destination":'],
      ['an unknown version', JSON.stringify({ ...message('k1'), v: 2 })],
      ['missing idempotencyKey', JSON.stringify({ ...message('k1'), idempotencyKey: undefined })],
      ['missing notification', JSON.stringify({ ...message('k1'), notification: undefined })],
      ['a bad receivedAt', JSON.stringify({ ...message('k1'), receivedAt: 'yesterday' })],
      ['JSON null', 'null'],
    ])('should dead-letter a malformed body (%s) without calling the sink', async (_, body) => {
      // Prepare
      const { handler, queue, deliveries, telemetry } = setup();

      // Act
      const result = await handler(event(sqsRecord('1', body), sqsRecord('2', message('k2'))));

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k2']);
      expect(queue.deadLettered).toHaveLength(1);
      expect(queue.deadLettered[0].body).toBe(body);
      expect(queue.deadLettered[0].attributes).toMatchObject({
        destination: 'unknown',
        errorType: 'permanent',
        attempts: '1',
      });
      expect(queue.deadLettered[0].attributes?.reason).toMatch(/^PermanentError: malformed queue message: /);
      expect(telemetry.get('DeadLettered', 'unknown')).toBe(1);
    });

    it.each([
      ['a destination not in the config', 'billing'],
      ['a destination of another sink', 'stdout'],
    ])('should dead-letter a message for %s', async (_, destination) => {
      // Prepare
      const { handler, queue, deliveries } = setup();

      // Act
      const result = await handler(event(sqsRecord('1', message('k1', { destination }))));

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries).toEqual([]);
      expect(queue.deadLettered).toHaveLength(1);
      expect(queue.deadLettered[0].attributes).toMatchObject({ destination, errorType: 'permanent' });
      expect(queue.deadLettered[0].attributes?.reason).toBe(
        `PermanentError: destination "${destination}" is not configured for sink webhook`,
      );
    });
  });

  describe('Returned handler: group state decides duplicates', () => {
    const at = (offsetMs: number) => new Date(Date.parse(RECEIVED_AT) + offsetMs).toISOString();
    const firing = (receivedAt: string) => message('k-firing', { receivedAt });
    const resolved = (receivedAt: string) =>
      message('k-resolved', { receivedAt, notification: { ...notification, status: 'resolved' } });

    it('should deliver a re-fire whose content equals the firing before the resolve, within the window', async () => {
      // Prepare
      const { handler, deliveries, telemetry } = setup();

      // Act
      await handler(event(sqsRecord('1', firing(at(0)))));
      await handler(event(sqsRecord('2', resolved(at(30_000)))));
      await handler(event(sqsRecord('3', firing(at(60_000)))));

      // Assess
      expect(deliveries.map((d) => [d.idempotencyKey, d.receivedAt])).toEqual([
        ['k-firing', at(0)],
        ['k-resolved', at(30_000)],
        ['k-firing', at(60_000)],
      ]);
      expect(telemetry.get('DuplicatesSkipped')).toBe(0);
    });

    it('should skip the HA copy (same content, accepted within 5 minutes) and count it', async () => {
      // Prepare
      const { handler, deliveries, telemetry } = setup();
      await handler(event(sqsRecord('1', firing(at(0)))));

      // Act
      const result = await handler(event(sqsRecord('2', firing(at(DUPLICATE_WINDOW_MS - 1_000)))));

      // Assess
      expect(DUPLICATE_WINDOW_MS).toBe(300_000);
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries).toHaveLength(1);
      expect(telemetry.get('DuplicatesSkipped', 'audit')).toBe(1);
    });

    it('should skip the very same message coming back after it was applied (a crash before the delete)', async () => {
      // Prepare
      const { handler, deliveries, telemetry, clock } = setup();
      await handler(event(sqsRecord('1', firing(at(0)))));
      clock.now += 3_600_000;

      // Act
      await handler(event(sqsRecord('1', firing(at(0)), { receiveCount: 2 })));

      // Assess
      expect(deliveries).toHaveLength(1);
      expect(telemetry.get('DuplicatesSkipped', 'audit')).toBe(1);
    });

    it('should deliver a repeat_interval reminder accepted after the window, and remember it', async () => {
      // Prepare
      const { handler, deliveries, state, telemetry } = setup();
      await handler(event(sqsRecord('1', firing(at(0)))));

      // Act
      await handler(event(sqsRecord('2', firing(at(DUPLICATE_WINDOW_MS)))));

      // Assess
      expect(deliveries.map((d) => d.receivedAt)).toEqual([at(0), at(DUPLICATE_WINDOW_MS)]);
      expect(telemetry.get('DuplicatesSkipped')).toBe(0);
      expect(await state.get(groupStateKey('audit', notification.groupKey))).toMatchObject({
        receivedAt: at(DUPLICATE_WINDOW_MS),
        keys: ['k-firing'],
      });
    });

    it('should apply every part of a split notification, and skip an HA copy of each part', async () => {
      // Prepare
      const { handler, deliveries, telemetry } = setup();
      const part = (key: string, index: number, receivedAt: string) =>
        message(key, { receivedAt, part: { index, count: 2 } });

      // Act
      await handler(event(sqsRecord('1', part('p1', 1, at(0))), sqsRecord('2', part('p2', 2, at(0)))));
      await handler(
        event(sqsRecord('3', part('p1', 1, at(2_000))), sqsRecord('4', part('p2', 2, at(2_000)))),
      );

      // Assess
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['p1', 'p2']);
      expect(telemetry.get('DuplicatesSkipped', 'audit')).toBe(2);
    });

    it('should keep group state per destination: the same content for another destination is delivered', async () => {
      // Prepare
      const { handler, deliveries } = setup();
      await handler(event(sqsRecord('1', firing(at(0)))));

      // Act
      await handler(event(sqsRecord('2', { ...firing(at(0)), destination: 'ops' })));

      // Assess
      expect(deliveries.map((d) => d.destination.name)).toEqual(['audit', 'ops']);
    });

    it('should skip a stale message on a lifecycle sink, count it as Superseded and log both times', async () => {
      // Prepare
      const output: string[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
        output.push(String(chunk));
        return true;
      }) as typeof process.stdout.write);
      const logger = new Logger({ serviceName: 'pagerduty', logLevel: 'INFO' });
      const { handler, deliveries, telemetry, state } = setup({ kind: 'lifecycle', logger });
      await handler(event(sqsRecord('1', resolved(at(60_000)))));

      // Act
      const result = await handler(event(sqsRecord('2', firing(at(0)))));

      // Assess
      vi.restoreAllMocks();
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k-resolved']);
      expect(telemetry.get('Superseded', 'audit')).toBe(1);
      expect(telemetry.get('Delivered', 'audit')).toBe(1);
      const line = output.map((text) => JSON.parse(text)).find((log) => /superseded/.test(log.message));
      expect(line).toMatchObject({ receivedAt: at(0), supersededBy: at(60_000) });
      expect(await state.get(groupStateKey('audit', notification.groupKey))).toMatchObject({
        receivedAt: at(60_000),
        keys: ['k-resolved'],
      });
    });

    it('should deliver a stale message on an event-log sink with the superseded marker, leaving the group state alone', async () => {
      // Prepare
      const { handler, deliveries, telemetry, state } = setup({ kind: 'event-log' });
      await handler(event(sqsRecord('1', resolved(at(60_000)))));

      // Act
      await handler(event(sqsRecord('2', firing(at(0)))));

      // Assess
      expect(deliveries.map((d) => [d.idempotencyKey, d.superseded])).toEqual([
        ['k-resolved', undefined],
        ['k-firing', { by: at(60_000) }],
      ]);
      expect(telemetry.get('Delivered', 'audit')).toBe(2);
      expect(telemetry.get('Superseded')).toBe(0);
      expect(await state.get(groupStateKey('audit', notification.groupKey))).toMatchObject({
        receivedAt: at(60_000),
      });
    });

    it('should deliver again once the group state has expired', async () => {
      // Prepare
      const { handler, deliveries, clock } = setup();
      await handler(event(sqsRecord('1', firing(at(0)))));
      clock.now += IDEMPOTENCY_TTL_SECONDS * 1000;

      // Act
      await handler(event(sqsRecord('2', firing(at(0)))));

      // Assess
      expect(deliveries).toHaveLength(2);
    });

    it('should retry, not deliver, when the state store cannot be read', async () => {
      // Prepare
      const { handler, state, deliveries, queue, reporter } = setup();
      state.getError = new Error('DynamoDB unavailable');

      // Act
      const result = await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }]);
      expect(deliveries).toEqual([]);
      expect(queue.visibility).toHaveLength(1);
      expect(reporter.captureException).toHaveBeenCalledWith(state.getError, expect.anything());
    });
  });

  describe('Returned handler: attempts counted by the relay', () => {
    it('should not count an attempt against records held back behind a failing group-mate', async () => {
      // Prepare
      const { handler, queue, state, deliveries } = setup({
        outcome: failWith({ k1: new RetryableError('webhook hooks.example.com answered 503') }),
        maxAttempts: 5,
      });
      const batch = (receiveCount: number) =>
        event(
          sqsRecord('1', message('k1'), { receiveCount }),
          sqsRecord('2', message('k2'), { receiveCount }),
        );

      // Act
      for (let receive = 1; receive <= 5; receive++) await handler(batch(receive));
      const after = await handler(event(sqsRecord('2', message('k2'), { receiveCount: 6 })));

      // Assess
      expect(queue.deadLettered.map((m) => m.id)).toEqual(['msg-1']);
      expect(await failuresOf(state, message('k2'))).toBeUndefined();
      expect(after.batchItemFailures).toEqual([]);
      expect(deliveries.filter((d) => d.idempotencyKey === 'k2').map((d) => d.attempt)).toEqual([1]);
    });

    it('should renew a held-back record at the queue’s receive limit, behind the group-mate it waits for, before SQS moves it without a reason', async () => {
      // Prepare
      const { handler, queue } = setup({
        outcome: failWith({ k1: new RetryableError('503') }),
        maxReceiveCount: 50,
      });

      // Act
      const result = await handler(
        event(sqsRecord('1', message('k1')), sqsRecord('2', message('k2'), { receiveCount: 50 })),
      );

      // Assess: k1 goes back to the queue (still ahead of its group), k2's copy queues behind it.
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }]);
      expect(queue.deadLettered).toEqual([]);
      expect(queue.requeued.flat().map((entry) => parseMessage(entry.body).idempotencyKey)).toEqual(['k2']);
    });

    it('should count each failed attempt with the time of the first one', async () => {
      // Prepare
      const { handler, state, clock } = setup({ outcome: failWith({ k1: new RetryableError('503') }) });

      // Act
      await handler(event(sqsRecord('1', message('k1'))));
      clock.now += 10_000;
      await handler(event(sqsRecord('1', message('k1'), { receiveCount: 2 })));

      // Assess
      expect(await failuresOf(state, message('k1'))).toEqual({
        failures: 2,
        firstFailureAt: new Date(NOW).toISOString(),
      });
    });
  });

  describe('Returned handler: waits are not failures', () => {
    const HOUR = 3_600_000;
    const rateLimited = (headers: Record<string, string> = {}) =>
      statusError(new Response('slow down', { status: 429, headers }), {
        label: 'webhook hooks.example.com',
        redactions: [],
        now: NOW,
        redirectHint: 'configure the final URL',
      });
    const keyOf = (entry: OutgoingMessage) => parseMessage(entry.body).idempotencyKey;

    /**
     * Receives `first` the way SQS FIFO does until it is settled: handed back, it comes again
     * with its receive count one higher; renewed, its copy comes next as a new message (receive
     * count 1). Resolves with the receives it took.
     */
    async function receiveUntilSettled(
      handler: ReturnType<typeof setup>['handler'],
      queue: FakeRecordQueue,
      first: SQSRecord,
    ): Promise<number> {
      let record = first;
      for (let receives = 1; receives <= 500; receives++) {
        const requeued = queue.requeued.length;
        const { batchItemFailures } = await handler(event(record));
        if (queue.requeued.length > requeued) {
          const [copy] = queue.requeued[queue.requeued.length - 1];
          record = received(copy, `copy-${receives}`);
        } else if (batchItemFailures.length > 0) {
          const count = Number(record.attributes.ApproximateReceiveCount) + 1;
          record = {
            ...record,
            attributes: { ...record.attributes, ApproximateReceiveCount: String(count) },
          };
        } else return receives;
      }
      throw new Error('not settled in 500 receives');
    }

    /** A message the queue took, as its first receive hands it out. */
    function received(entry: OutgoingMessage, id: string): SQSRecord {
      const record = sqsRecord(id, entry.body, {
        groupId: entry.groupId,
        deduplicationId: entry.deduplicationId,
      });
      for (const [name, value] of Object.entries(entry.attributes ?? {}))
        record.messageAttributes[name] = { stringValue: value, dataType: 'String' };
      return record;
    }

    it.each([
      ['with Retry-After: 7', { 'retry-after': '7' }, 7],
      ['without Retry-After (the policy’s 60 s)', {}, 60],
    ])('should wait out a 429 %s without counting an attempt, however often', async (_, headers, seconds) => {
      // Prepare: well past maxAttempts of 429s; a 503 would have been dead-lettered long ago.
      const error = await rateLimited(headers);
      const { handler, queue, state, telemetry } = setup({
        outcome: failWith({ k1: error }),
        maxAttempts: 5,
      });

      // Act
      for (let receive = 1; receive <= 12; receive++)
        await handler(event(sqsRecord('1', message('k1'), { receiveCount: receive })));

      // Assess
      expect(error).toBeInstanceOf(RateLimitedError);
      expect(error).toBeInstanceOf(DeferredError);
      expect(queue.deadLettered).toEqual([]);
      expect(queue.visibility.map((v) => v.seconds)).toEqual(Array(12).fill(seconds));
      expect(await failuresOf(state, message('k1'))).toBeUndefined();
      expect(telemetry.get('Retried')).toBe(0);
    });

    it('should log a rate-limited wait at info, with the wait and the reason', async () => {
      // Prepare
      const lines: Record<string, unknown>[] = [];
      const logger = new Logger({ serviceName: 'webhook', logLevel: 'INFO' });
      vi.spyOn(logger, 'info').mockImplementation(((message: string, extra: object) => {
        lines.push({ message, ...extra });
      }) as typeof logger.info);
      const { handler } = setup({
        logger,
        outcome: failWith({ k1: await rateLimited({ 'retry-after': '9' }) }),
      });

      // Act
      await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(lines).toContainEqual(
        expect.objectContaining({
          message: 'rate limited by the vendor; waits, no attempt counted',
          retryInSeconds: 9,
          reason:
            'RateLimitedError: webhook hooks.example.com answered 429 Too Many Requests (rate limited; retry after 9 s): slow down',
        }),
      );
    });

    it('should never dead-letter 60 deferrals under a receive limit of 50, and deliver at the end', async () => {
      // Prepare
      let calls = 0;
      const { handler, queue, telemetry } = setup({
        maxReceiveCount: 50,
        outcome: () => {
          if (++calls <= 60)
            throw new DeferredError('channel pacing: next slot in 1 s', { retryAfterSeconds: 1 });
        },
      });
      const first = sqsRecord('1', message('k1'));

      // Act
      const receives = await receiveUntilSettled(handler, queue, first);

      // Assess: renewed once, at its 50th receive; its copy waited 10 more and was delivered.
      expect(receives).toBe(61);
      expect(queue.deadLettered).toEqual([]);
      expect(queue.requeued).toHaveLength(1);
      expect(queue.requeued[0]).toEqual([
        {
          id: 'r0',
          body: first.body,
          groupId: first.attributes.MessageGroupId,
          deduplicationId: renewalDeduplicationId('msg-1'),
          attributes: { renewals: '1' },
        },
      ]);
      expect(telemetry.get('Delivered', 'audit')).toBe(1);
      expect(telemetry.get('Retried')).toBe(0);
    });

    it('should count the renewals of a message across its copies', async () => {
      // Prepare
      let calls = 0;
      const { handler, queue } = setup({
        maxReceiveCount: 3,
        outcome: () => {
          if (++calls <= 7)
            throw new DeferredError('storm digest: next edit in 10 s', { retryAfterSeconds: 10 });
        },
      });

      // Act
      await receiveUntilSettled(handler, queue, sqsRecord('1', message('k1')));

      // Assess
      expect(queue.requeued.flat().map((entry) => entry.attributes?.renewals)).toEqual(['1', '2']);
      expect(new Set(queue.requeued.flat().map((entry) => entry.deduplicationId)).size).toBe(2);
    });

    it('should renew a record with every later record of its group in the batch, in order, and go on with other groups', async () => {
      // Prepare: k1 waits at its 50th receive; k2 and k3 are behind it; k4 is another group's.
      const { handler, queue, deliveries } = setup({
        maxReceiveCount: 50,
        outcome: failWith({ k1: await rateLimited({ 'retry-after': '2' }) }),
      });

      // Act
      const result = await handler(
        event(
          sqsRecord('1', message('k1'), { receiveCount: 50 }),
          sqsRecord('2', message('k2'), { receiveCount: 50 }),
          sqsRecord('3', message('k3'), { receiveCount: 12 }),
          sqsRecord('4', message('k4'), { groupId: 'audit:other' }),
        ),
      );

      // Assess: one call, the group's three in their order; every original reported done.
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k1', 'k4']);
      expect(queue.requeued).toHaveLength(1);
      expect(queue.requeued[0].map(keyOf)).toEqual(['k1', 'k2', 'k3']);
      expect(queue.requeued[0].map((entry) => entry.deduplicationId)).toEqual(
        ['msg-1', 'msg-2', 'msg-3'].map(renewalDeduplicationId),
      );
      expect(new Set(queue.requeued[0].map((entry) => entry.groupId))).toEqual(
        new Set([sqsRecord('1', message('k1')).attributes.MessageGroupId]),
      );
      expect(queue.visibility).toEqual([]);
      expect(queue.deadLettered).toEqual([]);
    });

    it('should renew a held record behind a group-mate handed back earlier in the batch, which stays ahead of it', async () => {
      // Prepare
      const { handler, queue } = setup({
        maxReceiveCount: 50,
        outcome: failWith({ k1: new DeferredError('pacing: 5 s', { retryAfterSeconds: 5 }) }),
      });

      // Act
      const result = await handler(
        event(
          sqsRecord('1', message('k1'), { receiveCount: 10 }),
          sqsRecord('2', message('k2'), { receiveCount: 50 }),
          sqsRecord('3', message('k3'), { receiveCount: 49 }),
        ),
      );

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }]);
      expect(queue.visibility).toEqual([{ receiptHandle: 'rh-1', seconds: 5 }]);
      expect(queue.requeued.flat().map(keyOf)).toEqual(['k2', 'k3']);
    });

    it('should renew a record whose time ran out after progress at the receive limit', async () => {
      // Prepare
      const { handler, queue, state } = setup({
        maxReceiveCount: 50,
        outcome: () => {
          markProgress();
          throw new OutOfTimeError('alert 3 of 5 not started');
        },
      });

      // Act
      const result = await handler(event(sqsRecord('1', message('k1'), { receiveCount: 50 })));

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(queue.requeued.flat().map(keyOf)).toEqual(['k1']);
      expect(await failuresOf(state, message('k1'))).toBeUndefined();
    });

    it('should still dead-letter real failures at the 5th attempt, however many waits came between', async () => {
      // Prepare: a 503 every 10th delivery, a 429 the rest of the time.
      let calls = 0;
      const unavailable = new RetryableError('webhook hooks.example.com answered 503 Service Unavailable', {
        statusCode: 503,
      });
      const limited = await rateLimited({ 'retry-after': '1' });
      const { handler, queue, telemetry } = setup({
        maxReceiveCount: 50,
        maxAttempts: 5,
        outcome: () => {
          throw ++calls % 10 === 0 ? unavailable : limited;
        },
      });

      // Act
      const receives = await receiveUntilSettled(handler, queue, sqsRecord('1', message('k1')));

      // Assess
      expect(receives).toBe(50);
      expect(queue.requeued).toHaveLength(0);
      expect(queue.deadLettered).toHaveLength(1);
      expect(queue.deadLettered[0].attributes).toMatchObject({
        reason: `gave up after 5 attempts: RetryableError: ${unavailable.message}`,
        attempts: '5',
        statusCode: '503',
        errorType: 'retries-exhausted',
      });
      expect(telemetry.get('Retried', 'audit')).toBe(4);
    });

    it('should renew a failure with attempts left at the receive limit, and dead-letter the 5th on its copy', async () => {
      // Prepare: 49 waits, then only 503s.
      let calls = 0;
      const { handler, queue } = setup({
        maxReceiveCount: 50,
        maxAttempts: 5,
        outcome: () => {
          throw ++calls < 50
            ? new DeferredError('pacing: 1 s', { retryAfterSeconds: 1 })
            : new RetryableError('webhook hooks.example.com answered 503 Service Unavailable', {
                statusCode: 503,
              });
        },
      });

      // Act
      const receives = await receiveUntilSettled(handler, queue, sqsRecord('1', message('k1')));

      // Assess: the first failure came at receive 50 and was renewed; the copy failed 4 more times.
      expect(receives).toBe(54);
      expect(queue.requeued).toHaveLength(1);
      expect(queue.deadLettered).toHaveLength(1);
      expect(queue.deadLettered[0].attributes?.reason).toMatch(/^gave up after 5 attempts: /);
    });

    it('should dead-letter a message still waiting when the wait budget since its acceptance is spent, saying so', async () => {
      // Prepare
      const { handler, queue, clock, state } = setup({
        outcome: failWith({ k1: await rateLimited({ 'retry-after': '30' }) }),
      });
      clock.now = Date.parse(RECEIVED_AT) + DELIVERY_POLICY.waitBudgetSeconds * 1000;

      const recently = new Date(clock.now - HOUR).toISOString();

      // Act: k1 waits for the vendor; k2, held behind a recent notification that waits, for it.
      const alone = await handler(event(sqsRecord('1', message('k1'), { receiveCount: 7 })));
      const held = await handler(
        event(sqsRecord('2', message('k1', { receivedAt: recently })), sqsRecord('3', message('k2'))),
      );

      // Assess: both are dead-lettered, each with what it waited for; no attempt was counted.
      expect(alone.batchItemFailures).toEqual([]);
      expect(held.batchItemFailures).toEqual([{ itemIdentifier: 'msg-2' }]);
      expect(queue.visibility).toEqual([{ receiptHandle: 'rh-2', seconds: 30 }]);
      expect(queue.requeued).toEqual([]);
      expect(queue.deadLettered.map((m) => m.attributes)).toEqual([
        {
          reason:
            "waited 72 h for the vendor's rate limit (RateLimitedError: webhook hooks.example.com answered 429 Too Many Requests (rate limited; retry after 30 s): slow down) (the relay waits at most 72 h from acceptance)",
          destination: 'audit',
          statusCode: '429',
          firstFailureAt: new Date(FIRST_RECEIVE).toISOString(),
          attempts: '0',
          errorType: 'retries-exhausted',
        },
        {
          reason:
            'waited 72 h for an earlier message of its group was handed back (the relay waits at most 72 h from acceptance)',
          destination: 'audit',
          firstFailureAt: new Date(FIRST_RECEIVE).toISOString(),
          attempts: '0',
          errorType: 'retries-exhausted',
        },
      ]);
      expect(await failuresOf(state, message('k1'))).toBeUndefined();
    });

    it('should let a message that can be delivered through after the wait budget, and end a retry there too', async () => {
      // Prepare
      const { handler, queue, clock, deliveries } = setup({
        outcome: failWith({ k2: new RetryableError('webhook hooks.example.com answered 502 Bad Gateway') }),
      });
      clock.now = Date.parse(RECEIVED_AT) + DELIVERY_POLICY.waitBudgetSeconds * 1000 + 5 * HOUR;

      // Act
      const result = await handler(
        event(sqsRecord('1', message('k1')), sqsRecord('2', message('k2'), { groupId: 'audit:other' })),
      );

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k1', 'k2']);
      expect(queue.deadLettered.map((m) => m.attributes?.reason)).toEqual([
        'waited 77 h for a retry after 1 failed attempts (RetryableError: webhook hooks.example.com answered 502 Bad Gateway) (the relay waits at most 72 h from acceptance)',
      ]);
      expect(queue.deadLettered[0].attributes?.attempts).toBe('1');
    });

    it('should keep within the queue’s retention: the wait budget plus the longest visibility', () => {
      // Assess: the copy on the queue was sent at or after receivedAt, and the handler sees it
      // again within the longest visibility, so SQS never drops a waiting message unseen.
      expect(DELIVERY_POLICY.waitBudgetSeconds + DELIVERY_POLICY.maxRetryDelaySeconds).toBeLessThan(
        INFRA.queue.retentionSeconds,
      );
    });

    it('should hand back a renewal the queue refused twice, and dead-letter it with the reason at the receive limit', async () => {
      // Prepare
      const { handler, queue } = setup({
        maxReceiveCount: 50,
        outcome: failWith({ k1: new DeferredError('pacing: 3 s', { retryAfterSeconds: 3 }) }),
      });
      queue.refuse = ['r0', 'r1', 'r0', 'r1'];

      // Act
      const result = await handler(
        event(
          sqsRecord('1', message('k1'), { receiveCount: 50 }),
          sqsRecord('2', message('k2'), { receiveCount: 20 }),
        ),
      );

      // Assess
      expect(queue.requeued.map((batch) => batch.map((entry) => entry.id))).toEqual([
        ['r0', 'r1'],
        ['r0', 'r1'],
      ]);
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-2' }]);
      expect(queue.visibility).toEqual([{ receiptHandle: 'rh-2', seconds: 0 }]);
      expect(queue.deadLettered.map((m) => m.attributes?.reason)).toEqual([
        "received 50 times (the queue's limit) without being delivered, and the queue refused its renewal (InternalError: try again): DeferredError: pacing: 3 s",
      ]);
    });

    it('should deliver a renewal sent twice (a crash after the send) once: the group state skips the second copy', async () => {
      // Prepare: two copies of one body, as two messages of the queue.
      const { handler, deliveries, telemetry } = setup({ kind: 'lifecycle' });
      const body = JSON.stringify(message('k1'));

      // Act
      const first = await handler(event(sqsRecord('c1', body)));
      const second = await handler(event(sqsRecord('c2', body)));

      // Assess
      expect([first.batchItemFailures, second.batchItemFailures]).toEqual([[], []]);
      expect(deliveries.map((d) => d.idempotencyKey)).toEqual(['k1']);
      expect(telemetry.get('DuplicatesSkipped', 'audit')).toBe(1);
    });
  });

  describe('Returned handler: the deadline', () => {
    const remaining = (ms: number) => ({ getRemainingTimeInMillis: () => ms });

    it('should hand every record back at once, untried and uncounted, when too little time is left to start', async () => {
      // Prepare
      const { handler, deliveries, queue, state } = setup();

      // Act
      const result = await handler(
        event(sqsRecord('1', message('k1')), sqsRecord('2', message('k2'), { groupId: 'audit:other' })),
        remaining(DEADLINE_MARGIN_MS - 1),
      );

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }, { itemIdentifier: 'msg-2' }]);
      expect(deliveries).toEqual([]);
      expect(queue.visibility).toEqual([
        { receiptHandle: 'rh-1', seconds: 0 },
        { receiptHandle: 'rh-2', seconds: 0 },
      ]);
      expect(state.puts).toEqual([]);
    });

    it('should hand a message back at once without counting a failure when time ran out after progress', async () => {
      // Prepare
      const { handler, queue, state, telemetry } = setup({
        outcome: () => {
          markProgress();
          throw new OutOfTimeError('alert 3 of 5 not started');
        },
      });

      // Act
      const result = await handler(event(sqsRecord('1', message('k1')), sqsRecord('2', message('k2'))));

      // Assess
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }, { itemIdentifier: 'msg-2' }]);
      expect(queue.visibility[0]).toEqual({ receiptHandle: 'rh-1', seconds: 0 });
      expect(await failuresOf(state, message('k1'))).toBeUndefined();
      expect(telemetry.get('Retried')).toBe(0);
    });

    it('should count a failure, with backoff, when time ran out before any progress', async () => {
      // Prepare
      const { handler, queue, state, telemetry } = setup({
        outcome: () => {
          throw new OutOfTimeError('alert 1 of 5 not started');
        },
      });

      // Act
      await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(queue.visibility[0].seconds).toBeGreaterThan(0);
      expect(await failuresOf(state, message('k1'))).toMatchObject({ failures: 1 });
      expect(telemetry.get('Retried', 'audit')).toBe(1);
    });
  });

  describe('Returned handler: counters', () => {
    it('should count Delivered, Retried, DeadLettered and DuplicatesSkipped per destination, adding up to the records handled', async () => {
      // Prepare
      const { handler, state, telemetry } = setup({
        outcome: failWith({
          'ops-perm': new PermanentError('ops 404', { statusCode: 404 }),
          'audit-exhausted': new RetryableError('audit 502', { statusCode: 502 }),
          'ops-retry': new RetryableError('ops 503', { statusCode: 503 }),
        }),
        maxAttempts: 3,
      });
      await state.put(groupStateKey('audit', notification.groupKey), {
        receivedAt: RECEIVED_AT,
        keys: ['audit-dup'],
        appliedAt: RECEIVED_AT,
      });
      await seedFailures(state, message('audit-exhausted'), 2, RECEIVED_AT);
      const records = [
        sqsRecord('1', message('audit-ok-1')),
        sqsRecord('2', message('ops-perm', { destination: 'ops' })),
        sqsRecord('3', message('audit-dup')),
        sqsRecord('4', message('audit-exhausted'), { receiveCount: 3 }),
        sqsRecord('5', message('ops-ok', { destination: 'ops' })),
        sqsRecord('6', message('ops-retry', { destination: 'ops' })),
        sqsRecord('7', message('audit-ok-2')),
      ];

      // Act
      const result = await handler(event(...records));

      // Assess
      // msg-7 is of another group than the failed msg-6, so it is not held back.
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-6' }]);
      expect(telemetry.snapshot()).toEqual({
        DeadLettered: 2,
        'DeadLettered.audit': 1,
        'DeadLettered.ops': 1,
        Delivered: 3,
        'Delivered.audit': 2,
        'Delivered.ops': 1,
        DuplicatesSkipped: 1,
        'DuplicatesSkipped.audit': 1,
        Retried: 1,
        'Retried.ops': 1,
      });
      const handled = ['Delivered', 'Retried', 'DeadLettered', 'DuplicatesSkipped', 'Superseded'] as const;
      expect(handled.reduce((sum, name) => sum + telemetry.get(name), 0)).toBe(records.length);
    });
  });

  describe('Returned handler: waits and renewals counted', () => {
    it('should count a deferral and a rate limit as waits, by reason, and no Retried', async () => {
      // Prepare
      const { handler, telemetry } = setup({
        outcome: failWith({
          k1: new DeferredError('channel pacing: next slot in 7 s', { retryAfterSeconds: 7 }),
          k2: new RateLimitedError('answered 429', { retryAfterSeconds: 9, statusCode: 429 }),
        }),
      });

      // Act
      for (let receive = 1; receive <= 2; receive++)
        await handler(
          event(
            sqsRecord('1', message('k1'), { receiveCount: receive }),
            sqsRecord('2', message('k2', { destination: 'ops' }), { receiveCount: receive }),
          ),
        );

      // Assess
      expect(telemetry.get('WaitDeferred', 'audit')).toBe(2);
      expect(telemetry.get('WaitRateLimited', 'ops')).toBe(2);
      expect(telemetry.get('WaitDeferred')).toBe(2);
      expect(telemetry.get('WaitRateLimited')).toBe(2);
      expect(telemetry.get('Retried')).toBe(0);
    });

    it('should count a record held behind a group-mate handed back, and records with no time to start or out of time after progress', async () => {
      // Prepare
      const { handler, telemetry } = setup({
        outcome: (delivery) => {
          if (delivery.idempotencyKey === 'k1') throw new RetryableError('503');
          markProgress();
          throw new OutOfTimeError('alert 3 of 5 not started');
        },
      });

      // Act
      await handler(event(sqsRecord('1', message('k1')), sqsRecord('2', message('k2'))));
      const held = telemetry.get('WaitHeld', 'audit');
      await handler(event(sqsRecord('3', message('k3'))));
      await handler(event(sqsRecord('4', message('k4'))), {
        getRemainingTimeInMillis: () => DEADLINE_MARGIN_MS - 1,
      });

      // Assess
      expect(held).toBe(1);
      expect(telemetry.get('Retried', 'audit')).toBe(1);
      expect(telemetry.get('WaitOutOfTime', 'audit')).toBe(2);
      expect(telemetry.get('WaitHeld', 'audit')).toBe(1);
    });

    it('should count a renewal at the receive backstop with its wait, and no wait when the wait budget is spent', async () => {
      // Prepare
      const { handler, telemetry, clock } = setup({
        maxReceiveCount: 3,
        outcome: failWith({
          k1: new DeferredError('storm digest: next edit in 10 s', { retryAfterSeconds: 10 }),
        }),
      });

      // Act
      await handler(event(sqsRecord('1', message('k1'), { receiveCount: 3 })));
      const counted = telemetry.snapshot();
      clock.now = Date.parse(RECEIVED_AT) + DELIVERY_POLICY.waitBudgetSeconds * 1000;
      await handler(event(sqsRecord('2', message('k1'), { receiveCount: 1 })));

      // Assess
      expect(counted).toEqual({
        Renewed: 1,
        'Renewed.audit': 1,
        WaitDeferred: 1,
        'WaitDeferred.audit': 1,
      });
      expect(telemetry.get('WaitDeferred')).toBe(1);
      expect(telemetry.get('DeadLettered', 'audit')).toBe(1);
    });
  });

  describe('Returned handler: sink metrics', () => {
    it('should count what a sink counts itself under its destination', async () => {
      // Prepare
      const { handler, telemetry } = setup({
        outcome: (delivery) => {
          delivery.count?.('GraphsSkipped');
        },
      });

      // Act
      await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(telemetry.get('GraphsSkipped', 'audit')).toBe(1);
    });
  });

  describe('Returned handler: secrets', () => {
    const SECRET = 'whsec_U0VDUkVULURPLU5PVC1MRUFLLTdmM2E5';
    let output: string[] = [];

    afterEach(() => {
      vi.restoreAllMocks();
      output = [];
    });

    function capturingLogger(): Logger {
      const capture = (chunk: unknown) => {
        output.push(String(chunk));
        return true;
      };
      vi.spyOn(process.stdout, 'write').mockImplementation(capture as typeof process.stdout.write);
      vi.spyOn(process.stderr, 'write').mockImplementation(capture as typeof process.stderr.write);
      return new Logger({ serviceName: 'webhook', logLevel: 'DEBUG' });
    }

    const secrets: SecretReader = {
      get: async (name) => {
        if (name === 'AUDIT_HOOK_SECRET') return SECRET;
        throw new PermanentError(`secret "${name}" is not set`);
      },
    };

    it.each([
      [
        'a PermanentError',
        () => new PermanentError('webhook hooks.example.com answered 401 Unauthorized', { statusCode: 401 }),
        1,
      ],
      [
        'a RetryableError at the last attempt',
        () => new RetryableError('webhook hooks.example.com answered 503', { statusCode: 503 }),
        5,
      ],
      [
        'an unexpected Error at the last attempt',
        () => new Error('signature mismatch at hooks.example.com'),
        5,
      ],
    ])(
      'should keep the secret value out of DLQ attributes and logs when the sink fails with %s',
      async (_, makeError, attempt) => {
        // Prepare
        const logger = capturingLogger();
        const { handler, queue, reporter, state } = setup({
          logger,
          secrets,
          maxAttempts: 5,
          outcome: async (delivery) => {
            const value = await delivery.secrets.get(String(delivery.destination.signingSecret));
            delivery.logger.info('signing', { keyLength: value.length });
            throw makeError();
          },
        });
        if (attempt > 1) await seedFailures(state, message('k1'), attempt - 1, RECEIVED_AT);

        // Act
        await handler(event(sqsRecord('1', message('k1'), { receiveCount: attempt })));

        // Assess
        vi.restoreAllMocks();
        const logs = output.join('');
        expect(queue.deadLettered).toHaveLength(1);
        const attributes = JSON.stringify(queue.deadLettered[0].attributes);
        expect(attributes).toContain('hooks.example.com');
        expect(attributes).not.toContain(SECRET);
        expect(attributes).not.toContain(SECRET.slice('whsec_'.length));
        expect(logs).toContain('dead-lettered');
        expect(logs).toContain('"keyLength":');
        expect(logs).not.toContain(SECRET);
        expect(logs).not.toContain(SECRET.slice('whsec_'.length));
        expect(
          JSON.stringify(reporter.captureException.mock.calls.map(([error, hint]) => [String(error), hint])),
        ).not.toContain(SECRET);
      },
    );

    it('should keep the secret value out of the logs of a retried failure', async () => {
      // Prepare
      const logger = capturingLogger();
      const { handler, queue } = setup({
        logger,
        secrets,
        outcome: async (delivery) => {
          await delivery.secrets.get('AUDIT_HOOK_SECRET');
          throw new Error('connect ECONNREFUSED hooks.example.com');
        },
      });

      // Act
      const result = await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      vi.restoreAllMocks();
      const logs = output.join('');
      expect(result.batchItemFailures).toHaveLength(1);
      expect(queue.visibility).toHaveLength(1);
      expect(logs).toContain('will retry');
      expect(logs).toContain('ECONNREFUSED');
      expect(logs).not.toContain(SECRET);
    });
  });

  describe('Returned handler: one group record, read once and written once', () => {
    const groupKey = () => groupStateKey('audit', notification.groupKey);
    const recordIn = (state: StateStore) => state.get<GroupRecord>(groupKey());

    it('should read the group’s record once and write it once for a delivered record, nothing else', async () => {
      // Prepare
      const { handler, state } = setup();

      // Act
      await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(state.gets).toEqual([groupKey()]);
      expect(state.puts.map((put) => put.key)).toEqual([groupKey()]);
    });

    it('should read a group’s record once for the batch, and judge its later records by what the earlier ones left', async () => {
      // Prepare: the notification and, a second later, its HA copy, in one batch.
      const { handler, state, deliveries, telemetry } = setup();
      const copy = message('k1', { receivedAt: new Date(NOW - 1_000).toISOString() });

      // Act
      await handler(event(sqsRecord('1', message('k1')), sqsRecord('2', copy)));

      // Assess
      expect(state.gets).toEqual([groupKey()]);
      expect(deliveries).toHaveLength(1);
      expect(telemetry.get('DuplicatesSkipped', 'audit')).toBe(1);
    });

    it('should read a group record an older relay wrote (the applied notification alone), telling the sink', async () => {
      // Prepare
      const { handler, state, deliveries, telemetry } = setup();
      await state.put(groupKey(), { receivedAt: RECEIVED_AT, keys: ['k1'], appliedAt: RECEIVED_AT });

      // Act
      const later = message('k2', { receivedAt: new Date(NOW - 1_000).toISOString() });
      await handler(event(sqsRecord('1', message('k1')), sqsRecord('2', later)));

      // Assess
      expect(telemetry.get('DuplicatesSkipped', 'audit')).toBe(1);
      expect(deliveries.map((d) => [d.idempotencyKey, d.group?.legacy])).toEqual([['k2', true]]);
      expect(await recordIn(state)).toMatchObject({ v: 2, keys: ['k2'] });
    });

    it('should keep what the sink keeps for the group, and hand it to the next delivery', async () => {
      // Prepare
      const { handler, deliveries } = setup({
        outcome: async (delivery) => {
          if (delivery.idempotencyKey === 'k1')
            await delivery.group?.keep({ messages: ['m1'] }, { ttlSeconds: 86_400 * 30 });
        },
      });

      // Act
      await handler(event(sqsRecord('1', message('k1'))));
      await handler(event(sqsRecord('2', message('k2'))));

      // Assess
      expect(deliveries.map((d) => d.group?.kept)).toEqual([undefined, { messages: ['m1'] }]);
    });

    it('should write no crash marker on a message’s first receive, and one before its first vendor call from the second receive on', async () => {
      // Prepare
      const seen: (GroupRecord['pending'] | undefined)[] = [];
      const { handler, state } = setup({
        outcome: async () => {
          await beforeVendorCall();
          seen.push((await state.get<GroupRecord>(groupKey()))?.pending);
          throw new RetryableError('webhook hooks.example.com answered 503 Service Unavailable');
        },
      });
      const body = message('k1');

      // Act
      await handler(event(sqsRecord('1', body)));
      await handler(event(sqsRecord('1', body, { receiveCount: 2 })));

      // Assess: attempt 2 began with its marker and the count of attempt 1 in one write.
      expect(seen[0]).toBeUndefined();
      expect(seen[1]?.[pendingId(body)]).toMatchObject({ started: 2, failures: 1 });
      expect((await recordIn(state))?.pending?.[pendingId(body)]).toMatchObject({ failures: 2 });
      expect((await recordIn(state))?.pending?.[pendingId(body)]?.started).toBeUndefined();
    });

    it('should count an attempt that began and never ended as failed, and tell the sink its calls may have gone out unrecorded', async () => {
      // Prepare: attempt 2 wrote its marker and the function died in it.
      const { handler, state, deliveries } = setup();
      const body = message('k1');
      await state.put(groupKey(), {
        v: 2,
        pending: {
          [pendingId(body)]: {
            receivedAt: RECEIVED_AT,
            failures: 1,
            firstFailureAt: RECEIVED_AT,
            started: 2,
            at: NOW - 200_000,
          },
        },
      });

      // Act
      const result = await handler(event(sqsRecord('1', body, { receiveCount: 3 })));

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries.map((d) => [d.attempt, d.group?.unsure, d.group?.since])).toEqual([
        [3, true, NOW - 200_000],
      ]);
      expect((await recordIn(state))?.pending).toBeUndefined();
    });

    it('should dead-letter the 5th attempt that crashed with its reason, without trying it again', async () => {
      // Prepare
      const { handler, state, deliveries, queue } = setup();
      const body = message('k1');
      await state.put(groupKey(), {
        v: 2,
        pending: {
          [pendingId(body)]: {
            receivedAt: RECEIVED_AT,
            failures: 4,
            firstFailureAt: RECEIVED_AT,
            started: 5,
            at: NOW - 200_000,
          },
        },
      });

      // Act
      await handler(event(sqsRecord('1', body, { receiveCount: 7 })));

      // Assess
      expect(deliveries).toEqual([]);
      expect(queue.deadLettered[0].attributes).toMatchObject({
        reason:
          'gave up after 5 attempts: crashed or timed out during attempt 5 (the function stopped before the attempt ended)',
        attempts: '5',
        errorType: 'retries-exhausted',
        firstFailureAt: RECEIVED_AT,
      });
      expect(await failuresOf(state, body)).toBeUndefined();
    });

    it('should keep the journal’s steps of a failed attempt for its retry, and nothing once it is delivered', async () => {
      // Prepare
      let fail = true;
      const journals: (object | undefined)[] = [];
      const { handler, state } = setup({
        outcome: async (delivery) => {
          journals.push(await delivery.group?.journal.get('sent'));
          await delivery.group?.journal.record('sent', { first: true });
          if (fail) throw new RetryableError('webhook hooks.example.com answered 503 Service Unavailable');
        },
      });
      const body = message('k1');

      // Act
      await handler(event(sqsRecord('1', body)));
      fail = false;
      await handler(event(sqsRecord('1', body, { receiveCount: 2 })));

      // Assess
      expect(journals).toEqual([undefined, { first: true }]);
      expect((await recordIn(state))?.pending).toBeUndefined();
    });

    it('should be sure of what the previous receive wrote, and unsure after a receive that wrote nothing', async () => {
      // Prepare: the first receive waits and writes its step; the second is held behind a group-mate.
      const unsure: (boolean | undefined)[] = [];
      let calls = 0;
      const { handler } = setup({
        outcome: async (delivery) => {
          unsure.push(delivery.group?.unsure);
          calls++;
          if (calls === 1) {
            await delivery.group?.journal.record('slot', { at: NOW + 1_000 });
            throw new DeferredError('pacing', { retryAfterSeconds: 1 });
          }
        },
      });
      const body = message('k1');

      // Act
      await handler(event(sqsRecord('1', body)));
      await handler(event(sqsRecord('1', body, { receiveCount: 2 })));
      await handler(event(sqsRecord('2', message('k2'), { receiveCount: 3 })));

      // Assess
      expect(unsure).toEqual([false, false, true]);
    });

    it('should start the count afresh for a redriven message, keeping its journal', async () => {
      // Prepare: dead-lettered with 4 failures counted by a relay that could not clear them.
      const journals: (object | undefined)[] = [];
      const { handler, state, queue } = setup({
        outcome: async (delivery) => {
          journals.push(await delivery.group?.journal.get('sent'));
          throw new RetryableError('webhook hooks.example.com answered 503 Service Unavailable');
        },
      });
      const body = message('k1');
      await state.put(groupKey(), {
        v: 2,
        pending: {
          [pendingId(body)]: {
            receivedAt: RECEIVED_AT,
            failures: 4,
            firstFailureAt: RECEIVED_AT,
            steps: { sent: { n: 2 } },
          },
        },
      });

      // Act
      await handler(event(sqsRecord('1', body)));

      // Assess
      expect(queue.deadLettered).toEqual([]);
      expect(journals).toEqual([{ n: 2 }]);
      expect(await failuresOf(state, body)).toEqual({
        failures: 1,
        firstFailureAt: new Date(NOW).toISOString(),
      });
    });

    it('should drop a message whose group record says a copy was renewed in its place', async () => {
      // Prepare
      const { handler, state, deliveries, queue } = setup();
      await state.put(groupKey(), { v: 2, renewed: { 'msg-1': NOW + 3_600_000 } });

      // Act
      const result = await handler(event(sqsRecord('1', message('k1'), { receiveCount: 9 })));

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(deliveries).toEqual([]);
      expect(queue.deadLettered).toEqual([]);
    });
  });

  describe('DeliveryPipeline.backfill (a storm backfill)', () => {
    it('should put each message on the sink queue in its group, deduplicated by its key, in batches of 10', async () => {
      // Prepare
      const shares = Array.from({ length: 12 }, (_, i) =>
        message(`k${i}`, { notification: { ...notification, groupKey: `{}:{instance="host-${i}"}` } }),
      );
      const messages = shares.map((share) => backfillMessage(share, 'storm-1'));
      const { handler, queue } = setup({
        outcome: (_delivery, pipeline) => pipeline?.backfill(shares, 'storm-1'),
      });

      // Act
      const result = await handler(event(sqsRecord('1', message('k1'))));

      // Assess
      expect(result.batchItemFailures).toEqual([]);
      expect(queue.requeued.map((batch) => batch.length)).toEqual([10, 2]);
      const sent = queue.requeued.flat();
      expect(sent.map((entry) => entry.deduplicationId)).toEqual(messages.map((m) => m.idempotencyKey));
      expect(sent[3].groupId).toBe(messageGroupId('audit', '{}:{instance="host-3"}'));
      expect(parseMessage(sent[3].body)).toEqual(messages[3]);
    });

    it('should send again what the queue refused once, and retry the delivery when it refuses twice', async () => {
      // Prepare
      const shares = [
        message('a', { notification: { ...notification, groupKey: 'ga' } }),
        message('b', { notification: { ...notification, groupKey: 'gb' } }),
      ];
      const { handler, queue } = setup({
        outcome: (_delivery, pipeline) => pipeline?.backfill(shares, 'storm-1'),
      });
      queue.refuse = ['b1'];

      // Act
      const once = await handler(event(sqsRecord('1', message('k1'))));
      queue.refuse = ['b0', 'b0'];
      const twice = await handler(event(sqsRecord('2', message('k2'))));

      // Assess
      expect(once.batchItemFailures).toEqual([]);
      expect(queue.requeued.slice(0, 2).map((batch) => batch.map((e) => e.id))).toEqual([
        ['b0', 'b1'],
        ['b1'],
      ]);
      expect(twice.batchItemFailures).toEqual([{ itemIdentifier: 'msg-2' }]);
      expect(queue.visibility).toHaveLength(1);
    });

    it('should hand a backfill message to the sink marked, and apply it over the folded notification it repeats', async () => {
      // Prepare: the folded notification k1 was applied, and Alertmanager's copy a minute later
      // confirmed it; its backfill carries k1's receivedAt.
      const { handler, deliveries, pipelines, telemetry } = setup({ kind: 'lifecycle' });
      await handler(event(sqsRecord('1', message('k1'))));
      const later = new Date(Date.parse(RECEIVED_AT) + 60_000).toISOString();
      await handler(event(sqsRecord('2', message('k1', { receivedAt: later }))));

      // Act
      const plain = await handler(event(sqsRecord('3', message('bf-k1'))));
      const result = await handler(event(sqsRecord('4', message('bf-k1', { backfill: 'storm-1' }))));

      // Assess: without the mark it would be stale; with it, it is the group's state.
      expect(plain.batchItemFailures).toEqual([]);
      expect(result.batchItemFailures).toEqual([]);
      expect(telemetry.get('Superseded', 'audit')).toBe(1);
      expect(deliveries).toHaveLength(2);
      expect(pipelines[0]?.backfillOf).toBeUndefined();
      expect(pipelines[1]?.backfillOf).toBe('storm-1');
    });
  });
});

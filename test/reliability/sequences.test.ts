import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Notification } from '../../lib/alertmanager/types.ts';
import type { RelayConfig } from '../../lib/config/types.ts';
import { PermanentError, RetryableError } from '../../lib/delivery/errors.ts';
import { DELIVERY_POLICY } from '../../lib/delivery/policy.ts';
import { createRecordHandler } from '../../lib/delivery/record-handler.ts';
import type { Sink } from '../../lib/delivery/sink.ts';
import { createIngestHandler } from '../../lib/ingest/ingest.ts';
import { type BatchReport, QueueWorker } from '../../lib/local/worker.ts';
import {
  deadLetterQueueName,
  ensureSinkQueues,
  LocalEnqueuer,
  LocalRecordQueue,
} from '../../lib/queue/local.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { CountingTelemetry } from '../../lib/telemetry.ts';

/**
 * Model-based test of the delivery rules under Alertmanager's real sequences, through the local
 * runtime's parts (ingest handler, embedded FIFO queue, state store, record handler, queue
 * worker) on one virtual clock. fast-check drives random per-group sequences: firing, resolve,
 * re-fire with identical content, HA copies with jitter, Alertmanager retries, reminders after
 * the duplicate window, a kill (the relay stops mid-delivery, after the vendor applied and before
 * the relay recorded it, without draining; then starts again on the same data files), vendor
 * faults that dead-letter, and redrive. A fake lifecycle vendor records each applied state.
 *
 * The model is the rule set in a few lines, on the sequence Alertmanager sent; the runtime must
 * reach the same vendor log, the applied sequence must be what Alertmanager sent with consecutive
 * duplicates (and superseded dead letters) removed, and the vendor's final state must be
 * Alertmanager's last notification.
 */

const SINK = 'fake';
const DESTINATION = 'vendor';
const GROUP_KEY = '{}:{alertname="RelayDown"}';
const WINDOW = DELIVERY_POLICY.duplicateWindowMs;
const START = Date.UTC(2026, 10, 21, 12, 0, 0);

type Content = 'firing' | 'firing-two' | 'resolved';

const CONFIG: RelayConfig = { ingest: {}, destinations: [{ name: DESTINATION, sink: SINK }] };

/** What Alertmanager sends for a content: the same alert content every time it is sent. */
function notificationOf(content: Content): Notification {
  const alert = (fingerprint: string, instance: string) => ({
    status: content === 'resolved' ? 'resolved' : 'firing',
    labels: { alertname: 'RelayDown', instance },
    annotations: { summary: 'relay down' },
    // Prometheus restores startsAt after a restart: a re-fire carries the same one.
    startsAt: '2026-11-21T11:00:00.000Z',
    endsAt: content === 'resolved' ? '2026-11-21T11:30:00.000Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph',
    fingerprint,
  });
  const alerts = [alert('a000000000000001', 'web-1:9100')];
  if (content !== 'firing') alerts.push(alert('a000000000000002', 'web-2:9100'));
  return {
    version: '4',
    groupKey: GROUP_KEY,
    truncatedAlerts: 0,
    status: content === 'resolved' ? 'resolved' : 'firing',
    receiver: 'relay',
    groupLabels: { alertname: 'RelayDown' },
    commonLabels: { alertname: 'RelayDown' },
    commonAnnotations: { summary: 'relay down' },
    externalURL: 'http://alertmanager:9093',
    alerts,
  } as Notification;
}

function contentOf(notification: Notification): Content {
  if (notification.status === 'resolved') return 'resolved';
  return notification.alerts.length === 1 ? 'firing' : 'firing-two';
}

type Step =
  | { kind: 'notify'; content: Content; afterMs: number }
  | { kind: 'ha-copy'; jitterMs: number }
  | { kind: 'retry'; afterMs: number }
  | { kind: 'reminder'; afterMs: number }
  | { kind: 'kill' }
  | { kind: 'fail'; times: number }
  | { kind: 'reject' }
  | { kind: 'redrive' };

const steps = fc.array(
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('notify' as const),
        content: fc.constantFrom<Content>('firing', 'firing-two', 'resolved'),
        afterMs: fc.integer({ min: 1_000, max: 120_000 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('ha-copy' as const),
        jitterMs: fc.integer({ min: 0, max: 3_000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('retry' as const),
        afterMs: fc.integer({ min: 10_000, max: 120_000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('reminder' as const),
        afterMs: fc.integer({ min: WINDOW, max: 4 * 3_600_000 }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'kill' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('fail' as const),
        times: fc.integer({ min: 1, max: DELIVERY_POLICY.maxAttempts }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'reject' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'redrive' as const }) },
  ),
  { minLength: 1, maxLength: 20 },
) as fc.Arbitrary<Step[]>;

/** Faults the fake vendor has been told to produce on its next deliveries. */
interface VendorFaults {
  /** Answer 503 this many times. */
  failures: number;
  /** Answer 400 once (a permanent failure: straight to the DLQ). */
  reject: boolean;
  /** Apply the next delivery, then never answer: the relay is killed before it records it. */
  crash: boolean;
}

/** The rules, on the sequence Alertmanager sent: what the vendor must have applied, in order. */
class Model {
  readonly log: Content[] = [];
  readonly deadLetters: { content: Content; receivedAt: number }[] = [];
  last?: { content: Content; receivedAt: number; confirmedAt?: number };
  readonly faults: VendorFaults = { failures: 0, reject: false, crash: false };

  receive(content: Content, receivedAt: number): void {
    const last = this.last;
    if (last && last.content === content && Math.abs(receivedAt - last.receivedAt) < WINDOW) {
      // A duplicate confirms the group's state at its time: what was accepted before is stale.
      last.confirmedAt = Math.max(last.confirmedAt ?? last.receivedAt, receivedAt);
      return;
    }
    if (last && receivedAt < Math.max(last.receivedAt, last.confirmedAt ?? 0)) return; // superseded, on a lifecycle vendor
    if (this.faults.reject) {
      this.faults.reject = false;
      this.deadLetters.push({ content, receivedAt });
      return;
    }
    if (this.faults.failures >= DELIVERY_POLICY.maxAttempts) {
      this.faults.failures -= DELIVERY_POLICY.maxAttempts;
      this.deadLetters.push({ content, receivedAt });
      return;
    }
    this.faults.failures = 0;
    this.log.push(content);
    if (this.faults.crash) {
      // Killed after the vendor applied and before the relay recorded it: delivered again after the restart.
      this.faults.crash = false;
      this.log.push(content);
    }
    this.last = { content, receivedAt };
  }

  redrive(): void {
    for (const letter of this.deadLetters.splice(0)) this.receive(letter.content, letter.receivedAt);
  }
}

/** The relay's parts on one data directory, as `npm start` wires them, on the virtual clock. */
function startRuntime(dir: string, clock: { now: number }, vendor: FakeVendor) {
  const queue = new SqliteQueue({ path: join(dir, 'relay.db'), now: () => clock.now });
  const state = new SqliteStateStore(join(dir, 'state.db'), { now: () => clock.now });
  ensureSinkQueues(queue, [SINK], {
    visibilityTimeoutSeconds: 120,
    maxReceiveCount: DELIVERY_POLICY.receiveBackstop,
  });
  // What a killed process left in flight is released at start (lib/local/runtime.ts does the same).
  queue.releaseInFlight(SINK);
  const telemetry = new CountingTelemetry({ logger: new Logger({ logLevel: 'SILENT' }) });
  const handler = createRecordHandler({
    sink: vendor.sink,
    config: CONFIG,
    secrets: { get: async () => '' },
    state,
    queue: new LocalRecordQueue(queue, SINK),
    telemetry,
    maxReceiveCount: DELIVERY_POLICY.receiveBackstop,
    backoff: { baseSeconds: 1, factor: 2, maxSeconds: 60 },
    now: () => clock.now,
  });
  const ingest = createIngestHandler({
    config: CONFIG,
    secrets: { get: async () => '' },
    enqueuer: new LocalEnqueuer(queue),
    telemetry,
    now: () => new Date(clock.now),
  });
  const worker = new QueueWorker({ queue, queueName: SINK, handler, batchScope: () => state.beginBatch() });
  const poll = () => (worker as unknown as { pollOnce(): Promise<BatchReport | undefined> }).pollOnce();
  let requests = 0;
  return {
    queue,
    telemetry,
    poll,
    async post(notification: Notification): Promise<void> {
      requests++;
      const response = await ingest(apiEvent(JSON.stringify(notification), `req-${requests}-${clock.now}`));
      expect(response.statusCode).toBe(202);
    },
    /** Polls until the sink's queue is empty, moving the clock to each retry's visibility. */
    async drain(): Promise<void> {
      for (let round = 0; round < 200; round++) {
        const report = await poll();
        if (report) continue;
        const depth = queue.depth(SINK);
        if (depth.visible + depth.inFlight === 0) return;
        const next = queue.nextVisibleAt(SINK);
        clock.now = Math.max(clock.now + 1, next ?? clock.now + 1_000);
      }
      throw new Error('the queue did not drain');
    },
    /** The kill: drop everything without draining or settling what is in flight. */
    kill(): void {
      queue.close();
      // Closing the connection itself rolls back a batch still open, as the process dying would.
      state.database.close();
    },
    close(): void {
      queue.close();
      state.close();
    },
  };
}

class FakeVendor {
  readonly log: Content[] = [];
  readonly faults: VendorFaults = { failures: 0, reject: false, crash: false };
  /** Resolves when the crash delivery has been applied. */
  crashed?: () => void;

  readonly sink: Sink = {
    name: SINK,
    kind: 'lifecycle',
    configSchema: {},
    deliver: async (delivery) => {
      if (this.faults.reject) {
        this.faults.reject = false;
        throw new PermanentError('fake vendor answered 400 Bad Request');
      }
      if (this.faults.failures > 0) {
        this.faults.failures--;
        throw new RetryableError('fake vendor answered 503 Service Unavailable');
      }
      this.log.push(contentOf(delivery.notification));
      if (this.faults.crash) {
        this.faults.crash = false;
        this.crashed?.();
        await new Promise(() => undefined);
      }
    },
  };
}

function apiEvent(body: string, requestId: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /alertmanager',
    rawPath: '/alertmanager',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', 'user-agent': 'Alertmanager/0.25.0' },
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method: 'POST',
        path: '/alertmanager',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'Alertmanager/0.25.0',
      },
      requestId,
      routeKey: 'POST /alertmanager',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
    body,
    isBase64Encoded: false,
  };
}

function collapse<T>(values: readonly T[]): T[] {
  return values.filter((value, i) => i === 0 || values[i - 1] !== value);
}

async function run(sequence: Step[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-sequences-'));
  const clock = { now: START };
  const vendor = new FakeVendor();
  const model = new Model();
  let relay = startRuntime(dir, clock, vendor);
  const sent: { content: Content; receivedAt: number }[] = [];
  let last: Content | undefined;
  let crashPending = false;

  const send = async (content: Content) => {
    if (crashPending) {
      // The relay dies during this delivery, after the vendor applied it; it starts again on the same data.
      crashPending = false;
      const applied = new Promise<void>((resolve) => {
        vendor.crashed = resolve;
      });
      await relay.post(notificationOf(content));
      sent.push({ content, receivedAt: clock.now });
      const before = model.log.length;
      model.receive(content, clock.now);
      // The model applied it with the crash's repeat; whether the crash happens is decided below.
      const modelRepeated = model.log.length === before + 2;
      const polling = relay.poll();
      const outcome = await Promise.race([applied.then(() => 'applied'), polling.then(() => 'handled')]);
      if (outcome === 'applied') {
        relay.kill();
        relay = startRuntime(dir, clock, vendor);
      } else {
        // Not applied on this receive (a duplicate, superseded, or a vendor fault first): no crash
        // happened after all, and a later retry applies it once.
        vendor.faults.crash = false;
        model.faults.crash = false;
        if (modelRepeated) model.log.pop();
      }
      await relay.drain();
      return;
    }
    await relay.post(notificationOf(content));
    sent.push({ content, receivedAt: clock.now });
    model.receive(content, clock.now);
    await relay.drain();
  };

  try {
    for (const step of sequence) {
      switch (step.kind) {
        case 'notify':
          clock.now += step.afterMs;
          last = step.content;
          await send(step.content);
          break;
        case 'ha-copy':
        case 'retry':
        case 'reminder':
          if (!last) break;
          clock.now += step.kind === 'ha-copy' ? step.jitterMs : step.afterMs;
          await send(last);
          break;
        case 'kill':
          vendor.faults.crash = true;
          model.faults.crash = true;
          crashPending = true;
          break;
        case 'fail':
          vendor.faults.failures = step.times;
          model.faults.failures = step.times;
          break;
        case 'reject':
          vendor.faults.reject = true;
          model.faults.reject = true;
          break;
        case 'redrive':
          // An armed kill belongs to the next notification sent; a redrive does not wait for it
          // (the vendor would hang in the middle of the drain with nobody to restart the relay).
          if (crashPending) {
            crashPending = false;
            vendor.faults.crash = false;
            model.faults.crash = false;
          }
          relay.queue.moveMessages(deadLetterQueueName(SINK), SINK);
          model.redrive();
          clock.now += 1_000;
          await relay.drain();
          break;
      }
    }
    // The operator fixes the vendor and redrives what is left.
    vendor.faults.failures = 0;
    vendor.faults.reject = false;
    vendor.faults.crash = false;
    model.faults.failures = 0;
    model.faults.reject = false;
    model.faults.crash = false;
    relay.queue.moveMessages(deadLetterQueueName(SINK), SINK);
    model.redrive();
    clock.now += 1_000;
    await relay.drain();

    // Assess
    expect(vendor.log).toEqual(model.log);
    expect(relay.queue.depth(deadLetterQueueName(SINK))).toEqual({ visible: 0, inFlight: 0 });
    if (sent.length > 0) {
      expect(vendor.log.at(-1)).toBe(sent.at(-1)?.content);
      // What Alertmanager sent, consecutive duplicates removed: every change of state arrives in
      // order, except a dead letter a newer notification superseded before its redrive.
      const changes = collapse(sent.map((s) => s.content));
      const applied = collapse(vendor.log);
      let i = 0;
      for (const change of applied) {
        while (i < changes.length && changes[i] !== change) i++;
        expect(i).toBeLessThan(changes.length);
      }
      if (!sequence.some((step) => step.kind === 'reject' || step.kind === 'fail')) {
        expect(applied).toEqual(changes);
      }
    }
  } finally {
    relay.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('Delivery rules under Alertmanager sequences (model-based)', () => {
  it('should apply at a lifecycle vendor what Alertmanager sent, consecutive duplicates removed, ending in Alertmanager’s last state', async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (sequence) => {
        await run(sequence);
      }),
      { numRuns: 60 },
    );
  });

  it('should deliver a re-fire with identical content after a resolve, and skip its HA copy', async () => {
    // Prepare, Act and Assess (a pinned sequence, the one issue 9 starts from)
    await run([
      { kind: 'notify', content: 'firing', afterMs: 1_000 },
      { kind: 'ha-copy', jitterMs: 800 },
      { kind: 'notify', content: 'resolved', afterMs: 30_000 },
      { kind: 'notify', content: 'firing', afterMs: 30_000 },
      { kind: 'ha-copy', jitterMs: 1_500 },
    ]);
  });

  it('should apply a reminder once when a vendor fault comes before the armed crash', async () => {
    // Prepare, Act and Assess (a counterexample fast-check found: the failure is retried, the
    // crash never happens, and the reminder, exactly one duplicate window later, applies once)
    await run([
      { kind: 'notify', content: 'firing', afterMs: 1_000 },
      { kind: 'fail', times: 1 },
      { kind: 'kill' },
      { kind: 'reminder', afterMs: 300_000 },
      { kind: 'kill' },
    ]);
  });

  it('should not let a redriven notification overwrite what Alertmanager said after it, even as a duplicate', async () => {
    // Prepare, Act and Assess (a counterexample fast-check found: firing-two is dead-lettered,
    // Alertmanager goes back to the first firing, which is a duplicate of the applied one and
    // skipped; the redriven firing-two is older than that duplicate, so it must not be applied)
    await run([
      { kind: 'notify', content: 'firing', afterMs: 1_000 },
      { kind: 'reject' },
      { kind: 'notify', content: 'firing-two', afterMs: 1_000 },
      { kind: 'notify', content: 'firing', afterMs: 1_000 },
      { kind: 'redrive' },
    ]);
  });

  it('should not let a redriven firing reopen a group that resolved meanwhile', async () => {
    // Prepare, Act and Assess
    await run([
      { kind: 'reject' },
      { kind: 'notify', content: 'firing', afterMs: 1_000 },
      { kind: 'notify', content: 'resolved', afterMs: 60_000 },
      { kind: 'redrive' },
    ]);
  });
});

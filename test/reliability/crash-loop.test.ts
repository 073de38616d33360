import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { Notification } from '../../lib/alertmanager/types.ts';
import type { RelayConfig } from '../../lib/config/types.ts';
import { beforeVendorCall } from '../../lib/delivery/deadline.ts';
import { DELIVERY_POLICY } from '../../lib/delivery/policy.ts';
import { createRecordHandler } from '../../lib/delivery/record-handler.ts';
import type { Sink } from '../../lib/delivery/sink.ts';
import { messageGroupId } from '../../lib/queue/idempotency.ts';
import { buildMessage, DLQ_ATTRIBUTES, serializeMessage } from '../../lib/queue/message.ts';
import type { OutgoingMessage, RecordQueue } from '../../lib/queue/types.ts';
import { createConsoleSink } from '../../lib/sinks/console/console.ts';
import { CountingTelemetry } from '../../lib/telemetry.ts';
import { makeNotification } from '../support/notifications.ts';
import { memoryState } from '../support/slack-delivery.ts';

/**
 * Crashes are attempts too (issue 22): a delivery that crashes or times out the function reaches
 * the DLQ with its reason within 30 minutes, and a message that was never tried (behind the
 * crasher in its batch, or its group) is never dead-lettered. The record handler runs against a
 * queue that behaves as SQS's FIFO redrive does, on a virtual clock: a batch whose invocation
 * dies comes back whole after the visibility timeout (180 s: six times the sink function's 30 s),
 * every record's receive count one higher, and a record received more than the backstop's times
 * is moved to the DLQ by the queue itself, without a reason.
 */

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);
const VISIBILITY_MS = 180_000;
const BACKSTOP = DELIVERY_POLICY.receiveBackstop;
const CONFIG: RelayConfig = { ingest: {}, destinations: [{ name: 'pager', sink: 'fake' }] };

interface Queued {
  id: string;
  body: string;
  groupId: string;
  receives: number;
  firstReceivedAt?: number;
  /** Not before this time (a visibility the handler set). */
  visibleAt: number;
}

/** SQS FIFO as far as a crash loop needs it: batches, receive counts, visibility, the redrive. */
class CrashingQueue implements RecordQueue {
  readonly clock = { now: T0 };
  readonly queued: Queued[] = [];
  readonly deadLetters: (OutgoingMessage & { at: number })[] = [];
  /** Records SQS moved to the DLQ itself: past the backstop, without a reason. */
  readonly redriven: Queued[] = [];
  /** Copies the handler sent to the queue (renewals). */
  readonly copies: OutgoingMessage[] = [];
  #handles = new Map<string, Queued>();

  send(id: string, body: string, groupId: string): void {
    this.queued.push({ id, body, groupId, receives: 0, visibleAt: this.clock.now });
  }

  /** The next batch: every visible record, the queue's own redrive applied first. */
  receive(): SQSRecord[] {
    for (const record of [...this.queued]) {
      if (record.visibleAt > this.clock.now || record.receives < BACKSTOP) continue;
      this.redriven.push(record);
      this.queued.splice(this.queued.indexOf(record), 1);
    }
    return this.queued
      .filter((record) => record.visibleAt <= this.clock.now)
      .map((record) => {
        record.receives++;
        record.firstReceivedAt ??= this.clock.now;
        // Until the handler says otherwise, a received record comes back after the visibility timeout.
        record.visibleAt = this.clock.now + VISIBILITY_MS;
        const handle = `${record.id}-${record.receives}`;
        this.#handles.set(handle, record);
        return sqsRecord(record, handle);
      });
  }

  /** The batch response: what is not reported failed is done and deleted. */
  settle(records: SQSRecord[], failed: string[]): void {
    for (const record of records) {
      if (failed.includes(record.messageId)) continue;
      const queued = this.#handles.get(record.receiptHandle);
      if (queued && this.queued.includes(queued)) this.queued.splice(this.queued.indexOf(queued), 1);
    }
  }

  async changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    const record = this.#handles.get(receiptHandle);
    if (record) record.visibleAt = this.clock.now + seconds * 1000;
  }

  async sendToDlq(message: OutgoingMessage): Promise<void> {
    this.deadLetters.push({ ...message, at: this.clock.now });
  }

  async requeue(entries: OutgoingMessage[]): Promise<{ failed: { id: string; reason: string }[] }> {
    for (const entry of entries) {
      this.copies.push(entry);
      this.send(`${entry.id}-copy-${this.clock.now}`, entry.body, entry.groupId);
    }
    return { failed: [] };
  }
}

function sqsRecord(record: Queued, handle: string): SQSRecord {
  return {
    messageId: record.id,
    receiptHandle: handle,
    body: record.body,
    attributes: {
      ApproximateReceiveCount: String(record.receives),
      SentTimestamp: String(T0),
      SenderId: 'ingest',
      ApproximateFirstReceiveTimestamp: String(record.firstReceivedAt),
      MessageGroupId: record.groupId,
      MessageDeduplicationId: record.id,
      SequenceNumber: record.id,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:relay-fake.fifo',
    awsRegion: 'us-east-1',
  };
}

/** A vendor sink whose call for a firing notification of a group in `crashing` never returns: the function dies in it. */
function crashingSink(crashing: Set<string>, clock: { now: number } = { now: 0 }) {
  const delivered: string[] = [];
  /** When each delivery reached the vendor (the queue's clock). */
  const deliveredAt: number[] = [];
  let crashed: (() => void) | undefined;
  const sink: Sink = {
    name: 'fake',
    kind: 'lifecycle',
    configSchema: {},
    async deliver(delivery) {
      await beforeVendorCall();
      const { groupKey, status } = delivery.notification;
      if (crashing.has(groupKey) && status === 'firing') {
        crashed?.();
        await new Promise(() => undefined);
      }
      delivered.push(`${groupKey} ${status}`);
      deliveredAt.push(clock.now);
    },
  };
  return {
    sink,
    delivered,
    deliveredAt,
    /** Resolves when a delivery crashes the function. */
    nextCrash: () =>
      new Promise<'crashed'>((resolve) => {
        crashed = () => resolve('crashed');
      }),
  };
}

function groupNotification(name: string): Notification {
  return makeNotification({ groupKey: `{}:{alertname="${name}"}` });
}

/** Receives until the queue is empty, moving the clock to the next visible record; each invocation may die. */
async function runUntilEmpty(
  queue: CrashingQueue,
  sink: Pick<ReturnType<typeof crashingSink>, 'sink' | 'nextCrash'>,
  config: RelayConfig = CONFIG,
) {
  const state = memoryState();
  const handler = createRecordHandler({
    sink: sink.sink,
    config,
    secrets: { get: async () => '' },
    state,
    queue,
    telemetry: new CountingTelemetry({ logger: new Logger({ logLevel: 'SILENT' }) }),
    maxReceiveCount: BACKSTOP,
    now: () => queue.clock.now,
  });
  let invocations = 0;
  let crashes = 0;
  for (let round = 0; round < 100 && queue.queued.length > 0; round++) {
    const records = queue.receive();
    if (records.length === 0) {
      if (queue.queued.length === 0) break;
      queue.clock.now = Math.min(...queue.queued.map((r) => r.visibleAt));
      continue;
    }
    invocations++;
    const outcome = await Promise.race([sink.nextCrash(), handler({ Records: records })]);
    if (outcome === 'crashed') {
      // The function died: no batch response, every record of the batch comes back after its visibility.
      crashes++;
    } else {
      queue.settle(
        records,
        outcome.batchItemFailures.map((f) => f.itemIdentifier),
      );
    }
  }
  return { invocations, crashes };
}

describe('Reliability: a delivery that crashes the function', () => {
  it('should reach the DLQ with its reason within 30 minutes, counted as attempts, before the queue moves it without one', async () => {
    // Prepare
    const queue = new CrashingQueue();
    const sink = crashingSink(new Set(['{}:{alertname="Crasher"}']));
    const message = buildMessage('pager', 'fake', groupNotification('Crasher'), new Date(T0).toISOString(), {
      index: 1,
      count: 1,
    });
    queue.send('crasher', serializeMessage(message), messageGroupId('pager', message.notification.groupKey));

    // Act
    const { crashes } = await runUntilEmpty(queue, sink);

    // Assess: no marker on the 1st receive, attempt 1's on the 2nd, then one counted crash a
    // receive: the 5th attempt's crash is found on the 7th receive and dead-lettered there.
    expect(queue.redriven).toEqual([]);
    expect(queue.deadLetters).toHaveLength(1);
    const [letter] = queue.deadLetters;
    expect(letter.attributes).toMatchObject({
      [DLQ_ATTRIBUTES.reason]:
        'gave up after 5 attempts: crashed or timed out during attempt 5 (the function stopped before the attempt ended)',
      [DLQ_ATTRIBUTES.attempts]: '5',
      [DLQ_ATTRIBUTES.errorType]: 'retries-exhausted',
    });
    expect(crashes).toBe(6);
    expect(letter.at - T0).toBeLessThanOrEqual(30 * 60_000);
    expect(sink.delivered).toEqual([]);
  });

  it('should dead-letter a console destination whose write keeps crashing the process, with its reason (the console sink writes its marker before printing)', async () => {
    // Prepare: the console's write never returns: the process dies in it.
    const queue = new CrashingQueue();
    let crashed: (() => void) | undefined;
    const sink = createConsoleSink({
      write: () => {
        crashed?.();
        return new Promise(() => undefined);
      },
      appendFile: async () => undefined,
    });
    const config: RelayConfig = { ingest: {}, destinations: [{ name: 'audit', sink: 'console' }] };
    const message = buildMessage(
      'audit',
      'console',
      groupNotification('Crasher'),
      new Date(T0).toISOString(),
      {
        index: 1,
        count: 1,
      },
    );
    queue.send('crasher', serializeMessage(message), messageGroupId('audit', message.notification.groupKey));

    // Act
    await runUntilEmpty(
      queue,
      {
        sink,
        nextCrash: () =>
          new Promise<'crashed'>((resolve) => {
            crashed = () => resolve('crashed');
          }),
      },
      config,
    );

    // Assess: the relay's own dead letter with the reason, not the queue's silent redrive.
    expect(queue.redriven).toEqual([]);
    expect(queue.deadLetters).toHaveLength(1);
    expect(queue.deadLetters[0].attributes).toMatchObject({
      [DLQ_ATTRIBUTES.reason]:
        'gave up after 5 attempts: crashed or timed out during attempt 5 (the function stopped before the attempt ended)',
    });
    expect(queue.deadLetters[0].at - T0).toBeLessThanOrEqual(30 * 60_000);
  });

  it('should never dead-letter the records the crasher holds back: its batch-mates of other groups and its own group behind it', async () => {
    // Prepare: in one batch, the crasher first, then two other groups, then the crasher's group-mate.
    const queue = new CrashingQueue();
    const sink = crashingSink(new Set(['{}:{alertname="Crasher"}']), queue.clock);
    const receivedAt = new Date(T0).toISOString();
    const send = (id: string, name: string, status: 'firing' | 'resolved' = 'firing') => {
      const notification = { ...groupNotification(name), status };
      const message = buildMessage('pager', 'fake', notification, receivedAt, { index: 1, count: 1 });
      queue.send(id, serializeMessage(message), messageGroupId('pager', notification.groupKey));
    };
    send('crasher', 'Crasher');
    send('other-1', 'Other1');
    send('other-2', 'Other2');
    send('behind', 'Crasher', 'resolved');

    // Act
    await runUntilEmpty(queue, sink);

    // Assess: only the crasher went to the DLQ, with its reason; the others were delivered once
    // each, and nothing reached the queue's own redrive. The other groups went out on the third
    // receive, the first that knew the crasher (tried before it), its group-mate after it.
    expect(queue.redriven).toEqual([]);
    expect(queue.deadLetters.map((letter) => letter.id)).toEqual(['crasher']);
    expect(queue.queued).toEqual([]);
    expect(sink.delivered).toEqual([
      '{}:{alertname="Other1"} firing',
      '{}:{alertname="Other2"} firing',
      '{}:{alertname="Crasher"} resolved',
    ]);
    expect(sink.deliveredAt.map((at) => (at - T0) / VISIBILITY_MS)).toEqual([2, 2, 6]);
  });

  it('should keep a record that waited close to the backstop out of the redrive when a crash loop joins its batch', async () => {
    // Prepare: a record received 6 times already (waits, each handed back) shares the crasher's batches.
    const queue = new CrashingQueue();
    const sink = crashingSink(new Set(['{}:{alertname="Crasher"}']));
    const receivedAt = new Date(T0).toISOString();
    for (const [id, name] of [
      ['crasher', 'Crasher'],
      ['waited', 'Waited'],
    ]) {
      const message = buildMessage('pager', 'fake', groupNotification(name), receivedAt, {
        index: 1,
        count: 1,
      });
      queue.send(id, serializeMessage(message), messageGroupId('pager', message.notification.groupKey));
    }
    const waited = queue.queued[1];
    waited.receives = BACKSTOP - DELIVERY_POLICY.renewalMargin - 1;
    waited.firstReceivedAt = T0;

    // Act
    await runUntilEmpty(queue, sink);

    // Assess: it was renewed one receive short of the limit; its copy was delivered, once, and
    // the original, hidden for 12 hours, came back within the limit and was dropped.
    expect(queue.redriven).toEqual([]);
    expect(queue.deadLetters.map((letter) => letter.id)).toEqual(['crasher']);
    expect(queue.copies.map((copy) => copy.attributes)).toEqual([{ renewals: '1' }]);
    expect(sink.delivered).toEqual(['{}:{alertname="Waited"} firing']);
    expect(queue.clock.now - T0).toBeGreaterThan(11 * 3_600_000);
    expect(queue.queued).toEqual([]);
  });
});

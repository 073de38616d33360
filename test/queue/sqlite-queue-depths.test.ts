import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import type { OutgoingMessage } from '../../lib/queue/types.ts';

const START = Date.UTC(2026, 0, 1);

/** Group ids as ingest makes them: `<destination>:<hash>`. */
const destinationOf = (groupId: string) => groupId.slice(0, groupId.lastIndexOf(':'));

function entry(n: number, groupId: string): OutgoingMessage {
  return { id: `e${n}`, body: `body-${n}`, groupId, deduplicationId: `dedup-${n}` };
}

describe('Method: SqliteQueue.depthsBy', () => {
  let clock: number;
  let dir: string;
  let queue: SqliteQueue;

  const advance = (ms: number) => {
    clock += ms;
  };

  beforeEach(() => {
    clock = START;
    dir = mkdtempSync(join(tmpdir(), 'queue-depths-'));
    queue = new SqliteQueue({ path: join(dir, 'relay.db'), now: () => clock });
    queue.createQueue('sink-dlq', { visibilityTimeoutSeconds: 30 });
    queue.createQueue('sink', {
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 2,
      deadLetterQueue: 'sink-dlq',
    });
  });

  afterEach(() => {
    queue.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should be empty for an empty queue', () => {
    // Act & Assess
    expect(queue.depthsBy('sink', destinationOf)).toEqual(new Map());
  });

  it('should count per key the visible, in-flight and delayed messages and the oldest send time', () => {
    // Prepare
    queue.send('sink', [entry(1, 'ops:a'), entry(2, 'ops:a')]);
    advance(1_000);
    queue.send('sink', [entry(3, 'ops:b'), entry(4, 'audit:c')]);
    advance(1_000);
    // One message of each group: ops:a's first, ops:b's, audit:c's.
    const received = queue.receive('sink', { maxMessages: 1 });
    const [second] = queue.receive('sink', { maxMessages: 1 });
    queue.changeVisibility('sink', second.receiptHandle, 60);

    // Act
    const depths = queue.depthsBy('sink', destinationOf);

    // Assess
    expect(received.map((m) => m.body)).toEqual(['body-1']);
    expect(second.body).toBe('body-3');
    expect(depths).toEqual(
      new Map([
        ['ops', { visible: 1, inFlight: 1, delayed: 1, oldestSentAt: START }],
        ['audit', { visible: 1, inFlight: 0, delayed: 0, oldestSentAt: START + 1_000 }],
      ]),
    );
  });

  it('should count a message handed back at once, or whose visibility ran out, as visible', () => {
    // Prepare
    queue.send('sink', [entry(1, 'ops:a'), entry(2, 'ops:b')]);
    const [first, second] = queue.receive('sink');
    queue.changeVisibility('sink', first.receiptHandle, 0);
    queue.changeVisibility('sink', second.receiptHandle, 5);
    advance(5_000);

    // Act
    const depths = queue.depthsBy('sink', destinationOf);

    // Assess
    expect(depths.get('ops')).toEqual({ visible: 2, inFlight: 0, delayed: 0, oldestSentAt: START });
  });

  it('should count a delayed message as in flight again once it is received again', () => {
    // Prepare
    queue.send('sink', [entry(1, 'ops:a')]);
    const [first] = queue.receive('sink');
    queue.changeVisibility('sink', first.receiptHandle, 5);
    const before = queue.depthsBy('sink', destinationOf).get('ops');
    advance(5_000);

    // Act
    queue.receive('sink');
    const after = queue.depthsBy('sink', destinationOf).get('ops');

    // Assess
    expect(before).toMatchObject({ visible: 0, inFlight: 0, delayed: 1 });
    expect(after).toMatchObject({ visible: 0, inFlight: 1, delayed: 0 });
  });

  it("should read a DLQ's messages with their first send time, and the same after a reopen", () => {
    // Prepare
    queue.send('sink', [entry(1, 'ops:a')]);
    for (let i = 0; i < 2; i++) {
      queue.receive('sink');
      advance(30_000);
    }
    // The third receive moves it to the DLQ.
    queue.receive('sink');

    // Act
    const live = queue.depthsBy('sink-dlq', destinationOf);
    queue.close();
    queue = new SqliteQueue({ path: join(dir, 'relay.db'), now: () => clock });
    const reopened = queue.depthsBy('sink-dlq', destinationOf);

    // Assess
    expect(live).toEqual(new Map([['ops', { visible: 1, inFlight: 0, delayed: 0, oldestSentAt: START }]]));
    expect(reopened).toEqual(live);
    expect(queue.depthsBy('sink', destinationOf)).toEqual(new Map());
  });
});

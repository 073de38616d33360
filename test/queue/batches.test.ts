import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, packBatches } from '../../lib/queue/batches.ts';
import type { OutgoingMessage } from '../../lib/queue/types.ts';

/** SQS's own limit on one message and on one SendMessageBatch call. */
const SQS_LIMIT = 1_048_576;
const MAX_MESSAGE_BYTES = SQS_LIMIT - 4096;
const bytes = (text: string) => Buffer.byteLength(text);

describe('Function: packBatches', () => {
  const message = (n: number, size = 10): OutgoingMessage => ({
    id: `m${n}`,
    body: 'x'.repeat(size),
    groupId: 'g',
    deduplicationId: `d${n}`,
  });

  it('should put at most 10 entries in a call, in order', () => {
    // Prepare
    const messages = Array.from({ length: 25 }, (_, i) => message(i));

    // Act
    const batches = packBatches(messages);

    // Assess
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(batches.flat()).toEqual(messages);
  });

  it('should start a new call before the bodies pass 1 MiB', () => {
    // Prepare
    const messages = [message(0, 400_000), message(1, 400_000), message(2, 400_000)];

    // Act
    const batches = packBatches(messages);

    // Assess
    expect(batches.map((b) => b.map((m) => m.id))).toEqual([['m0', 'm1'], ['m2']]);
  });

  it('should return no call for no message', () => {
    // Prepare & Act
    const batches = packBatches([]);

    // Assess
    expect(batches).toEqual([]);
  });

  it('should keep every message, at most 10 and 1 MiB per call (property)', () => {
    // Prepare
    const big = 'x'.repeat(MAX_MESSAGE_BYTES);
    const arb = fc.array(fc.oneof(fc.nat({ max: 1000 }), fc.nat({ max: MAX_MESSAGE_BYTES })), {
      maxLength: 40,
    });

    // Act & Assess
    fc.assert(
      fc.property(arb, (sizes) => {
        const messages = sizes.map((size, i) => ({ ...message(i), body: big.slice(0, size) }));
        const batches = packBatches(messages);
        expect(batches.flat()).toEqual(messages);
        for (const batch of batches) {
          expect(batch.length).toBeGreaterThan(0);
          expect(batch.length).toBeLessThanOrEqual(MAX_BATCH_ENTRIES);
          expect(batch.reduce((sum, m) => sum + bytes(m.body), 0)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
        }
      }),
      { numRuns: 100 },
    );
    expect(MAX_BATCH_ENTRIES).toBe(10);
    expect(MAX_BATCH_BYTES).toBe(SQS_LIMIT);
  });
});

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BackfillKeeper } from '../../../lib/chat/storm/backfill.ts';
import { stormSettings } from '../../../lib/chat/storm/config.ts';
import { STORM_TTL_SECONDS, StormLedger } from '../../../lib/chat/storm/storm.ts';
import { RetryableError } from '../../../lib/delivery/errors.ts';
import { stepJournal } from '../../../lib/delivery/journal.ts';
import type { DeliveryShare } from '../../../lib/delivery/sink.ts';
import {
  backfillMessage,
  buildMessage,
  type QueueMessage,
  shareMessage,
} from '../../../lib/queue/message.ts';
import { makeNotification } from '../../support/notifications.ts';
import { memoryState } from '../../support/slack-delivery.ts';

/** What the keeper keeps of a delivery's message: its share, not the queue's envelope. */
function shareOf(message: QueueMessage): DeliveryShare {
  const { notification, idempotencyKey, part, receivedAt } = message;
  return { notification, idempotencyKey, part, receivedAt };
}

/** What the record handler puts on the queue for a storm's backfill of these shares. */
function asBackfills(shares: readonly DeliveryShare[], stormId: string): QueueMessage[] {
  return shares.map((share) => backfillMessage(shareMessage('ops-chat', 'slack', share), stormId));
}

const settings = {
  ...(stormSettings(undefined) as NonNullable<ReturnType<typeof stormSettings>>),
  afterwards: 'backfill' as const,
};
const T0 = Date.UTC(2026, 10, 21, 12);
/** DynamoDB's item limit, key and attribute names included. */
const DYNAMODB_ITEM_BYTES = 400 * 1024;

const groupId = (i: number) => i.toString(16).padStart(8, '0');
const iso = (ms: number) => new Date(ms).toISOString();

function message(i: number, receivedAt: number, status: 'firing' | 'resolved' = 'firing'): QueueMessage {
  const notification = makeNotification({ status, groupKey: `{}:{instance="host-${i}"}` });
  return buildMessage('ops-chat', 'slack', notification, iso(receivedAt), { index: 1, count: 1 });
}

/** A storm of destination ops-chat started by 11 groups (which got their own messages). */
async function startStorm() {
  const store = memoryState();
  const ledger = new StormLedger(store, 'ops-chat', settings);
  let stormId = '';
  for (let i = 0; i < 11; i++) {
    const decision = await ledger.admit(`seed${i}`, T0 + i, `d${i}`);
    if (decision.kind === 'fold') stormId = decision.stormId;
  }
  const keeper = new BackfillKeeper(store, 'ops-chat', ledger.shardPrefix, STORM_TTL_SECONDS);
  /** What runStorm does for a folded delivery: keep its message, then fold it into the tally. */
  const fold = async (group: string, kept: QueueMessage | undefined, folded: QueueMessage) => {
    if (kept) await keeper.keep(stormId, group, kept);
    await ledger.fold(stormId, group, `f-${group}`, {
      notification: folded.notification,
      part: folded.part.index,
      receivedAt: Date.parse(folded.receivedAt),
      now: T0 + 20_000,
      newGroup: true,
    });
  };
  const journal = stepJournal({
    destination: { name: 'ops-chat', sink: 'slack' },
    idempotencyKey: 'ender',
    receivedAt: iso(T0 + 400_000),
    state: store,
  });
  return { store, ledger, keeper, stormId, fold, journal };
}

describe('Class: BackfillKeeper', () => {
  it('should keep the newest message of a group and never let an older one replace it', async () => {
    // Prepare
    const { keeper, stormId } = await startStorm();
    const first = message(1, T0 + 1000);
    const second = message(1, T0 + 2000, 'resolved');

    // Act
    await keeper.keep(stormId, groupId(1), first);
    await keeper.keep(stormId, groupId(1), second);
    await keeper.keep(stormId, groupId(1), first);

    // Assess
    expect(await keeper.read(stormId, groupId(1), 1, T0 + 2000)).toEqual(shareOf(second));
    expect(await keeper.read(stormId, groupId(1), 1, T0 + 1000)).toBeUndefined();
    expect(await keeper.read(stormId, groupId(2), 1, T0 + 2000)).toBeUndefined();
  });

  it('should split a message that does not compress under the item limit over several items, and read it back exactly', async () => {
    // Prepare: 900 KB of random text (a hostile label) compresses to about 700 KB of base64.
    const { store, keeper, stormId } = await startStorm();
    const big = message(3, T0 + 3000);
    big.notification.alerts[0].labels.noise = randomBytes(675_000).toString('base64');
    big.notification.alerts[0].annotations.summary = 'ends with \uFFFF and a lone \uD800 surrogate';

    // Act
    await keeper.keep(stormId, groupId(3), big);
    const read = await keeper.read(stormId, groupId(3), 1, T0 + 3000);

    // Assess
    expect(read).toEqual(shareOf(big));
    const kept = [...store.items].filter(([key]) =>
      key.startsWith(`stormkeep#ops-chat#${stormId}#${groupId(3)}`),
    );
    expect(kept.length).toBeGreaterThan(2);
    for (const [key, value] of kept) {
      expect(Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value))).toBeLessThan(
        DYNAMODB_ITEM_BYTES,
      );
    }
  });

  it('should requeue the kept message of each folded group still firing, as a backfill, and nothing of the others', async () => {
    // Prepare: 25 folded groups; 5 of them resolved during the storm; group 24's latest went to
    // a message of its own (folded without a kept message); the 11 seeds had messages of their own.
    const { keeper, stormId, fold, journal } = await startStorm();
    for (let i = 0; i < 25; i++) await fold(groupId(i), message(i, T0 + 1000 + i), message(i, T0 + 1000 + i));
    for (let i = 0; i < 5; i++) {
      const resolved = message(i, T0 + 90_000 + i, 'resolved');
      await fold(groupId(i), resolved, resolved);
    }
    await fold(groupId(24), undefined, message(24, T0 + 95_000));
    const requeued: QueueMessage[][] = [];
    const reported: number[] = [];

    // Act
    const groups = await keeper.requeueStillFiring({
      stormId,
      journal,
      requeue: async (shares, id) => {
        requeued.push(asBackfills(shares, id));
      },
      onRequeued: (count) => reported.push(count),
    });

    // Assess
    const sent = requeued.flat();
    const expected = Array.from({ length: 19 }, (_, k) =>
      backfillMessage(message(k + 5, T0 + 1000 + k + 5), stormId),
    );
    expect(groups).toBe(19);
    expect(reported.reduce((a, b) => a + b, 0)).toBe(19);
    expect(requeued.every((batch) => batch.length <= 10)).toBe(true);
    expect(
      sent
        .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))
        .map((m) => [m.idempotencyKey, m.backfill]),
    ).toEqual(expected.map((m) => [m.idempotencyKey, stormId]));
    expect(sent[0]).toEqual(expected[0]);
  });

  it('should carry on where a failed requeue stopped, sending every group once more at most', async () => {
    // Prepare
    const { keeper, stormId, fold, journal } = await startStorm();
    for (let i = 0; i < 40; i++) await fold(groupId(i), message(i, T0 + 1000 + i), message(i, T0 + 1000 + i));
    const sent: string[] = [];
    let calls = 0;
    const flaky = async (shares: readonly DeliveryShare[]) => {
      calls++;
      if (calls === 3) throw new RetryableError('the queue was throttled');
      sent.push(...shares.map((m) => m.notification.groupKey));
    };

    // Act
    const failed = await keeper
      .requeueStillFiring({ stormId, journal, requeue: flaky })
      .catch((error: unknown) => error);
    const groups = await keeper.requeueStillFiring({ stormId, journal, requeue: flaky });
    const again = await keeper.requeueStillFiring({
      stormId,
      journal,
      requeue: async () => {
        throw new Error('a finished backfill must not send again');
      },
    });

    // Assess
    expect(failed).toBeInstanceOf(RetryableError);
    expect(groups).toBe(40);
    expect(again).toBe(40);
    expect(new Set(sent).size).toBe(40);
    expect(sent).toHaveLength(40);
  });

  it('should requeue every part of a split notification kept at the same time', async () => {
    // Prepare
    const { keeper, stormId, ledger, journal } = await startStorm();
    const parts = [1, 2].map((index) =>
      buildMessage(
        'ops-chat',
        'slack',
        makeNotification({ count: 2, groupKey: '{}:{instance="big"}' }),
        iso(T0 + 5000),
        { index, count: 2 },
      ),
    );
    for (const part of parts) {
      await keeper.keep(stormId, groupId(77), part);
      await ledger.fold(stormId, groupId(77), `p${part.part.index}`, {
        notification: part.notification,
        part: part.part.index,
        receivedAt: T0 + 5000,
        now: T0 + 20_000,
        newGroup: part.part.index === 1,
      });
    }
    const requeued: QueueMessage[] = [];

    // Act
    const groups = await keeper.requeueStillFiring({
      stormId,
      journal,
      requeue: async (shares, id) => {
        requeued.push(...asBackfills(shares, id));
      },
    });

    // Assess
    expect(groups).toBe(1);
    expect(requeued.map((m) => m.part)).toEqual([
      { index: 1, count: 2 },
      { index: 2, count: 2 },
    ]);
    expect(new Set(requeued.map((m) => m.idempotencyKey)).size).toBe(2);
  });
});

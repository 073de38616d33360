import { randomBytes } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackfillKeeper } from '../../../lib/chat/storm/backfill.ts';
import { stormSettings } from '../../../lib/chat/storm/config.ts';
import { STORM_TTL_SECONDS, StormLedger } from '../../../lib/chat/storm/storm.ts';
import { stepJournal } from '../../../lib/delivery/journal.ts';
import type { DeliveryShare } from '../../../lib/delivery/sink.ts';
import {
  backfillMessage,
  buildMessage,
  type QueueMessage,
  shareMessage,
} from '../../../lib/queue/message.ts';
import { DynamoDbStateStore } from '../../../lib/state/dynamodb.ts';
import { type AwsEmulators, createStateTable, startAwsEmulators } from '../../support/aws-emulators.ts';
import { makeNotification } from '../../support/notifications.ts';

/** What the record handler puts on the queue for a storm's backfill of these shares. */
function asBackfills(shares: readonly DeliveryShare[], stormId: string): QueueMessage[] {
  return shares.map((share) => backfillMessage(shareMessage('ops-chat', 'slack', share), stormId));
}

/**
 * A storm's backfill on the AWS state store: dynalite, a DynamoDB server that enforces the
 * 400 KB item limit and the conditional writes the storm's records are made with.
 */

let aws: AwsEmulators;
let table: string;
beforeAll(async () => {
  aws = await startAwsEmulators();
  table = await createStateTable(aws.dynamoDb, 'relay-backfill-state');
});
afterAll(async () => {
  await aws?.stop();
});

const T0 = Date.UTC(2026, 10, 21, 12);
const settings = {
  ...(stormSettings(undefined) as NonNullable<ReturnType<typeof stormSettings>>),
  afterwards: 'backfill' as const,
};

function message(i: number, noise = ''): QueueMessage {
  const notification = makeNotification({ groupKey: `{}:{instance="host-${i}"}` });
  if (noise) notification.alerts[0].labels.noise = noise;
  return buildMessage('ops-chat', 'slack', notification, new Date(T0 + i).toISOString(), {
    index: 1,
    count: 1,
  });
}

describe('Class: BackfillKeeper on DynamoDB (dynalite)', () => {
  it('should keep a message DynamoDB would refuse as one item, and requeue it with the small ones after the storm', async () => {
    // Prepare
    const store = new DynamoDbStateStore(DynamoDBDocumentClient.from(aws.dynamoDb), table, () => T0);
    const ledger = new StormLedger(store, 'ops-chat', settings);
    let stormId = '';
    for (let i = 0; i < 11; i++) {
      const decision = await ledger.admit(`seed${i}`, T0 + i, `d${i}`);
      if (decision.kind === 'fold') stormId = decision.stormId;
    }
    const keeper = new BackfillKeeper(store, 'ops-chat', ledger.shardPrefix, STORM_TTL_SECONDS);
    const big = message(0, randomBytes(675_000).toString('base64'));
    const folded = [big, message(1), message(2)];
    const tooBig = await store
      .put('probe#one-item', { data: randomBytes(450_000).toString('base64') })
      .catch((error: Error) => error);

    // Act
    for (const [i, m] of folded.entries()) {
      await keeper.keep(stormId, `0${i}abcdef`, m);
      await ledger.fold(stormId, `0${i}abcdef`, `f${i}`, {
        notification: m.notification,
        part: 1,
        receivedAt: Date.parse(m.receivedAt),
        now: T0 + 20_000,
        newGroup: true,
      });
    }
    const requeued: QueueMessage[] = [];
    const groups = await keeper.requeueStillFiring({
      stormId,
      journal: stepJournal({
        destination: { name: 'ops-chat', sink: 'slack' },
        idempotencyKey: 'ender',
        receivedAt: new Date(T0 + 400_000).toISOString(),
        state: store,
      }),
      requeue: async (shares, id) => {
        requeued.push(...asBackfills(shares, id));
      },
    });

    // Assess
    expect(tooBig).toBeInstanceOf(Error);
    expect(String(tooBig)).toMatch(/size/i);
    expect(groups).toBe(3);
    expect(requeued.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))).toEqual(
      folded.map((m) => backfillMessage(m, stormId)),
    );
  });
});

import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStateStore } from '../../lib/state/dynamodb.ts';
import { type AwsEmulators, createStateTable, startAwsEmulators } from '../support/aws-emulators.ts';

/**
 * lib/state/dynamodb.ts against dynalite, a DynamoDB server: the document client really
 * marshals, so what the mocks never show (an undefined field, a Date, a nested value) is
 * checked the way DynamoDB takes it. The client is built as lib/lambda.ts builds it.
 */

let aws: AwsEmulators;
let table: string;
beforeAll(async () => {
  aws = await startAwsEmulators();
  table = await createStateTable(aws.dynamoDb, 'relay-emulator-state');
});
afterAll(async () => {
  await aws?.stop();
});

function store(now: () => number = Date.now): DynamoDbStateStore {
  return new DynamoDbStateStore(DynamoDBDocumentClient.from(aws.dynamoDb), table, now);
}

describe('Class: DynamoDbStateStore (dynalite)', () => {
  it('should store and read back a nested value', async () => {
    // Prepare
    const value = { channel: 'C1', ts: '1700000000.000100', posts: [{ step: 'main', n: 1 }], done: true };

    // Act
    await store().put('slackgroup#ops#abc', value, { ttlSeconds: 60 });
    const read = await store().get('slackgroup#ops#abc');

    // Assess
    expect(read).toEqual(value);
  });

  it('should accept undefined fields and Dates as the node:sqlite store does (JSON)', async () => {
    // Prepare
    const at = new Date(Date.UTC(2026, 10, 21, 12, 0, 0));

    // Act
    await store().put('idem#audit#k1', {
      deliveredAt: at,
      receivedAt: 1,
      ts: undefined,
      nested: { gone: undefined },
    });
    const read = await store().get('idem#audit#k1');

    // Assess
    expect(read).toEqual({ deliveredAt: at.toISOString(), receivedAt: 1, nested: {} });
  });

  it('should not return an item whose TTL passed before DynamoDB deleted it', async () => {
    // Prepare
    let clock = Date.UTC(2026, 10, 21, 12, 0, 0);
    const clocked = store(() => clock);
    await clocked.put('step#audit#k#1#post', { done: true }, { ttlSeconds: 10 });

    // Act
    const before = await clocked.get('step#audit#k#1#post');
    clock += 10_000;
    const after = await clocked.get('step#audit#k#1#post');

    // Assess
    expect(before).toEqual({ done: true });
    expect(after).toBeUndefined();
  });

  it('should delete an item and read nothing for a key never written', async () => {
    // Prepare
    await store().put('sentry#errors#fired#f1', { at: 1 });

    // Act
    await store().delete('sentry#errors#fired#f1');

    // Assess
    expect(await store().get('sentry#errors#fired#f1')).toBeUndefined();
    expect(await store().get('never#written')).toBeUndefined();
  });
});

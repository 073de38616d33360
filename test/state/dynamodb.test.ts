import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbStateStore } from '../../lib/state/dynamodb.ts';

const TABLE = 'relay-ci-state';
const NOW = Date.UTC(2026, 10, 21, 12, 0, 0, 500);
const NOW_SECONDS = Math.floor(NOW / 1000);

const ddbMock = mockClient(DynamoDBDocumentClient);

describe('Class: DynamoDbStateStore', () => {
  let clock: number;
  let store: DynamoDbStateStore;

  beforeEach(() => {
    ddbMock.reset();
    clock = NOW;
    store = new DynamoDbStateStore(
      DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
      TABLE,
      () => clock,
    );
  });

  describe('Method: get', () => {
    it('should read the item by pk with a consistent read and return its value', async () => {
      // Prepare
      ddbMock.on(GetCommand).resolves({ Item: { pk: 'group#ops#k', value: { channel: 'C1', ts: '1.2' } } });

      // Act
      const value = await store.get('group#ops#k');

      // Assess
      expect(value).toEqual({ channel: 'C1', ts: '1.2' });
      const calls = ddbMock.commandCalls(GetCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0].args[0].input).toEqual({
        TableName: TABLE,
        Key: { pk: 'group#ops#k' },
        ConsistentRead: true,
      });
    });

    it('should read eventually consistently when told it will do, for advisory state', async () => {
      // Prepare
      ddbMock.on(GetCommand).resolves({ Item: { pk: 'slackpace#C1', value: { next: 1 }, version: 3 } });

      // Act
      const value = await store.get('slackpace#C1', { consistent: false });
      const versioned = await store.getVersioned('slackpace#C1', { consistent: false });

      // Assess
      expect(value).toEqual({ next: 1 });
      expect(versioned).toEqual({ value: { next: 1 }, version: 3 });
      expect(ddbMock.commandCalls(GetCommand).map((call) => call.args[0].input.ConsistentRead)).toEqual([
        false,
        false,
      ]);
    });

    it('should return undefined when there is no item', async () => {
      // Prepare
      ddbMock.on(GetCommand).resolves({});

      // Act
      const value = await store.get('idem#ops#missing');

      // Assess
      expect(value).toBeUndefined();
    });

    it('should not return an expired item that DynamoDB has not deleted yet', async () => {
      // Prepare
      ddbMock
        .on(GetCommand)
        .resolves({ Item: { pk: 'idem#ops#k', value: { done: true }, expiresAt: NOW_SECONDS - 1 } });

      // Act
      const value = await store.get('idem#ops#k');

      // Assess
      expect(value).toBeUndefined();
    });

    it('should treat an item as expired from the second its expiresAt names', async () => {
      // Prepare
      ddbMock
        .on(GetCommand)
        .resolves({ Item: { pk: 'idem#ops#k', value: { done: true }, expiresAt: NOW_SECONDS + 1 } });
      const before = await store.get('idem#ops#k');
      clock = (NOW_SECONDS + 1) * 1000;

      // Act
      const after = await store.get('idem#ops#k');

      // Assess
      expect(before).toEqual({ done: true });
      expect(after).toBeUndefined();
    });

    it('should return an item without expiresAt whatever the time', async () => {
      // Prepare
      ddbMock.on(GetCommand).resolves({ Item: { pk: 'group#ops#k', value: { id: 'sentry-1' } } });
      clock = Date.UTC(2100, 0, 1);

      // Act
      const value = await store.get('group#ops#k');

      // Assess
      expect(value).toEqual({ id: 'sentry-1' });
    });

    it('should let a DynamoDB error reach the caller', async () => {
      // Prepare
      ddbMock
        .on(GetCommand)
        .rejects(
          Object.assign(new Error('throughput exceeded'), { name: 'ProvisionedThroughputExceededException' }),
        );

      // Act & Assess
      await expect(store.get('k')).rejects.toThrow('throughput exceeded');
    });
  });

  describe('Method: put', () => {
    it('should write pk and value, with expiresAt in epoch seconds when a ttl is given', async () => {
      // Prepare
      ddbMock.on(PutCommand).resolves({});

      // Act
      await store.put(
        'idem#ops#k',
        { receivedAt: '2026-11-21T12:00:00.000Z' },
        { ttlSeconds: 7 * 24 * 3600 },
      );

      // Assess
      const calls = ddbMock.commandCalls(PutCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0].args[0].input).toEqual({
        TableName: TABLE,
        Item: {
          pk: 'idem#ops#k',
          value: { receivedAt: '2026-11-21T12:00:00.000Z' },
          expiresAt: NOW_SECONDS + 7 * 24 * 3600,
        },
      });
      const expiresAt = calls[0].args[0].input.Item?.expiresAt as number;
      expect(Number.isInteger(expiresAt)).toBe(true);
      // Seconds, not milliseconds: DynamoDB TTL ignores values that are not epoch seconds.
      expect(expiresAt).toBeLessThan(10_000_000_000);
    });

    it('should write no expiresAt without a ttl', async () => {
      // Prepare
      ddbMock.on(PutCommand).resolves({});

      // Act
      await store.put('group#ops#k', { channel: 'C1' });

      // Assess
      const item = ddbMock.commandCalls(PutCommand)[0].args[0].input.Item;
      expect(item).toEqual({ pk: 'group#ops#k', value: { channel: 'C1' } });
      expect(item).not.toHaveProperty('expiresAt');
    });

    it('should make a value written with a ttl readable until then and not after', async () => {
      // Prepare: a tiny in-memory table behind the mock, so get reads what put wrote.
      const table = new Map<string, Record<string, unknown>>();
      ddbMock.on(PutCommand).callsFake((input) => {
        table.set(input.Item.pk, input.Item);
        return {};
      });
      ddbMock.on(GetCommand).callsFake((input) => ({ Item: table.get(input.Key.pk) }));
      await store.put('idem#ops#k', { done: true }, { ttlSeconds: 60 });
      clock += 59_000;
      const before = await store.get('idem#ops#k');
      clock += 1_000;

      // Act
      const after = await store.get('idem#ops#k');

      // Assess
      expect(before).toEqual({ done: true });
      expect(after).toBeUndefined();
    });
  });

  describe('Method: delete', () => {
    it('should delete the item by pk', async () => {
      // Prepare
      ddbMock.on(DeleteCommand).resolves({});

      // Act
      await store.delete('group#ops#k');

      // Assess
      const calls = ddbMock.commandCalls(DeleteCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0].args[0].input).toEqual({ TableName: TABLE, Key: { pk: 'group#ops#k' } });
    });
  });
});

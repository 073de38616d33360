import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ReadOptions, StateStore, Versioned } from './store.ts';

/**
 * The state store on AWS: one on-demand DynamoDB table, partition key `pk`, value in
 * `value`, TTL attribute `expiresAt` (epoch seconds). DynamoDB deletes expired items within
 * a day or two, so reads check `expiresAt` themselves.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html
 */
export class DynamoDbStateStore implements StateStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(client: DynamoDBDocumentClient, table: string, now: () => number = Date.now) {
    this.#client = client;
    this.#table = table;
    this.#now = now;
  }

  /**
   * A strongly consistent GetItem unless `consistent: false` (an eventually consistent one costs
   * half a read unit). https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html
   */
  async get<T extends object = Record<string, unknown>>(
    key: string,
    options: ReadOptions = {},
  ): Promise<T | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: key },
        ConsistentRead: options.consistent ?? true,
      }),
    );
    if (!Item) return undefined;
    if (typeof Item.expiresAt === 'number' && Item.expiresAt * 1000 <= this.#now()) return undefined;
    return Item.value as T;
  }

  /**
   * Stores what the node:sqlite store stores: the value as JSON sees it. The document client
   * refuses to marshal `undefined` fields (and class instances such as Date) unless told
   * otherwise per client, and a client handed to us may not be; normalising here means an
   * `{ ts: undefined }` a sink writes works on AWS exactly as it does under `npm start`.
   * https://docs.aws.amazon.com/AWSJavaScriptSDK/v3/latest/Package/-aws-sdk-lib-dynamodb/
   */
  async put(key: string, value: object, options: { ttlSeconds?: number } = {}): Promise<void> {
    const item: Record<string, unknown> = { pk: key, value: JSON.parse(JSON.stringify(value)) };
    if (options.ttlSeconds !== undefined)
      item.expiresAt = Math.floor(this.#now() / 1000) + options.ttlSeconds;
    await this.#client.send(new PutCommand({ TableName: this.#table, Item: item }));
  }

  async delete(key: string): Promise<void> {
    await this.#client.send(new DeleteCommand({ TableName: this.#table, Key: { pk: key } }));
  }

  async getVersioned<T extends object = Record<string, unknown>>(
    key: string,
    options: ReadOptions = {},
  ): Promise<Versioned<T> | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: key },
        ConsistentRead: options.consistent ?? true,
      }),
    );
    if (!Item) return undefined;
    if (typeof Item.expiresAt === 'number' && Item.expiresAt * 1000 <= this.#now()) return undefined;
    return { value: Item.value as T, version: typeof Item.version === 'number' ? Item.version : 0 };
  }

  /**
   * A conditional PutItem on the `version` attribute (an item written by `put` has none: version
   * 0). An expired item DynamoDB has not deleted yet counts as absent, as get sees it.
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
   */
  async putIfVersion(
    key: string,
    value: object,
    expectedVersion: number | undefined,
    options: { ttlSeconds?: number } = {},
  ): Promise<boolean> {
    const nowSeconds = Math.floor(this.#now() / 1000);
    const item: Record<string, unknown> = {
      pk: key,
      value: JSON.parse(JSON.stringify(value)),
      version: (expectedVersion ?? 0) + 1,
    };
    if (options.ttlSeconds !== undefined) item.expiresAt = nowSeconds + options.ttlSeconds;
    // `version` and `value` are DynamoDB reserved words: every attribute goes by a placeholder.
    const live = '(attribute_not_exists(#e) OR #e > :now)';
    const condition =
      expectedVersion === undefined
        ? 'attribute_not_exists(#pk) OR #e <= :now'
        : expectedVersion === 0
          ? `(attribute_not_exists(#v) OR #v = :v) AND ${live}`
          : `#v = :v AND ${live}`;
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: condition,
          ExpressionAttributeNames: {
            '#e': 'expiresAt',
            ...(expectedVersion === undefined ? { '#pk': 'pk' } : { '#v': 'version' }),
          },
          ExpressionAttributeValues: {
            ':now': nowSeconds,
            ...(expectedVersion === undefined ? {} : { ':v': expectedVersion }),
          },
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

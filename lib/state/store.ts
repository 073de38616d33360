/**
 * The state store: memory that survives restarts, per destination and alert group.
 * DynamoDB on AWS (lib/state/dynamodb.ts), node:sqlite locally (lib/state/sqlite.ts).
 *
 * Keys are opaque strings built by the caller (e.g. `idem#<destination>#<key>`,
 * `step#<destination>#<key>#<receivedAt>#<step>`); values are JSON objects. Expired items are never
 * returned, even before the backend has removed them.
 */
export interface StateStore {
  get<T extends object = Record<string, unknown>>(key: string): Promise<T | undefined>;
  /** Write (overwrite) a value; `ttlSeconds` makes it expire that long from now. */
  put(key: string, value: object, options?: { ttlSeconds?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

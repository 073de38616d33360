/**
 * The state store: memory that survives restarts, per destination and alert group.
 * DynamoDB on AWS (lib/state/dynamodb.ts), node:sqlite locally (lib/state/sqlite.ts).
 *
 * Keys are opaque strings built by the caller (e.g. `group#<destination>#<hash of groupKey>`,
 * `step#<destination>#<key>#<receivedAt>#<step>`); values are JSON objects. Expired items are never
 * returned, even before the backend has removed them.
 */
export interface StateStore {
  /**
   * `consistent: false` allows an eventually consistent read (DynamoDB: half a read unit), for
   * advisory state a compare-and-set checks anyway (a channel's pace); default consistent.
   */
  get<T extends object = Record<string, unknown>>(key: string, options?: ReadOptions): Promise<T | undefined>;
  /** Write (overwrite) a value; `ttlSeconds` makes it expire that long from now. */
  put(key: string, value: object, options?: { ttlSeconds?: number }): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * A value with its version, for a compare-and-set with putIfVersion. An item written by `put`
   * has version 0; a key shared by concurrent writers (a storm's state) is written only with
   * putIfVersion, never with `put`.
   */
  getVersioned?<T extends object = Record<string, unknown>>(
    key: string,
    options?: ReadOptions,
  ): Promise<Versioned<T> | undefined>;
  /**
   * Writes `value` only if the item is still at `expectedVersion` (undefined: only if there is
   * no item, or it expired), as version `expectedVersion + 1`. Resolves false, writing nothing,
   * when another writer got there first: the caller reads again and retries (updateVersioned).
   */
  putIfVersion?(
    key: string,
    value: object,
    expectedVersion: number | undefined,
    options?: { ttlSeconds?: number },
  ): Promise<boolean>;
}

/** How a read may be served: a store that has only consistent reads ignores it. */
export interface ReadOptions {
  /** false: an eventually consistent read will do (it may miss a write of the last second or so). Default true. */
  consistent?: boolean;
}

/** A stored value and the version a compare-and-set expects. */
export interface Versioned<T> {
  value: T;
  version: number;
}

/** A StateStore that can compare-and-set (every built-in store can). */
export type VersionedStateStore = StateStore & Required<Pick<StateStore, 'getVersioned' | 'putIfVersion'>>;

/** Whether `store` can compare-and-set. */
export function isVersioned(store: StateStore): store is VersionedStateStore {
  return typeof store.getVersioned === 'function' && typeof store.putIfVersion === 'function';
}

/** The compare-and-set kept failing: more writers than `attempts` rounds could get past. */
export class ConflictError extends Error {
  constructor(key: string, attempts: number) {
    super(`state ${key}: still conflicting after ${attempts} compare-and-set attempts`);
    this.name = 'ConflictError';
  }
}

/**
 * Reads `key`, applies `change` to its value (undefined when absent) and writes the result with
 * putIfVersion, reading again and re-applying on a conflict, so concurrent writers never lose
 * each other's changes. `change` may run several times: it must be pure of side effects.
 * Resolves with the value written (or the current one when `change` returns undefined: nothing
 * to write).
 *
 * @example
 * await updateVersioned(store, 'storm#ops', (s) => ({ ...s, count: (s?.count ?? 0) + 1 }));
 */
export async function updateVersioned<T extends object>(
  store: VersionedStateStore,
  key: string,
  change: (current: T | undefined) => T | undefined,
  options: { ttlSeconds?: number; attempts?: number } = {},
): Promise<T | undefined> {
  const attempts = options.attempts ?? 50;
  for (let i = 0; i < attempts; i++) {
    const current = await store.getVersioned<T>(key);
    const next = change(current === undefined ? undefined : structuredClone(current.value));
    if (next === undefined) return current?.value;
    if (await store.putIfVersion(key, next, current?.version, { ttlSeconds: options.ttlSeconds }))
      return next;
  }
  throw new ConflictError(key, attempts);
}

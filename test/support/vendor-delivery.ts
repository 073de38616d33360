import type { Notification } from '../../lib/alertmanager/types.ts';
import type { DestinationConfig } from '../../lib/config/types.ts';
import { PermanentError } from '../../lib/delivery/errors.ts';
import type { Delivery, SinkLogger } from '../../lib/delivery/sink.ts';
import type { StateStore } from '../../lib/state/store.ts';

/** Deliveries, an in-memory state store and a capturing logger for calling a sink directly in tests. */

export function memoryState(): StateStore & { keys(): string[] } {
  const items = new Map<string, object>();
  return {
    async get<T extends object>(key: string) {
      return items.get(key) as T | undefined;
    },
    async put(key, value) {
      items.set(key, value);
    },
    async delete(key) {
      items.delete(key);
    },
    keys: () => [...items.keys()],
  };
}

export function capturingLogger(): { logger: SinkLogger; lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string, extra?: Record<string, unknown>) =>
    void lines.push(`${level} ${message} ${JSON.stringify(extra ?? {})}`);
  return {
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    lines,
  };
}

export function vendorDelivery<C extends DestinationConfig>(
  destination: C,
  notification: Notification,
  options: {
    secrets?: Record<string, string>;
    state?: StateStore;
    logger?: SinkLogger;
    idempotencyKey?: string;
    part?: { index: number; count: number };
    attempt?: number;
  } = {},
): Delivery<C> {
  const secrets = options.secrets ?? {};
  return {
    destination,
    notification,
    idempotencyKey: options.idempotencyKey ?? 'idem-3f9a0c',
    part: options.part ?? { index: 1, count: 1 },
    receivedAt: '2026-11-21T12:00:00.000Z',
    attempt: options.attempt ?? 1,
    secrets: {
      async get(name) {
        const value = secrets[name];
        if (value === undefined) throw new PermanentError(`secret ${name} does not exist`);
        return value;
      },
    },
    state: options.state ?? memoryState(),
    logger: options.logger ?? capturingLogger().logger,
  };
}

/** The rejection of a promise that must reject. */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the delivery to fail, it succeeded');
}

import type { Notification } from '../../lib/alertmanager/types.ts';
import type { Delivery, SinkLogger } from '../../lib/delivery/sink.ts';
import { idempotencyKey } from '../../lib/queue/idempotency.ts';
import type { SlackDestination } from '../../lib/sinks/slack/slack.ts';
import type { StateStore, VersionedStateStore } from '../../lib/state/store.ts';

/**
 * An in-memory state store that can be told to fail (a Lambda dying) at its Nth write. It
 * compare-and-sets like the real stores (an item written by put has version 0).
 */
export function memoryState(): VersionedStateStore & {
  items: Map<string, object>;
  writes: number;
  failAtWrite?: number;
} {
  const items = new Map<string, object>();
  const versions = new Map<string, number>();
  const write = (key: string, value: object) => {
    store.writes++;
    if (store.failAtWrite !== undefined && store.writes === store.failAtWrite) {
      throw new Error(`state store unavailable (write ${store.writes})`);
    }
    items.set(key, structuredClone(value));
  };
  const store = {
    items,
    writes: 0,
    failAtWrite: undefined as number | undefined,
    async get<T extends object>(key: string) {
      const value = items.get(key);
      return value === undefined ? undefined : (structuredClone(value) as T);
    },
    async put(key: string, value: object) {
      write(key, value);
      versions.set(key, 0);
    },
    async delete(key: string) {
      items.delete(key);
      versions.delete(key);
    },
    async getVersioned<T extends object>(key: string) {
      const value = items.get(key);
      return value === undefined
        ? undefined
        : { value: structuredClone(value) as T, version: versions.get(key) ?? 0 };
    },
    async putIfVersion(key: string, value: object, expectedVersion: number | undefined) {
      const current = items.has(key) ? (versions.get(key) ?? 0) : undefined;
      if (current !== expectedVersion) return false;
      write(key, value);
      versions.set(key, (expectedVersion ?? 0) + 1);
      return true;
    },
  };
  return store;
}

export interface CapturedLogger extends SinkLogger {
  lines: { level: string; message: string; extra?: Record<string, unknown> }[];
}

export function captureLogger(): CapturedLogger {
  const lines: CapturedLogger['lines'] = [];
  const log = (level: string) => (message: string, extra?: Record<string, unknown>) => {
    lines.push({ level, message, extra });
  };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** One delivery of `notification` to a Slack destination, as the record handler makes it. */
export function slackDelivery(
  destination: SlackDestination,
  notification: Notification,
  options: {
    state: StateStore;
    secrets?: Record<string, string>;
    receivedAt?: string;
    attempt?: number;
    logger?: SinkLogger;
    part?: { index: number; count: number };
  },
): Delivery<SlackDestination> {
  const secrets = options.secrets ?? {};
  const part = options.part ?? { index: 1, count: 1 };
  return {
    destination,
    notification,
    idempotencyKey: idempotencyKey(destination.name, notification, part),
    part,
    receivedAt: options.receivedAt ?? '2026-11-21T12:00:00.000Z',
    attempt: options.attempt ?? 1,
    secrets: {
      async get(name) {
        const value = secrets[name];
        if (value === undefined) throw new Error(`secret ${name} missing`);
        return value;
      },
    },
    state: options.state,
    logger: options.logger ?? captureLogger(),
  };
}

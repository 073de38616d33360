import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import type { Versioned, VersionedStateStore } from '../../lib/state/store.ts';
import type { WatchdogPage } from '../../lib/watchdog/checker.ts';
import type { Watchdog } from '../../lib/watchdog/config.ts';
import { type Heartbeat, recordHeartbeat } from '../../lib/watchdog/heartbeat.ts';

/** The watchdog tests' virtual clock, state in a temp dir (one file, any number of connections), and a recording enqueue. */
export interface WatchdogBench {
  readonly dir: string;
  /** Epoch ms of the virtual clock. */
  now(): number;
  /** `now()` as a Date. */
  date(): Date;
  /** Moves the clock `seconds` forward. */
  advance(seconds: number): void;
  /** A new connection to the same state file: another checker, or the relay after a restart. */
  open(): SqliteStateStore;
  /** Records a heartbeat at the current virtual time through `store`. */
  heartbeat(store: VersionedStateStore, heartbeat?: Partial<Heartbeat>): Promise<void>;
  /** Everything handed to `enqueue`, in order. */
  readonly pages: WatchdogPage[];
  enqueue(page: WatchdogPage): Promise<void>;
  close(): void;
}

export const START = Date.parse('2026-11-21T12:00:00.000Z');

export const WATCHDOG: Watchdog = {
  alertname: 'Watchdog',
  silentAfterSeconds: 600,
  destinations: ['pager'],
  forward: false,
};

export const BEAT: Heartbeat = {
  receiver: 'relay',
  externalURL: 'http://alertmanager:9093',
  groupKey: '{}/{alertname="Watchdog"}:{alertname="Watchdog"}',
};

export function watchdogBench(): WatchdogBench {
  const dir = mkdtempSync(join(tmpdir(), 'relay-watchdog-'));
  let clock = START;
  const stores: SqliteStateStore[] = [];
  const pages: WatchdogPage[] = [];
  return {
    dir,
    now: () => clock,
    date: () => new Date(clock),
    advance(seconds) {
      clock += seconds * 1000;
    },
    open() {
      const store = new SqliteStateStore(join(dir, 'state.db'), { now: () => clock });
      stores.push(store);
      return store;
    },
    async heartbeat(store, heartbeat = {}) {
      await recordHeartbeat(store, WATCHDOG, { ...BEAT, ...heartbeat }, new Date(clock));
    },
    pages,
    async enqueue(page) {
      pages.push(structuredClone(page));
    },
    close() {
      for (const store of stores) store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The stores, each wrapped so that its first getVersioned call is held until every wrapper made
 * its own: every party reads the same version before any of them writes (the interleaving two
 * concurrent checkers can have). Pass one store twice for two checkers on one connection.
 */
export function readTogether(stores: readonly VersionedStateStore[]): VersionedStateStore[] {
  let arrived = 0;
  let release: () => void = () => {};
  const together = new Promise<void>((resolve) => {
    release = resolve;
  });
  return stores.map((store) => {
    let first = true;
    return {
      get: (key) => store.get(key),
      put: (key, value, options) => store.put(key, value, options),
      delete: (key) => store.delete(key),
      putIfVersion: (key, value, version, options) => store.putIfVersion(key, value, version, options),
      async getVersioned<T extends object>(key: string): Promise<Versioned<T> | undefined> {
        const read = await store.getVersioned<T>(key);
        if (first) {
          first = false;
          arrived += 1;
          if (arrived === stores.length) release();
          await together;
        }
        return read;
      },
    };
  });
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AppliedGroup, readAppliedGroup } from '../../delivery/group-state.ts';
import { deadLetterQueueName, sinkQueueName } from '../../queue/local.ts';
import { SqliteQueue } from '../../queue/sqlite-queue.ts';
import { SqliteStateStore } from '../../state/sqlite.ts';
import {
  DeadLetterQueueError,
  type DeadLetterQueues,
  type RawDeadLetter,
  type RedriveProgress,
} from './dead-letters.ts';

/** The local runtime's queue file inside its data directory (lib/local/runtime.ts). */
export function localQueuePath(dataDir: string): string {
  return join(dataDir, 'relay.db');
}

/** The local runtime's state store inside its data directory (lib/local/runtime.ts). */
export function localStatePath(dataDir: string): string {
  return join(dataDir, 'state.db');
}

/**
 * The DLQs of the local runtime (`npm start`), in `<RELAY_DATA_DIR>/relay.db`. Safe while the
 * relay runs: both processes open the file with a busy timeout and write in IMMEDIATE
 * transactions, and the relay's workers poll, so redriven messages are picked up within a
 * second.
 */
export class LocalDeadLetterQueues implements DeadLetterQueues {
  readonly description: string;
  readonly #queue: SqliteQueue;
  readonly #state: SqliteStateStore | undefined;
  readonly #sleep: (ms: number) => Promise<unknown>;

  constructor(options: { dataDir: string; sleep?: (ms: number) => Promise<unknown> }) {
    const path = localQueuePath(options.dataDir);
    if (!existsSync(path)) {
      throw new DeadLetterQueueError(
        `no local relay queue at ${path}: start the relay once (npm start) or pass --data-dir (RELAY_DATA_DIR)`,
      );
    }
    this.#queue = new SqliteQueue({ path });
    // Read for the group state only (what is superseded); a relay that never delivered has none.
    const statePath = localStatePath(options.dataDir);
    this.#state = existsSync(statePath) ? new SqliteStateStore(statePath) : undefined;
    this.#sleep = options.sleep ?? sleep;
    this.description = `local queue ${path}`;
  }

  async sinks(): Promise<string[]> {
    const rows = this.#queue.database
      .prepare("SELECT name FROM sq_queues WHERE name LIKE '%-dlq' ORDER BY name")
      .all() as { name: string }[];
    return rows
      .map((row) => row.name.slice(0, -'-dlq'.length))
      .filter((sink) => this.#queue.hasQueue(sinkQueueName(sink)));
  }

  async depth(sink: string): Promise<number> {
    const depth = this.#queue.depth(this.#dlq(sink));
    return depth.visible + depth.inFlight;
  }

  async peek(sink: string, limit: number): Promise<RawDeadLetter[]> {
    return this.#queue.peek(this.#dlq(sink), limit).map((message) => ({
      messageId: message.messageId,
      body: message.body,
      attributes: message.attributes,
      sentTimestamp: message.sentTimestamp,
    }));
  }

  /**
   * Like StartMessageMoveTask: moves the DLQ's messages to the sink's queue as new messages
   * (fresh receive count), `ratePerSecond` at a time with a second between, or all at once.
   */
  async redrive(
    sink: string,
    options: { ratePerSecond?: number; onProgress?: (progress: RedriveProgress) => void } = {},
  ): Promise<RedriveProgress> {
    const dlq = this.#dlq(sink);
    const total = await this.depth(sink);
    let moved = 0;
    for (;;) {
      const batch = this.#queue.moveMessages(dlq, sinkQueueName(sink), {
        ...(options.ratePerSecond ? { maxMessages: options.ratePerSecond } : {}),
      });
      moved += batch;
      const done = batch === 0 || !options.ratePerSecond || moved >= total;
      const progress: RedriveProgress = { moved, total, status: done ? 'completed' : 'running' };
      options.onProgress?.(progress);
      if (done) return progress;
      await this.#sleep(1000);
    }
  }

  async purge(sink: string): Promise<number> {
    return this.#queue.purge(this.#dlq(sink));
  }

  async appliedGroup(destination: string, groupKey: string): Promise<AppliedGroup | undefined> {
    return this.#state ? readAppliedGroup(this.#state, destination, groupKey) : undefined;
  }

  close(): void {
    this.#queue.close();
    this.#state?.close();
  }

  #dlq(sink: string): string {
    const name = deadLetterQueueName(sink);
    if (!this.#queue.hasQueue(name)) {
      throw new DeadLetterQueueError(`sink "${sink}" has no dead-letter queue in ${this.description}`);
    }
    return name;
  }
}

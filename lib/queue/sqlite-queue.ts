/**
 * An embedded emulation of SQS FIFO queues over node:sqlite, for the local runtime (`npm start`)
 * and tests. Many named queues live in one database file. It reproduces the SQS behaviour the
 * production code relies on: per-group ordering, a group blocked while one of its messages is in
 * flight, visibility timeouts, receipt handles that go stale on the next receive, the 5-minute
 * deduplication window, receive counts and a redrive policy to a dead-letter queue.
 *
 * Layout: the table `sq_messages` is the durable record of every message and of its receive
 * state (receive count, in flight until, receipt handle), written in the same transaction as the
 * operation that changes it, keyed by its row id only. The bookkeeping that finds things (which
 * groups are blocked and until when, which group is next, a receipt handle's message, the depths,
 * the dedup window) is an in-memory index per queue (lib/queue/fifo-index.ts), built from the
 * table when the file is opened and rebuilt whenever another connection (the `dlq` CLI) has
 * committed to the file since (`PRAGMA data_version`), or a transaction of ours failed.
 *
 * The dedup window is kept in memory: after a reopen it holds the messages still queued (their
 * sends stay deduplicated), not those deleted before it. Ingest's dedup ids carry the request id
 * and a renewal's the original's message id, so what it would have absorbed is a resend within
 * one process's life; a copy that gets through is still one notification to the group's state.
 *
 * Not emulated: delay seconds, message retention, the 12-hour total in-flight limit, high
 * throughput mode, batch versions of delete/changeVisibility beyond `deleteMany`.
 */
import { randomUUID } from 'node:crypto';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { FifoIndex, type GroupDepth, type IndexedMessage } from './fifo-index.ts';
import type { OutgoingMessage, SendBatchResult } from './types.ts';

export type { GroupDepth };

/** SQS limits that callers can hit. */
export const SQS_LIMITS = {
  maxBatchEntries: 10,
  maxBatchBytes: 1024 * 1024,
  maxAttributes: 10,
  maxIdLength: 128,
  maxVisibilityTimeoutSeconds: 43_200,
} as const;

/** Errors named after the SQS error codes they stand for. */
export class QueueError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'QueueError';
    this.code = code;
  }
}

export interface CreateQueueOptions {
  visibilityTimeoutSeconds: number;
  /** With `deadLetterQueue`: a message received this many times goes to the DLQ on its next receive. */
  maxReceiveCount?: number;
  deadLetterQueue?: string;
  dedupWindowSeconds?: number;
}

export interface ReceiveOptions {
  maxMessages?: number;
  /** Overrides the queue's visibility timeout for this receive. */
  visibilityTimeoutSeconds?: number;
}

export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  groupId: string;
  deduplicationId: string;
  attributes: Record<string, string>;
  /** 1 on the first receive. */
  receiveCount: number;
  /** Epoch ms. */
  sentTimestamp: number;
  /** Epoch ms. */
  firstReceiveTimestamp: number;
  /** Increases with send order within a queue (20 decimal digits, like SQS). */
  sequenceNumber: string;
}

/** A message as `peek` lists it: nothing is received or changed. */
export interface PeekedMessage {
  messageId: string;
  body: string;
  groupId: string;
  deduplicationId: string;
  attributes: Record<string, string>;
  receiveCount: number;
  sentTimestamp: number;
  firstReceiveTimestamp?: number;
  sequenceNumber: string;
  inFlight: boolean;
  /** Epoch ms from which the message is no longer in flight. */
  visibleAt: number;
}

export interface SendResult extends SendBatchResult {
  /** Accepted entries; a deduplicated entry reports the messageId of the message it duplicates. */
  successful: { id: string; messageId: string; sequenceNumber: string; duplicate: boolean }[];
}

export interface QueueDepth {
  /** Not in flight (includes messages of a group that is blocked by an in-flight message). */
  visible: number;
  inFlight: number;
}

export type SqliteQueueOptions = ({ path: string } | { database: DatabaseSync }) & {
  /** Epoch ms; inject to test visibility and dedup expiry. */
  now?: () => number;
};

interface QueueRow {
  name: string;
  visibility_timeout_ms: number;
  max_receive_count: number | null;
  dead_letter_queue: string | null;
  dedup_window_ms: number;
}

interface MessageRow {
  seq: number;
  queue: string;
  message_id: string;
  group_id: string;
  dedup_id: string;
  body: string;
  attributes: string | null;
  sent_at: number;
  first_receive_at: number | null;
  receive_count: number;
  visible_at: number;
  receipt_handle: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sq_queues (
  name TEXT PRIMARY KEY,
  visibility_timeout_ms INTEGER NOT NULL,
  max_receive_count INTEGER,
  dead_letter_queue TEXT,
  dedup_window_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sq_messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  message_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  dedup_id TEXT NOT NULL,
  body TEXT NOT NULL,
  attributes TEXT,
  sent_at INTEGER NOT NULL,
  first_receive_at INTEGER,
  receive_count INTEGER NOT NULL DEFAULT 0,
  visible_at INTEGER NOT NULL,
  receipt_handle TEXT
);
CREATE TABLE IF NOT EXISTS sq_receipts (
  seq INTEGER PRIMARY KEY,
  receive_count INTEGER NOT NULL,
  first_receive_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  receipt_handle TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS sq_messages_gone AFTER DELETE ON sq_messages
BEGIN DELETE FROM sq_receipts WHERE seq = OLD.seq; END;
DROP INDEX IF EXISTS sq_messages_queue_seq;
DROP INDEX IF EXISTS sq_messages_group;
DROP INDEX IF EXISTS sq_messages_group_visible;
DROP INDEX IF EXISTS sq_messages_visible;
DROP INDEX IF EXISTS sq_messages_receipt;
DROP TABLE IF EXISTS sq_dedup;
`;
// sq_messages holds each message as sent, written once; sq_receipts the receive state of each
// message received (small rows, many to a page: a receive rewrites one page for its batch instead
// of every message's). A message without a receipt is visible, received receive_count times.
// The DROPs: a file written before the in-memory index kept five indexes on sq_messages and a
// dedup table; every insert paid for them. Nothing reads them now.

/** A file written before sq_receipts kept the receive state in sq_messages: moved over at open. */
const MOVE_RECEIPTS = `
INSERT OR IGNORE INTO sq_receipts (seq, receive_count, first_receive_at, visible_at, receipt_handle)
  SELECT seq, receive_count, COALESCE(first_receive_at, sent_at), visible_at, receipt_handle
  FROM sq_messages WHERE receipt_handle IS NOT NULL;
UPDATE sq_messages SET receipt_handle = NULL, visible_at = 0 WHERE receipt_handle IS NOT NULL;
`;

/** A message with its receive state, as the columns of MessageRow. */
const MESSAGE_VIEW = `SELECT m.seq, m.queue, m.message_id, m.group_id, m.dedup_id, m.body, m.attributes, m.sent_at,
  COALESCE(r.first_receive_at, m.first_receive_at) AS first_receive_at,
  COALESCE(r.receive_count, m.receive_count) AS receive_count,
  COALESCE(r.visible_at, 0) AS visible_at, r.receipt_handle AS receipt_handle
  FROM sq_messages m LEFT JOIN sq_receipts r ON r.seq = m.seq`;

/** How often (in queue-clock ms) expired dedup entries are dropped. */
const DEDUP_SWEEP_INTERVAL_MS = 60_000;
/**
 * Opens a database file the way the queue wants it: WAL with synchronous=NORMAL survives a
 * kill -9 of the process (only an OS crash can lose the last commits), and busy_timeout lets a
 * second process (the `dlq` CLI) share the file. The rest is speed and changes nothing of
 * what a commit guarantees:
 * - temp_store=MEMORY: statement journals and temporary tables stay in memory.
 * - cache_size of 16 MiB (2 MiB by default): a queue a few thousand messages deep no longer
 *   reads its pages back from disk on every receive and delete.
 * - wal_autocheckpoint of 4,000 pages (1,000 by default): a checkpoint, the one step that
 *   fsyncs, runs a quarter as often; the WAL stays under about 16 MiB. The local runtime moves
 *   checkpoints off its event loop altogether (lib/local/checkpointer.ts).
 */
export function openSqliteDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path, { timeout: 5_000 });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA temp_store = MEMORY');
  db.exec('PRAGMA cache_size = -16384');
  db.exec('PRAGMA wal_autocheckpoint = 4000');
  return db;
}

export function formatSequenceNumber(seq: number): string {
  return String(seq).padStart(20, '0');
}

/** A queue's attributes and its index. */
interface OpenQueue {
  config: QueueRow;
  index: FifoIndex;
  /** Deduplication ids sent within the window: the message they stand for, until when (in send order). */
  dedup: Map<string, { messageId: string; seq: number; expiresAt: number }>;
}

/** The columns the index is built from (no body). */
interface IndexRow {
  seq: number;
  queue: string;
  message_id: string;
  group_id: string;
  dedup_id: string;
  sent_at: number;
  receive_count: number;
  visible_at: number;
  receipt_handle: string | null;
}

export class SqliteQueue {
  readonly database: DatabaseSync;
  readonly now: () => number;
  private readonly ownsDatabase: boolean;
  private nextDedupSweepAt = 0;
  private readonly queues = new Map<string, OpenQueue>();
  /** `PRAGMA data_version` when the index was last in step with the file. */
  private dataVersion = -1;
  /** Set when a transaction of ours failed: the index may hold what was rolled back. */
  private stale = true;
  private readonly stmt: Record<
    | 'dataVersion'
    | 'lastSeq'
    | 'allQueues'
    | 'upsertQueue'
    | 'allMessages'
    | 'insertMessage'
    | 'getBySeq'
    | 'markReceived'
    | 'deleteBySeq'
    | 'setVisibleAt'
    | 'purge',
    StatementSync
  >;

  constructor(options: SqliteQueueOptions) {
    if ('database' in options) {
      this.database = options.database;
      this.ownsDatabase = false;
    } else {
      this.database = openSqliteDatabase(options.path);
      this.ownsDatabase = true;
    }
    this.now = options.now ?? Date.now;
    this.database.exec(SCHEMA);
    this.database.exec('BEGIN IMMEDIATE');
    try {
      this.database.exec(MOVE_RECEIPTS);
      this.database.exec('COMMIT');
    } catch (error) {
      this.database.exec('ROLLBACK');
      throw error;
    }
    const db = this.database;
    this.stmt = {
      dataVersion: db.prepare('PRAGMA data_version'),
      lastSeq: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'sq_messages'"),
      allQueues: db.prepare('SELECT * FROM sq_queues'),
      upsertQueue: db.prepare(
        `INSERT INTO sq_queues (name, visibility_timeout_ms, max_receive_count, dead_letter_queue, dedup_window_ms)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET visibility_timeout_ms = excluded.visibility_timeout_ms,
           max_receive_count = excluded.max_receive_count, dead_letter_queue = excluded.dead_letter_queue,
           dedup_window_ms = excluded.dedup_window_ms`,
      ),
      allMessages: db.prepare(
        `SELECT m.seq, m.queue, m.message_id, m.group_id, m.dedup_id, m.sent_at,
           COALESCE(r.receive_count, m.receive_count) AS receive_count, COALESCE(r.visible_at, 0) AS visible_at,
           r.receipt_handle AS receipt_handle
         FROM sq_messages m LEFT JOIN sq_receipts r ON r.seq = m.seq ORDER BY m.seq`,
      ),
      insertMessage: db.prepare(
        `INSERT INTO sq_messages (queue, message_id, group_id, dedup_id, body, attributes, sent_at, receive_count, visible_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getBySeq: db.prepare(`${MESSAGE_VIEW} WHERE m.seq = ?`),
      markReceived: db.prepare(
        `INSERT INTO sq_receipts (seq, receive_count, first_receive_at, visible_at, receipt_handle)
         VALUES ($seq, $receiveCount, $firstReceiveAt, $visibleAt, $handle)
         ON CONFLICT (seq) DO UPDATE SET receive_count = excluded.receive_count, visible_at = excluded.visible_at,
           receipt_handle = excluded.receipt_handle`,
      ),
      // The trigger sq_messages_gone deletes its receipt.
      deleteBySeq: db.prepare('DELETE FROM sq_messages WHERE seq = ?'),
      setVisibleAt: db.prepare('UPDATE sq_receipts SET visible_at = ? WHERE seq = ?'),
      purge: db.prepare('DELETE FROM sq_messages WHERE queue = ?'),
    };
    this.refresh();
  }

  /** Creates a queue, or updates its attributes when it exists (so a config change applies on restart). */
  createQueue(name: string, options: CreateQueueOptions): void {
    if (!name) throw new QueueError('InvalidParameterValue', 'a queue name must not be empty');
    checkVisibility(options.visibilityTimeoutSeconds);
    const { maxReceiveCount, deadLetterQueue } = options;
    if (maxReceiveCount !== undefined && !(Number.isInteger(maxReceiveCount) && maxReceiveCount >= 1)) {
      throw new QueueError(
        'InvalidParameterValue',
        `maxReceiveCount must be a positive integer: ${maxReceiveCount}`,
      );
    }
    this.transaction(() => {
      if (deadLetterQueue !== undefined && !this.queues.has(deadLetterQueue)) {
        // SQS refuses a redrive policy whose target does not exist.
        throw new QueueError('QueueDoesNotExist', `dead-letter queue ${deadLetterQueue} does not exist`);
      }
      const config: QueueRow = {
        name,
        visibility_timeout_ms: Math.round(options.visibilityTimeoutSeconds * 1000),
        max_receive_count: maxReceiveCount ?? null,
        dead_letter_queue: deadLetterQueue ?? null,
        dedup_window_ms: Math.round((options.dedupWindowSeconds ?? 300) * 1000),
      };
      this.stmt.upsertQueue.run(
        config.name,
        config.visibility_timeout_ms,
        config.max_receive_count,
        config.dead_letter_queue,
        config.dedup_window_ms,
      );
      const open = this.queues.get(name);
      if (open) open.config = config;
      else this.queues.set(name, { config, index: new FifoIndex(), dedup: new Map() });
    });
  }

  hasQueue(name: string): boolean {
    this.refresh();
    return this.queues.has(name);
  }

  /** SendMessageBatch: at most 10 entries and 1 MiB; one transaction. Throws before writing anything, or not at all (short of a storage failure). */
  send(queue: string, entries: OutgoingMessage[]): SendResult {
    if (entries.length > SQS_LIMITS.maxBatchEntries) {
      throw new QueueError(
        'TooManyEntriesInBatchRequest',
        `at most ${SQS_LIMITS.maxBatchEntries} entries per batch, got ${entries.length}`,
      );
    }
    const ids = new Set(entries.map((e) => e.id));
    if (ids.size !== entries.length) {
      throw new QueueError('BatchEntryIdsNotDistinct', 'two entries of the batch have the same id');
    }
    const totalBytes = entries.reduce((sum, e) => sum + messageBytes(e), 0);
    if (totalBytes > SQS_LIMITS.maxBatchBytes) {
      throw new QueueError('BatchRequestTooLong', `the batch is ${totalBytes} bytes, more than 1 MiB`);
    }
    const result: SendResult = { failed: [], successful: [] };
    if (entries.length === 0) return result;
    return this.transaction(() => {
      const open = this.requireQueue(queue);
      const now = this.now();
      this.sweepDedupIfDue(now);
      for (const entry of entries) {
        const invalid = validateEntry(entry);
        if (invalid) {
          result.failed.push({ id: entry.id, reason: invalid });
          continue;
        }
        const seen = open.dedup.get(entry.deduplicationId);
        if (seen && seen.expiresAt > now) {
          result.successful.push({
            id: entry.id,
            messageId: seen.messageId,
            sequenceNumber: formatSequenceNumber(seen.seq),
            duplicate: true,
          });
          continue;
        }
        const messageId = randomUUID();
        const seq = this.insert(open, {
          messageId,
          groupId: entry.groupId,
          deduplicationId: entry.deduplicationId,
          body: entry.body,
          attributes: entry.attributes,
          sentAt: now,
          receiveCount: 0,
        });
        // Deleted first so the map stays in expiry order (the sweep stops at the first live entry).
        open.dedup.delete(entry.deduplicationId);
        open.dedup.set(entry.deduplicationId, {
          messageId,
          seq,
          expiresAt: now + open.config.dedup_window_ms,
        });
        result.successful.push({
          id: entry.id,
          messageId,
          sequenceNumber: formatSequenceNumber(seq),
          duplicate: false,
        });
      }
      return result;
    });
  }

  /**
   * ReceiveMessage on a FIFO queue: groups ordered by their oldest available message, and as
   * many messages of one group as fit before the next group. A message that was already
   * received `maxReceiveCount` times is moved to the dead-letter queue instead.
   */
  receive(queue: string, options: ReceiveOptions = {}): ReceivedMessage[] {
    const maxMessages = options.maxMessages ?? 10;
    if (!(Number.isInteger(maxMessages) && maxMessages >= 1 && maxMessages <= 10)) {
      throw new QueueError('InvalidParameterValue', `maxMessages must be 1..10: ${maxMessages}`);
    }
    if (options.visibilityTimeoutSeconds !== undefined) checkVisibility(options.visibilityTimeoutSeconds);
    return this.transaction(() => {
      const open = this.requireQueue(queue);
      const { config, index } = open;
      const now = this.now();
      const visibilityMs =
        options.visibilityTimeoutSeconds !== undefined
          ? Math.round(options.visibilityTimeoutSeconds * 1000)
          : config.visibility_timeout_ms;
      const deadLetterQueue =
        config.max_receive_count !== null && config.dead_letter_queue !== null
          ? this.queues.get(config.dead_letter_queue)
          : undefined;
      const received: ReceivedMessage[] = [];
      const taken = [];
      try {
        while (received.length < maxMessages) {
          const group = index.takeNextGroup(now);
          if (!group) break;
          taken.push(group);
          // The front of the group: moving one to the DLQ takes it out of `messages`.
          let at = 0;
          while (received.length < maxMessages && at < group.messages.length) {
            const message = group.messages[at];
            if (deadLetterQueue && message.receiveCount >= (config.max_receive_count as number)) {
              this.moveToDeadLetterQueue(open, message, deadLetterQueue);
              continue;
            }
            const handle = randomUUID();
            const row = this.stmt.getBySeq.get(message.seq) as MessageRow | undefined;
            if (!row) throw this.outOfStep(message.seq);
            const firstReceiveAt = row.first_receive_at ?? now;
            this.stmt.markReceived.run({
              seq: message.seq,
              receiveCount: row.receive_count + 1,
              firstReceiveAt,
              visibleAt: now + visibilityMs,
              handle,
            });
            index.received(message, handle, now + visibilityMs);
            received.push({
              ...toMessage(row),
              receiptHandle: handle,
              receiveCount: row.receive_count + 1,
              firstReceiveTimestamp: firstReceiveAt,
            });
            at++;
          }
        }
      } finally {
        for (const group of taken) index.settle(group);
      }
      return received;
    });
  }

  /** DeleteMessage. False when the handle is not the message's latest one (or it is gone). */
  delete(queue: string, receiptHandle: string): boolean {
    return this.deleteMany(queue, [receiptHandle])[0];
  }

  /** DeleteMessageBatch in one transaction; one boolean per handle, as `delete`. */
  deleteMany(queue: string, receiptHandles: string[]): boolean[] {
    return this.transaction(() => {
      const { index } = this.requireQueue(queue);
      return receiptHandles.map((handle) => {
        const message = index.byHandle(handle);
        if (!message) return false;
        this.stmt.deleteBySeq.run(message.seq);
        index.remove(message);
        return true;
      });
    });
  }

  /** ChangeMessageVisibility: `seconds` (0..43200) from now. Throws on a stale handle or a message not in flight. */
  changeVisibility(queue: string, receiptHandle: string, seconds: number): void {
    checkVisibility(seconds);
    this.transaction(() => {
      const { index } = this.requireQueue(queue);
      const now = this.now();
      const message = index.byHandle(receiptHandle);
      if (!message) {
        throw new QueueError(
          'ReceiptHandleIsInvalid',
          'the receipt handle is stale or the message was deleted',
        );
      }
      if (message.visibleAt <= now) {
        throw new QueueError('MessageNotInflight', 'the message is not in flight');
      }
      const visibleAt = now + Math.round(seconds * 1000);
      this.stmt.setVisibleAt.run(visibleAt, message.seq);
      index.setVisibleAt(message, visibleAt, visibleAt > now);
    });
  }

  /**
   * Makes every in-flight message of the queue visible now, keeping receive counts. Not an SQS
   * operation: for a local runtime that holds the only lock on the file, whatever a killed
   * predecessor left in flight is nobody's, so it need not wait out its visibility timeout.
   */
  releaseInFlight(queue: string): number {
    return this.transaction(() => {
      const { index } = this.requireQueue(queue);
      const now = this.now();
      const inFlight = index.inFlightAt(now);
      for (const message of inFlight) {
        this.stmt.setVisibleAt.run(now, message.seq);
        index.setVisibleAt(message, now);
      }
      return inFlight.length;
    });
  }

  /** Epoch ms when `receive` can next return something: now if it can already, undefined if the queue is empty. */
  nextVisibleAt(queue: string): number | undefined {
    this.refresh();
    const { index } = this.requireQueue(queue);
    const now = this.now();
    if (index.hasVisible(now)) return now;
    return index.nextUnblockAt();
  }

  depth(queue: string): QueueDepth {
    this.refresh();
    const { index } = this.requireQueue(queue);
    const inFlight = index.inFlightAt(this.now()).length;
    return { visible: index.size - inFlight, inFlight };
  }

  /**
   * The queue's depths summed per `keyOf(groupId)` (for the local runtime's metrics: per
   * destination, which a group id starts with), read from the in-memory index: messages visible,
   * in flight, delayed (handed back to come again later) and the oldest one's send time. Not an
   * SQS operation (SQS counts per queue only).
   */
  depthsBy(queue: string, keyOf: (groupId: string) => string): Map<string, GroupDepth> {
    this.refresh();
    return this.requireQueue(queue).index.depthsBy(this.now(), keyOf);
  }

  /** Lists messages in send order without receiving or changing them (`dlq list`). */
  peek(queue: string, limit = 10): PeekedMessage[] {
    this.refresh();
    const { index } = this.requireQueue(queue);
    const now = this.now();
    return index.list(limit).map((message) => {
      const row = this.stmt.getBySeq.get(message.seq) as unknown as MessageRow;
      return {
        ...toMessage(row),
        receiveCount: row.receive_count,
        ...(row.first_receive_at !== null ? { firstReceiveTimestamp: row.first_receive_at } : {}),
        inFlight: row.visible_at > now,
        visibleAt: row.visible_at,
      };
    });
  }

  /**
   * Redrive (StartMessageMoveTask): moves messages that are not in flight, in send order, to
   * another queue as new messages (new ids, receive count 0, same group and dedup id). The
   * destination's dedup window is not applied: a redrive must not be swallowed as a duplicate.
   */
  moveMessages(from: string, to: string, options: { maxMessages?: number } = {}): number {
    return this.transaction(() => {
      const source = this.requireQueue(from);
      const target = this.requireQueue(to);
      const now = this.now();
      const movable = source.index.list(options.maxMessages ?? -1, (m) => m.visibleAt <= now);
      for (const message of movable) {
        const row = this.takeRow(source, message);
        this.insert(target, {
          messageId: randomUUID(),
          groupId: row.group_id,
          deduplicationId: row.dedup_id,
          body: row.body,
          attributes: parseAttributes(row.attributes),
          sentAt: now,
          receiveCount: 0,
        });
      }
      return movable.length;
    });
  }

  /**
   * Runs `fn` in one transaction (joining the current one if there is one): several sends
   * commit together, which is most of their cost. A throw rolls all of it back.
   */
  atomically<T>(fn: () => T): T {
    return this.transaction(fn);
  }

  /** Deletes every message of the queue, in flight or not. */
  purge(queue: string): number {
    return this.transaction(() => {
      const { index } = this.requireQueue(queue);
      const purged = Number(this.stmt.purge.run(queue).changes);
      index.clear();
      return purged;
    });
  }

  /** Closes the database if this queue opened it. */
  close(): void {
    if (this.ownsDatabase && this.database.isOpen) this.database.close();
  }

  /**
   * Brings the index in step with the file when another connection has committed to it since
   * (the `dlq` CLI's redrive or purge, a second instance) or a transaction of ours failed: every
   * queue is read again from the table. What the dedup window remembered is kept, except the
   * sends a failed transaction rolled back (their seqs are past the last one the table handed out).
   */
  private refresh(): void {
    const version = Number(Object.values(this.stmt.dataVersion.get() ?? {})[0]);
    if (!this.stale && version === this.dataVersion) return;
    const lastSeq = Number((this.stmt.lastSeq.get() as { seq?: number } | undefined)?.seq ?? 0);
    const previous = this.queues;
    const queues = new Map<string, OpenQueue>();
    for (const config of this.stmt.allQueues.all() as unknown as QueueRow[]) {
      const dedup = previous.get(config.name)?.dedup ?? new Map();
      for (const [id, entry] of dedup) if (entry.seq > lastSeq) dedup.delete(id);
      queues.set(config.name, { config, index: new FifoIndex(), dedup });
    }
    const now = this.now();
    for (const row of this.stmt.allMessages.iterate() as Iterable<IndexRow>) {
      const open = queues.get(row.queue);
      if (!open) continue;
      open.index.add(row.seq, row.group_id, {
        sentAt: row.sent_at,
        visibleAt: row.visible_at,
        receiveCount: row.receive_count,
        ...(row.receipt_handle !== null ? { handle: row.receipt_handle } : {}),
      });
      const expiresAt = row.sent_at + open.config.dedup_window_ms;
      if (expiresAt > now && !open.dedup.has(row.dedup_id)) {
        open.dedup.set(row.dedup_id, { messageId: row.message_id, seq: row.seq, expiresAt });
      }
    }
    this.queues.clear();
    for (const [name, open] of queues) this.queues.set(name, open);
    this.dataVersion = version;
    this.stale = false;
  }

  /** The index disagrees with the table (something wrote to it behind our back): read it again. */
  private outOfStep(seq: number): Error {
    this.stale = true;
    return new Error(`the queue's index is out of step with its table (message ${seq}); it is read again`);
  }

  /** Reads a message's row and deletes it, from the table and the index. */
  private takeRow(open: OpenQueue, message: IndexedMessage): MessageRow {
    const row = this.stmt.getBySeq.get(message.seq) as MessageRow | undefined;
    if (!row) throw this.outOfStep(message.seq);
    this.stmt.deleteBySeq.run(message.seq);
    open.index.remove(message);
    return row;
  }

  private moveToDeadLetterQueue(open: OpenQueue, message: IndexedMessage, deadLetterQueue: OpenQueue): void {
    const row = this.takeRow(open, message);
    // Keeps the receive count and the original send time: both tell the person reading the
    // DLQ how long and how often delivery was tried.
    this.insert(deadLetterQueue, {
      messageId: randomUUID(),
      groupId: row.group_id,
      deduplicationId: row.dedup_id,
      body: row.body,
      attributes: parseAttributes(row.attributes),
      sentAt: row.sent_at,
      receiveCount: row.receive_count,
    });
  }

  private insert(
    open: OpenQueue,
    m: {
      messageId: string;
      groupId: string;
      deduplicationId: string;
      body: string;
      attributes?: Record<string, string>;
      sentAt: number;
      receiveCount: number;
    },
  ): number {
    const attributes =
      m.attributes && Object.keys(m.attributes).length > 0 ? JSON.stringify(m.attributes) : null;
    const info = this.stmt.insertMessage.run(
      open.config.name,
      m.messageId,
      m.groupId,
      m.deduplicationId,
      m.body,
      attributes,
      m.sentAt,
      m.receiveCount,
      // visible_at only needs to be <= now for a fresh message; 0 keeps it so under any clock.
      0,
    );
    const seq = Number(info.lastInsertRowid);
    open.index.add(seq, m.groupId, { sentAt: m.sentAt, visibleAt: 0, receiveCount: m.receiveCount });
    return seq;
  }

  /** Drops expired dedup entries from the front of each queue's window (it is in expiry order). */
  private sweepDedupIfDue(now: number): void {
    if (now < this.nextDedupSweepAt) return;
    for (const { dedup } of this.queues.values()) {
      for (const [id, entry] of dedup) {
        if (entry.expiresAt > now) break;
        dedup.delete(id);
      }
    }
    this.nextDedupSweepAt = now + DEDUP_SWEEP_INTERVAL_MS;
  }

  private requireQueue(name: string): OpenQueue {
    const open = this.queues.get(name);
    if (!open) throw new QueueError('QueueDoesNotExist', `queue ${name} does not exist`);
    return open;
  }

  /**
   * Runs `fn` in a transaction, the index first brought in step with the file (under the write
   * lock, so nobody can commit in between). A failure rolls the table back and marks the index
   * to be read again, so it never keeps what the table lost; a QueueError is thrown before
   * anything is written, so it leaves the index as it is. Joins the current transaction if there
   * is one (`atomically`): whoever began it rolls back, and the index is read again then.
   */
  private transaction<T>(fn: () => T): T {
    if (this.database.isTransaction) {
      try {
        return fn();
      } catch (error) {
        if (!(error instanceof QueueError)) this.stale = true;
        throw error;
      }
    }
    // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read lock.
    this.database.exec('BEGIN IMMEDIATE');
    try {
      this.refresh();
      const result = fn();
      this.database.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.database.isTransaction) this.database.exec('ROLLBACK');
      if (!(error instanceof QueueError)) this.stale = true;
      throw error;
    }
  }
}

function toMessage(row: MessageRow) {
  return {
    messageId: row.message_id,
    body: row.body,
    groupId: row.group_id,
    deduplicationId: row.dedup_id,
    attributes: parseAttributes(row.attributes),
    sentTimestamp: row.sent_at,
    sequenceNumber: formatSequenceNumber(row.seq),
  };
}

function parseAttributes(json: string | null): Record<string, string> {
  return json === null ? {} : (JSON.parse(json) as Record<string, string>);
}

function checkVisibility(seconds: number): void {
  if (!(Number.isFinite(seconds) && seconds >= 0 && seconds <= SQS_LIMITS.maxVisibilityTimeoutSeconds)) {
    throw new QueueError('InvalidParameterValue', `visibility timeout must be 0..43200 seconds: ${seconds}`);
  }
}

/** Size as SQS counts it: the body plus each attribute's name, type and value. */
function messageBytes(entry: OutgoingMessage): number {
  let bytes = Buffer.byteLength(entry.body ?? '');
  for (const [name, value] of Object.entries(entry.attributes ?? {})) {
    bytes += Buffer.byteLength(name) + 'String'.length + Buffer.byteLength(String(value));
  }
  return bytes;
}

// Characters SQS accepts in a message body and in a string attribute's value (XML 1.0
// characters); anything else makes it refuse the entry with InvalidMessageContents. Kept apart
// from the encoder in message.ts on purpose: a regression there must fail here. What is not an
// XML character is a C0 control other than tab, LF and CR, U+FFFE, U+FFFF, or an unpaired
// surrogate (which isWellFormed finds natively): two scans several times faster on a whole
// body than one Unicode-mode class with astral ranges.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are the point
const INVALID_BMP_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const hasInvalidTextChars = (text: string): boolean => !text.isWellFormed() || INVALID_BMP_CHARS.test(text);
const ID_PATTERN = /^[\x21-\x7E]{1,128}$/;
// An attribute name: up to 256 of A-Z a-z 0-9 _ - . ; not starting with AWS. or Amazon. (any
// case), no leading, trailing or doubled period.
const ATTRIBUTE_NAME = /^(?!aws\.|amazon\.)(?!\.)(?!.*\.\.)(?!.*\.$)[A-Za-z0-9_.-]{1,256}$/i;

function validateEntry(entry: OutgoingMessage): string | undefined {
  if (typeof entry.body !== 'string' || entry.body.length === 0) return 'InvalidParameterValue: empty body';
  if (hasInvalidTextChars(entry.body)) return 'InvalidMessageContents: the body has characters SQS refuses';
  if (typeof entry.groupId !== 'string' || !ID_PATTERN.test(entry.groupId)) {
    return 'MissingParameter: MessageGroupId must be 1..128 printable ASCII characters';
  }
  if (typeof entry.deduplicationId !== 'string' || !ID_PATTERN.test(entry.deduplicationId)) {
    return 'InvalidParameterValue: MessageDeduplicationId must be 1..128 printable ASCII characters';
  }
  const attributes = Object.entries(entry.attributes ?? {});
  if (attributes.length > SQS_LIMITS.maxAttributes) {
    return `InvalidParameterValue: at most ${SQS_LIMITS.maxAttributes} message attributes`;
  }
  for (const [name, value] of attributes) {
    if (!ATTRIBUTE_NAME.test(name)) {
      return `InvalidParameterValue: message attribute name ${JSON.stringify(name.slice(0, 64))} is not allowed`;
    }
    if (typeof value !== 'string' || value.length === 0) {
      return `InvalidParameterValue: message attribute ${name} must have a non-empty string value`;
    }
    if (hasInvalidTextChars(value)) {
      return `InvalidMessageContents: message attribute ${name} has characters SQS refuses`;
    }
  }
  return undefined;
}

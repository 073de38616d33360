/**
 * An embedded emulation of SQS FIFO queues over node:sqlite, for the local runtime (`npm start`)
 * and tests. Many named queues live in one database file. It reproduces the SQS behaviour the
 * production code relies on: per-group ordering, a group blocked while one of its messages is in
 * flight, visibility timeouts, receipt handles that go stale on the next receive, the 5-minute
 * deduplication window, receive counts and a redrive policy to a dead-letter queue.
 *
 * Not emulated: delay seconds, message retention, the 12-hour total in-flight limit, high
 * throughput mode, batch versions of delete/changeVisibility beyond `deleteMany`.
 */
import { randomUUID } from 'node:crypto';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { OutgoingMessage, SendBatchResult } from './types.ts';

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
CREATE INDEX IF NOT EXISTS sq_messages_queue_seq ON sq_messages (queue, seq);
CREATE INDEX IF NOT EXISTS sq_messages_group ON sq_messages (queue, group_id, seq);
CREATE INDEX IF NOT EXISTS sq_messages_group_visible ON sq_messages (queue, group_id, visible_at);
CREATE INDEX IF NOT EXISTS sq_messages_visible ON sq_messages (queue, visible_at);
CREATE UNIQUE INDEX IF NOT EXISTS sq_messages_receipt ON sq_messages (receipt_handle);
CREATE TABLE IF NOT EXISTS sq_dedup (
  queue TEXT NOT NULL,
  dedup_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sq_dedup_expires ON sq_dedup (expires_at);
`;

/** How often (in queue-clock ms) expired dedup entries are swept. */
const DEDUP_SWEEP_INTERVAL_MS = 60_000;

/**
 * Opens a database file the way the queue wants it: WAL with synchronous=NORMAL survives a
 * kill -9 of the process (only an OS crash can lose the last commits), and busy_timeout lets a
 * second process (the `dlq` CLI) share the file. The rest is speed and changes nothing of
 * what a commit guarantees:
 * - temp_store=MEMORY: the statement journal of each send's savepoint (lib/queue/local.ts)
 *   stays in memory; on a temp file it was most of the writes of a group commit.
 * - cache_size of 16 MiB (2 MiB by default): a queue a few thousand messages deep no longer
 *   reads its index pages back from disk on every insert.
 * - wal_autocheckpoint of 4,000 pages (1,000 by default): a checkpoint, the one step that
 *   fsyncs, runs a quarter as often; the WAL stays under about 16 MiB.
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

export class SqliteQueue {
  readonly database: DatabaseSync;
  readonly now: () => number;
  private readonly ownsDatabase: boolean;
  private nextDedupSweepAt = 0;
  private readonly stmt: Record<
    | 'getQueue'
    | 'upsertQueue'
    | 'getDedup'
    | 'upsertDedup'
    | 'sweepDedup'
    | 'insertMessage'
    | 'availableGroups'
    | 'groupMessages'
    | 'markReceived'
    | 'deleteBySeq'
    | 'deleteByHandle'
    | 'getByHandle'
    | 'setVisibleAt'
    | 'anyAvailable'
    | 'nextUnblock'
    | 'depth'
    | 'peek'
    | 'movable'
    | 'purge'
    | 'releaseInFlight',
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
    const db = this.database;
    this.stmt = {
      getQueue: db.prepare('SELECT * FROM sq_queues WHERE name = ?'),
      upsertQueue: db.prepare(
        `INSERT INTO sq_queues (name, visibility_timeout_ms, max_receive_count, dead_letter_queue, dedup_window_ms)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET visibility_timeout_ms = excluded.visibility_timeout_ms,
           max_receive_count = excluded.max_receive_count, dead_letter_queue = excluded.dead_letter_queue,
           dedup_window_ms = excluded.dedup_window_ms`,
      ),
      getDedup: db.prepare(
        'SELECT message_id, seq, expires_at FROM sq_dedup WHERE queue = ? AND dedup_id = ?',
      ),
      upsertDedup: db.prepare(
        `INSERT INTO sq_dedup (queue, dedup_id, message_id, seq, expires_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (queue, dedup_id) DO UPDATE SET message_id = excluded.message_id, seq = excluded.seq,
           expires_at = excluded.expires_at`,
      ),
      sweepDedup: db.prepare('DELETE FROM sq_dedup WHERE expires_at <= ?'),
      insertMessage: db.prepare(
        `INSERT INTO sq_messages (queue, message_id, group_id, dedup_id, body, attributes, sent_at, receive_count, visible_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // The first available messages in send order; a group with any message in flight is
      // skipped as a whole, which is what keeps a group strictly ordered.
      // `+m.visible_at` keeps SQLite from picking the visibility index: walking send order and
      // stopping at `limit` is what makes a receive cheap on a deep queue.
      availableGroups: db.prepare(
        `SELECT m.group_id AS group_id FROM sq_messages m
         WHERE m.queue = $queue AND +m.visible_at <= $now
           AND NOT EXISTS (SELECT 1 FROM sq_messages b
                           WHERE b.queue = m.queue AND b.group_id = m.group_id AND b.visible_at > $now)
         ORDER BY m.seq LIMIT $limit`,
      ),
      groupMessages: db.prepare(
        'SELECT * FROM sq_messages WHERE queue = ? AND group_id = ? ORDER BY seq LIMIT ?',
      ),
      markReceived: db.prepare(
        `UPDATE sq_messages SET receive_count = receive_count + 1, first_receive_at = COALESCE(first_receive_at, $now),
           visible_at = $visibleAt, receipt_handle = $handle WHERE seq = $seq`,
      ),
      deleteBySeq: db.prepare('DELETE FROM sq_messages WHERE seq = ?'),
      deleteByHandle: db.prepare('DELETE FROM sq_messages WHERE queue = ? AND receipt_handle = ?'),
      getByHandle: db.prepare(
        'SELECT seq, visible_at FROM sq_messages WHERE queue = ? AND receipt_handle = ?',
      ),
      setVisibleAt: db.prepare('UPDATE sq_messages SET visible_at = ? WHERE seq = ?'),
      anyAvailable: db.prepare(
        `SELECT 1 FROM sq_messages m
         WHERE m.queue = $queue AND +m.visible_at <= $now
           AND NOT EXISTS (SELECT 1 FROM sq_messages b
                           WHERE b.queue = m.queue AND b.group_id = m.group_id AND b.visible_at > $now)
         LIMIT 1`,
      ),
      // A blocked group opens when the last of its in-flight messages becomes visible. Only the
      // (few) in-flight rows are read, however deep the queue.
      nextUnblock: db.prepare(
        `SELECT MIN(t) AS t FROM (SELECT MAX(visible_at) AS t FROM sq_messages INDEXED BY sq_messages_visible
           WHERE queue = ? AND visible_at > ? GROUP BY group_id)`,
      ),
      depth: db.prepare(
        `SELECT COALESCE(SUM(visible_at <= $now), 0) AS visible, COALESCE(SUM(visible_at > $now), 0) AS in_flight
         FROM sq_messages WHERE queue = $queue`,
      ),
      peek: db.prepare('SELECT * FROM sq_messages WHERE queue = ? ORDER BY seq LIMIT ?'),
      movable: db.prepare(
        'SELECT * FROM sq_messages WHERE queue = ? AND visible_at <= ? ORDER BY seq LIMIT ?',
      ),
      purge: db.prepare('DELETE FROM sq_messages WHERE queue = ?'),
      releaseInFlight: db.prepare(
        'UPDATE sq_messages SET visible_at = $now WHERE queue = $queue AND visible_at > $now',
      ),
    };
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
    if (deadLetterQueue !== undefined && this.stmt.getQueue.get(deadLetterQueue) === undefined) {
      // SQS refuses a redrive policy whose target does not exist.
      throw new QueueError('QueueDoesNotExist', `dead-letter queue ${deadLetterQueue} does not exist`);
    }
    const dedupWindowSeconds = options.dedupWindowSeconds ?? 300;
    this.stmt.upsertQueue.run(
      name,
      Math.round(options.visibilityTimeoutSeconds * 1000),
      maxReceiveCount ?? null,
      deadLetterQueue ?? null,
      Math.round(dedupWindowSeconds * 1000),
    );
  }

  hasQueue(name: string): boolean {
    return this.stmt.getQueue.get(name) !== undefined;
  }

  /** SendMessageBatch: at most 10 entries and 1 MiB; one transaction. */
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
      const config = this.requireQueue(queue);
      const now = this.now();
      this.sweepDedupIfDue(now);
      for (const entry of entries) {
        const invalid = validateEntry(entry);
        if (invalid) {
          result.failed.push({ id: entry.id, reason: invalid });
          continue;
        }
        const seen = this.stmt.getDedup.get(queue, entry.deduplicationId) as
          | { message_id: string; seq: number; expires_at: number }
          | undefined;
        if (seen && seen.expires_at > now) {
          result.successful.push({
            id: entry.id,
            messageId: seen.message_id,
            sequenceNumber: formatSequenceNumber(seen.seq),
            duplicate: true,
          });
          continue;
        }
        const messageId = randomUUID();
        const seq = this.insert(queue, {
          messageId,
          groupId: entry.groupId,
          deduplicationId: entry.deduplicationId,
          body: entry.body,
          attributes: entry.attributes,
          sentAt: now,
          receiveCount: 0,
        });
        this.stmt.upsertDedup.run(queue, entry.deduplicationId, messageId, seq, now + config.dedup_window_ms);
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
      const config = this.requireQueue(queue);
      const now = this.now();
      const visibilityMs =
        options.visibilityTimeoutSeconds !== undefined
          ? Math.round(options.visibilityTimeoutSeconds * 1000)
          : config.visibility_timeout_ms;
      const redrive = config.max_receive_count !== null && config.dead_letter_queue !== null;
      const received: ReceivedMessage[] = [];
      // Moving a message to the DLQ can open up more of its group, so look again until the
      // batch is full or a pass moved nothing.
      for (;;) {
        let moved = 0;
        const rows = this.stmt.availableGroups.all({ queue, now, limit: maxMessages - received.length }) as {
          group_id: string;
        }[];
        const groups = [...new Set(rows.map((r) => r.group_id))];
        for (const groupId of groups) {
          if (received.length >= maxMessages) break;
          const messages = this.stmt.groupMessages.all(
            queue,
            groupId,
            maxMessages - received.length,
          ) as unknown as MessageRow[];
          for (const row of messages) {
            if (redrive && row.receive_count >= (config.max_receive_count as number)) {
              this.moveToDeadLetterQueue(row, config.dead_letter_queue as string);
              moved++;
              continue;
            }
            const receiptHandle = randomUUID();
            this.stmt.markReceived.run({
              now,
              visibleAt: now + visibilityMs,
              handle: receiptHandle,
              seq: row.seq,
            });
            received.push({
              ...toMessage(row),
              receiptHandle,
              receiveCount: row.receive_count + 1,
              firstReceiveTimestamp: row.first_receive_at ?? now,
            });
          }
        }
        if (moved === 0 || received.length >= maxMessages) return received;
      }
    });
  }

  /** DeleteMessage. False when the handle is not the message's latest one (or it is gone). */
  delete(queue: string, receiptHandle: string): boolean {
    this.requireQueue(queue);
    return Number(this.stmt.deleteByHandle.run(queue, receiptHandle).changes) > 0;
  }

  /** DeleteMessageBatch in one transaction; one boolean per handle, as `delete`. */
  deleteMany(queue: string, receiptHandles: string[]): boolean[] {
    return this.transaction(() => {
      this.requireQueue(queue);
      return receiptHandles.map((h) => Number(this.stmt.deleteByHandle.run(queue, h).changes) > 0);
    });
  }

  /** ChangeMessageVisibility: `seconds` (0..43200) from now. Throws on a stale handle or a message not in flight. */
  changeVisibility(queue: string, receiptHandle: string, seconds: number): void {
    checkVisibility(seconds);
    this.transaction(() => {
      this.requireQueue(queue);
      const now = this.now();
      const row = this.stmt.getByHandle.get(queue, receiptHandle) as
        | { seq: number; visible_at: number }
        | undefined;
      if (!row) {
        throw new QueueError(
          'ReceiptHandleIsInvalid',
          'the receipt handle is stale or the message was deleted',
        );
      }
      if (row.visible_at <= now) {
        throw new QueueError('MessageNotInflight', 'the message is not in flight');
      }
      this.stmt.setVisibleAt.run(now + Math.round(seconds * 1000), row.seq);
    });
  }

  /**
   * Makes every in-flight message of the queue visible now, keeping receive counts. Not an SQS
   * operation: for a local runtime that holds the only lock on the file, whatever a killed
   * predecessor left in flight is nobody's, so it need not wait out its visibility timeout.
   */
  releaseInFlight(queue: string): number {
    this.requireQueue(queue);
    return Number(this.stmt.releaseInFlight.run({ queue, now: this.now() }).changes);
  }

  /** Epoch ms when `receive` can next return something: now if it can already, undefined if the queue is empty. */
  nextVisibleAt(queue: string): number | undefined {
    this.requireQueue(queue);
    const now = this.now();
    if (this.stmt.anyAvailable.get({ queue, now })) return now;
    const row = this.stmt.nextUnblock.get(queue, now) as { t: number | null };
    return row.t ?? undefined;
  }

  depth(queue: string): QueueDepth {
    this.requireQueue(queue);
    const row = this.stmt.depth.get({ queue, now: this.now() }) as { visible: number; in_flight: number };
    return { visible: row.visible, inFlight: row.in_flight };
  }

  /** Lists messages in send order without receiving or changing them (`dlq list`). */
  peek(queue: string, limit = 10): PeekedMessage[] {
    this.requireQueue(queue);
    const now = this.now();
    return (this.stmt.peek.all(queue, limit) as unknown as MessageRow[]).map((row) => ({
      ...toMessage(row),
      receiveCount: row.receive_count,
      ...(row.first_receive_at !== null ? { firstReceiveTimestamp: row.first_receive_at } : {}),
      inFlight: row.visible_at > now,
      visibleAt: row.visible_at,
    }));
  }

  /**
   * Redrive (StartMessageMoveTask): moves messages that are not in flight, in send order, to
   * another queue as new messages (new ids, receive count 0, same group and dedup id). The
   * destination's dedup window is not applied: a redrive must not be swallowed as a duplicate.
   */
  moveMessages(from: string, to: string, options: { maxMessages?: number } = {}): number {
    return this.transaction(() => {
      this.requireQueue(from);
      this.requireQueue(to);
      const now = this.now();
      const rows = this.stmt.movable.all(from, now, options.maxMessages ?? -1) as unknown as MessageRow[];
      for (const row of rows) {
        this.stmt.deleteBySeq.run(row.seq);
        this.insert(to, {
          messageId: randomUUID(),
          groupId: row.group_id,
          deduplicationId: row.dedup_id,
          body: row.body,
          attributes: parseAttributes(row.attributes),
          sentAt: now,
          receiveCount: 0,
        });
      }
      return rows.length;
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
    this.requireQueue(queue);
    return Number(this.stmt.purge.run(queue).changes);
  }

  /** Closes the database if this queue opened it. */
  close(): void {
    if (this.ownsDatabase && this.database.isOpen) this.database.close();
  }

  private moveToDeadLetterQueue(row: MessageRow, deadLetterQueue: string): void {
    this.stmt.deleteBySeq.run(row.seq);
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
    queue: string,
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
      queue,
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
    return Number(info.lastInsertRowid);
  }

  private sweepDedupIfDue(now: number): void {
    if (now < this.nextDedupSweepAt) return;
    this.stmt.sweepDedup.run(now);
    this.nextDedupSweepAt = now + DEDUP_SWEEP_INTERVAL_MS;
  }

  private requireQueue(name: string): QueueRow {
    const row = this.stmt.getQueue.get(name) as QueueRow | undefined;
    if (!row) throw new QueueError('QueueDoesNotExist', `queue ${name} does not exist`);
    return row;
  }

  private transaction<T>(fn: () => T): T {
    if (this.database.isTransaction) return fn();
    // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read lock.
    this.database.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.database.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.database.isTransaction) this.database.exec('ROLLBACK');
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

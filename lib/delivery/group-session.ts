import type { StateStore } from '../state/store.ts';
import type { AttemptRecord } from './attempts.ts';
import {
  type AppliedGroup,
  type GroupRecord,
  type PendingDelivery,
  pendingId,
  writeGroupRecord,
} from './group-state.ts';
import { memoryJournal } from './journal.ts';
import type { DeliveryGroup, StepJournal } from './sink.ts';

/** Which receive of its queue message a record is. */
export interface ReceiveInfo {
  /** The queue's message id. */
  messageId: string;
  /** ApproximateReceiveCount (1 on the first receive). */
  count: number;
  /** How many times the message was renewed before (a fresh copy of an earlier one). */
  renewals: number;
  /** When the queue first handed this message out (epoch ms). */
  firstReceivedAt: number;
}

/**
 * One delivery's view of its group's record (lib/delivery/group-state.ts GroupRecord), for the
 * record handler: what it judges by, the sink's part and the delivery's journal (DeliveryGroup,
 * handed to the sink), the relay's attempt count and crash marker, and the one write that
 * records how the delivery ended. Nothing is written while the delivery runs, except the crash
 * marker before its first vendor call (`beforeCall`) when the message was received before:
 *
 * - delivered: the applied notification and the sink's part, this delivery's pending entry gone;
 * - a failed attempt, a wait, a return for lack of time after progress: the pending entry (the
 *   count, the journal's steps), only when there is something to keep;
 * - dead-lettered: the count cleared (a redrive starts afresh), the journal's steps kept.
 *
 * A record that finds the marker of an attempt that began and never ended (the function crashed
 * or timed out in it) counts that attempt as failed (`crashed`). The first receive of a message
 * writes no marker, so that the common case stays one write: a crash there is caught one receive
 * later, when the marker of the second attempt is found.
 */
export class GroupSession implements DeliveryGroup {
  readonly kept: object | undefined;
  readonly legacy: boolean;
  readonly journal: StepJournal;
  readonly since: number;
  /** The attempt that began and never ended, found on this receive (counted by countCrash). */
  readonly crashed: number | undefined;

  readonly #state: Pick<StateStore, 'put'>;
  readonly #destination: string;
  readonly #groupKey: string;
  readonly #now: () => number;
  readonly #onWrite: (record: GroupRecord) => void;
  readonly #id: string;
  readonly #receivedAt: string;
  readonly #by: string;
  readonly #fresh: boolean;
  readonly #steps: Record<string, object>;
  #record: GroupRecord | undefined;
  #failures: number;
  #firstFailureAt: string | undefined;
  /** Something of this delivery's pending entry differs from what is stored. */
  #changed = false;
  #marker: Promise<void> | undefined;
  #sink: { value: object; ttlSeconds?: number } | undefined;
  #unsure: boolean;

  constructor(options: {
    state: Pick<StateStore, 'put'>;
    destination: string;
    groupKey: string;
    message: { idempotencyKey: string; receivedAt: string };
    record: GroupRecord | undefined;
    receive: ReceiveInfo;
    now: () => number;
    /** Told of every record written (the handler's cache for later records of the batch). */
    onWrite?: (record: GroupRecord) => void;
  }) {
    const { record, receive, message } = options;
    this.#state = options.state;
    this.#destination = options.destination;
    this.#groupKey = options.groupKey;
    this.#now = options.now;
    this.#onWrite = options.onWrite ?? (() => undefined);
    this.#id = pendingId(message);
    this.#receivedAt = message.receivedAt;
    this.#by = `${receive.messageId}:${receive.count}`;
    this.#record = record;
    this.#fresh = receive.count <= 1 && receive.renewals === 0;
    const pending = record?.pending?.[this.#id];
    const ended = pending?.started === undefined;
    // A first receive that finds an entry is a redrive (the DLQ's copy starts at receive 1): its
    // count starts afresh, and an attempt left unfinished before it is not counted again.
    this.crashed = !ended && !this.#fresh ? pending?.started : undefined;
    if (this.#fresh && pending && (pending.failures || !ended)) this.#changed = true;
    this.#failures = this.#fresh ? 0 : (pending?.failures ?? 0);
    this.#firstFailureAt = this.#fresh ? undefined : pending?.firstFailureAt;
    // Steps are replaced when recorded, never changed in place: a copy of the map will do.
    this.#steps = { ...pending?.steps };
    this.journal = memoryJournal(this.#steps, () => {
      this.#changed = true;
    });
    this.kept = record?.v === 2 ? record.sink : undefined;
    this.legacy = record !== undefined && record.v === undefined;
    // The previous receive of this very message wrote what it did: nothing went out unrecorded.
    const previous = `${receive.messageId}:${receive.count - 1}`;
    const told = pending?.by === previous && ended && pending?.unsureSince === undefined;
    this.#unsure = (!this.#fresh && !told) || !ended || pending?.unsureSince !== undefined;
    // Unrecorded calls came after the last write of the entry, or after the message was first
    // received (a renewed copy's original was received before it: its acceptance, then).
    this.since =
      pending?.unsureSince ??
      pending?.at ??
      (receive.renewals > 0 ? Date.parse(message.receivedAt) : receive.firstReceivedAt);
  }

  get unsure(): boolean {
    return this.#unsure;
  }

  settle(): void {
    if (!this.#unsure) return;
    this.#unsure = false;
    // A stored unsureSince must go, for the next receive to be sure too.
    if (this.#record?.pending?.[this.#id]?.unsureSince !== undefined) this.#changed = true;
  }

  /** The relay's count of failed attempts of this message, and when the first one failed. */
  get attempts(): AttemptRecord | undefined {
    return this.#failures > 0
      ? {
          failures: this.#failures,
          firstFailureAt: this.#firstFailureAt ?? new Date(this.#now()).toISOString(),
        }
      : undefined;
  }

  /** The attempt this delivery makes: failed attempts so far, plus one. */
  get attempt(): number {
    return this.#failures + 1;
  }

  async keep(value: object, options: { ttlSeconds?: number } = {}): Promise<void> {
    this.#sink = { value: structuredClone(value), ...options };
  }

  /** Counts the attempt that crashed (`crashed`) as failed; resolves with the new count. */
  countCrash(at: string): AttemptRecord {
    const began = this.#record?.pending?.[this.#id]?.at;
    return this.countFailure(began === undefined ? at : new Date(began).toISOString());
  }

  /** Counts a failed attempt, in memory (written by save or deadLettered). */
  countFailure(at: string): AttemptRecord {
    this.#failures++;
    this.#firstFailureAt ??= at;
    this.#changed = true;
    return this.attempts as AttemptRecord;
  }

  /**
   * Before a vendor call: on a message received before, the crash marker of this attempt (its
   * pending entry, with `started`) is written once, before the first call.
   */
  beforeCall(): Promise<void> {
    if (this.#fresh && this.#record?.pending?.[this.#id] === undefined) return Promise.resolve();
    this.#marker ??= this.#writePending({ started: this.attempt }).then(() => {
      // Stored with `started`: the attempt's end must be written, whatever it is.
      this.#changed = true;
    });
    return this.#marker;
  }

  /** Writes what this delivery leaves for its next receive (its count, its journal), if anything changed. */
  async save(): Promise<void> {
    if (!this.#changed) return;
    await this.#writePending({});
  }

  /** Dead-lettered: the count is cleared (a redrive starts afresh), the journal's steps kept. */
  async deadLettered(): Promise<void> {
    if (this.#failures > 0) this.#changed = true;
    this.#failures = 0;
    this.#firstFailureAt = undefined;
    await this.save();
  }

  /** Skipped (a duplicate, or superseded): `applied` is the group's new state, if it changed. */
  async skipped(applied?: AppliedGroup): Promise<void> {
    const hadEntry = this.#record?.pending?.[this.#id] !== undefined;
    if (!applied && !hadEntry) return;
    await this.#write({ ...this.#record, ...(applied ?? {}), pending: this.#othersPending() }, false);
  }

  /** Delivered: the group's new applied notification (undefined: unchanged) and the sink's part, written at once. */
  async succeeded(applied?: AppliedGroup): Promise<void> {
    const hadEntry = this.#record?.pending?.[this.#id] !== undefined;
    if (!applied && !this.#sink && !hadEntry && !this.#marker) return;
    const next: GroupRecord = { ...this.#record, ...(applied ?? {}), pending: this.#othersPending() };
    // A newly applied notification replaces the last one whole: no duplicate of it confirmed it yet.
    if (applied && applied.confirmedAt === undefined) delete next.confirmedAt;
    if (this.#sink) {
      next.sink = this.#sink.value;
      if (this.#sink.ttlSeconds !== undefined) next.sinkTtlSeconds = this.#sink.ttlSeconds;
    }
    await this.#write(next, true);
  }

  #othersPending(): Record<string, PendingDelivery> | undefined {
    const { [this.#id]: _mine, ...others } = this.#record?.pending ?? {};
    return Object.keys(others).length > 0 ? others : undefined;
  }

  async #writePending(extra: Partial<PendingDelivery>): Promise<void> {
    const entry: PendingDelivery = {
      receivedAt: this.#receivedAt,
      ...(this.#failures > 0 ? { failures: this.#failures, firstFailureAt: this.#firstFailureAt } : {}),
      ...(Object.keys(this.#steps).length > 0 ? { steps: { ...this.#steps } } : {}),
      by: this.#by,
      at: this.#now(),
      ...(this.unsure ? { unsureSince: this.since } : {}),
      ...extra,
    };
    const pending = { ...this.#othersPending() };
    // Nothing left to keep (a dead letter without steps): the entry goes.
    if (entry.failures !== undefined || entry.steps !== undefined || entry.started !== undefined)
      pending[this.#id] = entry;
    await this.#write(
      { ...this.#record, pending: Object.keys(pending).length > 0 ? pending : undefined },
      false,
    );
    this.#changed = false;
  }

  /**
   * `delivered`: the sink had its chance to carry its part over from an older relay's keys, so the
   * record is this relay's from now on; until then an older relay's record stays marked as such.
   */
  async #write(record: GroupRecord, delivered: boolean): Promise<void> {
    const next: GroupRecord = { ...record };
    if (delivered || !this.legacy) next.v = 2;
    else delete next.v;
    if (next.pending === undefined) delete next.pending;
    await writeGroupRecord(this.#state, this.#destination, this.#groupKey, next, this.#now());
    this.#record = next;
    this.#onWrite(next);
  }
}

/**
 * The in-memory index of one FIFO queue of the embedded queue (lib/queue/sqlite-queue.ts): which
 * messages it holds in send order, each message group's messages, which groups are blocked by a
 * message in flight and until when, which group is next, and the receipt handles. SQLite holds
 * the messages; this index is what a receive, a delete or a depth reads, so none of them has to
 * search the table. It is rebuilt from the table when the queue is opened.
 */

/** One message as the index knows it (the body and the rest stay in the table). */
export interface IndexedMessage {
  /** The table's row id: send order within the database. */
  readonly seq: number;
  readonly group: IndexedGroup;
  /** Epoch ms when it was sent to this queue (a message moved to a DLQ keeps its first queue's). */
  readonly sentAt: number;
  /** Epoch ms from which the message is no longer in flight (0 for a message never received). */
  visibleAt: number;
  /**
   * Its visibility was changed to a later time after its receive (handed back to come again
   * later: a retry's backoff, a wait), as opposed to in flight with its receive's timeout. Not
   * kept in the table: after the index is rebuilt, such a message counts as in flight until its
   * next receive.
   */
  delayed: boolean;
  receiveCount: number;
  /** The latest receipt handle; undefined for a message never received. */
  handle?: string;
}

/** How many messages of some message groups are where, at one time (`FifoIndex.depthsBy`). */
export interface GroupDepth {
  /** Not in flight (including messages behind an in-flight or delayed group-mate). */
  visible: number;
  /** Received and still within their receive's visibility timeout. */
  inFlight: number;
  /** Received, then handed back with a visibility still in the future. */
  delayed: number;
  /** Epoch ms when the oldest of them was sent; undefined when there is none. */
  oldestSentAt?: number;
}

/** A message group and the messages of it the queue holds, in send order. */
export interface IndexedGroup {
  readonly id: string;
  /** In send order. The messages ever received are always a prefix (a receive takes from the front). */
  readonly messages: IndexedMessage[];
  /** Epoch ms until which a message of the group is in flight (the group is blocked); 0 when none ever was. */
  unblockAt: number;
  /** Bumped on every change of the group's place, so older heap entries are known stale. */
  version: number;
  /** Taken out by takeNextGroup: in no heap until `settle`. */
  taken: boolean;
}

interface HeapEntry {
  key: number;
  group: IndexedGroup;
  version: number;
}

/** A binary min-heap of groups; an entry whose version is not its group's current one is stale. */
class GroupHeap {
  private readonly entries: HeapEntry[] = [];

  get size(): number {
    return this.entries.length;
  }

  push(entry: HeapEntry): void {
    const a = this.entries;
    a.push(entry);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent].key <= entry.key) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = entry;
  }

  /** The smallest live entry (stale ones on top are dropped), left in the heap. */
  peek(live: (entry: HeapEntry) => boolean): HeapEntry | undefined {
    while (this.entries.length > 0) {
      const top = this.entries[0];
      if (live(top)) return top;
      this.pop();
    }
    return undefined;
  }

  pop(): HeapEntry | undefined {
    const a = this.entries;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= a.length) break;
        const right = left + 1;
        const child = right < a.length && a[right].key < a[left].key ? right : left;
        if (a[child].key >= last.key) break;
        a[i] = a[child];
        i = child;
      }
      a[i] = last;
    }
    return top;
  }

  clear(): void {
    this.entries.length = 0;
  }
}

/**
 * The index of one queue. The caller (SqliteQueue) writes every change to the table in the same
 * transaction as it makes it here; on a failed transaction it rebuilds the index from the table.
 */
export class FifoIndex {
  /** Every message, in send order (a Map iterates in insertion order, and seq only grows). */
  private readonly messages = new Map<number, IndexedMessage>();
  private readonly groups = new Map<string, IndexedGroup>();
  /** Groups with a message that can be received now or later, by the seq of their oldest message. */
  private readonly open = new GroupHeap();
  /** Groups blocked by a message in flight, by the time the last one becomes visible. */
  private readonly blocked = new GroupHeap();
  /** Messages received and not deleted, by their latest receipt handle. */
  private readonly handles = new Map<string, IndexedMessage>();

  get size(): number {
    return this.messages.size;
  }

  /** Appends a message (seq above every seq already indexed, except while loading in seq order). */
  add(
    seq: number,
    groupId: string,
    state: { sentAt: number; visibleAt: number; receiveCount: number; handle?: string },
  ): IndexedMessage {
    let group = this.groups.get(groupId);
    const created = group === undefined;
    if (!group) {
      group = { id: groupId, messages: [], unblockAt: 0, version: 0, taken: false };
      this.groups.set(groupId, group);
    }
    const message: IndexedMessage = {
      seq,
      group,
      sentAt: state.sentAt,
      visibleAt: state.visibleAt,
      delayed: false,
      receiveCount: state.receiveCount,
      ...(state.handle !== undefined ? { handle: state.handle } : {}),
    };
    this.messages.set(seq, message);
    group.messages.push(message);
    if (message.handle !== undefined) {
      this.handles.set(message.handle, message);
      group.unblockAt = Math.max(group.unblockAt, message.visibleAt);
    }
    // A group that already holds messages keeps its place: its oldest message did not change.
    if (created) this.place(group);
    else if (message.handle !== undefined) this.place(group);
    return message;
  }

  get(seq: number): IndexedMessage | undefined {
    return this.messages.get(seq);
  }

  byHandle(handle: string): IndexedMessage | undefined {
    return this.handles.get(handle);
  }

  /** Removes a message (deleted, or moved to another queue) and replaces its group. */
  remove(message: IndexedMessage): void {
    if (this.messages.get(message.seq) !== message) return;
    this.messages.delete(message.seq);
    if (message.handle !== undefined) this.handles.delete(message.handle);
    const { group } = message;
    const at = group.messages.indexOf(message);
    if (at >= 0) group.messages.splice(at, 1);
    this.recompute(group);
  }

  /** Marks a message received with a new handle, in flight until `visibleAt`. Call `settle` on its group after. */
  received(message: IndexedMessage, handle: string, visibleAt: number): void {
    if (message.handle !== undefined) this.handles.delete(message.handle);
    message.handle = handle;
    message.visibleAt = visibleAt;
    message.delayed = false;
    message.receiveCount++;
    this.handles.set(handle, message);
  }

  /**
   * Changes when an in-flight message becomes visible, and replaces its group. `delayed`: it was
   * handed back to come again at `visibleAt` (ChangeMessageVisibility), not released.
   */
  setVisibleAt(message: IndexedMessage, visibleAt: number, delayed = false): void {
    message.visibleAt = visibleAt;
    message.delayed = delayed;
    this.recompute(message.group);
  }

  /**
   * The group whose oldest message is the oldest of every group not blocked at `now`, taken out
   * of the index's order (so a receive cannot take it twice) until `settle` puts it back.
   */
  takeNextGroup(now: number): IndexedGroup | undefined {
    this.unblock(now);
    const live = (entry: HeapEntry) =>
      entry.version === entry.group.version && this.groups.get(entry.group.id) === entry.group;
    const top = this.open.peek(live);
    if (!top) return undefined;
    this.open.pop();
    top.group.version++;
    top.group.taken = true;
    return top.group;
  }

  /** Whether a receive at `now` would find a message. */
  hasVisible(now: number): boolean {
    this.unblock(now);
    return (
      this.open.peek(
        (entry) => entry.version === entry.group.version && this.groups.get(entry.group.id) === entry.group,
      ) !== undefined
    );
  }

  /** Epoch ms when the first blocked group opens; undefined when none is blocked. */
  nextUnblockAt(): number | undefined {
    return this.blocked.peek(
      (entry) => entry.version === entry.group.version && this.groups.get(entry.group.id) === entry.group,
    )?.key;
  }

  /** Puts a group taken by takeNextGroup back in order, after its messages were received. */
  settle(group: IndexedGroup): void {
    group.taken = false;
    this.recompute(group);
  }

  /** Messages in flight at `now` (their visibility timeout not yet over). */
  inFlightAt(now: number): IndexedMessage[] {
    const inFlight: IndexedMessage[] = [];
    for (const message of this.handles.values()) if (message.visibleAt > now) inFlight.push(message);
    return inFlight;
  }

  /**
   * The depths of the queue's message groups at `now`, summed per `keyOf(groupId)` (say, the
   * destination a group id starts with): a walk over the groups and their received messages (a
   * prefix of each group), not over every message.
   */
  depthsBy(now: number, keyOf: (groupId: string) => string): Map<string, GroupDepth> {
    const depths = new Map<string, GroupDepth>();
    for (const group of this.groups.values()) {
      const key = keyOf(group.id);
      let depth = depths.get(key);
      if (!depth) {
        depth = { visible: 0, inFlight: 0, delayed: 0 };
        depths.set(key, depth);
      }
      let hidden = 0;
      for (const message of group.messages) {
        if (message.handle === undefined) break;
        if (message.visibleAt <= now) continue;
        hidden++;
        if (message.delayed) depth.delayed++;
        else depth.inFlight++;
      }
      depth.visible += group.messages.length - hidden;
      const oldest = group.messages[0]?.sentAt;
      if (oldest !== undefined && (depth.oldestSentAt === undefined || oldest < depth.oldestSentAt))
        depth.oldestSentAt = oldest;
    }
    return depths;
  }

  /** Messages in send order, at most `limit` (all with a negative limit), those `where` accepts. */
  list(limit: number, where: (message: IndexedMessage) => boolean = () => true): IndexedMessage[] {
    const out: IndexedMessage[] = [];
    if (limit === 0) return out;
    for (const message of this.messages.values()) {
      if (!where(message)) continue;
      out.push(message);
      if (out.length === limit) break;
    }
    return out;
  }

  clear(): void {
    this.messages.clear();
    this.groups.clear();
    this.handles.clear();
    this.open.clear();
    this.blocked.clear();
  }

  /**
   * Recomputes a group's block from its received messages (a prefix) and puts it back in order:
   * among the blocked groups while one of them was received (until the last is visible again),
   * else among the open ones, or out of the index when it holds no message.
   */
  private recompute(group: IndexedGroup): void {
    let unblockAt = 0;
    for (const message of group.messages) {
      if (message.handle === undefined) break;
      if (message.visibleAt > unblockAt) unblockAt = message.visibleAt;
    }
    group.unblockAt = unblockAt;
    this.place(group);
  }

  private place(group: IndexedGroup): void {
    group.version++;
    if (group.messages.length === 0) {
      if (this.groups.get(group.id) === group) this.groups.delete(group.id);
      return;
    }
    if (group.taken) return;
    // A blocked group goes among the blocked ones even when its time is already over: `unblock`
    // moves it among the open ones on the next look, with the clock of that look.
    if (group.unblockAt > 0) this.blocked.push({ key: group.unblockAt, group, version: group.version });
    else this.open.push({ key: group.messages[0].seq, group, version: group.version });
    this.compact();
  }

  /** Moves every blocked group whose last in-flight message is visible at `now` among the open ones. */
  private unblock(now: number): void {
    for (;;) {
      const top = this.blocked.peek(
        (entry) => entry.version === entry.group.version && this.groups.get(entry.group.id) === entry.group,
      );
      if (!top || top.key > now) return;
      this.blocked.pop();
      const { group } = top;
      group.version++;
      this.open.push({ key: group.messages[0].seq, group, version: group.version });
    }
  }

  /**
   * Stale entries leave a heap when they reach its top; a heap far larger than the groups it can
   * hold is rebuilt, so a long-lived queue's heaps stay in proportion to its groups.
   */
  private compact(): void {
    if (this.open.size + this.blocked.size <= 2 * this.groups.size + 1024) return;
    this.open.clear();
    this.blocked.clear();
    for (const group of this.groups.values()) {
      group.version++;
      if (group.taken) continue;
      if (group.unblockAt > 0) this.blocked.push({ key: group.unblockAt, group, version: group.version });
      else this.open.push({ key: group.messages[0].seq, group, version: group.version });
    }
  }
}

import { gunzipSync, gzipSync } from 'node:zlib';
import { assertTimeForCall } from '../../delivery/deadline.ts';
import type { StepJournal } from '../../delivery/journal.ts';
import type { DeliveryShare } from '../../delivery/sink.ts';
import { updateVersioned, type VersionedStateStore } from '../../state/store.ts';
import { SHARDS, shardEntries } from './tally.ts';

/**
 * `storm.afterwards: backfill`: once a storm is calm, every group that was folded into its digest
 * and still fires gets its own message, at the channel's normal pace.
 *
 * While the storm lasts, a delivery that folds its group KEEPS its share (notification, key, part, acceptance time) (the group's
 * latest; an older one never replaces a newer). The delivery that ends the storm then puts the
 * kept share of every group still firing back on the sink's own queue (DeliveryPipeline.backfill)
 * as a backfill message: the same notification and acceptance time under a key of its own, in the
 * group's message group. From there it is an ordinary delivery: the sink's pacing spaces the
 * posts, retries and the DLQ apply, and the group's state orders it with the group's own
 * notifications: one that came after it was accepted supersedes it (the group already got its
 * message from that one), and a later one finds the message the backfill posted and edits it.
 *
 * The kept message is gzipped (a few KB for most groups: one DynamoDB write) and split over
 * several items when it would pass DynamoDB's 400 KB item limit (a queue message may be 1 MiB).
 * The requeue goes shard by shard, ten groups per step of the ending delivery's journal, so a
 * retry or a return for lack of time carries on where it stopped, and the queue's
 * deduplication id (the backfill key) absorbs a step sent twice.
 */

/** Base64 characters per item: DynamoDB's item limit is 400 KB, key and attributes included. */
const CHUNK_CHARS = 300_000;
/** Groups read and requeued per journal step. */
const GROUPS_PER_STEP = 10;

interface KeptMessage {
  /** receivedAt (epoch ms) of the kept message. */
  rcv: number;
  /** gzip, base64: the message's body, when it fits one item. */
  data?: string;
  /** Otherwise how many chunk items (`<key>#<rcv>#<i>`) hold it. */
  chunks?: number;
}

interface ShardProgress {
  /** Groups of the shard's still-firing list done with. */
  offset: number;
  /** Groups of the shard requeued. */
  requeued: number;
  done?: boolean;
}

export class BackfillKeeper {
  readonly #store: VersionedStateStore;
  readonly #prefix: string;
  readonly #shardPrefix: string;
  readonly #ttlSeconds: number;

  /** `shardPrefix`: the storm tally's (lib/chat/storm/storm.ts StormLedger). */
  constructor(store: VersionedStateStore, destination: string, shardPrefix: string, ttlSeconds: number) {
    this.#store = store;
    this.#prefix = `stormkeep#${destination}`;
    this.#shardPrefix = shardPrefix;
    this.#ttlSeconds = ttlSeconds;
  }

  #key(stormId: string, groupId: string, part: number): string {
    return `${this.#prefix}#${stormId}#${groupId}#${part}`;
  }

  /** Keeps `message` (one part of the group's notification) as the group's latest in storm `stormId`. */
  async keep(stormId: string, groupId: string, message: DeliveryShare): Promise<void> {
    const key = this.#key(stormId, groupId, message.part.index);
    const rcv = Date.parse(message.receivedAt);
    const share: DeliveryShare = {
      notification: message.notification,
      idempotencyKey: message.idempotencyKey,
      part: message.part,
      receivedAt: message.receivedAt,
    };
    const data = gzipSync(JSON.stringify(share)).toString('base64');
    const ttlSeconds = this.#ttlSeconds;
    let kept: KeptMessage = { rcv, data };
    if (data.length > CHUNK_CHARS) {
      const chunks = Math.ceil(data.length / CHUNK_CHARS);
      for (let i = 0; i < chunks; i++) {
        const chunk = data.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
        await this.#store.put(`${key}#${rcv}#${i}`, { data: chunk }, { ttlSeconds });
      }
      kept = { rcv, chunks };
    }
    await updateVersioned<KeptMessage>(
      this.#store,
      key,
      (current) => (current && current.rcv > rcv ? undefined : kept),
      { ttlSeconds },
    );
  }

  /** The kept part `part` of the group's notification accepted at `rcv` (epoch ms), if that is what is kept. */
  async read(
    stormId: string,
    groupId: string,
    part: number,
    rcv: number,
  ): Promise<DeliveryShare | undefined> {
    const key = this.#key(stormId, groupId, part);
    const kept = await this.#store.get<KeptMessage>(key);
    if (!kept || kept.rcv !== rcv) return undefined;
    let data = kept.data;
    if (data === undefined) {
      const chunks = await Promise.all(
        Array.from({ length: kept.chunks ?? 0 }, (_, i) =>
          this.#store.get<{ data: string }>(`${key}#${rcv}#${i}`),
        ),
      );
      if (chunks.some((chunk) => chunk === undefined)) return undefined;
      data = chunks.map((chunk) => chunk?.data).join('');
    }
    return parseShare(gunzipSync(Buffer.from(data, 'base64')).toString('utf8'));
  }

  /**
   * Requeues the kept message of every group of storm `stormId` that still fires, as backfill
   * messages. Resumable through `journal`; resolves with how many groups were requeued, and
   * reports each step's new ones to `onRequeued` once.
   */
  async requeueStillFiring(run: {
    stormId: string;
    journal: StepJournal;
    requeue: (shares: readonly DeliveryShare[], stormId: string) => Promise<void>;
    onRequeued?: (groups: number) => void;
  }): Promise<number> {
    const { stormId, journal } = run;
    let total = 0;
    for (let shard = 0; shard < SHARDS; shard++) {
      const step = `backfill-${shard}`;
      const progress = (await journal.get<ShardProgress>(step)) ?? { offset: 0, requeued: 0 };
      if (progress.done) {
        total += progress.requeued;
        continue;
      }
      const firing = (await shardEntries(this.#store, this.#shardPrefix, stormId, shard))
        .filter(([, entry]) => entry.status === 'firing')
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      let { offset, requeued } = progress;
      while (offset < firing.length) {
        assertTimeForCall('the storm backfill');
        const groups = firing.slice(offset, offset + GROUPS_PER_STEP);
        const kept = await Promise.all(
          groups.map(async ([groupId, entry]) => {
            const parts = await Promise.all(
              Object.keys(entry.parts).map((part) => this.read(stormId, groupId, Number(part), entry.rcv)),
            );
            // Nothing kept at the entry's time: the group's latest went to its own message.
            return parts.filter((share): share is DeliveryShare => share !== undefined);
          }),
        );
        const shares = kept.flat();
        if (shares.length > 0) await run.requeue(shares, stormId);
        const sent = kept.filter((parts) => parts.length > 0).length;
        offset += groups.length;
        requeued += sent;
        await journal.record(step, { offset, requeued } satisfies ShardProgress);
        if (sent > 0) run.onRequeued?.(sent);
      }
      await journal.record(step, { offset, requeued, done: true } satisfies ShardProgress);
      total += requeued;
    }
    return total;
  }
}

/** A kept share read back; what a storm kept before this format (a whole queue message) reads the same. */
function parseShare(text: string): DeliveryShare {
  const value = JSON.parse(text) as Partial<DeliveryShare> | null;
  const part = value?.part;
  if (
    !value ||
    typeof value.idempotencyKey !== 'string' ||
    typeof value.receivedAt !== 'string' ||
    typeof part?.index !== 'number' ||
    typeof part.count !== 'number' ||
    typeof value.notification !== 'object' ||
    value.notification === null ||
    !Array.isArray(value.notification.alerts)
  )
    throw new Error('a kept storm share is malformed');
  return {
    notification: value.notification,
    idempotencyKey: value.idempotencyKey,
    part: { index: part.index, count: part.count },
    receivedAt: value.receivedAt,
  };
}

import { labelValues } from '../../alertmanager/labels.ts';
import { generatorUrl } from '../../alertmanager/links.ts';
import type { Notification } from '../../alertmanager/types.ts';
import { updateVersioned, type VersionedStateStore } from '../../state/store.ts';

/**
 * What each group folded into a storm contributes to its digest, and the digest's totals.
 *
 * A group's contribution is its current state (Alertmanager sends a group's every alert each
 * time), so folding a notification SETS the group's entry instead of adding to counts: a
 * retry after a crash sets the same entry again, and nothing is counted twice or lost. The
 * entries live in SHARDS records (by the group's hash), each written by compare-and-set, so
 * concurrent deliveries of different groups neither lose each other's writes nor all contend
 * for one item, and no item nears DynamoDB's 400 KB for a storm of thousands of groups.
 */

export const SHARDS = 16;

/** Count of alerts per (alertname, severity): [alertname, severity, firing, resolved]. */
export type TallyRow = [alertname: string, severity: string, firing: number, resolved: number];

/** One group's share of the digest. */
export interface GroupEntry {
  /** receivedAt (epoch ms) of the notification the parts come from: older parts are dropped. */
  rcv: number;
  /** Rows per part of a split notification (1 when whole). */
  parts: Record<string, TallyRow[]>;
  /** `alertname` and what tells the group apart (its group labels), alert content. */
  title: string;
  /** The first firing alert's generatorURL, or the first alert's (unchecked: checked when rendered). */
  link?: string;
  status: 'firing' | 'resolved';
  /** When the group was first folded (epoch ms): the digest lists the newest. */
  at: number;
}

interface Shard {
  groups: Record<string, GroupEntry>;
}

const key = (prefix: string, stormId: string, shard: number) => `${prefix}#${stormId}#${shard}`;

function shardOf(groupId: string): number {
  return Number.parseInt(groupId.slice(0, 6), 16) % SHARDS;
}

/** The rows of a notification: its alerts counted by alertname and severity. */
export function tallyRows(notification: Notification): TallyRow[] {
  const rows = new Map<string, TallyRow>();
  for (const alert of notification.alerts) {
    const alertname = alert.labels.alertname ?? notification.commonLabels.alertname ?? '';
    const severity = alert.labels.severity ?? notification.commonLabels.severity ?? '';
    const id = `${alertname}\u0000${severity}`;
    const row = rows.get(id) ?? [alertname, severity, 0, 0];
    if (alert.status === 'firing') row[2]++;
    else row[3]++;
    rows.set(id, row);
  }
  return [...rows.values()];
}

/** A group's title in a digest: its group labels' values, or its alertname. */
export function groupTitle(notification: Notification): string {
  const values = labelValues(notification.groupLabels);
  const title =
    values.join(' ') || notification.commonLabels.alertname || notification.alerts[0]?.labels.alertname;
  return (title ?? 'alert group').slice(0, 200);
}

/** A group's entry for `part` of a notification received at `receivedAt` (epoch ms), first folded at `now`. */
export function entryOf(fold: {
  notification: Notification;
  part: number;
  receivedAt: number;
  now: number;
}): GroupEntry {
  const { notification } = fold;
  const first = notification.alerts.find((a) => a.status === 'firing') ?? notification.alerts[0];
  const link = first ? generatorUrl(first) : undefined;
  return {
    rcv: fold.receivedAt,
    parts: { [String(fold.part)]: tallyRows(notification) },
    title: groupTitle(notification),
    ...(link ? { link } : {}),
    status: notification.status,
    at: fold.now,
  };
}

/**
 * Sets the group's entry for `part` of a notification received at `receivedAt` in storm
 * `stormId`: parts of an older notification are replaced, a redelivered older part is ignored.
 */
export async function foldEntry(
  store: VersionedStateStore,
  prefix: string,
  stormId: string,
  groupId: string,
  fold: { notification: Notification; part: number; receivedAt: number; now: number },
  ttlSeconds: number,
): Promise<void> {
  const entry = entryOf(fold);
  await updateVersioned<Shard>(
    store,
    key(prefix, stormId, shardOf(groupId)),
    (current) => {
      const shard = current ?? { groups: {} };
      const previous = shard.groups[groupId];
      if (previous && previous.rcv > fold.receivedAt) return undefined;
      const parts = previous && previous.rcv === fold.receivedAt ? previous.parts : {};
      shard.groups[groupId] = { ...entry, parts: { ...parts, ...entry.parts }, at: previous?.at ?? entry.at };
      return shard;
    },
    { ttlSeconds },
  );
}

/**
 * Adds the groups that arrived just before a storm started (and got messages of their own)
 * to its tally, where no newer entry of theirs is yet: the digest counts the whole storm.
 */
export async function seedEntries(
  store: VersionedStateStore,
  prefix: string,
  stormId: string,
  entries: Record<string, GroupEntry>,
  ttlSeconds: number,
): Promise<void> {
  for (const [groupId, entry] of Object.entries(entries)) {
    await updateVersioned<Shard>(
      store,
      key(prefix, stormId, shardOf(groupId)),
      (current) => {
        const shard = current ?? { groups: {} };
        if (shard.groups[groupId]) return undefined;
        shard.groups[groupId] = entry;
        return shard;
      },
      { ttlSeconds },
    );
  }
}

/** The entries of one shard of a storm's tally, by group id. */
export async function shardEntries(
  store: VersionedStateStore,
  prefix: string,
  stormId: string,
  shard: number,
): Promise<[groupId: string, entry: GroupEntry][]> {
  const record = await store.get<Shard>(key(prefix, stormId, shard));
  return Object.entries(record?.groups ?? {});
}

/** What a digest shows, summed over every group folded into the storm. */
export interface DigestTotals {
  groups: number;
  firingGroups: number;
  firing: number;
  resolved: number;
  /** Per alertname and severity, most firing first. */
  rows: TallyRow[];
  /** The groups, newest first. */
  newest: Pick<GroupEntry, 'title' | 'link' | 'status' | 'at'>[];
  /** Groups still firing, oldest first: what the final summary lists. */
  stillFiring: Pick<GroupEntry, 'title' | 'link' | 'at'>[];
}

/** Reads every shard of a storm and sums it up; `listed` groups at most in each list. */
export async function readTotals(
  store: VersionedStateStore,
  prefix: string,
  stormId: string,
  listed: number,
): Promise<DigestTotals> {
  const shards = await Promise.all(
    Array.from({ length: SHARDS }, (_, i) => store.get<Shard>(key(prefix, stormId, i))),
  );
  const rows = new Map<string, TallyRow>();
  const entries: GroupEntry[] = [];
  for (const shard of shards) {
    for (const entry of Object.values(shard?.groups ?? {})) {
      entries.push(entry);
      for (const part of Object.values(entry.parts)) {
        for (const [alertname, severity, firing, resolved] of part) {
          const id = `${alertname}\u0000${severity}`;
          const row = rows.get(id) ?? [alertname, severity, 0, 0];
          row[2] += firing;
          row[3] += resolved;
          rows.set(id, row);
        }
      }
    }
  }
  const sorted = [...rows.values()].sort(
    (a, b) => b[2] - a[2] || b[3] - a[3] || a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]),
  );
  const firingEntries = entries.filter((e) => e.status === 'firing');
  const brief = ({ title, link, status, at }: GroupEntry) => ({
    title,
    ...(link ? { link } : {}),
    status,
    at,
  });
  return {
    groups: entries.length,
    firingGroups: firingEntries.length,
    firing: sorted.reduce((n, r) => n + r[2], 0),
    resolved: sorted.reduce((n, r) => n + r[3], 0),
    rows: sorted,
    newest: [...entries]
      .sort((a, b) => b.at - a.at || b.rcv - a.rcv)
      .slice(0, listed)
      .map(brief),
    stillFiring: firingEntries
      .sort((a, b) => a.at - b.at)
      .slice(0, listed)
      .map(({ title, link, at }) => ({ title, ...(link ? { link } : {}), at })),
  };
}

import { describe, expect, it } from 'vitest';
import { stormSettings } from '../../../lib/chat/storm/config.ts';
import {
  admit,
  backfillNote,
  calmAt,
  claimFlush,
  claimRoles,
  claimWatch,
  DIGEST_EDIT_INTERVAL_MS,
  digestList,
  StormLedger,
  type StormRecord,
} from '../../../lib/chat/storm/storm.ts';
import { makeNotification } from '../../support/notifications.ts';
import { memoryState } from '../../support/slack-delivery.ts';

const settings = stormSettings(undefined) as NonNullable<ReturnType<typeof stormSettings>>;
const T0 = Date.UTC(2026, 10, 21, 12);

/** Admits groups g0..g(n-1), one per second from T0. */
function arrive(n: number, from?: StormRecord): StormRecord {
  let record = from;
  for (let i = 0; i < n; i++) record = admit(record, `g${i}`, T0 + i * 1000, settings, `d${i}`).record;
  return record as StormRecord;
}

describe('Function: admit', () => {
  it('should give the first 10 new groups of a minute their own message and start a storm with the 11th', () => {
    // Prepare
    const record = arrive(10);

    // Act
    const { record: next, decision } = admit(record, 'g10', T0 + 10_000, settings, 'd10');

    // Assess
    expect(admit(arrive(9), 'g9', T0 + 9000, settings, 'd9').decision).toEqual({ kind: 'own' });
    expect(decision).toMatchObject({ kind: 'fold', started: true });
    expect(next.current?.starter).toBe('d10');
    // The oldest of the 11 leaves the window at T0 + 60 s: calm 5 minutes after.
    expect(calmAt(next.current as NonNullable<StormRecord['current']>, settings)).toBe(T0 + 60_000 + 300_000);
  });

  it('should not count one group arriving twice as two', () => {
    // Prepare
    let record = arrive(5);

    // Act
    for (let i = 0; i < 10; i++) record = admit(record, 'g4', T0 + 5000 + i, settings, 'again').record;

    // Assess
    expect(Object.keys(record.arrivals)).toHaveLength(5);
    expect(record.current).toBeUndefined();
  });

  it('should end a calm storm when the next new group arrives, which then gets its own message', () => {
    // Prepare
    const record = arrive(11);
    const later = calmAt(record.current as NonNullable<StormRecord['current']>, settings);

    // Act
    const { record: next, decision } = admit(record, 'late', later, settings, 'd-late');

    // Assess
    expect(decision).toEqual({ kind: 'own', ended: record.current?.id });
    expect(next.current).toBeUndefined();
    expect(next.last?.endedAt).toBe(later);
  });
});

describe('Function: claimRoles', () => {
  it('should let one delivery edit when due, make the next the flusher, and let later ones complete', () => {
    // Prepare
    const started = arrive(11);
    const id = started.current?.id as string;
    started.current = { ...(started.current as NonNullable<StormRecord['current']>), message: { ts: '1.1' } };
    const due = (started.current?.nextEditAt as number) + 1;

    // Act
    const first = claimRoles(started, id, 'a', due, settings, { fold: true, newGroup: true });
    const second = claimRoles(first.record, id, 'b', due + 1, settings, { fold: true, newGroup: true });
    const third = claimRoles(second.record, id, 'c', due + 2, settings, { fold: true, newGroup: true });
    const again = claimRoles(third.record, id, 'b', due + 3, settings, { fold: true, newGroup: false });

    // Assess
    expect(first.roles).toMatchObject({ edit: true });
    expect(second.roles).toMatchObject({ edit: false, flushAt: due + DIGEST_EDIT_INTERVAL_MS });
    expect(third.roles).toEqual({ post: false, edit: false });
    expect(again.roles.flushAt).toBe(due + DIGEST_EDIT_INTERVAL_MS);
    expect(third.record.current?.revision).toBe(3);
  });

  it('should send the flusher back again while the digest is not posted yet, then let it edit', () => {
    // Prepare
    const started = arrive(11);
    const id = started.current?.id as string;
    const { record } = claimRoles(started, id, 'f', T0 + 11_000, settings, { fold: true, newGroup: true });

    // Act
    const early = claimFlush(record, id, 'f', T0 + 21_000);
    early.record.current = {
      ...(early.record.current as NonNullable<StormRecord['current']>),
      message: { ts: '1' },
    };
    const late = claimFlush(early.record, id, 'f', T0 + 31_000);

    // Assess
    expect(early).toMatchObject({ edit: false, again: T0 + 31_000 });
    expect(late).toMatchObject({ edit: true });
    expect(late.record.current?.flusher).toBeUndefined();
  });
});

describe('Function: claimWatch', () => {
  it('should end the storm when it is calm, come back while it is not', () => {
    // Prepare
    const started = arrive(11);
    const id = started.current?.id as string;
    const { record, roles } = claimRoles(started, id, 'w', T0 + 11_000, settings, {
      fold: true,
      newGroup: true,
    });

    // Act
    const tooEarly = claimWatch(record, id, 'w', (roles.watchAt as number) - 1, settings);
    const calm = claimWatch(record, id, 'w', roles.watchAt as number, settings);

    // Assess
    expect(tooEarly.outcome).toEqual({ again: roles.watchAt });
    expect(calm.outcome).toBe('ended');
    expect(calm.record.last?.id).toBe(id);
  });

  it('should hand the watch over to the next fold after its rounds, and keep watching until one comes', () => {
    // Prepare: the watcher came back twice and the storm went on (its calm moved).
    const started = arrive(11);
    const id = started.current?.id as string;
    const { record } = claimRoles(started, id, 'w', T0 + 11_000, settings, { fold: true, newGroup: true });
    const storm = record.current as NonNullable<StormRecord['current']>;
    storm.watcher = { id: 'w', at: calmAt(storm, settings) - 5000, rounds: 2 };

    // Act: its third return is too early; no fold comes, and it returns at the calm.
    const third = claimWatch(record, id, 'w', calmAt(storm, settings) - 5000, settings);
    const calm = claimWatch(third.record, id, 'w', calmAt(storm, settings), settings);
    // Or a fold came in between: it takes the watch over.
    const takeover = claimRoles(third.record, id, 'd', calmAt(storm, settings) - 4000, settings, {
      fold: true,
      newGroup: true,
    });
    const former = claimWatch(takeover.record, id, 'w', calmAt(storm, settings), settings);

    // Assess
    expect(third.outcome).toEqual({ again: calmAt(storm, settings) });
    expect(third.record.current?.watcher).toMatchObject({ id: 'w', handover: true });
    expect(calm.outcome).toBe('ended');
    expect(takeover.roles.watchAt).toBe(calmAt(storm, settings));
    expect(former.outcome).toBe('done');
  });
});

describe('Class: StormLedger', () => {
  it('should count every group of concurrent folds once, also when a fold is repeated after a crash', async () => {
    // Prepare
    const store = memoryState();
    const ledger = new StormLedger(store, 'ops', settings);
    const decisions = [];
    for (let i = 0; i < 11; i++) decisions.push(await ledger.admit(`seed-${i}`, T0 + i, `d${i}`));
    const stormId = (decisions[10] as { stormId: string }).stormId;
    const fold = (i: number, status: 'firing' | 'resolved' = 'firing') =>
      ledger.fold(stormId, i.toString(16).padStart(8, '0'), `f${i}`, {
        notification: makeNotification({ count: 2, status, groupKey: `g${i}` }),
        part: 1,
        receivedAt: T0 + i + (status === 'resolved' ? 1 : 0),
        now: T0 + 20_000,
        newGroup: status === 'firing',
      });

    // Act: 200 groups fold 20 at a time (their reads and writes interleave), 50 of them twice, 20 resolve.
    for (let from = 0; from < 200; from += 20)
      await Promise.all(Array.from({ length: 20 }, (_, i) => fold(from + i)));
    await Promise.all(Array.from({ length: 50 }, (_, i) => fold(i)));
    await Promise.all(Array.from({ length: 20 }, (_, i) => fold(i, 'resolved')));
    const snapshot = await ledger.snapshot(stormId, 10);

    // Assess
    expect(snapshot?.totals).toMatchObject({ groups: 200, firingGroups: 180, firing: 360, resolved: 40 });
    expect(snapshot?.storm.revision).toBe(270);
  });
});

describe('Function: digestList / backfillNote', () => {
  const entry = (title: string) => ({ title, at: T0 });
  const totals = (firingGroups: number, stillFiring: number) => ({
    groups: 30,
    firingGroups,
    firing: firingGroups,
    resolved: 30 - firingGroups,
    rows: [],
    newest: [{ ...entry('newest'), status: 'firing' as const }],
    stillFiring: Array.from({ length: stillFiring }, (_, i) => entry(`firing-${i}`)),
  });
  const live = arrive(11).current as NonNullable<StormRecord['current']>;
  const over = { ...live, endedAt: T0 + 600_000 };

  it('should list the newest groups while the storm lasts, and those still firing once it is over', () => {
    // Act & Assess
    expect(digestList(live, totals(12, 10))).toEqual({
      heading: 'Newest groups:',
      groups: totals(12, 10).newest,
    });
    expect(digestList(over, totals(12, 10)).heading).toBe('Still firing (12, the 10 oldest):');
    expect(digestList(over, totals(3, 3)).heading).toBe('Still firing (3):');
    expect(digestList(over, totals(0, 0)).heading).toBe('Every group of the storm resolved.');
  });

  it('should say the backfill comes only with afterwards: backfill and a group still firing', () => {
    // Act & Assess
    expect(backfillNote({ ...over, backfill: true }, totals(3, 3), 'card')).toBe(
      'Each group still firing gets its own card now',
    );
    expect(backfillNote({ ...over, backfill: true }, totals(0, 0), 'card')).toBe('');
    expect(backfillNote(over, totals(3, 3), 'card')).toBe('');
  });
});

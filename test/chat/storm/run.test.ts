import { hash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type DigestView, runStorm, type StormOutcome } from '../../../lib/chat/storm/run.ts';
import { entryOf, type GroupEntry } from '../../../lib/chat/storm/tally.ts';
import type { DestinationConfig } from '../../../lib/config/types.ts';
import { DeferredError, RetryableError } from '../../../lib/delivery/errors.ts';
import { stepJournal } from '../../../lib/delivery/journal.ts';
import type { Delivery, DeliveryPipeline } from '../../../lib/delivery/sink.ts';
import { backfillMessage, type QueueMessage, shareMessage } from '../../../lib/queue/message.ts';
import { makeNotification } from '../../support/notifications.ts';
import { memoryState } from '../../support/slack-delivery.ts';
import { capturingLogger } from '../../support/vendor-delivery.ts';

const T0 = Date.UTC(2026, 10, 21, 12);
type ChatDestination = DestinationConfig & { storm: Record<string, unknown> };
const DESTINATION: ChatDestination = {
  name: 'ops-chat',
  sink: 'fakechat',
  storm: { afterwards: 'backfill' },
} as ChatDestination;

/**
 * runStorm with a fake chat vendor and a hand-moved clock: the shape of the storm (who posts,
 * edits, watches and ends it) is decided by the same code every chat sink runs.
 */
function chatStorm() {
  const clock = { now: T0 };
  const state = memoryState();
  const shown: DigestView[] = [];
  const requeued: QueueMessage[] = [];
  const requeue = { failures: 0 };
  const counts: Record<string, number> = {};

  function delivery(i: number, status: 'firing' | 'resolved' = 'firing'): Delivery<ChatDestination> {
    const notification = makeNotification({ status, groupKey: `{}:{instance="host-${i}"}` });
    return {
      destination: DESTINATION,
      notification,
      idempotencyKey: hash('sha256', `${i}-${status}`),
      part: { index: 1, count: 1 },
      receivedAt: new Date(clock.now).toISOString(),
      attempt: 1,
      secrets: { get: async () => '' },
      state,
      logger: capturingLogger().logger,
      count: (name, value = 1) => {
        counts[name] = (counts[name] ?? 0) + value;
      },
    };
  }

  /** The core's side of a delivery: puts backfills where the queue would be. */
  function pipeline(backfillOf?: string): DeliveryPipeline {
    return {
      ...(backfillOf !== undefined ? { backfillOf } : {}),
      backfill: async (shares, stormId) => {
        if (requeue.failures > 0) {
          requeue.failures--;
          throw new RetryableError('the queue was throttled');
        }
        requeued.push(
          ...shares.map((share) => backfillMessage(shareMessage('ops-chat', 'fakechat', share), stormId)),
        );
      },
    };
  }

  /** One delivery attempt: its outcome, or the error it came back with. */
  function run(d: Delivery<ChatDestination>, backfillOf?: string): Promise<StormOutcome | Error> {
    return runStorm({
      delivery: d,
      pipeline: pipeline(backfillOf),
      journal: stepJournal(d),
      groupId: hash('sha256', d.notification.groupKey),
      known: false,
      newMessage: true,
      now: () => clock.now,
      vendor: 'Fake chat',
      listed: 10,
      publisher: {
        post: async (view) => {
          shown.push(view);
          return { id: 'digest-1' };
        },
        show: async (view) => {
          shown.push(view);
        },
      },
    }).catch((error: Error) => error);
  }

  return { clock, state, shown, requeued, requeue, counts, delivery, run };
}

describe('Function: runStorm (afterwards: backfill)', () => {
  it('should let the watcher that ended the storm finish its backfill on the retry after a failed requeue', async () => {
    // Prepare: groups 0-9 get their own messages, 10-19 are folded (10 starts the storm and
    // watches it), and group 12 resolves during the storm.
    const storm = chatStorm();
    const outcomes: (StormOutcome | Error)[] = [];
    const deliveries = [];
    for (let i = 0; i < 20; i++) {
      storm.clock.now = T0 + i * 1000;
      deliveries.push(storm.delivery(i));
      outcomes.push(await storm.run(deliveries[i]));
    }
    storm.clock.now = T0 + 30_000;
    await storm.run(storm.delivery(12, 'resolved'));
    // The flusher comes back and edits the digest; the watcher is not due yet.
    storm.clock.now = T0 + 45_000;
    for (const [i, outcome] of outcomes.entries())
      if (outcome instanceof DeferredError) await storm.run(deliveries[i]);
    const watcher = deliveries[10];

    // Act: the watcher comes back when the storm is calm; its first requeue fails.
    storm.clock.now = T0 + 20 * 60_000;
    storm.requeue.failures = 1;
    const failed = await storm.run(watcher);
    const retried = await storm.run(watcher);
    const again = await storm.run(watcher);

    // Assess
    expect(outcomes.slice(0, 10).every((o) => 'own' in o && o.own)).toBe(true);
    expect(outcomes[10]).toBeInstanceOf(DeferredError);
    expect(failed).toBeInstanceOf(RetryableError);
    expect(retried).toEqual({ own: false });
    expect(again).toEqual({ own: false });
    const groups = storm.requeued.map((m) => m.notification.groupKey).sort();
    const stillFiring = [10, 11, 13, 14, 15, 16, 17, 18, 19].map((i) => `{}:{instance="host-${i}"}`).sort();
    expect(groups).toEqual(stillFiring);
    expect(storm.requeued.every((m) => m.backfill !== undefined && m.notification.status === 'firing')).toBe(
      true,
    );
    expect(storm.counts.GroupsBackfilled).toBe(9);
    const final = storm.shown[storm.shown.length - 1];
    expect(final.storm.endedAt).toBeDefined();
    expect(final.storm.backfill).toBe(true);
    expect(final.totals).toMatchObject({ groups: 20, firingGroups: 19 });
  });

  it('should give a group folded after the storm ended its own message, so that no backfill misses it', async () => {
    // Prepare: a storm of 11 groups, then group 11 decides to fold while it lasts ...
    const storm = chatStorm();
    for (let i = 0; i < 11; i++) {
      storm.clock.now = T0 + i * 1000;
      await storm.run(storm.delivery(i));
    }
    storm.clock.now = T0 + 15_000;
    const late = storm.delivery(11);
    const journal = stepJournal(late);
    const first = await runStorm({
      delivery: { ...late, state: failingAfterDecision(storm.state) },
      journal,
      groupId: hash('sha256', late.notification.groupKey),
      known: false,
      newMessage: true,
      now: () => storm.clock.now,
      vendor: 'Fake chat',
      listed: 10,
      publisher: { post: async () => ({ id: 'digest-1' }), show: async () => {} },
    }).catch((error: Error) => error);
    // ... but crashes before its fold; the storm ends (a new group after the calm ends it).
    storm.clock.now = T0 + 20 * 60_000;
    const ender = await storm.run(storm.delivery(99));

    // Act: the late group's retry.
    const retried = await storm.run(late);

    // Assess
    expect(first).toBeInstanceOf(Error);
    expect(ender).toMatchObject({ own: true });
    expect(retried).toMatchObject({ own: true });
  });

  it("should count a storm's start, its digest's first post and its end once each, its watcher ending it and retried", async () => {
    // Prepare: groups 10-19 fold into a storm; the deliveries that came back to edit the digest return.
    const storm = chatStorm();
    const deliveries = [];
    const outcomes: (StormOutcome | Error)[] = [];
    for (let i = 0; i < 20; i++) {
      storm.clock.now = T0 + i * 1000;
      deliveries.push(storm.delivery(i));
      outcomes.push(await storm.run(deliveries[i]));
    }
    storm.clock.now = T0 + 45_000;
    for (const [i, outcome] of outcomes.entries())
      if (outcome instanceof DeferredError) await storm.run(deliveries[i]);
    const during = { ...storm.counts };

    // Act: the watcher comes back when the storm is calm and ends it; its first requeue fails.
    storm.clock.now = T0 + 20 * 60_000;
    storm.requeue.failures = 1;
    for (let i = 0; i < 3; i++) await storm.run(deliveries[10]);

    // Assess
    expect(during).toMatchObject({ StormStarted: 1, DigestPosted: 1 });
    expect(during.StormEnded).toBeUndefined();
    expect(storm.counts).toMatchObject({ StormStarted: 1, DigestPosted: 1, StormEnded: 1 });
  });

  it('should count the end of a storm once when a new group after the calm ends it, its delivery retried and the watcher back', async () => {
    // Prepare: a storm of 11 groups (10 watches it).
    const storm = chatStorm();
    const deliveries = [];
    for (let i = 0; i < 11; i++) {
      storm.clock.now = T0 + i * 1000;
      deliveries.push(storm.delivery(i));
      await storm.run(deliveries[i]);
    }
    storm.clock.now = T0 + 20 * 60_000;
    const ender = storm.delivery(99);

    // Act
    const ended = await storm.run(ender);
    const afterEnder = storm.counts.StormEnded;
    await storm.run(ender);
    await storm.run(deliveries[10]);

    // Assess
    expect(ended).toMatchObject({ own: true });
    expect(afterEnder).toBe(1);
    expect(storm.counts.StormEnded).toBe(1);
  });

  it('should deliver a backfill as the group own message, never as a new group of the storm on now', async () => {
    // Prepare: a storm is on, and a backfill of an earlier storm's group arrives (its marker gone).
    const storm = chatStorm();
    for (let i = 0; i < 11; i++) {
      storm.clock.now = T0 + i * 1000;
      await storm.run(storm.delivery(i));
    }
    const before = structuredClone(storm.state.items.get('storm#ops-chat'));
    const backfill = storm.delivery(500);

    // Act
    const outcome = await storm.run(backfill, 'an-earlier-storm');

    // Assess
    expect(outcome).toEqual({ own: true });
    expect(storm.state.items.get('storm#ops-chat')).toEqual(before);
  });
});

/** The store, failing every write to the storm's tally: the delivery decided, then crashed. */
function failingAfterDecision<S extends ReturnType<typeof memoryState>>(state: S): S {
  return new Proxy(state, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'putIfVersion' && property !== 'put') return value;
      return async (key: string, ...rest: unknown[]) => {
        if (key.startsWith('stormshard#') || key.startsWith('stormkeep#')) throw new Error('crash');
        return (value as (...args: unknown[]) => unknown).call(target, key, ...rest);
      };
    },
  });
}

describe('Function: runStorm (the groups that start a storm, read where they keep their entries)', () => {
  it('should count the groups that started the storm from seedsFrom, and one still being delivered before the digest shows again', async () => {
    // Prepare: a storm from the 3rd new group; group 1's entry is not where it keeps it yet.
    const clock = { now: T0 };
    const state = memoryState();
    const destination = { name: 'ops-chat', sink: 'fakechat', storm: { threshold: 2 } } as ChatDestination;
    const kept: Record<string, GroupEntry> = {};
    const shown: DigestView[] = [];
    const delivery = (i: number): Delivery<ChatDestination> => ({
      destination,
      notification: makeNotification({ groupKey: `{}:{instance="host-${i}"}` }),
      idempotencyKey: hash('sha256', `seed-${i}`),
      part: { index: 1, count: 1 },
      receivedAt: new Date(clock.now).toISOString(),
      attempt: 1,
      secrets: { get: async () => '' },
      state,
      logger: capturingLogger().logger,
    });
    const groupId = (d: Delivery) => hash('sha256', d.notification.groupKey);
    const run = (d: Delivery<ChatDestination>) =>
      runStorm({
        delivery: d,
        journal: stepJournal(d),
        groupId: groupId(d),
        known: false,
        newMessage: true,
        now: () => clock.now,
        vendor: 'Fake chat',
        listed: 10,
        publisher: {
          post: async (view) => {
            shown.push(view);
            return { id: 'digest-1' };
          },
          show: async (view) => {
            shown.push(view);
          },
        },
        seedsFrom: async (ids) =>
          Object.fromEntries(ids.filter((id) => kept[id]).map((id) => [id, kept[id]])),
      }).catch((error: Error) => error);
    const groups = [0, 1, 2].map(delivery);
    for (const [i, d] of groups.entries()) {
      clock.now = T0 + i * 1000;
      const outcome = await run({ ...d, receivedAt: new Date(clock.now).toISOString() });
      if (i === 0)
        kept[groupId(d)] = entryOf({
          notification: d.notification,
          part: 1,
          receivedAt: clock.now,
          now: clock.now,
        });
      if (i < 2) expect(outcome).toEqual({ own: true });
    }

    // Act: group 1's delivery ends (its entry is kept), and a 4th group folds when an edit is due.
    kept[groupId(groups[1])] = entryOf({
      notification: groups[1].notification,
      part: 1,
      receivedAt: T0 + 1000,
      now: T0 + 1000,
    });
    clock.now = T0 + 20_000;
    await run(delivery(3));

    // Assess: posted counting the starter and group 0; group 1 counted at the next showing.
    expect(shown.map((view) => view.totals.groups)).toEqual([2, 4]);
    expect(state.items.has(`stormgroup#ops-chat#${groupId(groups[1])}`)).toBe(true);
  });
});

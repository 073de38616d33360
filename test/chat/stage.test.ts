import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type ChatAdapter,
  type ChatChannel,
  type ChatDestination,
  ChatTooLongError,
} from '../../lib/chat/adapter.ts';
import { chatGroupKey, chatSink } from '../../lib/chat/stage.ts';
import { DeferredError, PermanentError, RetryableError } from '../../lib/delivery/errors.ts';
import { GroupSession } from '../../lib/delivery/group-session.ts';
import { readGroupRecord } from '../../lib/delivery/group-state.ts';
import type { Pace } from '../../lib/delivery/pacing.ts';
import type { Delivery } from '../../lib/delivery/sink.ts';
import type { StateStore } from '../../lib/state/store.ts';
import { makeNotification } from '../support/notifications.ts';
import { memoryState as versionedState } from '../support/slack-delivery.ts';
import { capturingLogger, failure, memoryState, vendorDelivery } from '../support/vendor-delivery.ts';

const T0 = Date.parse('2026-11-21T12:00:00.000Z');

interface Call {
  call: 'post' | 'edit' | 'remove';
  id?: string;
  text?: string;
  thread?: string;
  key?: string;
}

/** What a test changes of the vendor in memory. */
interface FakeOptions {
  /** Members the adapter adds or replaces (updates, change, after, shrinks, render...). */
  adapter?: Partial<ChatAdapter<ChatDestination, string>>;
  /** Members the channel adds or replaces (find, where...), given the calls made so far. */
  channel?: (calls: Call[]) => Partial<ChatChannel<string>>;
  pace?: Pace;
  /** Texts longer than this are refused as too long (ChatTooLongError). */
  limit?: number;
  /** This many posts go through but their answer is lost (the vendor has the message). */
  lose?: { answers: number };
}

/** A vendor in memory: what the stage asked of it, and the abilities it declares. */
function fakeAdapter(
  can: ChatAdapter<ChatDestination, string>['can'],
  calls: Call[],
  options: FakeOptions = {},
) {
  let next = 0;
  const adapter: ChatAdapter<ChatDestination, string> = {
    name: 'fakechat',
    vendor: 'Fake chat',
    configSchema: {},
    templates: { keys: [], format: 'markdown' },
    can,
    groupRecord: 'fakegroup',
    digestListed: 10,
    async connect() {
      return {
        budget: {
          key: 'fakepace#1',
          pace: options.pace ?? { burst: 100, intervalMs: 1 },
          what: 'Fake pacing',
        },
        label: 'fake',
        async post(text, { thread, key }) {
          if (text.length > (options.limit ?? Number.POSITIVE_INFINITY))
            throw new ChatTooLongError('Fake chat: the message is too long');
          calls.push({ call: 'post', text, key, ...(thread ? { thread } : {}) });
          next++;
          if (options.lose && options.lose.answers > 0) {
            options.lose.answers--;
            throw new RetryableError('Fake chat could not be reached (ECONNRESET)');
          }
          return { id: `m${next}` };
        },
        async edit(id, text) {
          if (text.length > (options.limit ?? Number.POSITIVE_INFINITY))
            throw new ChatTooLongError('Fake chat: the message is too long');
          calls.push({ call: 'edit', id, text });
          return 'edited';
        },
        async remove(id) {
          calls.push({ call: 'remove', id });
        },
        ...options.channel?.(calls),
      };
    },
    // One message per alert: a group of n alerts is n messages.
    render: ({ notification }) => notification.alerts.map((a) => `${a.status} ${a.labels.instance}`),
    digest: () => 'digest',
    ...options.adapter,
  };
  return adapter;
}

/** A `find` over the posts made so far: the id of the post made with `key` (ids count the posts, m1 first). */
function findByKey(calls: Call[], lookups: { key: string; since: number; thread?: string }[] = []) {
  return async (key: string, options: { since: number; thread?: string }) => {
    lookups.push({ key, ...options });
    const index = calls.filter((c) => c.call === 'post').findIndex((c) => c.key === key);
    return index < 0 ? undefined : `m${index + 1}`;
  };
}

function deliveryOf(
  destination: ChatDestination,
  count: number,
  status: 'firing' | 'resolved',
  state: StateStore = memoryState(),
  key = 'k',
) {
  return vendorDelivery(destination, makeNotification({ count, status, groupKey: '{}:{alertname="X"}' }), {
    state,
    idempotencyKey: `${key}-${count}-${status}`,
  });
}

describe('Function: chatSink (the chat stage)', () => {
  it('should edit the group messages of a vendor that edits, post what is new as replies in its thread and remove what is stale', async () => {
    // Prepare
    const calls: Call[] = [];
    const sink = chatSink(fakeAdapter({ edit: true, remove: true, thread: true }, calls), { now: () => T0 });
    const state = memoryState();
    const destination = { name: 'ops', sink: 'fakechat', storm: false as const };

    // Act
    await sink.deliver(deliveryOf(destination, 2, 'firing', state, 'a'));
    await sink.deliver(deliveryOf(destination, 3, 'firing', state, 'b'));
    await sink.deliver(deliveryOf(destination, 1, 'resolved', state, 'c'));

    // Assess
    expect(calls.map(({ call, id, thread }) => [call, id ?? '', thread ?? ''])).toEqual([
      ['post', '', ''],
      ['post', '', 'm1'],
      ['edit', 'm1', ''],
      ['edit', 'm2', ''],
      ['post', '', 'm1'],
      ['edit', 'm1', ''],
      ['remove', 'm2', ''],
      ['remove', 'm3', ''],
    ]);
    expect(await state.get(chatGroupKey('fakegroup', 'ops', '{}:{alertname="X"}'))).toMatchObject({
      messages: ['m1'],
      status: 'resolved',
    });
  });

  it('should start the group over with new messages when it fires again after it resolved', async () => {
    // Prepare
    const calls: Call[] = [];
    const sink = chatSink(fakeAdapter({ edit: true, remove: true, thread: true }, calls), { now: () => T0 });
    const state = memoryState();
    const destination = { name: 'ops', sink: 'fakechat', storm: false as const };
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'a'));
    await sink.deliver(deliveryOf(destination, 1, 'resolved', state, 'b'));

    // Act
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'c'));

    // Assess
    expect(calls.map((c) => c.call)).toEqual(['post', 'edit', 'post']);
    expect(calls[2].thread).toBeUndefined();
  });

  it('should post every message of a vendor that can neither edit nor thread, and remember the group only while storm mode is on', async () => {
    // Prepare
    const calls: Call[] = [];
    const sink = chatSink(fakeAdapter({ edit: false, remove: false, thread: false }, calls), {
      now: () => T0,
    });
    const stormOn = memoryState();
    const stormOff = memoryState();

    // Act
    await sink.deliver(deliveryOf({ name: 'ops', sink: 'fakechat' }, 2, 'firing', stormOn));
    await sink.deliver(deliveryOf({ name: 'ops', sink: 'fakechat', storm: false }, 2, 'firing', stormOff));

    // Assess
    expect(calls.map((c) => c.call)).toEqual(['post', 'post', 'post', 'post']);
    expect(stormOn.keys().filter((k) => k.startsWith('fakegroup#'))).toEqual([
      chatGroupKey('fakegroup', 'ops', '{}:{alertname="X"}'),
    ]);
    expect(stormOff.keys().filter((k) => k.startsWith('fakegroup#'))).toEqual([]);
  });

  it('should not post again what a retry of the same delivery already posted', async () => {
    // Prepare
    const calls: Call[] = [];
    const adapter = fakeAdapter({ edit: false, remove: false, thread: false }, calls);
    const sink = chatSink(adapter, { now: () => T0 });
    const state = memoryState();
    const delivery = deliveryOf({ name: 'ops', sink: 'fakechat', storm: false }, 3, 'firing', state);

    // Act
    await sink.deliver(delivery);
    await sink.deliver(delivery);

    // Assess
    expect(calls).toHaveLength(3);
  });
});

/** The group's record of `destination` in `state`. */
function recordOf(
  state: { get<T extends object>(key: string): Promise<T | undefined> },
  destination = 'ops',
) {
  return state.get<Record<string, unknown>>(chatGroupKey('fakegroup', destination, '{}:{alertname="X"}'));
}

describe('Function: chatSink (a vendor that can look a message up: ChatChannel.find)', () => {
  const destination = { name: 'ops', sink: 'fakechat', storm: false as const };

  it('should record the intent of a post first and find the message of an interrupted post instead of posting it again', async () => {
    // Prepare
    const calls: Call[] = [];
    const lookups: { key: string; since: number; thread?: string }[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        lose: { answers: 1 },
        channel: (made) => ({ find: findByKey(made, lookups) }),
      }),
      { now: () => T0 },
    );
    const state = memoryState();
    const { logger, lines } = capturingLogger();
    const delivery = { ...deliveryOf(destination, 1, 'firing', state), logger };

    // Act
    const lost = await failure(sink.deliver(delivery));
    await sink.deliver({ ...delivery, attempt: 2 });

    // Assess
    expect(lost).toBeInstanceOf(RetryableError);
    expect(calls.map((c) => c.call)).toEqual(['post']);
    expect(lookups).toEqual([{ key: calls[0].key, since: T0 }]);
    expect(lines).toContain(
      'info found the message of an interrupted post; not posting it again {"step":"post:0","channel":"fake"}',
    );
    expect(await recordOf(state)).toMatchObject({ messages: ['m1'] });
  });

  it('should look an interrupted reply up in its thread', async () => {
    // Prepare: the group's second message is a reply in the thread of its first.
    const calls: Call[] = [];
    const lookups: { key: string; since: number; thread?: string }[] = [];
    const vendor = { answers: 0 };
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        lose: vendor,
        channel: (made) => ({
          find: findByKey(made, lookups),
          // The second post's answer is lost.
          post: async (text, { thread, key }) => {
            made.push({ call: 'post', text, key, ...(thread ? { thread } : {}) });
            if (made.length === 2) throw new RetryableError('Fake chat could not be reached (ECONNRESET)');
            return { id: `m${made.length}` };
          },
        }),
      }),
      { now: () => T0 },
    );
    const delivery = deliveryOf(destination, 2, 'firing');

    // Act
    await failure(sink.deliver(delivery));
    await sink.deliver({ ...delivery, attempt: 2 });

    // Assess
    expect(calls.map((c) => [c.call, c.thread ?? ''])).toEqual([
      ['post', ''],
      ['post', 'm1'],
    ]);
    expect(lookups).toEqual([{ key: calls[1].key, since: T0, thread: 'm1' }]);
  });

  it('should warn and post again when the vendor will not list its messages', async () => {
    // Prepare
    const calls: Call[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        lose: { answers: 1 },
        channel: () => ({ find: async () => 'unreadable' as const }),
      }),
      { now: () => T0 },
    );
    const { logger, lines } = capturingLogger();
    const delivery = { ...deliveryOf(destination, 1, 'firing'), logger };

    // Act
    await failure(sink.deliver(delivery));
    await sink.deliver({ ...delivery, attempt: 2 });

    // Assess
    expect(calls.map((c) => c.call)).toEqual(['post', 'post']);
    expect(lines).toContain(
      'warn cannot read the channel to check an interrupted post; posting again may duplicate it {"channel":"fake","step":"post:0"}',
    );
  });

  it('should record no intent and post nothing while the post waits for its turn', async () => {
    // Prepare: a budget of one call a second, taken by another group's post.
    const calls: Call[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        pace: { burst: 1, intervalMs: 1000 },
        channel: (made) => ({ find: findByKey(made) }),
      }),
      { now: () => T0 },
    );
    const state = memoryState();
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'a'));
    const waiting = deliveryOf(destination, 1, 'firing', state, 'b');

    // Act
    const error = await failure(
      sink.deliver({ ...waiting, notification: { ...waiting.notification, groupKey: 'other' } }),
    );

    // Assess
    expect(error).toBeInstanceOf(DeferredError);
    expect(calls).toHaveLength(1);
    expect(state.keys().filter((k) => k.includes('#b-1-firing#') && k.endsWith('#post:0'))).toEqual([]);
  });

  it('should find the storm digest of an interrupted post instead of posting a second one', async () => {
    // Prepare: storm mode from the second new group within the window; the digest's answer is lost.
    const calls: Call[] = [];
    const lookups: { key: string; since: number; thread?: string }[] = [];
    const lose = { answers: 0 };
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        lose,
        channel: (made) => ({ find: findByKey(made, lookups) }),
      }),
      { now: () => T0 },
    );
    const state = versionedState();
    const stormy = { name: 'ops', sink: 'fakechat', storm: { threshold: 1 } };
    const group = (i: number) =>
      vendorDelivery(stormy, makeNotification({ groupKey: `{}:{instance="host-${i}"}` }), {
        state,
        idempotencyKey: `group-${i}`,
      });
    await sink.deliver(group(1));
    lose.answers = 1;

    // Act: the retry finds the digest, then comes back later to watch the storm calm.
    const lost = await failure(sink.deliver(group(2)));
    const watching = await failure(sink.deliver({ ...group(2), attempt: 2 }));

    // Assess
    expect(lost).toBeInstanceOf(RetryableError);
    expect(watching).toBeInstanceOf(DeferredError);
    expect(calls.map((c) => c.text)).toEqual(['firing web-0:9100', 'digest']);
    expect(lookups).toEqual([{ key: calls[1].key, since: T0 }]);
  });
});

describe('Function: chatSink (update policy, change reply, work after the messages)', () => {
  const destination = { name: 'ops', sink: 'fakechat', storm: false as const };
  const change: ChatAdapter<ChatDestination, string>['change'] = (previous, notification) =>
    previous.status === 'resolved' && notification.status === 'resolved'
      ? undefined
      : `was ${previous.status} ${JSON.stringify(previous.alerts)}, now ${notification.status}`;

  it('should edit the messages and reply with what changed in the thread, keeping each alert status in the record', async () => {
    // Prepare
    const calls: Call[] = [];
    const adapter = fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
      adapter: { updates: () => ({ edit: true, reply: true, newAfterResolve: true }), change },
    });
    const sink = chatSink(adapter, { now: () => T0 });
    const state = memoryState();

    // Act
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'a'));
    await sink.deliver(deliveryOf(destination, 2, 'firing', state, 'b'));

    // Assess
    expect(calls.map(({ call, id, thread, text }) => [call, id ?? '', thread ?? '', text])).toEqual([
      ['post', '', '', 'firing web-0:9100'],
      ['edit', 'm1', '', 'firing web-0:9100'],
      ['post', '', 'm1', 'firing web-1:9100'],
      ['post', '', 'm1', 'was firing {"f000000000000000":"firing"}, now firing'],
    ]);
    expect(await recordOf(state)).toMatchObject({
      messages: ['m1', 'm2'],
      status: 'firing',
      alerts: { f000000000000000: 'firing', f000000000000001: 'firing' },
    });
  });

  it('should leave the messages as first posted and only reply with what changed when told not to edit', async () => {
    // Prepare
    const calls: Call[] = [];
    const adapter = fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
      adapter: { updates: () => ({ edit: false, reply: true, newAfterResolve: true }), change },
    });
    const sink = chatSink(adapter, { now: () => T0 });
    const state = memoryState();

    // Act
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'a'));
    await sink.deliver(deliveryOf(destination, 1, 'resolved', state, 'b'));
    await sink.deliver(deliveryOf(destination, 1, 'resolved', state, 'c'));

    // Assess: the group told again that it resolved has nothing to say.
    expect(calls.map(({ call, thread, text }) => [call, thread ?? '', text])).toEqual([
      ['post', '', 'firing web-0:9100'],
      ['post', 'm1', 'was firing {"f000000000000000":"firing"}, now resolved'],
    ]);
    expect(await recordOf(state)).toMatchObject({ messages: ['m1'], status: 'resolved' });
  });

  it('should only edit, replying nothing, when told not to reply', async () => {
    // Prepare
    const calls: Call[] = [];
    const adapter = fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
      adapter: { updates: () => ({ edit: true, reply: false, newAfterResolve: true }), change },
    });
    const sink = chatSink(adapter, { now: () => T0 });
    const state = memoryState();

    // Act
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'a'));
    await sink.deliver(deliveryOf(destination, 1, 'resolved', state, 'b'));

    // Assess
    expect(calls.map((c) => c.call)).toEqual(['post', 'edit']);
  });

  it('should keep the old messages of a group that fires again after it resolved when told to', async () => {
    // Prepare
    const calls: Call[] = [];
    const adapter = fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
      adapter: { updates: () => ({ edit: true, reply: true, newAfterResolve: false }), change },
    });
    const sink = chatSink(adapter, { now: () => T0 });
    const state = memoryState();

    // Act
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'a'));
    await sink.deliver(deliveryOf(destination, 1, 'resolved', state, 'b'));
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'c'));

    // Assess
    expect(calls.map(({ call, id, thread, text }) => [call, id ?? '', thread ?? '', text])).toEqual([
      ['post', '', '', 'firing web-0:9100'],
      ['edit', 'm1', '', 'resolved web-0:9100'],
      ['post', '', 'm1', 'was firing {"f000000000000000":"firing"}, now resolved'],
      ['edit', 'm1', '', 'firing web-0:9100'],
      ['post', '', 'm1', 'was resolved {"f000000000000000":"resolved"}, now firing'],
    ]);
  });

  it('should tell `after` the thread, and that the group started, only when this delivery posted its message new', async () => {
    // Prepare
    const calls: Call[] = [];
    const seen: { thread?: string; started: boolean; status: string }[] = [];
    const adapter = fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
      adapter: {
        async after({ delivery, thread, started, paced }) {
          await paced('graph');
          seen.push({ ...(thread ? { thread } : {}), started, status: delivery.notification.status });
        },
      },
    });
    const sink = chatSink(adapter, { now: () => T0 });
    const state = memoryState();
    const first = deliveryOf(destination, 1, 'firing', state, 'a');

    // Act
    await sink.deliver(first);
    await sink.deliver({ ...first, attempt: 2 });
    await sink.deliver(deliveryOf(destination, 1, 'resolved', state, 'b'));
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'c'));

    // Assess: the retry of the first delivery still started the group (its plan says so).
    expect(seen).toEqual([
      { thread: 'm1', started: true, status: 'firing' },
      { thread: 'm1', started: true, status: 'firing' },
      { thread: 'm1', started: false, status: 'resolved' },
      { thread: 'm2', started: true, status: 'firing' },
    ]);
    expect(state.keys().filter((k) => k.endsWith('#pace:graph'))).toHaveLength(3);
  });
});

describe('Function: chatSink (where the messages live, and records of an older shape)', () => {
  it('should start the group over where the channel posts now when its record is from another one', async () => {
    // Prepare
    const calls: Call[] = [];
    let where = 'C1';
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, { channel: () => ({ where }) }),
      { now: () => T0 },
    );
    const state = memoryState();
    const destination = { name: 'ops', sink: 'fakechat', storm: false as const };
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'a'));

    // Act
    where = 'C2';
    await sink.deliver(deliveryOf(destination, 1, 'resolved', state, 'b'));

    // Assess
    expect(calls.map(({ call, thread }) => [call, thread ?? ''])).toEqual([
      ['post', ''],
      ['post', ''],
    ]);
    expect(await recordOf(state)).toMatchObject({ messages: ['m2'], where: 'C2', status: 'resolved' });
  });

  it('should read a group record of the adapter’s older shape and carry on with its message', async () => {
    // Prepare: a record as a vendor wrote it before the stage: one message, in a channel.
    const calls: Call[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        channel: () => ({ where: 'C1' }),
        adapter: {
          updates: () => ({ edit: true, reply: true, newAfterResolve: true }),
          change: (previous) => `before: ${JSON.stringify(previous.alerts)}`,
          fromRecord: (stored) => {
            const old = stored as {
              channel?: string;
              ts?: string;
              status?: 'firing';
              alerts?: Record<string, 'firing'>;
            };
            return old.ts
              ? { messages: [old.ts], where: old.channel, status: old.status, alerts: old.alerts ?? {} }
              : undefined;
          },
        },
      }),
      { now: () => T0 },
    );
    const state = memoryState();
    await state.put(chatGroupKey('fakegroup', 'ops', '{}:{alertname="X"}'), {
      channel: 'C1',
      ts: '1700000000.000100',
      status: 'firing',
      alerts: { f000000000000000: 'firing' },
      postedAt: '2026-11-20T12:00:00.000Z',
      updatedAt: '2026-11-20T12:00:00.000Z',
    });

    // Act
    await sink.deliver(deliveryOf({ name: 'ops', sink: 'fakechat', storm: false }, 1, 'resolved', state));

    // Assess
    expect(calls.map(({ call, id, thread, text }) => [call, id ?? '', thread ?? '', text])).toEqual([
      ['edit', '1700000000.000100', '', 'resolved web-0:9100'],
      ['post', '', '1700000000.000100', 'before: {"f000000000000000":"firing"}'],
    ]);
    expect(await recordOf(state)).toMatchObject({
      messages: ['1700000000.000100'],
      where: 'C1',
      status: 'resolved',
    });
  });
});

describe('Function: chatSink (a message the vendor refuses as too long)', () => {
  const destination = { name: 'ops', sink: 'fakechat', storm: false as const };
  /** Every alert in one message; one message per alert from the first shrink on. */
  const render: ChatAdapter<ChatDestination, string>['render'] = ({ notification, shrink }) => {
    const lines = notification.alerts.map((a) => `${a.status} ${a.labels.instance}`);
    return shrink === 0 ? [lines.join(', ')] : lines;
  };

  it('should render the group smaller and post it again, the same split on a retry', async () => {
    // Prepare
    const calls: Call[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        limit: 20,
        adapter: { render, shrinks: 1 },
      }),
      { now: () => T0 },
    );
    const state = memoryState();
    const { logger, lines } = capturingLogger();
    const delivery = { ...deliveryOf(destination, 3, 'firing', state), logger };

    // Act
    await sink.deliver(delivery);
    await sink.deliver({ ...delivery, attempt: 2 });

    // Assess
    expect(calls.map(({ call, thread, text }) => [call, thread ?? '', text])).toEqual([
      ['post', '', 'firing web-0:9100'],
      ['post', 'm1', 'firing web-1:9100'],
      ['post', 'm1', 'firing web-2:9100'],
    ]);
    expect(lines).toContain(
      'warn Fake chat refused a message as too long; splitting it smaller {"shrink":1}',
    );
    expect(await recordOf(state)).toMatchObject({ messages: ['m1', 'm2', 'm3'] });
  });

  it('should edit what went out at the larger size to the smaller one instead of posting it again', async () => {
    // Prepare: the first message fits, the second (every other alert) does not.
    const calls: Call[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        limit: 30,
        adapter: {
          shrinks: 1,
          render: ({ notification, shrink }) => {
            const lines = notification.alerts.map((a) => `${a.status} ${a.labels.instance}`);
            return shrink === 0 ? [`${lines[0]} (first)`, lines.slice(1).join(', ')] : lines;
          },
        },
      }),
      { now: () => T0 },
    );

    // Act
    await sink.deliver(deliveryOf(destination, 3, 'firing'));

    // Assess
    expect(calls.map(({ call, id, thread, text }) => [call, id ?? '', thread ?? '', text])).toEqual([
      ['post', '', '', 'firing web-0:9100 (first)'],
      ['edit', 'm1', '', 'firing web-0:9100'],
      ['post', '', 'm1', 'firing web-1:9100'],
      ['post', '', 'm1', 'firing web-2:9100'],
    ]);
  });

  it('should fail permanently, with the vendor’s reason, once the adapter cannot render smaller', async () => {
    // Prepare
    const calls: Call[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        limit: 10,
        adapter: { render, shrinks: 1 },
      }),
      { now: () => T0 },
    );

    // Act
    const error = await failure(sink.deliver(deliveryOf(destination, 3, 'firing')));

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toBe('Fake chat: the message is too long');
    expect(calls).toEqual([]);
  });
});

describe('Function: chatSink (pacing every call in the channel’s budget)', () => {
  const destination = { name: 'ops', sink: 'fakechat', storm: false as const };
  /** A delivery of its own group (`i`), one message. */
  const groupDelivery = (
    state: ReturnType<typeof memoryState>,
    i: number,
    receivedAt = '2026-11-21T12:00:00.000Z',
  ) => {
    const d = vendorDelivery(destination, makeNotification({ groupKey: `{}:{g="${i}"}` }), {
      state,
      idempotencyKey: `group-${i}`,
    });
    return { ...d, receivedAt };
  };

  it('should let a burst go at once, then give each later delivery its own turn, kept across its attempts', async () => {
    // Prepare: Slack's pace, a burst of 3 then one call a second.
    const calls: Call[] = [];
    let now = T0;
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        pace: { burst: 3, intervalMs: 1000 },
      }),
      { now: () => now },
    );
    const state = memoryState();

    // Act
    const first = [];
    for (let i = 0; i < 5; i++)
      first.push(await sink.deliver(groupDelivery(state, i)).catch((e: unknown) => e));
    now = T0 + 1000;
    const fourth = await sink.deliver(groupDelivery(state, 3)).catch((e: unknown) => e);
    const fifthEarly = await sink.deliver(groupDelivery(state, 4)).catch((e: unknown) => e);
    now = T0 + 2000;
    const fifth = await sink.deliver(groupDelivery(state, 4)).catch((e: unknown) => e);

    // Assess
    expect(first.map((e) => (e instanceof DeferredError ? e.retryAfterSeconds : 'posted'))).toEqual([
      'posted',
      'posted',
      'posted',
      1,
      2,
    ]);
    expect((first[3] as DeferredError).message).toBe(
      "Fake pacing: this notification's message may go out in 1 s",
    );
    expect([fourth, fifth]).toEqual([undefined, undefined]);
    expect((fifthEarly as DeferredError).retryAfterSeconds).toBe(1);
    expect(calls).toHaveLength(5);
  });

  it('should hand a delivery that comes back before its turn back again without rendering anything', async () => {
    // Prepare: one call a second, taken by another group's post; renders counted.
    const calls: Call[] = [];
    let renders = 0;
    let now = T0;
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        pace: { burst: 1, intervalMs: 2000 },
        adapter: {
          render: ({ notification }) => {
            renders++;
            return notification.alerts.map((a) => `${a.status} ${a.labels.instance}`);
          },
        },
      }),
      { now: () => now },
    );
    const state = memoryState();
    await sink.deliver(groupDelivery(state, 0));
    const waiting = await failure(sink.deliver(groupDelivery(state, 1)));
    const rendered = renders;

    // Act
    now = T0 + 1000;
    const early = await failure(sink.deliver(groupDelivery(state, 1)));
    now = T0 + 2000;
    await sink.deliver(groupDelivery(state, 1));

    // Assess
    expect([waiting, early].map((e) => (e as DeferredError).retryAfterSeconds)).toEqual([2, 1]);
    expect((early as DeferredError).message).toBe(
      "Fake pacing: this notification's message may go out in 1 s",
    );
    expect(renders).toBe(rendered + 1);
    expect(calls).toHaveLength(2);
  });

  it('should wait whole seconds, rounded up, and find the burst free again once the channel was quiet', async () => {
    // Prepare
    const calls: Call[] = [];
    let now = T0;
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        pace: { burst: 1, intervalMs: 1500 },
      }),
      { now: () => now },
    );
    const state = memoryState();
    await sink.deliver(groupDelivery(state, 0));

    // Act
    const second = await failure(sink.deliver(groupDelivery(state, 1)));
    now = T0 + 60_000;
    await sink.deliver(groupDelivery(state, 2, '2026-11-21T12:01:00.000Z'));

    // Assess
    expect((second as DeferredError).retryAfterSeconds).toBe(2);
    expect(calls).toHaveLength(2);
  });

  it('should take no turn for a delivery that calls the vendor for nothing', async () => {
    // Prepare: a group whose messages stay as posted, told again that it resolved.
    const calls: Call[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        pace: { burst: 1, intervalMs: 1000 },
        adapter: {
          updates: () => ({ edit: false, reply: true, newAfterResolve: true }),
          change: () => undefined,
        },
      }),
      { now: () => T0 },
    );
    const state = memoryState();
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'a'));
    const budget = await state.get('fakepace#1');

    // Act
    await sink.deliver(deliveryOf(destination, 1, 'resolved', state, 'b'));

    // Assess
    expect(await state.get('fakepace#1')).toEqual(budget);
    expect(calls).toHaveLength(1);
  });

  it('should not make edits wait for a budget that paces posts only', async () => {
    // Prepare: one call a second, edits not counted.
    const calls: Call[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        channel: () => ({
          budget: {
            key: 'fakepace#1',
            pace: { burst: 1, intervalMs: 1000 },
            what: 'Fake pacing',
            edits: false,
          },
        }),
      }),
      { now: () => T0 },
    );
    const state = memoryState();

    // Act
    await sink.deliver(deliveryOf(destination, 1, 'firing', state, 'a'));
    await sink.deliver(deliveryOf(destination, 1, 'resolved', state, 'b'));

    // Assess
    expect(calls.map((c) => c.call)).toEqual(['post', 'edit']);
  });
});

describe('Function: chatSink (later parts of a split notification)', () => {
  it('should put a later part into the group’s thread, or thread its messages under its first when the group has none', async () => {
    // Prepare
    const calls: Call[] = [];
    const sink = chatSink(fakeAdapter({ edit: true, remove: false, thread: true }, calls), { now: () => T0 });
    const destination = { name: 'ops', sink: 'fakechat', storm: false as const };
    const part = (state: ReturnType<typeof memoryState>, index: number) =>
      vendorDelivery(destination, makeNotification({ count: 2, groupKey: '{}:{alertname="X"}' }), {
        state,
        idempotencyKey: `part-${index}`,
        part: { index, count: 2 },
      });
    const state = memoryState();

    // Act
    await sink.deliver(part(state, 1));
    await sink.deliver(part(state, 2));
    await sink.deliver(part(memoryState(), 2));

    // Assess
    expect(calls.map(({ thread }) => thread ?? '')).toEqual(['', 'm1', 'm1', 'm1', '', 'm5']);
    expect(await recordOf(state)).toMatchObject({ messages: ['m1', 'm2'] });
  });
});

describe('Function: chatSink (under the record handler: the group record and the journal in Delivery.group)', () => {
  const destination = { name: 'ops', sink: 'fakechat', storm: false as const };
  const GROUP_KEY = '{}:{alertname="X"}';

  /** The record handler's side of a delivery: the group's record read, a session over it. */
  async function underHandler(delivery: Delivery<ChatDestination>, receive: number) {
    const record = await readGroupRecord(delivery.state, delivery.destination.name, GROUP_KEY);
    const group = new GroupSession({
      state: delivery.state,
      destination: delivery.destination.name,
      groupKey: GROUP_KEY,
      message: delivery,
      record,
      receive: {
        messageId: `m-${delivery.idempotencyKey}`,
        count: receive,
        renewals: 0,
        firstReceivedAt: T0,
      },
      now: () => T0,
    });
    return { delivery: { ...delivery, group }, group };
  }

  it('should keep the group’s chat record in the group record, and edit its message from there', async () => {
    // Prepare
    const calls: Call[] = [];
    const sink = chatSink(fakeAdapter({ edit: true, remove: false, thread: true }, calls), { now: () => T0 });
    const state = versionedState();
    const first = await underHandler(deliveryOf(destination, 1, 'firing', state, 'a'), 1);
    await sink.deliver(first.delivery);
    await first.group.succeeded();

    // Act
    const second = await underHandler(deliveryOf(destination, 1, 'resolved', state, 'b'), 1);
    await sink.deliver(second.delivery);
    await second.group.succeeded();

    // Assess
    expect(calls.map(({ call, id }) => [call, id ?? ''])).toEqual([
      ['post', ''],
      ['edit', 'm1'],
    ]);
    expect(await readGroupRecord(state, 'ops', GROUP_KEY)).toMatchObject({
      v: 2,
      sink: { messages: ['m1'], status: 'resolved' },
    });
    expect(
      [...state.items.keys()].filter((k) => k.startsWith('fakegroup#') || k.startsWith('step#')),
    ).toEqual([]);
  });

  it('should read the chat record an older relay kept under its own key once, and carry it into the group record', async () => {
    // Prepare: the group's record and its chat record as an older relay wrote them.
    const calls: Call[] = [];
    const sink = chatSink(fakeAdapter({ edit: true, remove: false, thread: true }, calls), { now: () => T0 });
    const state = versionedState();
    await state.put(`group#ops#${createHash('sha256').update(GROUP_KEY).digest('hex')}`, {
      receivedAt: '2026-11-21T11:00:00.000Z',
      keys: ['old'],
      appliedAt: '2026-11-21T11:00:00.000Z',
    });
    await state.put(chatGroupKey('fakegroup', 'ops', GROUP_KEY), { messages: ['m0'], status: 'firing' });
    const { delivery, group } = await underHandler(deliveryOf(destination, 1, 'resolved', state, 'a'), 1);

    // Act
    await sink.deliver(delivery);
    await group.succeeded();

    // Assess
    expect(group.legacy).toBe(true);
    expect(calls.map(({ call, id }) => [call, id ?? ''])).toEqual([['edit', 'm0']]);
    expect(await readGroupRecord(state, 'ops', GROUP_KEY)).toMatchObject({
      v: 2,
      sink: { messages: ['m0'], status: 'resolved' },
    });
  });

  it('should still find the older relay’s chat record after a failed first attempt wrote the group’s record', async () => {
    // Prepare: an older relay's records; Slack-like edits fail once with a 503.
    const calls: Call[] = [];
    let failEdit = true;
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        channel: (made) => ({
          edit: async (id, text) => {
            made.push({ call: 'edit', id, text });
            if (failEdit) {
              failEdit = false;
              throw new RetryableError('Fake chat answered 503');
            }
            return 'edited';
          },
        }),
      }),
      { now: () => T0 },
    );
    const state = versionedState();
    await state.put(`group#ops#${createHash('sha256').update(GROUP_KEY).digest('hex')}`, {
      receivedAt: '2026-11-21T11:00:00.000Z',
      keys: ['old'],
      appliedAt: '2026-11-21T11:00:00.000Z',
    });
    await state.put(chatGroupKey('fakegroup', 'ops', GROUP_KEY), { messages: ['m0'], status: 'firing' });
    const delivery = deliveryOf(destination, 1, 'resolved', state, 'a');
    const first = await underHandler(delivery, 1);
    await failure(sink.deliver(first.delivery));
    first.group.countFailure(new Date(T0).toISOString());
    await first.group.save();

    // Act
    const retry = await underHandler(delivery, 2);
    await sink.deliver(retry.delivery);
    await retry.group.succeeded();

    // Assess
    expect(retry.group.legacy).toBe(true);
    expect(calls.map(({ call, id }) => [call, id ?? ''])).toEqual([
      ['edit', 'm0'],
      ['edit', 'm0'],
    ]);
    expect(await readGroupRecord(state, 'ops', GROUP_KEY)).toMatchObject({
      v: 2,
      sink: { messages: ['m0'] },
    });
  });

  it('should look up what a crashed receive may have posted, and post nothing twice', async () => {
    // Prepare: the first receive posts both messages and dies before anything is written.
    const calls: Call[] = [];
    const lookups: { key: string; since: number; thread?: string }[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        channel: (made) => ({ find: findByKey(made, lookups) }),
      }),
      { now: () => T0 },
    );
    const state = versionedState();
    const delivery = deliveryOf(destination, 2, 'firing', state, 'a');
    await sink.deliver((await underHandler(delivery, 1)).delivery);

    // Act: its second receive.
    const retry = await underHandler(delivery, 2);
    await sink.deliver(retry.delivery);

    // Assess
    expect(retry.group.unsure).toBe(true);
    expect(calls.map((c) => c.call)).toEqual(['post', 'post']);
    expect(lookups.map((l) => [l.key, l.since])).toEqual([
      [calls[0].key, T0],
      [calls[1].key, T0],
    ]);
  });

  it('should stop looking up once the first post a crashed receive may have made was not made', async () => {
    // Prepare: the first receive died before its first post.
    const calls: Call[] = [];
    const lookups: { key: string; since: number; thread?: string }[] = [];
    const sink = chatSink(
      fakeAdapter({ edit: true, remove: false, thread: true }, calls, {
        channel: (made) => ({ find: findByKey(made, lookups) }),
      }),
      { now: () => T0 },
    );
    const state = versionedState();
    const retry = await underHandler(deliveryOf(destination, 2, 'firing', state, 'a'), 2);

    // Act
    await sink.deliver(retry.delivery);

    // Assess
    expect(calls.map((c) => c.call)).toEqual(['post', 'post']);
    expect(lookups).toHaveLength(1);
    expect(retry.group.unsure).toBe(false);
  });
});

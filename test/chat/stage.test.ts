import { describe, expect, it } from 'vitest';
import type { ChatAdapter, ChatDestination } from '../../lib/chat/adapter.ts';
import { chatGroupKey, chatSink } from '../../lib/chat/stage.ts';
import { makeNotification } from '../support/notifications.ts';
import { memoryState, vendorDelivery } from '../support/vendor-delivery.ts';

const T0 = Date.parse('2026-11-21T12:00:00.000Z');

interface Call {
  call: 'post' | 'edit' | 'remove';
  id?: string;
  text?: string;
  thread?: string;
}

/** A vendor in memory: what the stage asked of it, and the abilities it declares. */
function fakeAdapter(can: ChatAdapter<ChatDestination, string>['can'], calls: Call[]) {
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
        budget: { key: 'fakepace#1', pace: { burst: 100, intervalMs: 1 }, what: 'Fake pacing' },
        label: 'fake',
        async post(text, { thread }) {
          calls.push({ call: 'post', text, ...(thread ? { thread } : {}) });
          next++;
          return { id: `m${next}` };
        },
        async edit(id, text) {
          calls.push({ call: 'edit', id, text });
          return 'edited';
        },
        async remove(id) {
          calls.push({ call: 'remove', id });
        },
      };
    },
    // One message per alert: a group of n alerts is n messages.
    render: ({ notification }) => notification.alerts.map((a) => `${a.status} ${a.labels.instance}`),
    digest: () => 'digest',
  };
  return adapter;
}

function deliveryOf(
  destination: ChatDestination,
  count: number,
  status: 'firing' | 'resolved',
  state = memoryState(),
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

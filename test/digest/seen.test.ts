import { describe, expect, it } from 'vitest';
import { seenGroup } from '../../lib/digest/seen.ts';
import { makeNotification } from '../support/notifications.ts';
import { memoryState, vendorDelivery } from '../support/vendor-delivery.ts';

const now = () => Date.parse('2026-11-21T12:00:00.000Z');

describe('Function: seenGroup', () => {
  it('should remember a group once it had its own message, while storm mode is on', async () => {
    // Prepare
    const state = memoryState();
    const delivery = vendorDelivery({ name: 'ops', sink: 'teams' }, makeNotification({}), { state });

    // Act
    const first = await seenGroup(delivery, 'teamsgroup', now);
    await first.markSeen();
    const second = await seenGroup(delivery, 'teamsgroup', now);

    // Assess
    expect(first.seen).toBe(false);
    expect(second.seen).toBe(true);
    expect(second.groupId).toMatch(/^[0-9a-f]{40}$/);
    expect(state.keys()).toEqual([`teamsgroup#ops#${first.groupId}`]);
  });

  it('should keep nothing with storm mode off', async () => {
    // Prepare
    const state = memoryState();
    const delivery = vendorDelivery(
      { name: 'ops', sink: 'teams', storm: false as const },
      makeNotification({}),
      {
        state,
      },
    );

    // Act
    const first = await seenGroup(delivery, 'teamsgroup', now);
    await first.markSeen();

    // Assess
    expect(first.seen).toBe(false);
    expect(state.keys()).toEqual([]);
  });
});

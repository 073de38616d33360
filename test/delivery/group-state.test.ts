import { describe, expect, it } from 'vitest';
import { afterApply, afterDuplicate, judge } from '../../lib/delivery/group-state.ts';

const T = (seconds: number) => new Date(Date.UTC(2026, 10, 21, 12, 0, seconds)).toISOString();

describe('Function: judge', () => {
  const applied = afterApply(undefined, { idempotencyKey: 'firing', receivedAt: T(1) }, T(2));

  it('should skip the same content within the window, apply a re-fire after other content, and supersede what is older', () => {
    // Act & Assess
    expect(judge({ idempotencyKey: 'firing', receivedAt: T(3) }, applied).action).toBe('duplicate');
    expect(judge({ idempotencyKey: 'resolved', receivedAt: T(3) }, applied).action).toBe('apply');
    expect(judge({ idempotencyKey: 'resolved', receivedAt: T(0) }, applied)).toEqual({
      action: 'superseded',
      by: T(1),
    });
  });

  it('should supersede a message accepted before a later duplicate of the applied notification', () => {
    // Prepare: firing applied at 1 s, its duplicate at 3 s (Alertmanager said firing again).
    const confirmed = afterDuplicate(applied, { receivedAt: T(3) });

    // Act: a dead-lettered firing-two from 2 s, redriven now.
    const verdict = judge({ idempotencyKey: 'firing-two', receivedAt: T(2) }, confirmed);

    // Assess
    expect(confirmed?.confirmedAt).toBe(T(3));
    expect(verdict).toEqual({ action: 'superseded', by: T(3) });
    expect(judge({ idempotencyKey: 'firing-two', receivedAt: T(4) }, confirmed).action).toBe('apply');
  });
});

describe('Function: judge, for a storm backfill', () => {
  // The group's folded notification (firing, accepted at 1 s) was applied when it was folded.
  const folded = afterApply(undefined, { idempotencyKey: 'firing', receivedAt: T(1) }, T(2));
  const backfill = { idempotencyKey: 'firing-backfill', receivedAt: T(1), backfill: 'storm-1' };

  it('should apply the backfill of the notification the group last applied, also after a duplicate confirmed it', () => {
    // Prepare: Alertmanager's reminder with the same content at 3 s was a duplicate.
    const confirmed = afterDuplicate(folded, { receivedAt: T(3) });

    // Act & Assess
    expect(judge(backfill, folded).action).toBe('apply');
    expect(judge(backfill, confirmed).action).toBe('apply');
    expect(judge({ ...backfill, backfill: undefined }, confirmed).action).toBe('superseded');
  });

  it('should supersede the backfill once a newer notification of the group was applied, and skip it once applied', () => {
    // Prepare
    const resolved = afterApply(folded, { idempotencyKey: 'resolved', receivedAt: T(4) }, T(5));
    const backfilled = afterApply(folded, backfill, T(6));

    // Act & Assess
    expect(judge(backfill, resolved)).toEqual({ action: 'superseded', by: T(4) });
    expect(judge(backfill, backfilled).action).toBe('duplicate');
    // The folded notification's own HA copy is still a duplicate after the backfill.
    expect(judge({ idempotencyKey: 'firing', receivedAt: T(2) }, backfilled).action).toBe('duplicate');
  });
});

describe('Function: afterDuplicate', () => {
  it('should record only a duplicate that is newer than what the group knows', () => {
    // Prepare
    const applied = afterApply(undefined, { idempotencyKey: 'firing', receivedAt: T(5) }, T(6));

    // Act & Assess
    expect(afterDuplicate(applied, { receivedAt: T(4) })).toBeUndefined();
    expect(afterDuplicate(applied, { receivedAt: T(5) })).toBeUndefined();
    const later = afterDuplicate(applied, { receivedAt: T(8) });
    expect(later).toEqual({ ...applied, confirmedAt: T(8) });
    expect(later && afterDuplicate(later, { receivedAt: T(7) })).toBeUndefined();
    // A new notification applied starts afresh.
    expect(
      afterApply(later, { idempotencyKey: 'resolved', receivedAt: T(9) }, T(9)).confirmedAt,
    ).toBeUndefined();
  });
});

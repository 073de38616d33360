import { describe, expect, it } from 'vitest';
import type { StormState } from '../../../lib/chat/storm/storm.ts';
import type { DigestTotals } from '../../../lib/chat/storm/tally.ts';
import { chatDigest, stormThreadKey } from '../../../lib/sinks/googlechat/digest.ts';
import { chatText } from '../../../lib/sinks/googlechat/text.ts';

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);
const STORM: StormState = {
  id: 'storm-1',
  startedAt: T0,
  overUntil: T0 + 60_000,
  revision: 40,
  shown: 39,
  starter: 'delivery-1',
  nextEditAt: T0 + 10_000,
  groups: 40,
};

function totals(rows: DigestTotals['rows'], newest: DigestTotals['newest']): DigestTotals {
  return { groups: 40, firingGroups: 40, firing: 400, resolved: 0, rows, newest, stillFiring: [] };
}

describe('Function: chatDigest', () => {
  it('should keep a digest of long astral alertnames and long links within both of Chat limits, counting what it leaves out', () => {
    // Prepare: 30 alertnames of 120 astral characters (240 UTF-16 code units each), 10 groups with 2,900-character links.
    const rows = Array.from(
      { length: 30 },
      (_, i) =>
        [
          `${'𝔄'.repeat(117)}${String(i).padStart(3, '0')}`,
          '𝔖'.repeat(40),
          10,
          0,
        ] as DigestTotals['rows'][number],
    );
    const newest = Array.from({ length: 10 }, (_, i) => ({
      title: `<users/all> ${'界'.repeat(140)} ${i}`,
      link: `https://prometheus.example/graph?g0.expr=${'x'.repeat(2860)}&i=${i}`,
      status: 'firing' as const,
      at: T0 + i,
    }));

    // Act
    const message = chatDigest('storm-chat', STORM, totals(rows, newest));

    // Assess
    expect(message.text.length).toBeLessThanOrEqual(4096);
    expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThanOrEqual(32_000);
    expect(message.text.isWellFormed()).toBe(true);
    expect(message.thread.threadKey).toBe(stormThreadKey('storm-chat', STORM.id));
    const lines = message.text.split('\n');
    const shownRows = lines.filter((line) => line.startsWith('• *'));
    const shownGroups = lines.filter((line) => line.startsWith('🔴 '));
    expect(lines).toContain(`… and ${rows.length - shownRows.length} more alertnames`);
    expect(shownGroups.length).toBeLessThan(10);
    expect(lines).toContain(`… and ${10 - shownGroups.length} more groups not listed here`);
    expect(lines.at(-1)).toBe('400 firing, 0 resolved alerts in 40 groups');
    expect(message.text).not.toContain('<users/all>');
    for (const group of shownGroups) expect(group).toContain(chatText('<users/all>'));
  });
});

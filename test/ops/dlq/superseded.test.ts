import { describe, expect, it } from 'vitest';
import { type AppliedGroup, groupStateKey } from '../../../lib/delivery/group-state.ts';
import { type CommandIo, listCommand, redriveCommand } from '../../../lib/ops/dlq/commands.ts';
import type { DeadLetterQueues, RawDeadLetter } from '../../../lib/ops/dlq/dead-letters.ts';

const GROUP = '{}:{alertname="HighLatency"}';

function letter(id: string, key: string, receivedAt: string): RawDeadLetter {
  return {
    messageId: id,
    body: JSON.stringify({
      v: 1,
      destination: 'pd',
      sink: 'pagerduty',
      idempotencyKey: key,
      part: { index: 1, count: 1 },
      receivedAt,
      notification: { groupKey: GROUP, status: 'firing', alerts: [{ labels: { alertname: 'HighLatency' } }] },
    }),
    attributes: { reason: 'RetryableError: pagerduty answered 503', attempts: '5' },
  };
}

/** DLQs in memory, with the relay's group state readable (as the local backend has it). */
function memoryQueues(letters: RawDeadLetter[], groups: Map<string, AppliedGroup>, withState = true) {
  const moved: RawDeadLetter[] = [];
  const queues: DeadLetterQueues = {
    description: 'memory',
    sinks: async () => ['pagerduty'],
    depth: async () => letters.length,
    peek: async (_, limit) => letters.slice(0, limit),
    redrive: async () => {
      moved.push(...letters.splice(0));
      return { moved: moved.length, total: moved.length, status: 'completed' };
    },
    purge: async () => 0,
    ...(withState
      ? {
          appliedGroup: async (destination: string, groupKey: string) =>
            groups.get(groupStateKey(destination, groupKey)),
        }
      : {}),
  };
  return { queues, moved };
}

function recordingIo(): CommandIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, print: (text) => lines.push(...text.split('\n')), confirm: async () => true };
}

const applied = (receivedAt: string, keys: string[]): Map<string, AppliedGroup> =>
  new Map([[groupStateKey('pd', GROUP), { receivedAt, keys, appliedAt: receivedAt }]]);

describe('Command: dlq list', () => {
  it('should say which dead letters a newer notification of their group superseded', async () => {
    // Prepare
    const { queues } = memoryQueues(
      [
        letter('m1', 'k-firing', '2026-11-21T12:00:00.000Z'),
        letter('m2', 'k-new', '2026-11-21T12:10:00.000Z'),
      ],
      applied('2026-11-21T12:05:00.000Z', ['k-resolved']),
    );
    const io = recordingIo();

    // Act
    await listCommand(queues, io);

    // Assess
    const rows = io.lines.filter((line) => line.startsWith('pd '));
    expect(rows[0]).toContain('superseded by 2026-11-21T12:05:00.000Z');
    expect(rows[1]).toContain('pending');
    expect(io.lines).toContain(
      "  pagerduty: 1 of 2 superseded by a newer notification of their group: a sink that shows the group's state (Slack, PagerDuty, Sentry, ...) skips them (metric Superseded) and reopens nothing; an event-log sink (webhook, console) delivers them marked as superseded.",
    );
  });
});

describe('Command: dlq redrive', () => {
  it('should report after the move how many of the redriven were superseded, already applied or to apply', async () => {
    // Prepare
    const { queues, moved } = memoryQueues(
      [
        letter('m1', 'k-firing', '2026-11-21T12:00:00.000Z'),
        letter('m2', 'k-resolved', '2026-11-21T12:05:00.000Z'),
        letter('m3', 'k-next', '2026-11-21T12:09:00.000Z'),
      ],
      applied('2026-11-21T12:05:00.000Z', ['k-resolved']),
    );
    const io = recordingIo();

    // Act
    const ok = await redriveCommand(queues, io, { sink: 'pagerduty' });

    // Assess
    expect(ok).toBe(true);
    expect(moved).toHaveLength(3);
    expect(io.lines).toContain(
      '  1 superseded (a newer notification of their group was applied first), 1 already applied (skipped as duplicates), 1 to apply',
    );
  });

  it('should not peek (and so not hold back) a backend whose group state it cannot read', async () => {
    // Prepare
    const { queues } = memoryQueues([letter('m1', 'k', '2026-11-21T12:00:00.000Z')], new Map(), false);
    let peeked = false;
    const peek = queues.peek;
    queues.peek = async (...args) => {
      peeked = true;
      return peek(...args);
    };
    const io = recordingIo();

    // Act
    await redriveCommand(queues, io, { sink: 'pagerduty' });

    // Assess
    expect(peeked).toBe(false);
    expect(io.lines.at(-1)).toMatch(/metric Superseded/);
  });
});

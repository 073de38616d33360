import { describe, expect, it } from 'vitest';
import { type Fault, type FaultServer, faults, startFaultServer } from '../support/fault-server.ts';
import { type LocalRelay, useLocalRelay } from '../support/local-relay.ts';
import { makeNotification } from '../support/notifications.ts';

const TOKEN = 'fault-modes-token-91c2';
/** Notifications per mode, each its own alert group (its own FIFO message group). */
const NOTIFICATIONS = 3;

/**
 * Each fault mode of a vendor, through the local runtime (ingest -> node:sqlite FIFO queue ->
 * record handler -> webhook sink): exactly one effect per notification at the sink, or the DLQ
 * with the right reason for a permanent error; and per destination the counts add up,
 * accepted = delivered + dead-lettered.
 */
describe('Reliability: vendor fault modes through the local runtime', () => {
  const local = useLocalRelay('faults');
  let sink: FaultServer;
  let relay: LocalRelay | undefined;

  async function run(fault: Fault, destination: Record<string, unknown> = {}) {
    sink = local.own(await startFaultServer({ fault }));
    // Backoff is not under test here (the fixture's retries come back at once); Retry-After
    // is, and it is honoured whatever the backoff says.
    const r = await local.start({
      token: TOKEN,
      destinations: [{ name: 'vendor', sink: 'webhook', url: sink.url, ...destination }],
    });
    relay = r;
    const statuses: number[] = [];
    for (let i = 0; i < NOTIFICATIONS; i++) {
      const notification = makeNotification({ groupKey: `{}:{alertname="Fault${i}"}`, count: 2 });
      statuses.push((await r.post(notification)).status);
    }
    const count = {
      accepted: () => r.telemetry.get('MessagesEnqueued', 'vendor'),
      delivered: () => r.telemetry.get('Delivered', 'vendor'),
      deadLettered: () => r.telemetry.get('DeadLettered', 'vendor'),
    };
    await r.until(() => count.delivered() + count.deadLettered() === NOTIFICATIONS);
    await r.until(() => r.queue.depth('webhook').inFlight === 0 && r.queue.depth('webhook').visible === 0);
    return {
      statuses,
      accepted: count.accepted(),
      delivered: count.delivered(),
      deadLettered: count.deadLettered(),
      dead: r.deadLetters('webhook', 100),
      attemptsPerKey: [...countBy(sink.attempts.map((a) => a.key)).values()],
    };
  }

  it.each([
    ['500 for the first 2 attempts', faults.serverError(2), {}, 3],
    ['a hang past the 1 s timeout', faults.hang(1), { timeoutSeconds: 1 }, 2],
    ['a connection reset', faults.reset(1), {}, 2],
    ['a slow answer (2 s) within the timeout', faults.slow(2_000), {}, 1],
  ])('should deliver exactly once after %s', async (_name, fault, destination, attempts) => {
    // Act
    const result = await run(fault, destination);

    // Assess
    expect(result.statuses).toEqual(Array(NOTIFICATIONS).fill(202));
    expect(result.accepted).toBe(NOTIFICATIONS);
    expect(result.delivered).toBe(NOTIFICATIONS);
    expect(result.deadLettered).toBe(0);
    expect(result.accepted).toBe(result.delivered + result.deadLettered);
    expect(sink.effects.size).toBe(NOTIFICATIONS);
    expect([...sink.effects.values()]).toEqual(Array(NOTIFICATIONS).fill(1));
    expect(result.attemptsPerKey).toEqual(Array(NOTIFICATIONS).fill(attempts));
    expect(result.dead).toEqual([]);
  });

  it('should wait out a 429 Retry-After before the next attempt, then deliver once', async () => {
    // Act
    const result = await run(faults.rateLimited(2));

    // Assess
    expect(result.delivered).toBe(NOTIFICATIONS);
    expect(result.accepted).toBe(result.delivered + result.deadLettered);
    expect(result.attemptsPerKey).toEqual(Array(NOTIFICATIONS).fill(2));
    for (const key of sink.effects.keys()) {
      const [first, second] = sink.attempts.filter((a) => a.key === key);
      expect(first.outcome).toBe(429);
      expect(second.outcome).toBe(200);
      expect(second.at - first.at).toBeGreaterThanOrEqual(2_000);
    }
    // Each 429 was a wait: no attempt counted.
    expect(relay?.telemetry.get('Retried', 'vendor')).toBe(0);
  });

  it.each([400, 401, 404, 410])(
    'should dead-letter at once on a permanent %i, with the status and the reason',
    async (status) => {
      // Act
      const result = await run(faults.permanent(status));

      // Assess
      expect(result.accepted).toBe(NOTIFICATIONS);
      expect(result.delivered).toBe(0);
      expect(result.deadLettered).toBe(NOTIFICATIONS);
      expect(result.accepted).toBe(result.delivered + result.deadLettered);
      expect(sink.effects.size).toBe(0);
      expect(result.attemptsPerKey).toEqual(Array(NOTIFICATIONS).fill(1));
      expect(result.dead).toHaveLength(NOTIFICATIONS);
      for (const dead of result.dead) {
        expect(dead.attributes).toMatchObject({
          destination: 'vendor',
          statusCode: String(status),
          errorType: 'permanent',
          attempts: '1',
        });
        expect(dead.attributes.reason).toMatch(
          new RegExp(`^PermanentError: webhook 127\\.0\\.0\\.1:\\d+ answered ${status}`),
        );
      }
    },
  );

  it('should dead-letter after maxReceiveCount attempts when the vendor keeps failing, saying so', async () => {
    // Act
    const result = await run(faults.serverError(100, 502));

    // Assess
    expect(result.delivered).toBe(0);
    expect(result.deadLettered).toBe(NOTIFICATIONS);
    expect(result.accepted).toBe(result.delivered + result.deadLettered);
    expect(result.attemptsPerKey).toEqual(Array(NOTIFICATIONS).fill(5));
    for (const dead of result.dead) {
      expect(dead.attributes.errorType).toBe('retries-exhausted');
      expect(dead.attributes.reason).toMatch(/^gave up after 5 attempts: RetryableError: .* answered 502/);
    }
  });
});

function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

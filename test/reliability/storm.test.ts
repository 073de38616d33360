import { beforeAll, describe, expect, it } from 'vitest';
import type { FaultServer } from '../support/fault-server.ts';
import { type LocalRelay, useLocalRelay } from '../support/local-relay.ts';
import {
  destinationOutcome,
  expectedDeliveries,
  postStorm,
  STORM,
  startStormSinks,
  stormNotifications,
} from './support/storm.ts';

const TOKEN = 'storm-ingest-token-5d1e';

/**
 * 10,000 alerts in 500 groups from 32 concurrent clients into the in-process local runtime,
 * three webhook destinations, one failing 30% of its attempts at random (seeded). Every alert
 * must reach every destination that selects it exactly once, or sit in that destination's DLQ.
 */
describe('Reliability: alert storm through the local runtime', () => {
  const local = useLocalRelay('storm', { scope: 'file' });
  let relay: LocalRelay;
  let sinks: Record<string, FaultServer>;

  beforeAll(async () => {
    const storm = await startStormSinks();
    sinks = storm.sinks;
    for (const sink of Object.values(sinks)) local.own(sink);
    // Retries come back at once (the fixture's default): the storm tests accounting, not the backoff curve.
    relay = await local.start({ token: TOKEN, destinations: storm.destinations });
  });

  it('should deliver every alert to every matching destination exactly once or dead-letter it, and the counts add up', async () => {
    // Prepare
    const notifications = stormNotifications();
    const expected = expectedDeliveries(notifications);
    const totalMessages = [...expected.values()].reduce((sum, e) => sum + e.messages, 0);
    const started = performance.now();

    // Act
    const posted = await postStorm(notifications, { target: () => relay.url, token: TOKEN });
    const settled = () =>
      ['all', 'critical', 'flaky'].reduce(
        (sum, d) => sum + relay.telemetry.get('Delivered', d) + relay.telemetry.get('DeadLettered', d),
        0,
      ) >= totalMessages;
    await relay.until(settled);
    const seconds = (performance.now() - started) / 1000;

    // Assess
    const dead = relay.deadLetters('webhook', 10_000);
    const rows: string[] = [];
    for (const [name, want] of expected) {
      const sink = sinks[name];
      const { deadHere, deadAlerts, got } = destinationOutcome(name, sink, dead);
      const counts = {
        accepted: relay.telemetry.get('MessagesEnqueued', name),
        delivered: relay.telemetry.get('Delivered', name),
        deadLettered: relay.telemetry.get('DeadLettered', name),
      };
      rows.push(
        `${name.padEnd(9)} alerts ${String(want.alerts.size).padStart(6)}  messages ${counts.accepted}` +
          ` = delivered ${counts.delivered} + dead-lettered ${counts.deadLettered}` +
          `  sink effects ${sink.effects.size}, attempts ${sink.attempts.length}, absorbed ${sink.absorbed()}`,
      );
      expect(counts.accepted).toBe(want.messages);
      expect(counts.delivered + counts.deadLettered).toBe(counts.accepted);
      expect(sink.effects.size).toBe(counts.delivered);
      expect(deadHere).toHaveLength(counts.deadLettered);
      for (const id of want.alerts) {
        const delivered = got.get(id) ?? 0;
        expect.soft(delivered + (deadAlerts.has(id) ? 1 : 0), `${name} ${id}`).toBe(1);
      }
      expect([...got.keys()].filter((id) => !want.alerts.has(id))).toEqual([]);
    }
    console.log(
      `storm: ${notifications.length} notifications, ${notifications.length * STORM.alertsPerGroup} alerts,` +
        ` ${STORM.clients} clients, ${posted.retried} client retries, all settled in ${seconds.toFixed(1)} s\n` +
        rows.join('\n'),
    );
    expect(posted.accepted).toBe(notifications.length);
    expect(sinks.flaky.attempts.length).toBeGreaterThan(sinks.flaky.effects.size);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Relay, startRelay } from '../../lib/local/runtime.ts';
import { deadLetterQueueName } from '../../lib/queue/local.ts';
import type { QueueMessage } from '../../lib/queue/message.ts';
import { LocalSecrets } from '../../lib/secrets.ts';
import { type FaultServer, faults, startFaultServer } from '../support/fault-server.ts';
import {
  alertId,
  expectedDeliveries,
  postStorm,
  STORM,
  stormDestinations,
  stormNotifications,
} from './support/storm.ts';

const TOKEN = 'storm-ingest-token-5d1e';

/**
 * 10,000 alerts in 500 groups from 32 concurrent clients into the in-process local runtime,
 * three webhook destinations, one failing 30% of its attempts at random (seeded). Every alert
 * must reach every destination that selects it exactly once, or sit in that destination's DLQ.
 */
describe('Reliability: alert storm through the local runtime', () => {
  let dir: string;
  let relay: Relay;
  const sinks: Record<string, FaultServer> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-storm-'));
    sinks.all = await startFaultServer({ alertId });
    sinks.critical = await startFaultServer({ alertId });
    sinks.flaky = await startFaultServer({ alertId, fault: faults.random(0.3, STORM.seed) });
    relay = await startRelay({
      config: {
        ingest: { tokenSecret: 'INGEST_TOKEN' },
        destinations: stormDestinations({
          all: sinks.all.url,
          critical: sinks.critical.url,
          flaky: sinks.flaky.url,
        }),
      },
      secrets: new LocalSecrets({ env: { INGEST_TOKEN: TOKEN } }),
      dataDir: join(dir, 'data'),
      port: 0,
      logger: new Logger({ logLevel: 'SILENT' }),
      // Retries come back at once: the storm tests accounting, not the backoff curve.
      backoff: { baseSeconds: 0, factor: 1, maxSeconds: 0 },
    });
  });

  afterAll(async () => {
    await relay?.close();
    await Promise.all(Object.values(sinks).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
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
    const dead = relay.queue.peek(deadLetterQueueName('webhook'), 10_000);
    const rows: string[] = [];
    for (const [name, want] of expected) {
      const sink = sinks[name];
      const deadHere = dead.filter((m) => m.attributes.destination === name);
      const deadAlerts = new Set(
        deadHere.flatMap((m) => (JSON.parse(m.body) as QueueMessage).notification.alerts.map(alertId)),
      );
      const got = sink.alertEffects();
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

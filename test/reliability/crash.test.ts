import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { DestinationConfig } from '../../lib/config/types.ts';
import { deadLetterQueueName } from '../../lib/queue/local.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import type { FaultServer } from '../support/fault-server.ts';
import { type ManagedProcess, relayUrl, spawnRelay } from '../support/run-script.ts';
import { closedPort } from '../support/webhook-receiver.ts';
import {
  destinationOutcome,
  expectedDeliveries,
  postStorm,
  startStormSinks,
  stormNotifications,
} from './support/storm.ts';

/**
 * The storm again, against the relay as `npm start` runs it, killed with SIGKILL when half the
 * notifications have been accepted and again while they are being delivered, each time restarted on the same port and
 * data directory. Clients retry what the dead process did not answer, as Alertmanager does.
 * Afterwards: every accepted alert reached each matching destination exactly once (counted by
 * alert at the sink) or sits in the DLQ; redeliveries of a key that already succeeded are only
 * absorbed by the sink's idempotency (printed), never a second effect.
 */
describe('Reliability: kill -9 in the middle of a storm', () => {
  let dir: string;
  let sinks: Record<string, FaultServer>;
  let destinations: DestinationConfig[];
  const processes: ManagedProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-crash-'));
    // `npm start` backs off 5 s and more; a vendor that says Retry-After: 0 is retried at once.
    ({ sinks, destinations } = await startStormSinks({
      status: 503,
      headers: { 'retry-after': '0' },
      body: 'busy',
    }));
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop(2_000)));
    await Promise.all(Object.values(sinks ?? {}).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  async function startRelayProcess(
    port: number,
    configPath: string,
  ): Promise<{ proc: ManagedProcess; url: string }> {
    const proc = spawnRelay({
      cwd: dir,
      env: { RELAY_DATA_DIR: join(dir, 'data'), RELAY_CONFIG: configPath, PORT: String(port) },
    });
    processes.push(proc);
    return { proc, url: await relayUrl(proc) };
  }

  /** The health probe (GET /healthz) until the sink queue is empty; bounded, like waitForHttpReady. */
  async function drained(url: string, attempts = 1_200): Promise<void> {
    for (let i = 0; i < attempts; i++) {
      const health = (await (await fetch(`${url}/healthz`)).json()) as {
        queues: Record<string, { visible: number; inFlight: number }>;
      };
      const queue = health.queues.webhook;
      if (queue.visible === 0 && queue.inFlight === 0) return;
      await delay(100);
    }
    throw new Error('the relay did not drain its queue');
  }

  it('should lose nothing and create no second effect after two kill -9s and restarts', async () => {
    // Prepare
    const configPath = join(dir, 'relay.yaml');
    await writeFile(configPath, stringify({ destinations }));
    const port = await closedPort();
    const notifications = stormNotifications();
    const expected = expectedDeliveries(notifications);
    let relay = startRelayProcess(port, configPath);
    let current: Promise<string> = relay.then((r) => r.url);
    const kills: { accepted: number; effects: number; signal?: string | null }[] = [];
    const effects = () => Object.values(sinks).reduce((sum, s) => sum + s.effects.size, 0);
    let accepted = 0;
    const totalMessages = [...expected.values()].reduce((sum, e) => sum + e.messages, 0);
    /** kill -9 the running relay and start it again; clients that fail meanwhile wait for the new one. */
    const crash = () => {
      const dying = relay;
      relay = (async () => {
        const { proc } = await dying;
        kills.push({ accepted, effects: effects() });
        process.kill(proc.pid, 'SIGKILL');
        await proc.stop();
        kills[kills.length - 1].signal = proc.exitStatus()?.signal;
        return startRelayProcess(port, configPath);
      })();
      current = relay.then((r) => r.url);
    };

    // Act
    // First kill while notifications are being accepted, the second while they are being delivered.
    const posted = await postStorm(notifications, {
      target: () => current,
      onAccepted: (n) => {
        accepted = n;
        if (n === notifications.length / 2) crash();
      },
    });
    await relay;
    await sinks.all.until(() => effects() >= totalMessages * 0.4);
    crash();
    const last = await relay;
    await drained(last.url);
    await last.proc.stop();

    // Assess
    const queue = new SqliteQueue({ path: join(dir, 'data', 'relay.db') });
    const dead = queue.peek(deadLetterQueueName('webhook'), 10_000);
    const leftOver = queue.depth('webhook');
    queue.close();
    const rows: string[] = [];
    for (const [name, want] of expected) {
      const sink = sinks[name];
      const { deadHere, deadAlerts, got } = destinationOutcome(name, sink, dead);
      rows.push(
        `${name.padEnd(9)} messages ${want.messages} = delivered ${sink.effects.size} + dead-lettered ${deadHere.length}` +
          `  attempts ${sink.attempts.length}, redeliveries absorbed by the sink ${sink.absorbed()}`,
      );
      expect(sink.effects.size + deadHere.length).toBe(want.messages);
      for (const id of want.alerts) {
        expect.soft((got.get(id) ?? 0) + (deadAlerts.has(id) ? 1 : 0), `${name} ${id}`).toBe(1);
      }
      expect([...got.values()].filter((n) => n > 1)).toEqual([]);
      expect([...got.keys()].filter((id) => !want.alerts.has(id))).toEqual([]);
    }
    console.log(
      `crash: kill -9 at ${kills.map((k) => `${k.accepted} accepted/${k.effects} delivered`).join(' and ')} of ${notifications.length}/${totalMessages};` +
        ` ${posted.retried} client retries; statuses ${JSON.stringify(Object.fromEntries(posted.statuses))}\n` +
        rows.join('\n'),
    );
    expect(kills.map((k) => k.signal)).toEqual(['SIGKILL', 'SIGKILL']);
    expect(kills[1].effects).toBeLessThan(totalMessages);
    expect(posted.accepted).toBe(notifications.length);
    expect(leftOver).toEqual({ visible: 0, inFlight: 0 });
    expect(last.proc.exitStatus()).toEqual({ code: 0, signal: null });
  });
});

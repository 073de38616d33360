import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { makeNotification } from '../test/support/notifications.ts';
import { type BenchResult, type Child, median, repoRoot, result, startChild } from './measure.ts';

const CONNECTIONS = 32;
const DURATION_SECONDS = 5;
const ROUNDS = 3;

interface Run {
  rps: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** 32 connections for DURATION_SECONDS, every request a different notification (no dedup shortcut). */
async function load(url: string): Promise<Run> {
  const template = JSON.stringify(makeNotification({ count: 3, groupKey: '{}:{alertname="Bench__SEQ__"}' }));
  let seq = 0;
  const outcome = await autocannon({
    url: `${url}/alertmanager`,
    connections: CONNECTIONS,
    duration: DURATION_SECONDS,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: template.replace('__SEQ__', String(seq++)) }),
      },
    ],
  });
  return {
    rps: outcome.requests.average,
    p99: outcome.latency.p99,
    non2xx: outcome.non2xx,
    errors: outcome.errors + outcome.timeouts,
  };
}

/** Waits (bounded) until the relay's queue is empty, so its deliveries do not eat into the next run. */
async function drained(url: string, relay: Child): Promise<void> {
  let lastError: unknown;
  for (let i = 0; i < 600; i++) {
    const exited = relay.exitReason();
    if (exited) throw new Error(`the relay ${exited}`);
    try {
      const health = (await (await fetch(`${url}/healthz`)).json()) as {
        queues: Record<string, { visible: number; inFlight: number }>;
      };
      if (Object.values(health.queues).every((q) => q.visible === 0 && q.inFlight === 0)) return;
    } catch (error) {
      // A kept-alive connection the server closed just then; the next poll opens a new one.
      lastError = error;
    }
    await delay(100);
  }
  throw new Error(`the relay did not drain its queue within a minute (${String(lastError)})`);
}

/**
 * Figure 2: the local runtime (`npm start`: ingest + node:sqlite queue + a webhook worker
 * delivering to the bare server) under 32 concurrent connections, against two servers on the
 * same Node: a bare node:http server answering 202, and the durable floor (the same server
 * doing one node:sqlite insert per request with the relay's group commit). Rounds alternate
 * bare, floor, relay; the median of each.
 */
export async function benchThroughput(): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-bench-rps-'));
  const children: Child[] = [];
  try {
    const bare = await startChild([join(repoRoot, 'bench/bare-server.ts')], { ready: /listening on (\S+)/ });
    children.push(bare.child);
    const bareUrl = bare.match[1];
    const floor = await startChild([join(repoRoot, 'bench/durable-floor-server.ts'), dir], {
      ready: /listening on (\S+)/,
    });
    children.push(floor.child);
    const floorUrl = floor.match[1];
    const config = join(dir, 'relay.yaml');
    await writeFile(
      config,
      stringify({ destinations: [{ name: 'sink', sink: 'webhook', url: `${bareUrl}/hook` }] }),
    );
    const relay = await startChild([join(repoRoot, 'lib/local/main.ts')], {
      cwd: dir,
      env: { RELAY_CONFIG: config, RELAY_DATA_DIR: join(dir, 'data'), PORT: '0', HOST: '127.0.0.1' },
      ready: /listening on (http:\/\/[^\s,;)]+)/,
    });
    children.push(relay.child);
    const relayUrl = relay.match[1].replace(/\/$/, '');
    await load(bareUrl);
    await load(floorUrl);
    await load(relayUrl);
    await drained(relayUrl, relay.child);
    const bareRuns: Run[] = [];
    const floorRuns: Run[] = [];
    const relayRuns: Run[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      bareRuns.push(await load(bareUrl));
      floorRuns.push(await load(floorUrl));
      relayRuns.push(await load(relayUrl));
      await drained(relayUrl, relay.child);
    }
    const failed = [...floorRuns, ...relayRuns].reduce((sum, r) => sum + r.non2xx + r.errors, 0);
    if (failed > 0)
      throw new Error(`the relay or the durable floor answered ${failed} requests with an error`);
    const rps = median(relayRuns.map((r) => r.rps));
    const bareRps = median(bareRuns.map((r) => r.rps));
    const floorRps = median(floorRuns.map((r) => r.rps));
    const p99 = median(relayRuns.map((r) => r.p99));
    const bareP99 = median(bareRuns.map((r) => r.p99));
    return [
      result({
        name: `local runtime throughput, ${CONNECTIONS} connections (durable sqlite queue) vs bare node:http 202`,
        value: rps,
        unit: 'req/s',
        baseline: bareRps,
        target: '>= 0.4x',
        met: rps / bareRps >= 0.4,
      }),
      result({
        name: `local runtime throughput, ${CONNECTIONS} connections vs the durable floor (node:http + one node:sqlite insert per request, same group commit)`,
        value: rps,
        unit: 'req/s',
        baseline: floorRps,
        target: '>= 0.5x',
        met: rps / floorRps >= 0.5,
      }),
      result({
        name: `local runtime p99 latency, ${CONNECTIONS} connections vs bare node:http 202`,
        value: p99,
        unit: 'ms',
        baseline: bareP99,
        target: '< 20 ms',
        met: p99 < 20,
      }),
    ];
  } finally {
    for (const child of children.reverse()) await child.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

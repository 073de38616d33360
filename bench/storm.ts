import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  alertId,
  expectedDeliveries,
  postStorm,
  STORM,
  stormDestinations,
  stormNotifications,
} from '../test/reliability/support/storm.ts';
import { type FaultServer, startFaultServer } from '../test/support/fault-server.ts';
import { type BenchResult, median, repoRoot, result, startChild } from './measure.ts';

const RUNS = 3;

/**
 * One storm: the relay as `npm start` runs it (fresh data dir), 10,000 alerts in 500 groups
 * from 32 clients, three webhook destinations on local fake sinks. Time from the first POST
 * to the last delivery at the sinks, and the relay's peak RSS.
 */
async function relayStorm(): Promise<{ seconds: number; peakMiB: number; idleMiB: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-bench-storm-'));
  const sinks: FaultServer[] = [];
  try {
    const [all, critical, flaky] = await Promise.all([1, 2, 3].map(() => startFaultServer({ alertId })));
    sinks.push(all, critical, flaky);
    const config = join(dir, 'relay.yaml');
    await writeFile(
      config,
      stringify({
        destinations: stormDestinations({ all: all.url, critical: critical.url, flaky: flaky.url }),
      }),
    );
    const { child, match } = await startChild([join(repoRoot, 'lib/local/main.ts')], {
      cwd: dir,
      env: { RELAY_CONFIG: config, RELAY_DATA_DIR: join(dir, 'data'), PORT: '0', HOST: '127.0.0.1' },
      ready: /listening on (http:\/\/[^\s,;)]+)/,
    });
    try {
      const url = match[1].replace(/\/$/, '');
      const idleMiB = child.peakRssMiB();
      const notifications = stormNotifications();
      const total = [...expectedDeliveries(notifications).values()].reduce((sum, e) => sum + e.messages, 0);
      const started = performance.now();
      const delivered = all.until(() => sinks.reduce((sum, s) => sum + s.effects.size, 0) >= total);
      const others = [critical, flaky].map((s) =>
        s.until(() => sinks.reduce((n, x) => n + x.effects.size, 0) >= total),
      );
      await postStorm(notifications, { target: () => url, clients: STORM.clients });
      await Promise.race([delivered, ...others]);
      const seconds = (performance.now() - started) / 1000;
      return { seconds, peakMiB: child.peakRssMiB(), idleMiB };
    } finally {
      await child.stop();
    }
  } finally {
    await Promise.all(sinks.map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

/** The baseline: the same 32 clients posting each destination's share straight to the sinks. */
async function directStorm(): Promise<number> {
  const sinks = await Promise.all([1, 2, 3].map(() => startFaultServer({ alertId })));
  try {
    const notifications = stormNotifications();
    const expected = expectedDeliveries(notifications);
    const started = performance.now();
    await Promise.all(
      sinks.map((sink, i) => {
        const name = ['all', 'critical', 'flaky'][i];
        const selected = expected.get(name);
        const share = notifications
          .filter((n) => selected?.groupKeys.has(n.groupKey))
          .map((n) => ({ ...n, alerts: n.alerts.filter((a) => selected?.alerts.has(alertId(a))) }));
        const base = sink.url.replace(/\/hook$/, '');
        return postStorm(share, {
          // The fault server answers on any path; postStorm posts to <target>/alertmanager.
          target: () => base,
          clients: Math.ceil(STORM.clients / 3),
          acceptedStatus: 200,
        });
      }),
    );
    return (performance.now() - started) / 1000;
  } finally {
    await Promise.all(sinks.map((s) => s.close()));
  }
}

/** Figure 5: the storm end to end, median of RUNS: time to all delivered and the relay's peak RSS. */
export async function benchStorm(): Promise<BenchResult[]> {
  const relay: { seconds: number; peakMiB: number; idleMiB: number }[] = [];
  const direct: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    relay.push(await relayStorm());
    direct.push(await directStorm());
  }
  const seconds = median(relay.map((r) => r.seconds));
  const peak = median(relay.map((r) => r.peakMiB));
  return [
    result({
      name: `storm: ${STORM.groups * STORM.alertsPerGroup} alerts in ${STORM.groups} groups, ${STORM.clients} clients, 3 destinations, time to all delivered vs posting straight to the sinks`,
      value: seconds,
      unit: 's',
      baseline: median(direct),
      target: '< 10 s',
      met: seconds < 10,
    }),
    result({
      name: 'storm: relay peak RSS (VmHWM) vs the relay idle after start',
      value: peak,
      unit: 'MiB',
      baseline: median(relay.map((r) => r.idleMiB)),
      target: '< 300 MB',
      met: peak * 1.048576 < 300,
    }),
  ];
}

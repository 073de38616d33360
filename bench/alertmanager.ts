import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postAlerts } from '../test/e2e/support/alerts.ts';
import { ALERTMANAGER_BIN, E2EStack } from '../test/e2e/support/stack.ts';
import { type BenchResult, median, percentile, result } from './measure.ts';

// Enough for a p90 that is not the slowest sample: the 37th of 41.
const SAMPLES = 41;
/** Most the relay may add to Alertmanager's own webhook latency (issue 16). */
const ADDED_P50_MS = 5;
const ADDED_P90_MS = 15;

interface Arrival {
  path: string;
  alertname: string;
  at: number;
}

/** The receiver both paths post to: records when each notification arrived, by path. */
async function startReceiver() {
  const arrivals: Arrival[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        groupLabels?: { alertname?: string };
      };
      arrivals.push({ path: req.url ?? '', alertname: body.groupLabels?.alertname ?? '', at });
      res.writeHead(200).end();
      for (const wake of [...waiters]) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    arrivals,
    /** Resolves once both paths delivered `alertname`. */
    both: (alertname: string) =>
      new Promise<[Arrival, Arrival]>((resolve) => {
        const check = () => {
          const direct = arrivals.find((a) => a.alertname === alertname && a.path === '/direct');
          const relayed = arrivals.find((a) => a.alertname === alertname && a.path === '/via-relay');
          if (!direct || !relayed) return;
          waiters.delete(check);
          resolve([direct, relayed]);
        };
        waiters.add(check);
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Figure 4: the real Alertmanager 0.25 with one receiver of two webhooks, one straight to a
 * receiver and one to the relay (`npm start`, a webhook destination to the same receiver).
 * Each sample posts a new alert group; latency is from the POST to Alertmanager to the
 * arrival at the receiver. Returns a skip reason when the Alertmanager binary is missing.
 */
export async function benchAlertmanager(): Promise<BenchResult[] | string> {
  if (!existsSync(ALERTMANAGER_BIN))
    return `${ALERTMANAGER_BIN} is not installed (apt-get install prometheus-alertmanager)`;
  const stack = await E2EStack.create('bench');
  const receiver = await startReceiver();
  try {
    const relay = await stack.startRelay({
      config: { destinations: [{ name: 'receiver', sink: 'webhook', url: `${receiver.url}/via-relay` }] },
    });
    const alertmanager = await stack.startAlertmanager({
      webhooks: [{ url: `${relay.url}/alertmanager` }, { url: `${receiver.url}/direct` }],
      groupWait: '0s',
    });
    const direct: number[] = [];
    const relayed: number[] = [];
    const added: number[] = [];
    for (let i = 0; i < SAMPLES + 1; i++) {
      const alertname = `BenchLatency${i}`;
      const posted = performance.now();
      await postAlerts(alertmanager.url, [{ labels: { alertname, severity: 'critical' } }]);
      const [straight, viaRelay] = await receiver.both(alertname);
      // The first sample warms up connections and the relay's JIT.
      if (i === 0) continue;
      direct.push(straight.at - posted);
      relayed.push(viaRelay.at - posted);
      added.push(viaRelay.at - straight.at);
    }
    const addedP50 = median(added);
    const addedP90 = percentile(added, 90);
    return [
      result({
        name: `end to end, Alertmanager -> relay -> receiver vs Alertmanager -> receiver (p50 of ${SAMPLES}; relay adds ${addedP50.toFixed(1)} ms p50)`,
        value: median(relayed),
        unit: 'ms',
        baseline: median(direct),
        target: `relay adds <= ${ADDED_P50_MS} ms p50`,
        met: addedP50 <= ADDED_P50_MS,
      }),
      result({
        name: `end to end, Alertmanager -> relay -> receiver vs Alertmanager -> receiver (p90 of ${SAMPLES}; relay adds ${addedP90.toFixed(1)} ms p90)`,
        value: percentile(relayed, 90),
        unit: 'ms',
        baseline: percentile(direct, 90),
        target: `relay adds <= ${ADDED_P90_MS} ms p90`,
        met: addedP90 <= ADDED_P90_MS,
      }),
    ];
  } finally {
    await stack.stop();
    await receiver.close();
  }
}

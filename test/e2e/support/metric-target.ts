import { startFakeServer } from '../../support/fake-server.ts';

export interface MetricTarget {
  /** `127.0.0.1:<port>`, as a Prometheus static target. */
  target: string;
  set(value: number): void;
  close(): Promise<void>;
}

/**
 * A scrape target serving one gauge whose value the test sets: an alert rule on it fires
 * and resolves when the test says so, with Prometheus's real firing and resolved sends.
 */
export async function startMetricTarget(name: string, initial: number): Promise<MetricTarget> {
  let value = initial;
  const server = await startFakeServer({
    handle: () => ({
      status: 200,
      headers: { 'content-type': 'text/plain; version=0.0.4' },
      body: `# TYPE ${name} gauge\n${name} ${value}\n`,
    }),
  });
  return {
    target: `127.0.0.1:${server.port}`,
    set(next) {
      value = next;
    },
    close: () => server.close(),
  };
}

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

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
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(`# TYPE ${name} gauge\n${name} ${value}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    set(next) {
      value = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

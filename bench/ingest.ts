import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { RelayConfig } from '../lib/config/types.ts';
import { createIngestHandler } from '../lib/ingest/ingest.ts';
import type { Enqueuer } from '../lib/queue/types.ts';
import { LocalSecrets } from '../lib/secrets.ts';
import { CountingTelemetry, createLogger } from '../lib/telemetry.ts';
import { makeNotification } from '../test/support/notifications.ts';
import { type BenchResult, median, result } from './measure.ts';

const TOKEN = 'bench-token-0123456789abcdef';
const RUNS = 7;

/** Most the handler may take, as a multiple of the floor, per notification size (issue 16). */
const TARGETS: Record<number, number> = { 1: 6, 10: 3, 100: 3 };

/** Three destinations as a typical relay.yaml has them: a catch-all, a label match and a regex. */
const CONFIG: RelayConfig = {
  ingest: { tokenSecret: 'TOKEN' },
  destinations: [
    { name: 'audit', sink: 'webhook', url: 'https://hooks.example.com/audit' },
    {
      name: 'pager',
      sink: 'webhook',
      url: 'https://hooks.example.com/pager',
      matchers: ['severity="critical"'],
    },
    { name: 'web', sink: 'console', matchers: ['instance=~"web-[0-9]+:9100"', 'alertname!="Watchdog"'] },
  ],
};

function apiEvent(body: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /alertmanager',
    rawPath: '/alertmanager',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    requestContext: {
      accountId: '123456789012',
      apiId: 'bench',
      domainName: 'bench',
      domainPrefix: 'bench',
      http: {
        method: 'POST',
        path: '/alertmanager',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'am',
      },
      requestId: 'bench',
      routeKey: 'POST /alertmanager',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
    body,
    isBase64Encoded: false,
  };
}

/** Mean ms per call over `iterations` calls. */
async function perCall(iterations: number, call: () => unknown): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < iterations; i++) await call();
  return (performance.now() - started) / iterations;
}

/**
 * Figure 1: the ingest handler in-process (auth, parse, validate, route, build the messages;
 * the queue stubbed) per notification of 1, 10 and 100 alerts, against the floor of
 * `JSON.parse` + `JSON.stringify` of the same body. Median of RUNS runs of each.
 */
export async function benchIngest(): Promise<BenchResult[]> {
  const enqueuer: Enqueuer = { sendBatch: async () => ({ failed: [] }) };
  const handler = createIngestHandler({
    config: CONFIG,
    secrets: new LocalSecrets({ env: { TOKEN } }),
    enqueuer,
    telemetry: new CountingTelemetry({ logger: createLogger('bench', 'SILENT') }),
  });
  const results: BenchResult[] = [];
  for (const alerts of [1, 10, 100]) {
    const body = JSON.stringify(
      makeNotification({
        count: alerts,
        labels: (i) => ({
          severity: i % 3 === 0 ? 'critical' : 'warning',
          job: 'node',
          team: `team-${i % 5}`,
        }),
      }),
    );
    const event = apiEvent(body);
    const iterations = Math.max(200, Math.round(20_000 / alerts));
    const floorCall = () => JSON.stringify(JSON.parse(body));
    const check = await handler(event);
    if (check.statusCode !== 202) throw new Error(`ingest answered ${check.statusCode}: ${check.body}`);
    // Warm up both (JIT, ajv's compiled validator, matcher regexps).
    await perCall(iterations, () => handler(event));
    await perCall(iterations, floorCall);
    const handlerMs: number[] = [];
    const floorMs: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      handlerMs.push(await perCall(iterations, () => handler(event)));
      floorMs.push(await perCall(iterations, floorCall));
    }
    const value = median(handlerMs) * 1000;
    const baseline = median(floorMs) * 1000;
    const ratio = value / baseline;
    results.push(
      result({
        name: `ingest handler, ${alerts} alert${alerts === 1 ? '' : 's'} (${body.length} B) vs JSON.parse+stringify`,
        value,
        unit: 'µs/notification',
        baseline,
        target: `<= ${TARGETS[alerts]}x`,
        met: ratio <= TARGETS[alerts],
      }),
    );
  }
  return results;
}

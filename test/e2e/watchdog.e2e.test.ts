import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { groupDedupKey } from '../../lib/sinks/pagerduty/event.ts';
import { WATCHDOG_GROUP_KEY } from '../../lib/watchdog/page.ts';
import { type FakePagerDuty, startFakePagerDuty } from '../support/fake-pagerduty.ts';
import { freePort, type ManagedProcess, runScript, spawnManaged, tail } from '../support/run-script.ts';
import { ALERTMANAGER_BIN, type Started, useE2EStack } from './support/stack.ts';

/**
 * The watchdog end to end (issue 24): the real Prometheus fires its always-firing `Watchdog`
 * rule (`vector(1)`), the real Alertmanager sends it to `npm start`'s relay on the route that
 * `npm run alertmanager-config -- --local` prints for a relay.yaml with a `watchdog:` block, and
 * the relay records each notification as a heartbeat. Stop Alertmanager: the relay's timer pages
 * a fake PagerDuty (one AlertmanagerSilent incident) within silentAfter + 60 s. Start it again:
 * the same incident (the same dedup_key) is resolved.
 *
 * Timing. The printed route sends the heartbeat every 90 s at most (group_interval 30s,
 * repeat_interval 1m), so a silentAfter that no working Alertmanager trips would have to be
 * above 90 s (180 s to be quiet in the config check), and the test would take over 4 minutes.
 * The relay does not depend on those numbers, only on heartbeats arriving more often than
 * silentAfter, so the test takes the printed config as it is and shortens only the watchdog
 * route's group_interval and repeat_interval (2s and 3s: a heartbeat about every 4 s), with
 * silentAfter 20 s (the relay then checks every 2 s).
 */

const SILENT_AFTER = 20;
/** The shortened Watchdog route: a heartbeat at the first 2-s flush after 3 s, about every 4 s. */
const TEST_ROUTE_TIMING = { group_interval: '2s', repeat_interval: '3s' };
const PD_KEY = 'R0UT1NGKEYwatchdog00000000000000';
const ingestToken = `e2e-${randomUUID()}`;
const HEARTBEATS = 'alertmanager_relay_watchdog_heartbeats_total';

const stack = useE2EStack('watchdog');
let dir: string;
let pagerduty: FakePagerDuty;
let relay: Started;
/** The Alertmanager config the test runs: the printed one, its Watchdog route shortened. */
let alertmanagerConfig: string;
let printedRoute: Record<string, unknown>;
const alertmanager = {
  port: 0,
  process: undefined as ManagedProcess | undefined,
  starts: 0,
};

/** Starts Alertmanager on the same port and data directory each time, as a restart does. */
async function startAlertmanager(): Promise<void> {
  alertmanager.starts++;
  const url = `http://127.0.0.1:${alertmanager.port}`;
  const proc = spawnManaged({
    name: `alertmanager #${alertmanager.starts}`,
    command: ALERTMANAGER_BIN,
    args: [
      '--config.file=alertmanager.yml',
      `--storage.path=${join(dir, 'alertmanager-data')}`,
      `--web.listen-address=127.0.0.1:${alertmanager.port}`,
      `--web.external-url=${url}`,
      '--cluster.listen-address=',
    ],
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir },
  });
  alertmanager.process = proc;
  await until(`Alertmanager ready at ${url}`, async () => {
    if (proc.exitStatus()) throw new Error(`Alertmanager exited:\n${tail(proc.output())}`);
    return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).ok ? true : undefined;
  });
}

/** Polls `probe` until it returns a value; the bound only turns a hang into a failure that says what was awaited. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'nothing yet';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not within ${timeoutMs} ms: ${what} (last: ${String(last)})`);
}

/** The relay's count of recorded heartbeats, from its /metrics. */
async function heartbeats(): Promise<number> {
  const response = await fetch(`${relay.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`${relay.url}/metrics: HTTP ${response.status}`);
  const line = (await response.text()).split('\n').find((l) => l.startsWith(`${HEARTBEATS} `));
  if (!line) throw new Error(`${HEARTBEATS} is not in /metrics`);
  return Number(line.slice(HEARTBEATS.length + 1));
}

const events = () => pagerduty.accepted();
const triggers = () => events().filter((e) => e.event_action === 'trigger');
const resolves = () => events().filter((e) => e.event_action === 'resolve');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-e2e-watchdog-am-'));
  await mkdir(join(dir, 'alertmanager-data'));
  pagerduty = stack.own(await startFakePagerDuty({ routingKeys: [PD_KEY] }));
  const config = {
    ingest: { tokenSecret: 'INGEST_TOKEN' },
    watchdog: { silentAfter: SILENT_AFTER, destinations: ['pager'] },
    destinations: [
      {
        name: 'pager',
        sink: 'pagerduty',
        mode: 'group',
        routingKeySecret: 'PD_ROUTING_KEY',
        baseUrl: pagerduty.url,
      },
    ],
  };
  relay = await stack.startRelay({
    config,
    env: { INGEST_TOKEN: ingestToken, PD_ROUTING_KEY: PD_KEY },
  });

  // The Alertmanager config as `npm run alertmanager-config -- --local` prints it for this relay.
  await writeFile(join(dir, 'relay.yaml'), stringify(config));
  await writeFile(join(dir, 'ingest-token'), `${ingestToken}\n`);
  const relayPort = new URL(relay.url).port;
  const printed = await runScript(
    'scripts/alertmanager-config.ts',
    ['--local', '--credentials-file', join(dir, 'ingest-token')],
    { cwd: dir, env: { RELAY_CONFIG: join(dir, 'relay.yaml'), PORT: relayPort, HOST: '127.0.0.1' } },
  );
  if (printed.code !== 0) throw new Error(`alertmanager-config failed:\n${printed.stderr}${printed.stdout}`);
  const amConfig = parse(printed.stdout) as { route: { routes: Record<string, unknown>[] } };
  printedRoute = { ...amConfig.route.routes[0] };
  Object.assign(amConfig.route.routes[0], TEST_ROUTE_TIMING);
  alertmanagerConfig = stringify(amConfig);
  await writeFile(join(dir, 'alertmanager.yml'), alertmanagerConfig);

  alertmanager.port = await freePort();
  await startAlertmanager();
  await stack.startPrometheus({
    alertmanagerUrl: `http://127.0.0.1:${alertmanager.port}`,
    rules: {
      groups: [
        {
          name: 'watchdog',
          rules: [{ alert: 'Watchdog', expr: 'vector(1)', labels: { severity: 'none' } }],
        },
      ],
    },
  });
});

afterAll(async () => {
  await alertmanager.process?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Watchdog: Prometheus -> Alertmanager -> relay, and a fake PagerDuty when Alertmanager stops', () => {
  it('should use the route alertmanager-config prints, shortened only in its timing', () => {
    // Assess: the printed route, as the test found it before shortening it
    expect(printedRoute).toEqual({
      receiver: 'alertmanager-relay',
      matchers: ['alertname="Watchdog"'],
      group_by: ['alertname'],
      group_wait: '0s',
      group_interval: '30s',
      repeat_interval: '1m',
      continue: false,
    });
    const running = parse(alertmanagerConfig) as {
      route: { receiver: string; routes: Record<string, unknown>[] };
      receivers: { name: string; webhook_configs: Record<string, unknown>[] }[];
    };
    expect(running.route.routes).toEqual([{ ...printedRoute, ...TEST_ROUTE_TIMING }]);
    expect(running.receivers[0].webhook_configs[0]).toMatchObject({
      url: `${relay.url}/alertmanager`,
      http_config: { authorization: { type: 'Bearer', credentials_file: join(dir, 'ingest-token') } },
    });
  });

  it('should record heartbeats without paging, page once when Alertmanager stops, and resolve that page when it is back', async () => {
    // Act 1: heartbeats flow for longer than silentAfter (plus two checks), so a relay that did
    // not count them would have paged by then
    const firstSeen = await until('the first heartbeat', async () =>
      (await heartbeats()) >= 1 ? Date.now() : undefined,
    );
    const flowing = await until(
      'heartbeats for longer than silentAfter',
      async () => {
        const count = await heartbeats();
        return Date.now() - firstSeen > (SILENT_AFTER + 4) * 1000 && count >= 3 ? count : undefined;
      },
      (SILENT_AFTER + 60) * 1000,
    );

    // Assess 1: recorded, and nothing reached PagerDuty (not even the Watchdog alert itself)
    expect(flowing).toBeGreaterThanOrEqual(3);
    expect(pagerduty.requests).toHaveLength(0);

    // Act 2: Alertmanager stops
    await alertmanager.process?.stop();
    const stoppedAt = Date.now();
    const stoppedCount = await heartbeats();
    // The page is due silentAfter after the last heartbeat; issue 24 allows silentAfter + 60 s.
    await pagerduty.waitFor(() => triggers().length > 0, { timeoutMs: (SILENT_AFTER + 60) * 1000 });
    const pagedAt = Date.now();

    // Assess 2: one AlertmanagerSilent incident, opened no earlier than silentAfter after the
    // last heartbeat (the page's timestamp: the silence's start)
    const [page] = triggers();
    const payload = page.payload as { summary: string; severity: string; timestamp: string };
    expect(page.dedup_key).toBe(groupDedupKey(WATCHDOG_GROUP_KEY));
    expect(payload.summary).toContain('AlertmanagerSilent');
    expect(payload.severity).toBe('critical');
    const lastHeartbeat = Date.parse(payload.timestamp);
    expect(lastHeartbeat).toBeLessThanOrEqual(stoppedAt);
    expect(pagedAt - lastHeartbeat).toBeGreaterThanOrEqual(SILENT_AFTER * 1000);
    expect(pagerduty.incidents).toHaveLength(1);
    expect(pagerduty.incidents[0].status).toBe('triggered');
    expect(await heartbeats()).toBe(stoppedCount);
    await relay.process.waitForLine(/no Watchdog heartbeat from Alertmanager: paged/);
    console.info(
      `watchdog e2e: paged ${((pagedAt - stoppedAt) / 1000).toFixed(1)} s after Alertmanager stopped`,
    );

    // Act 3: Alertmanager is back; Prometheus sends it the Watchdog alert again
    await startAlertmanager();
    await pagerduty.waitFor(() => resolves().length > 0, { timeoutMs: 60_000 });

    // Assess 3: the same incident resolved, with the same dedup_key; one page, one resolve
    expect(resolves()[0].dedup_key).toBe(page.dedup_key);
    expect(pagerduty.incidents).toHaveLength(1);
    expect(pagerduty.incidents[0].status).toBe('resolved');
    expect(pagerduty.incidents[0].log).toEqual(['trigger', 'resolve']);
    expect(await heartbeats()).toBeGreaterThan(stoppedCount);
    expect(events()).toHaveLength(2);
  }, 180_000);
});

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { stringify } from 'yaml';
import {
  freePort,
  type ManagedProcess,
  REPO_ROOT,
  relayUrl,
  spawnManaged,
  spawnRelay,
  tail,
} from '../../support/run-script.ts';

export const ALERTMANAGER_BIN = process.env.ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager';
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface WebhookTarget {
  url: string;
  /** Sent as `Authorization: Bearer <token>` through http_config.authorization. */
  bearerToken?: string;
}

export interface AlertmanagerOptions {
  /** Every webhook gets every notification of the single route. */
  webhooks: WebhookTarget[];
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
}

export interface PrometheusOptions {
  alertmanagerUrl: string;
  /** Contents of the rules file (a `groups:` document). */
  rules: Record<string, unknown>;
  /** `host:port` targets scraped under `job_name`. */
  scrape?: { jobName: string; targets: string[] };
}

export interface RelayOptions {
  /** The relay config (relay.example.yaml's shape), written to RELAY_CONFIG as YAML. */
  config: Record<string, unknown>;
  /** Secrets and any other variables for the relay; PORT, HOST and RELAY_* are set here. */
  env?: Record<string, string>;
}

export interface Started {
  process: ManagedProcess;
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:40123 */
  url: string;
}

/**
 * Owns one temporary directory and every process started in it, and the fake vendors handed
 * to `own`. In a test file, `useE2EStack` makes one and stops it after the file's tests;
 * elsewhere (the bench) call stop() when done: it runs whatever failed before it, so nothing
 * is left behind.
 */
export class E2EStack {
  private readonly processes: ManagedProcess[] = [];
  private readonly owned: { close(): unknown }[] = [];
  private readonly name: string;
  private root: Promise<string> | undefined;

  /** Its directory is made when the first process starts. */
  constructor(name: string) {
    this.name = name;
  }

  static async create(name: string): Promise<E2EStack> {
    const stack = new E2EStack(name);
    await stack.dir();
    return stack;
  }

  /** Closes `thing` (a fake vendor) in stop(), after the processes that talk to it. */
  own<T extends { close(): unknown }>(thing: T): T {
    this.owned.push(thing);
    return thing;
  }

  async startAlertmanager(options: AlertmanagerOptions): Promise<Started> {
    const dir = await this.subdir('alertmanager');
    const config = {
      route: {
        receiver: 'relay',
        group_by: ['alertname'],
        group_wait: options.groupWait ?? '0s',
        group_interval: options.groupInterval ?? '1s',
        repeat_interval: options.repeatInterval ?? '1h',
      },
      receivers: [
        {
          name: 'relay',
          webhook_configs: options.webhooks.map((webhook) => ({
            url: webhook.url,
            send_resolved: true,
            ...(webhook.bearerToken && {
              http_config: { authorization: { type: 'Bearer', credentials: webhook.bearerToken } },
            }),
          })),
        },
      ],
    };
    await writeFile(join(dir, 'alertmanager.yml'), stringify(config));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = await this.spawn('alertmanager', ALERTMANAGER_BIN, dir, [
      '--config.file=alertmanager.yml',
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=${url}`,
      // An empty cluster address turns gossip off: no second port, no peers to wait for.
      '--cluster.listen-address=',
    ]);
    await waitForHttpReady(proc, `${url}/-/ready`);
    return { process: proc, url };
  }

  async startPrometheus(options: PrometheusOptions): Promise<Started> {
    const dir = await this.subdir('prometheus');
    const alertmanager = new URL(options.alertmanagerUrl);
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      alerting: { alertmanagers: [{ static_configs: [{ targets: [alertmanager.host] }] }] },
      rule_files: ['rules.yml'],
      scrape_configs: options.scrape
        ? [{ job_name: options.scrape.jobName, static_configs: [{ targets: options.scrape.targets }] }]
        : [],
    };
    await writeFile(join(dir, 'prometheus.yml'), stringify(config));
    await writeFile(join(dir, 'rules.yml'), stringify(options.rules));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = await this.spawn('prometheus', PROMETHEUS_BIN, dir, [
      '--config.file=prometheus.yml',
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=${url}`,
      // Without it the first alert waits a full minute: the first send happens before the
      // Alertmanager is discovered, and the next one only after the default 1m resend delay.
      '--rules.alert.resend-delay=1s',
      '--web.enable-lifecycle',
    ]);
    await waitForHttpReady(proc, `${url}/-/ready`);
    return { process: proc, url };
  }

  /** Starts `node lib/local/main.ts` and waits for its "listening on http://..." line. */
  async startRelay(options: RelayOptions): Promise<Started> {
    const dir = await this.subdir('relay');
    const configPath = join(dir, 'relay.yaml');
    await writeFile(configPath, stringify(options.config));
    const port = await freePort();
    const proc = spawnRelay({
      cwd: REPO_ROOT,
      env: {
        ...(await this.baseEnv()),
        ...options.env,
        RELAY_CONFIG: configPath,
        RELAY_DATA_DIR: await this.subdir('relay/data'),
        PORT: String(port),
        HOST: '127.0.0.1',
      },
    });
    this.processes.push(proc);
    return { process: proc, url: await relayUrl(proc) };
  }

  /** The output of every process, for a failing test's report. */
  logs(lines = 60): string {
    return this.processes
      .map((p) => `----- ${p.name} (pid ${p.pid}) -----\n${tail(p.output(), lines)}`)
      .join('\n');
  }

  /**
   * Stops every process by PID (newest first, so senders go before receivers), closes what it
   * owns and removes the directory.
   */
  async stop(): Promise<void> {
    for (const proc of [...this.processes].reverse()) await proc.stop();
    for (const thing of this.owned.splice(0).reverse()) await thing.close();
    if (this.root && !process.env.KEEP_E2E_DIR) await rm(await this.root, { recursive: true, force: true });
  }

  private async spawn(name: string, command: string, cwd: string, args: string[]): Promise<ManagedProcess> {
    const proc = spawnManaged({ name, command, args, cwd, env: await this.baseEnv() });
    this.processes.push(proc);
    return proc;
  }

  /** A minimal environment: the processes must not depend on the test runner's variables. */
  private async baseEnv(): Promise<Record<string, string>> {
    return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? (await this.dir()) };
  }

  private dir(): Promise<string> {
    this.root ??= mkdtemp(join(tmpdir(), `relay-e2e-${this.name}-`));
    return this.root;
  }

  private async subdir(name: string): Promise<string> {
    const dir = join(await this.dir(), name);
    await mkdir(dir, { recursive: true });
    return dir;
  }
}

/**
 * The stack of one e2e test file: its processes' output is printed when a test fails (the
 * quickest way to see why), and it is stopped after the file's tests. Call it at the top of
 * the file, before the hooks that start things in it.
 */
export function useE2EStack(name: string): E2EStack {
  const stack = new E2EStack(name);
  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.error(stack.logs());
  });
  afterAll(() => stack.stop());
  return stack;
}

/**
 * Polls `url` until it answers 2xx: the start-up probe for servers that print no single
 * "ready" line. Bounded: `attempts` tries `intervalMs` apart; stops at once if the process exits.
 */
async function waitForHttpReady(
  proc: ManagedProcess,
  url: string,
  { attempts = 150, intervalMs = 100 } = {},
): Promise<void> {
  let last = 'no answer yet';
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (proc.exitStatus())
      throw new Error(`${proc.name} exited before ${url} was ready. Output:\n${tail(proc.output())}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(
    `${proc.name} not ready at ${url} after ${attempts} attempts (${last}). Output:\n${tail(proc.output())}`,
  );
}

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './ports.ts';
import { type ManagedProcess, spawnManaged, tail, waitForHttpReady } from './process.ts';

const repoRoot = resolve(import.meta.dirname, '../../..');
// The Node 24 that the `node` devDependency installs: the relay needs node:sqlite and runs .ts directly.
const relayNode = join(repoRoot, 'node_modules/.bin/node');

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
 * Owns one temporary directory and every process started in it. Create it in beforeAll and
 * call stop() in afterAll: stop() runs whatever failed before it, so nothing is left behind.
 */
export class E2EStack {
  readonly dir: string;
  private readonly processes: ManagedProcess[] = [];

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(name: string): Promise<E2EStack> {
    return new E2EStack(await mkdtemp(join(tmpdir(), `relay-e2e-${name}-`)));
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
    const proc = this.spawn('alertmanager', ALERTMANAGER_BIN, dir, [
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
    const proc = this.spawn('prometheus', PROMETHEUS_BIN, dir, [
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
    const proc = this.spawn('relay', relayNode, repoRoot, ['lib/local/main.ts'], {
      ...options.env,
      RELAY_CONFIG: configPath,
      RELAY_DATA_DIR: await this.subdir('relay/data'),
      PORT: String(port),
      HOST: '127.0.0.1',
    });
    const [, url] = await proc.waitForLine(/listening on (http:\/\/[^\s,;)]+)/);
    return { process: proc, url: url.replace(/\/$/, '') };
  }

  /** The output of every process, for a failing test's report. */
  logs(lines = 60): string {
    return this.processes
      .map((p) => `----- ${p.name} (pid ${p.pid}) -----\n${tail(p.output(), lines)}`)
      .join('\n');
  }

  /** Stops every process by PID (newest first, so senders go before receivers) and removes the directory. */
  async stop(): Promise<void> {
    for (const proc of [...this.processes].reverse()) await proc.stop();
    if (!process.env.KEEP_E2E_DIR) await rm(this.dir, { recursive: true, force: true });
  }

  private spawn(
    name: string,
    command: string,
    cwd: string,
    args: string[],
    env: Record<string, string> = {},
  ): ManagedProcess {
    // A minimal environment: the processes must not depend on the test runner's variables.
    const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? this.dir };
    const proc = spawnManaged({ name, command, args, cwd, env: { ...base, ...env } });
    this.processes.push(proc);
    return proc;
  }

  private async subdir(name: string): Promise<string> {
    const dir = join(this.dir, name);
    await mkdir(dir, { recursive: true });
    return dir;
  }
}

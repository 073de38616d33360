import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeNotification, postNotification } from '../support/notifications.ts';
import { freePort, type ManagedProcess, relayUrl, runScript, spawnRelay } from '../support/run-script.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

/** The relay as a user runs it (`npm start` runs lib/local/main.ts), killed and restarted for real. */
describe('Relay process (npm start)', () => {
  let dir: string;
  let receiver: WebhookReceiver;
  const processes: ManagedProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-proc-'));
    receiver = await startWebhookReceiver();
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop(2_000)));
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function writeConfig(text: string): Promise<string> {
    const path = join(dir, 'relay.yaml');
    await writeFile(path, text);
    return path;
  }

  // Run from the temp dir, so no relay.yaml of the developer's is picked up.
  async function startRelay(port: number, config: string): Promise<{ proc: ManagedProcess; url: string }> {
    const proc = spawnRelay({
      cwd: dir,
      env: { RELAY_DATA_DIR: join(dir, 'data'), RELAY_CONFIG: config, PORT: String(port) },
    });
    processes.push(proc);
    return { proc, url: await relayUrl(proc) };
  }

  it('should deliver every accepted notification exactly once after kill -9 and a restart', async () => {
    // Prepare
    const config = await writeConfig(
      `destinations:\n  - name: audit\n    sink: webhook\n    url: ${receiver.url}\n`,
    );
    const port = await freePort();
    // The first delivery hangs, so the relay is killed with a delivery in flight and more queued behind it.
    receiver.respondWith([{ hang: true }]);
    const first = await startRelay(port, config);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await postNotification(
        first.url,
        makeNotification({ groupKey: `{}:{alertname="A${i}"}` }),
      );
      statuses.push(response.status);
    }
    await receiver.waitFor(1);

    // Act
    process.kill(first.proc.pid, 'SIGKILL');
    await first.proc.stop();
    const second = await startRelay(port, config);
    await receiver.waitFor((all) => receiver.delivered().length === 5 && all.length >= 6);

    // Assess
    expect(statuses).toEqual([202, 202, 202, 202, 202]);
    expect(first.proc.exitStatus()?.signal).toBe('SIGKILL');
    expect([...receiver.deliveriesById().values()]).toEqual([1, 1, 1, 1, 1]);
    expect(receiver.duplicates()).toEqual([]);
    expect(second.proc.exitStatus()).toBeNull();
  });

  it('should finish in-flight work and exit 0 on SIGTERM', async () => {
    // Prepare
    const config = await writeConfig(
      `destinations:\n  - name: audit\n    sink: webhook\n    url: ${receiver.url}\n`,
    );
    const { proc, url } = await startRelay(await freePort(), config);
    await postNotification(url, makeNotification({}));
    await receiver.waitFor(1);

    // Act
    await proc.stop();

    // Assess
    expect(proc.exitStatus()).toEqual({ code: 0, signal: null });
    expect(proc.output()).toMatch(/SIGTERM: finishing in-flight work/);
  });

  it('should refuse to listen beyond loopback without an ingest token, and say why', async () => {
    // Prepare
    const env = { HOST: '0.0.0.0', PORT: String(await freePort()) };

    // Act
    const result = await runToExit(env);

    // Assess
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without an ingest token/);
  });

  it('should not start with an invalid config, naming the place and the problem', async () => {
    // Prepare
    const config = await writeConfig(
      "destinations:\n  - name: a\n    sink: console\n  - name: b\n    sink: console\n    matchers: ['severity=\"crit']\n",
    );

    // Act
    const result = await runToExit({ RELAY_CONFIG: config, PORT: String(await freePort()) });

    // Assess
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/destinations\[1\]\.matchers\[0\]: .*unterminated/);
  });

  it('should start although relay.pid names a live process that is not a relay', async () => {
    // Prepare: the pid file of an earlier version, holding the pid of this test's parent (alive).
    const config = await writeConfig('destinations:\n  - name: stdout\n    sink: console\n');
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data', 'relay.pid'), String(process.ppid));

    // Act
    const { proc, url } = await startRelay(await freePort(), config);
    const health = await fetch(`${url}/healthz`);

    // Assess
    expect(health.status).toBe(200);
    expect(proc.exitStatus()).toBeNull();
  });

  it('should refuse a second relay on the same data directory, saying which and what to do', async () => {
    // Prepare
    const config = await writeConfig('destinations:\n  - name: stdout\n    sink: console\n');
    const first = await startRelay(await freePort(), config);

    // Act
    const second = await runToExit({ RELAY_CONFIG: config, PORT: String(await freePort()) });

    // Assess
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`${join(dir, 'data')} is in use by another running relay`);
    expect(second.stderr).toContain('set RELAY_DATA_DIR to another directory');
    expect(first.proc.exitStatus()).toBeNull();
  });

  it('should let a new relay take the data directory at once after the holder is killed with -9', async () => {
    // Prepare
    const config = await writeConfig('destinations:\n  - name: stdout\n    sink: console\n');
    const port = await freePort();
    const first = await startRelay(port, config);

    // Act
    process.kill(first.proc.pid, 'SIGKILL');
    await first.proc.exited();
    const second = await startRelay(port, config);
    const health = await fetch(`${second.url}/healthz`);

    // Assess
    expect(first.proc.exitStatus()?.signal).toBe('SIGKILL');
    expect(health.status).toBe(200);
  });

  it('should log a second identical notification, skipped as a duplicate, at info with its group', async () => {
    // Prepare
    const config = await writeConfig('destinations:\n  - name: stdout\n    sink: console\n');
    const proc = spawnRelay({
      cwd: dir,
      env: { RELAY_DATA_DIR: join(dir, 'data'), RELAY_CONFIG: config, PORT: '0', LOG_LEVEL: 'INFO' },
    });
    processes.push(proc);
    const url = await relayUrl(proc);
    const notification = makeNotification({ groupKey: '{}:{alertname="Twice"}' });

    // Act
    const statuses = [
      (await postNotification(url, notification)).status,
      (await postNotification(url, notification)).status,
    ];
    const [line] = await proc.waitForLine(
      /^\{.*"message":"duplicate of the notification last applied to its group; skipping".*\}$/,
    );

    // Assess
    expect(statuses).toEqual([202, 202]);
    expect(JSON.parse(line)).toMatchObject({
      level: 'INFO',
      destination: 'stdout',
      sink: 'console',
      groupKey: '{}:{alertname="Twice"}',
    });
    expect(proc.stdout().match(/\[FIRING\] HighLatency/g)).toHaveLength(1);
  });

  /** Runs the relay expecting it to exit by itself (it refuses to start). */
  function runToExit(env: Record<string, string>) {
    return runScript('lib/local/main.ts', [], {
      cwd: dir,
      env: { RELAY_DATA_DIR: join(dir, 'data'), ...env },
    });
  }
});

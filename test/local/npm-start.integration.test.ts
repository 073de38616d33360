import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, sep } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import { type FakeServer, startFakeServer } from '../support/fake-server.ts';
import { makeNotification, postNotification } from '../support/notifications.ts';
import { type ManagedProcess, REPO_ROOT, relayUrl, spawnManaged } from '../support/run-script.ts';

/** The pid's parent and state letter from /proc (Linux), or undefined once it is gone. */
function procStat(pid: number): { ppid: number; state: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid ...`; comm may hold spaces and parentheses, so read after the last ')'.
  const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(ppid), state };
}

/** Every process below `root` now (npm's shell and node, whatever the tree). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = procStat(pid);
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

/** Still running: neither gone nor a zombie (exited, not yet reaped by whoever adopted it). */
function running(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/**
 * `npm start` as a supervisor runs it: the signal goes to the npm process (what systemd, a
 * container runtime or a shell's job control signal), never to node. The relay must get it,
 * drain and exit, and npm with it, leaving nothing running. npm is the machine's own, run on the
 * machine's own Node (the repository's node_modules/.bin is taken off PATH, as in a shell).
 */
describe('npm start: stopping on a signal', () => {
  let dir: string;
  let vendor: FakeServer;
  const processes: ManagedProcess[] = [];
  /** Every pid seen below npm, killed after the test if one outlived it. */
  const tree = new Set<number>();
  let answerFirst: () => void = () => undefined;
  let firstArrived: Promise<void>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-npm-start-'));
    let arrived: () => void = () => undefined;
    firstArrived = new Promise((resolve) => {
      arrived = resolve;
    });
    const gate = new Promise<void>((resolve) => {
      answerFirst = resolve;
    });
    // The vendor holds its first answer until the test lets it go: a delivery in flight.
    vendor = await startFakeServer({
      handle: async (request) => {
        if (request.seq !== 1) return undefined;
        arrived();
        await gate;
        return { status: 200, body: 'ok' };
      },
    });
  });

  afterEach(async () => {
    answerFirst();
    for (const pid of tree) if (running(pid)) process.kill(pid, 'SIGKILL');
    tree.clear();
    await Promise.all(processes.splice(0).map((p) => p.stop(2_000)));
    await vendor.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function npmStart(): Promise<{ npm: ManagedProcess; url: string; relayPid: number }> {
    const config = join(dir, 'relay.yaml');
    await writeFile(
      config,
      `destinations:\n  - name: audit\n    sink: webhook\n    url: ${vendor.url}/hook\n`,
    );
    const path = (process.env.PATH ?? '')
      .split(delimiter)
      .filter((entry) => !entry.endsWith(`node_modules${sep}.bin`))
      .join(delimiter);
    const npm = spawnManaged({
      name: 'npm start',
      command: 'npm',
      args: ['start'],
      cwd: REPO_ROOT,
      env: {
        PATH: path,
        HOME: process.env.HOME,
        RELAY_CONFIG: config,
        RELAY_DATA_DIR: join(dir, 'data'),
        PORT: '0',
      },
    });
    processes.push(npm);
    const url = await relayUrl(npm);
    for (const pid of descendants(npm.pid)) tree.add(pid);
    const relayPid = [...tree].find((pid) => commandLine(pid).includes('lib/local/main.ts'));
    if (relayPid === undefined) throw new Error(`no relay below npm (pid ${npm.pid}): ${[...tree]}`);
    return { npm, url, relayPid };
  }

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'should finish the delivery in flight on %s to npm, exit 0 and leave nothing running',
    async (signal) => {
      // Prepare
      const { npm, url, relayPid } = await npmStart();
      const accepted = await postNotification(url, makeNotification({}));
      await firstArrived;

      // Act
      process.kill(npm.pid, signal);
      await npm.waitForLine(new RegExp(`^${signal}: finishing in-flight work`));
      answerFirst();
      const exit = await npm.exited();

      // Assess
      expect(accepted.status).toBe(202);
      expect(exit).toEqual({ code: 0, signal: null });
      expect([...tree].filter(running)).toEqual([]);
      expect(running(relayPid)).toBe(false);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      expect(vendor.requests.map((r) => r.outcome)).toEqual([200]);
      const queue = new SqliteQueue({ path: join(dir, 'data', 'relay.db') });
      try {
        expect(queue.depth('webhook')).toEqual({ visible: 0, inFlight: 0 });
      } finally {
        queue.close();
      }
    },
  );
});

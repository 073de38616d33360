import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

/**
 * Child processes for the tests that run a program as a user does: `node scripts/*.ts`
 * (dlq, smoke, alertmanager-config), the relay itself (`npm start` runs lib/local/main.ts),
 * and, for the e2e suite, Prometheus and Alertmanager. Output is collected per stream, and a
 * test awaits a line or the exit as an event, never by polling.
 */

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** The Node 24 that the `node` devDependency installs: the relay needs node:sqlite and runs .ts directly. */
export const REPO_NODE = join(REPO_ROOT, 'node_modules/.bin/node');

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process a test started and must stop. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first output line matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Null while running. */
  exitStatus(): ExitStatus | null;
  /** Resolves once the process has exited and its output is read to the end. */
  exited(): Promise<ExitStatus>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; without it stdin is not connected. */
  input?: string;
}

/** PATH and HOME only: a child must not depend on the test runner's variables. */
function minimalEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME };
}

// setpriv (util-linux, Essential in Debian) sets PR_SET_PDEATHSIG and then execs the command,
// so the PID we hold is the program's own and the kernel kills it if the test worker dies
// before afterAll runs (a crash, a SIGKILL from a CI timeout). Without setpriv the 'exit' hook
// below is the only net.
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function spawnManaged(options: SpawnOptions): ManagedProcess {
  const [command, args] = setpriv
    ? [setpriv, ['--pdeathsig', 'KILL', '--', options.command, ...options.args]]
    : [options.command, options.args];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${options.name}: could not start ${options.command}`);
  const pid = child.pid;
  running.add(child);
  // A program that exits without reading its input must not fail the test with EPIPE.
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(options.input);

  const text = { output: '', stdout: '', stderr: '' };
  let status: ExitStatus | null = null;
  const lineWaiters = new Set<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }>();
  const exitWaiters = new Set<() => void>();
  let partial = '';

  const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const part = chunk.toString('utf8');
    text[stream] += part;
    text.output += part;
    const lines = (partial + part).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      for (const waiter of lineWaiters) {
        const match = line.match(waiter.pattern);
        if (match) {
          lineWaiters.delete(waiter);
          waiter.resolve(match);
        }
      }
    }
  };
  child.stdout?.on('data', onData('stdout'));
  child.stderr?.on('data', onData('stderr'));
  let resolveExited: (exit: ExitStatus) => void = () => undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    resolveExited = resolve;
  });
  const finish = (exit: ExitStatus) => {
    status ??= exit;
    running.delete(child);
    resolveExited(status);
    for (const waiter of exitWaiters) waiter();
  };
  // 'close' comes after 'exit', once stdout and stderr are read to the end.
  child.once('close', (code, signal) => finish({ code, signal }));
  // A spawn failure (ENOENT) is reported through 'error' and may come without 'close'.
  child.once('error', (error) => {
    text.output += `\n[harness] ${options.name}: ${error.message}\n`;
    finish({ code: null, signal: null });
  });

  const describeExit = () =>
    `${options.name} (pid ${pid}) exited (code ${status?.code}, signal ${status?.signal}). Output:\n${tail(text.output)}`;

  return {
    name: options.name,
    pid,
    output: () => text.output,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    exitStatus: () => status,
    exited: () => exited,
    waitForLine(pattern) {
      const seen = text.output.split('\n').find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen.match(pattern) as RegExpMatchArray);
      if (status) return Promise.reject(new Error(describeExit()));
      return new Promise((resolve, reject) => {
        const waiter = { pattern, resolve };
        const onExit = () => {
          lineWaiters.delete(waiter);
          reject(new Error(describeExit()));
        };
        lineWaiters.add(waiter);
        exitWaiters.add(onExit);
      });
    },
    async stop(graceMs = 10_000) {
      if (status) return;
      child.kill('SIGTERM');
      // Prometheus flushes its TSDB head on SIGTERM; a process stuck past the grace period is killed.
      const escalate = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(escalate);
    },
  };
}

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to its end and returns its exit and output.
 *
 * @example await run('amtool', ['check-config', file])
 */
export async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  const proc = spawnManaged({
    name: command,
    command,
    args,
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...minimalEnv(), ...options.env },
    input: options.input,
  });
  const exit = await proc.exited();
  return { ...exit, stdout: proc.stdout(), stderr: proc.stderr() };
}

/**
 * Runs a file of this repository with the repo's Node, from the repo root unless `cwd` says
 * otherwise, with PATH and HOME and `env` only.
 *
 * @example await runScript('scripts/dlq.ts', ['list', '--local'], { input: 'y\n' })
 */
export function runScript(
  script: string,
  args: string[] = [],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  return run(REPO_NODE, [join(REPO_ROOT, script), ...args], options);
}

/**
 * Starts the relay as `npm start` runs it (lib/local/main.ts) with PATH, HOME and `env`
 * (RELAY_CONFIG, RELAY_DATA_DIR, PORT, secrets): run it from a temp dir, so no relay.yaml of
 * the developer's is picked up. Await its URL with `relayUrl`.
 */
export function spawnRelay(options: { cwd: string; env: NodeJS.ProcessEnv }): ManagedProcess {
  return spawnManaged({
    name: 'relay',
    command: REPO_NODE,
    args: [join(REPO_ROOT, 'lib/local/main.ts')],
    cwd: options.cwd,
    env: { ...minimalEnv(), ...options.env },
  });
}

/** The base URL (no trailing slash) from the relay's "listening on http://..." line, once it has printed it. */
export async function relayUrl(relay: ManagedProcess): Promise<string> {
  const [, url] = await relay.waitForLine(/listening on (http:\/\/[^\s,;)]+)/);
  return url.replace(/\/$/, '');
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: the kernel picks it for a listener on
 * port 0, which is then closed so the process under test can bind it. Another process could
 * take it in between; on a test machine that window is small enough.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string')
    throw new Error('listener on port 0 has no TCP address');
  return address.port;
}

export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

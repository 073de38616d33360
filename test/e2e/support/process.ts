import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** A child process the harness started and must stop: Prometheus, Alertmanager or the relay. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** Resolves with the first output line matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Null while running. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
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
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${options.name}: could not start ${options.command}`);
  const pid = child.pid;
  running.add(child);

  let output = '';
  let status: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const lineWaiters = new Set<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }>();
  const exitWaiters = new Set<() => void>();
  let partial = '';

  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    const lines = (partial + text).split('\n');
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
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = { code, signal };
      running.delete(child);
      resolve();
      for (const waiter of exitWaiters) waiter();
    });
  });
  // A spawn failure (ENOENT) is reported through 'error' and may come without 'exit'.
  child.once('error', (error) => {
    output += `\n[harness] ${options.name}: ${error.message}\n`;
    status ??= { code: null, signal: null };
    running.delete(child);
    for (const waiter of exitWaiters) waiter();
  });

  const describeExit = () =>
    `${options.name} (pid ${pid}) exited (code ${status?.code}, signal ${status?.signal}). Output:\n${tail(output)}`;

  return {
    name: options.name,
    pid,
    output: () => output,
    exitStatus: () => status,
    waitForLine(pattern) {
      const seen = output.split('\n').find((line) => pattern.test(line));
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

/**
 * Polls `url` until it answers 2xx: the start-up probe for servers that print no single
 * "ready" line. Bounded: `attempts` tries `intervalMs` apart; stops at once if the process exits.
 */
export async function waitForHttpReady(
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

export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

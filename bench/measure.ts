import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** One line of bench/results.json. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** The same quantity for the baseline measured in the same run (null where there is none, e.g. a byte size). */
  baseline: number | null;
  /** value / baseline, or null without a baseline. */
  ratio: number | null;
  /** The target in words, e.g. "<= 5x" or "<= baseline + 10 ms"; null for a figure reported without one. */
  target: string | null;
  met: boolean | null;
}

export const repoRoot = resolve(import.meta.dirname, '..');
/** The Node 24 of the `node` devDependency: what `npm start` and the tests run on. */
export const nodeBin = join(repoRoot, 'node_modules/.bin/node');

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

export function result(
  fields: Omit<BenchResult, 'ratio' | 'met'> & { met: boolean | null; ratio?: number | null },
): BenchResult {
  const ratio =
    fields.ratio !== undefined
      ? fields.ratio
      : fields.baseline === null || fields.baseline === 0
        ? null
        : round(fields.value / fields.baseline, 3);
  return {
    name: fields.name,
    value: round(fields.value),
    unit: fields.unit,
    baseline: fields.baseline === null ? null : round(fields.baseline),
    ratio,
    target: fields.target,
    met: fields.met,
  };
}

/** A child process whose stdout is scanned for a line, then drained without being kept. */
export interface Child {
  process: ChildProcess;
  pid: number;
  /** Peak resident set size so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  /** Why it exited (with the end of its stderr), or undefined while it runs. */
  exitReason(): string | undefined;
  stop(): Promise<void>;
}

export async function startChild(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; ready: RegExp },
): Promise<{ child: Child; match: RegExpMatchArray }> {
  const proc = spawn(nodeBin, args, {
    cwd: options.cwd ?? repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = proc.pid as number;
  const exited = new Promise<void>((done) => proc.once('exit', () => done()));
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const match = await new Promise<RegExpMatchArray>((resolveMatch, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const found = buffered.match(options.ready);
      if (found) {
        proc.stdout?.off('data', onData);
        proc.stdout?.resume();
        resolveMatch(found);
      }
    };
    proc.stdout?.on('data', onData);
    proc.once('exit', (code) =>
      reject(new Error(`${args.join(' ')} exited (${code}) before ready:\n${stderr}`)),
    );
  });
  return {
    match,
    child: {
      process: proc,
      pid,
      exitReason: () =>
        proc.exitCode === null && proc.signalCode === null
          ? undefined
          : `exited with ${proc.exitCode ?? proc.signalCode}: ${stderr}`,
      peakRssMiB: () => {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
        return kib / 1024;
      },
      stop: async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill('SIGTERM');
        const escalate = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(escalate);
      },
    },
  };
}

/** Wall time of running `node <args>` to exit, in ms. */
export function timeNode(args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  return new Promise((resolveTime, reject) => {
    const started = performance.now();
    const proc = spawn(nodeBin, args, {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    proc.once('exit', (code) => {
      const elapsed = performance.now() - started;
      if (code === 0) resolveTime(elapsed);
      else reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

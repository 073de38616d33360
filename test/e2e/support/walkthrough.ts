import { type ChildProcess, spawn } from 'node:child_process';

/**
 * A markdown walkthrough that a test follows: each fenced block is preceded by an HTML comment
 * `<!-- walkthrough: <kind> <id> -->` that says what the test does with it, and a comment
 * without a block is a step of its own (`ctrl-c`). Every fenced block must have one, so a block
 * added to the doc without telling the test fails it.
 *
 * kinds:
 * - `install <id>`: apt-get lines (not run: the test checks the packages against dpkg)
 * - `system <id>`: systemctl lines (not run: the test checks the units the packages install)
 * - `run <id>`: a shell script run to its end; it must exit 0
 * - `output <id>`: what the `run` block of the same id prints (matched by `matchesOutput`)
 * - `file <name>`: written to the scratch directory under that name
 * - `serve <id>`: a program started in a terminal of its own, left running
 * - `await <serve-id> <id>`: lines that terminal prints (awaited)
 * - `ctrl-c <serve-id>...`: no block; Ctrl-C in those terminals, in that order
 */

export const STEP_KINDS = ['install', 'system', 'run', 'output', 'file', 'serve', 'await', 'ctrl-c'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export interface WalkthroughStep {
  kind: StepKind;
  /** The words after the kind. */
  args: string[];
  /** The block's text (without the fences); empty for `ctrl-c`. */
  text: string;
  /** The block's info string (`sh`, `yaml`, `text`). */
  lang: string;
  /** 1-based line of the marker in the doc. */
  line: number;
}

const MARKER = /^<!--\s*walkthrough:\s*(.*?)\s*-->$/;
const FENCE = /^```(\S*)\s*$/;

/** The steps of a walkthrough, in order; throws naming the line of a block without a marker or a bad marker. */
export function parseWalkthrough(markdown: string): WalkthroughStep[] {
  const lines = markdown.split('\n');
  const steps: WalkthroughStep[] = [];
  let pending: { kind: StepKind; args: string[]; line: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i].trim());
    if (marker) {
      if (pending) throw new Error(`line ${pending.line}: walkthrough marker without a block after it`);
      const [kind, ...args] = marker[1].split(/\s+/);
      if (!(STEP_KINDS as readonly string[]).includes(kind))
        throw new Error(`line ${i + 1}: unknown walkthrough step kind "${kind}"`);
      if (args.length === 0) throw new Error(`line ${i + 1}: walkthrough ${kind} needs an id`);
      if (kind === 'ctrl-c') steps.push({ kind, args, text: '', lang: '', line: i + 1 });
      else pending = { kind: kind as StepKind, args, line: i + 1 };
      continue;
    }
    const fence = FENCE.exec(lines[i]);
    if (!fence) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    if (i >= lines.length) throw new Error(`line ${start + 1}: unterminated fenced block`);
    if (!pending)
      throw new Error(`line ${start + 1}: fenced block without a <!-- walkthrough: ... --> marker`);
    steps.push({ ...pending, text: `${body.join('\n')}\n`, lang: fence[1] });
    pending = undefined;
  }
  if (pending) throw new Error(`line ${pending.line}: walkthrough marker without a block after it`);
  return steps;
}

/** Collapses runs of blanks, so column alignment (amtool's tables) does not matter. */
const normalize = (line: string) => line.trim().replace(/\s+/g, ' ');

/** `<n>` is a number, `<time>` any text; the rest of a line is literal. */
function linePattern(expected: string): RegExp {
  const parts = normalize(expected).split(/(<n>|<time>)/);
  const source = parts
    .map((part) => {
      if (part === '<n>') return '\\d+(?:\\.\\d+)?';
      if (part === '<time>') return '.+?';
      if (/<[a-z]+>/.test(part)) throw new Error(`unknown placeholder in "${expected}"`);
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${source}$`);
}

/**
 * Whether every non-empty line of `expected` is a line of `actual`, in the same order (other
 * lines may come between), blanks collapsed; `<n>` matches a number and `<time>` any text.
 * Returns the first expected line not found, or undefined when all are.
 */
export function missingOutputLine(expected: string, actual: string): string | undefined {
  const have = actual.split('\n').map(normalize);
  let from = 0;
  for (const line of expected.split('\n').filter((l) => l.trim() !== '')) {
    const pattern = linePattern(line);
    const at = have.findIndex((candidate, index) => index >= from && pattern.test(candidate));
    if (at < 0) return line;
    from = at + 1;
  }
  return undefined;
}

/** A program running in a terminal of its own: its own process group, as a shell's job is. */
export interface Terminal {
  readonly name: string;
  readonly pid: number;
  output(): string;
  /** Resolves once the output contains every line of `expected` (missingOutputLine); rejects if it exits first or after `timeoutMs`. */
  waitForOutput(expected: string, timeoutMs: number): Promise<void>;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Null while bash runs. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** Ctrl-C: SIGINT to every process of the group. */
  interrupt(): void;
  /** Whether any process of the group is still there. */
  groupAlive(): boolean;
  /** SIGKILL to the group (cleanup after a failure). */
  kill(): void;
}

const groups = new Set<number>();
process.on('exit', () => {
  for (const pgid of groups) killGroup(pgid, 'SIGKILL');
});

function killGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Runs `script` with bash in a new process group, as a terminal runs a foreground job. */
export function openTerminal(options: {
  name: string;
  script: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}): Terminal {
  const child: ChildProcess = spawn('/bin/bash', ['-euo', 'pipefail', '-c', options.script], {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${options.name}: bash did not start`);
  const pid = child.pid;
  groups.add(pid);
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let status: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      status = { code, signal };
      for (const listener of listeners) listener();
      resolve(status);
    });
  });
  return {
    name: options.name,
    pid,
    output: () => text,
    waitForOutput(expected, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `${options.name}: "${missingOutputLine(expected, text)}" not printed within ${timeoutMs} ms. Output:\n${text}`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          if (missingOutputLine(expected, text) === undefined) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve();
          } else if (status) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(
              new Error(
                `${options.name} exited (${JSON.stringify(status)}) before printing it. Output:\n${text}`,
              ),
            );
          }
        };
        listeners.add(check);
        check();
      });
    },
    exited: () => exited,
    exitStatus: () => status ?? null,
    interrupt: () => {
      killGroup(pid, 'SIGINT');
    },
    groupAlive: () => killGroup(pid, 0),
    kill: () => {
      killGroup(pid, 'SIGKILL');
      groups.delete(pid);
    },
  };
}

import { randomBytes } from 'node:crypto';
import type { Notification } from '../alertmanager/types.ts';
import { readAppliedGroup } from '../delivery/group-state.ts';
import { idempotencyKey } from '../queue/idempotency.ts';
import type { QueueMessage } from '../queue/message.ts';
import type { StateStore } from '../state/store.ts';
import { isCredentialsError, STAGE_ADVICE, stageNotReached, suggestLocal } from './aws-hint.ts';
import { StageUnreachableError } from './dlq/command-line.ts';
import { type DeadLetterQueues, readDeadLetter } from './dlq/dead-letters.ts';
import { formatTable } from './dlq/table.ts';
import { shellQuote } from './shell-quote.ts';

/**
 * `npm run smoke`: posts a synthetic firing notification, then its resolve, to a relay (a
 * fresh deployment or `npm start`), and reports what each destination did, read from where
 * the relay records it: the group's applied state in the state store (delivered, when) and the DLQs
 * (dead-lettered, why).
 */

export interface SmokeOptions {
  /** The webhook URL, ending in /alertmanager. */
  url: string;
  token?: string;
  /** Extra labels, so destinations with matchers select the smoke alert. */
  labels?: Record<string, string>;
  /** Where to look for outcomes. */
  observer: DeliveryObserver;
  /** How long to wait for each step's outcomes. */
  timeoutMs?: number;
  pollIntervalMs?: number;
  fetch?: typeof fetch;
  now?: () => Date;
  sleep?: (ms: number) => Promise<unknown>;
  print?: (line: string) => void;
}

export type Outcome =
  | { state: 'delivered'; latencyMs?: number }
  | { state: 'dead-lettered'; reason: string; statusCode?: string }
  | { state: 'pending' };

export interface StepReport {
  step: 'firing' | 'resolved';
  httpStatus: number;
  /** Ingest's answer body (or its error). */
  answer: unknown;
  outcomes: { destination: string; outcome: Outcome }[];
}

/** Reads what became of one destination's message. */
export interface DeliveryObserver {
  readonly description: string;
  /**
   * Reads the records once before anything is sent, so a run that could not observe its
   * outcomes (no AWS credentials, no such stage or table) fails before it posts an alert.
   */
  check?(): Promise<void>;
  /** `key` is the message's content key; the group's state says whether it was applied. */
  outcome(destination: string, key: string, groupKey: string): Promise<Outcome>;
}

/** A key no record has: the check reads it to see that the state store answers. */
const SMOKE_CHECK_KEY = 'smoke-check#';

/** The outcome from the relay's own records: the group's applied state, else a DLQ message with the key. */
export function recordsObserver(options: {
  state: StateStore;
  deadLetters: DeadLetterQueues;
  description: string;
}): DeliveryObserver {
  return {
    description: options.description,
    async check() {
      // The DLQ lookup tells missing credentials and a missing stage apart (StageUnreachableError).
      await options.deadLetters.sinks();
      try {
        await options.state.get(SMOKE_CHECK_KEY);
      } catch (error) {
        if (isCredentialsError(error)) throw error;
        const { name, message } = error as Error;
        throw new Error(`could not read ${options.description}: ${name}: ${message}`, { cause: error });
      }
    },
    async outcome(destination, key, groupKey) {
      const applied = await readAppliedGroup(options.state, destination, groupKey);
      if (applied?.keys.includes(key)) {
        const latency = Date.parse(applied.appliedAt) - Date.parse(applied.receivedAt);
        return { state: 'delivered', ...(Number.isFinite(latency) ? { latencyMs: latency } : {}) };
      }
      for (const sink of await options.deadLetters.sinks()) {
        if ((await options.deadLetters.depth(sink)) === 0) continue;
        for (const raw of await options.deadLetters.peek(sink, 100)) {
          let message: Partial<QueueMessage> | undefined;
          try {
            message = JSON.parse(raw.body) as Partial<QueueMessage>;
          } catch {
            continue;
          }
          if (message?.idempotencyKey !== key || message.destination !== destination) continue;
          const letter = readDeadLetter(raw);
          return {
            state: 'dead-lettered',
            reason: letter.reason,
            ...(letter.statusCode ? { statusCode: letter.statusCode } : {}),
          };
        }
      }
      return { state: 'pending' };
    },
  };
}

/** The synthetic notification: one alert, unique per run, so no earlier run's record matches. */
export function smokeNotification(options: {
  status: 'firing' | 'resolved';
  run: string;
  startsAt: string;
  endsAt?: string;
  labels?: Record<string, string>;
}): Notification {
  const labels = { alertname: 'RelaySmokeTest', severity: 'none', ...options.labels, smoke_run: options.run };
  return {
    version: '4',
    groupKey: `{}:{alertname="RelaySmokeTest", smoke_run="${options.run}"}`,
    truncatedAlerts: 0,
    status: options.status,
    receiver: 'alertmanager-relay-smoke',
    groupLabels: { alertname: 'RelaySmokeTest', smoke_run: options.run },
    commonLabels: labels,
    commonAnnotations: { summary: 'alertmanager-relay smoke test: safe to ignore' },
    externalURL: 'http://alertmanager-relay-smoke.invalid',
    alerts: [
      {
        status: options.status,
        labels,
        annotations: { summary: 'alertmanager-relay smoke test: safe to ignore' },
        startsAt: options.startsAt,
        endsAt: options.endsAt ?? '0001-01-01T00:00:00Z',
        generatorURL: 'http://alertmanager-relay-smoke.invalid/graph?g0.expr=vector%281%29',
        fingerprint: options.run,
      },
    ],
  };
}

/** Runs both steps; resolves with their reports (the resolve is sent after the firing settled). */
export async function runSmoke(options: SmokeOptions): Promise<StepReport[]> {
  const fetchImpl = options.fetch ?? fetch;
  const now = options.now ?? (() => new Date());
  const sleep = options.sleep ?? ((ms: number) => new Promise((done) => setTimeout(done, ms)));
  const print = options.print ?? (() => undefined);
  const run = randomBytes(8).toString('hex');
  const startsAt = now().toISOString();
  const reports: StepReport[] = [];
  await options.observer.check?.();
  for (const step of ['firing', 'resolved'] as const) {
    const notification = smokeNotification({
      status: step,
      run,
      startsAt,
      ...(step === 'resolved' ? { endsAt: now().toISOString() } : {}),
      labels: options.labels,
    });
    let response: Response;
    try {
      response = await fetchImpl(options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'alertmanager-relay-smoke',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
        body: JSON.stringify(notification),
      });
    } catch (error) {
      throw new RelayUnreachableError(options.url, error);
    }
    const text = await response.text();
    let answer: unknown = text;
    try {
      answer = JSON.parse(text);
    } catch {}
    print(`${step}: POST ${options.url} -> ${response.status}`);
    const report: StepReport = { step, httpStatus: response.status, answer, outcomes: [] };
    reports.push(report);
    if (response.status !== 202) break;
    const destinations = (
      (answer as { destinations?: { name: string; parts?: number }[] }).destinations ?? []
    ).map((d) => d.name);
    const keys = new Map(destinations.map((name) => [name, idempotencyKey(name, notification)]));
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    const outcomes = new Map<string, Outcome>(destinations.map((name) => [name, { state: 'pending' }]));
    for (;;) {
      for (const [name, outcome] of outcomes) {
        if (outcome.state !== 'pending') continue;
        outcomes.set(
          name,
          await options.observer.outcome(name, keys.get(name) as string, notification.groupKey),
        );
      }
      const pending = [...outcomes.values()].filter((o) => o.state === 'pending').length;
      if (pending === 0 || Date.now() >= deadline) break;
      await sleep(options.pollIntervalMs ?? 1000);
    }
    report.outcomes = [...outcomes].map(([destination, outcome]) => ({ destination, outcome }));
    if (report.outcomes.some((o) => o.outcome.state !== 'delivered')) break;
  }
  return reports;
}

/** The smoke report as a table, and whether every destination took both steps. */
export function formatSmokeReport(
  reports: readonly StepReport[],
  observer: string,
): { text: string; ok: boolean } {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const report of reports) {
    if (report.httpStatus !== 202) {
      notes.push(`${report.step}: ingest answered ${report.httpStatus}: ${JSON.stringify(report.answer)}`);
      continue;
    }
    if (report.outcomes.length === 0) {
      notes.push(
        `${report.step}: no destination matched the smoke alert (alertname=RelaySmokeTest, severity=none); ` +
          'pass --label name=value so your matchers select it',
      );
    }
    for (const { destination, outcome } of report.outcomes) {
      rows.push([
        report.step,
        destination,
        outcome.state,
        outcome.state === 'delivered' && outcome.latencyMs !== undefined ? `${outcome.latencyMs} ms` : '-',
        outcome.state === 'dead-lettered'
          ? `${outcome.statusCode ? `${outcome.statusCode}: ` : ''}${outcome.reason}`
          : outcome.state === 'pending'
            ? 'not delivered yet: see the dashboard and the sink log'
            : '',
      ]);
    }
  }
  const ok =
    reports.length === 2 &&
    reports.every((r) => r.httpStatus === 202 && r.outcomes.length > 0) &&
    reports.every((r) => r.outcomes.every((o) => o.outcome.state === 'delivered'));
  const lines = [`Outcomes (from ${observer}):`];
  if (rows.length > 0) lines.push(formatTable(['STEP', 'DESTINATION', 'OUTCOME', 'LATENCY', 'DETAIL'], rows));
  lines.push(...notes);
  lines.push(
    ok ? 'OK: every destination got the firing and the resolved notification.' : 'FAILED: see above.',
  );
  return { text: lines.join('\n'), ok };
}

/** The relay did not answer at all: nothing listens at the URL, the name does not resolve, the network is down. */
export class RelayUnreachableError extends Error {
  readonly url: string;

  constructor(url: string, error: unknown) {
    super(`could not reach the relay at ${url}: ${connectDetail(error)}`, { cause: error });
    this.name = 'RelayUnreachableError';
    this.url = url;
  }
}

/**
 * What went wrong under fetch's bare `fetch failed`: its cause's message (`connect ECONNREFUSED
 * 127.0.0.1:9099`), or each address's when it tried several (`localhost`: ::1 and 127.0.0.1).
 */
function connectDetail(error: unknown): string {
  const cause = (error as { cause?: unknown } | undefined)?.cause as
    | (Error & { code?: string; errors?: Error[] })
    | undefined;
  if (cause?.message) return cause.message;
  const each = (cause?.errors ?? []).map((e) => e.message).filter(Boolean);
  if (each.length > 0) return each.join('; ');
  if (cause?.code) return cause.code;
  return error instanceof Error ? error.message : String(error);
}

/**
 * The URL `smoke --local` posts to: where `npm start` listens, from the same HOST and PORT it
 * reads (lib/local/main.ts: 127.0.0.1 and 9099 unless set), a wildcard HOST (0.0.0.0, ::)
 * reached on loopback; and, for a message, where that address came from.
 */
export function localRelayUrl(env: NodeJS.ProcessEnv): { url: string; address: string; from: string } {
  const wildcard = env.HOST === undefined || ['0.0.0.0', '::', '[::]', ''].includes(env.HOST);
  const host = wildcard ? '127.0.0.1' : (env.HOST as string);
  const port = env.PORT ?? '9099';
  const address = `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  const hostPart =
    env.HOST === undefined
      ? 'HOST not set: 127.0.0.1'
      : wildcard
        ? `HOST=${env.HOST} (every interface), reached on 127.0.0.1`
        : `HOST=${env.HOST}`;
  const portPart = env.PORT === undefined ? 'PORT not set: 9099' : `PORT=${env.PORT}`;
  const from =
    env.HOST === undefined && env.PORT === undefined
      ? "npm start's default address (HOST and PORT are not set here)"
      : `from ${portPart}; ${hostPart}`;
  return { url: `http://${address}/alertmanager`, address, from };
}

/** A smoke run as the user typed it, for the commands its hints print. */
export interface SmokeInvocation {
  local: boolean;
  dataDir?: string;
  url?: string;
  stage?: string;
  region?: string;
  table?: string;
  /** `--token-file`, each `--label`, `--timeout` as given: every suggested command repeats them. */
  args: string[];
}

/** The SmokeInvocation of `npm run smoke` with its parsed flags (node:util parseArgs). */
export function smokeInvocation(values: {
  local?: boolean;
  'data-dir'?: string;
  url?: string;
  stage?: string;
  region?: string;
  table?: string;
  'token-file'?: string;
  label?: string[];
  timeout?: string;
}): SmokeInvocation {
  return {
    local: values.local === true,
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
    ...(values.url !== undefined ? { url: values.url } : {}),
    ...(values.stage !== undefined ? { stage: values.stage } : {}),
    ...(values.region !== undefined ? { region: values.region } : {}),
    ...(values.table !== undefined ? { table: values.table } : {}),
    args: [
      ...(values['token-file'] !== undefined ? ['--token-file', values['token-file']] : []),
      ...(values.label ?? []).flatMap((label) => ['--label', label]),
      ...(values.timeout !== undefined ? ['--timeout', values.timeout] : []),
    ],
  };
}

/**
 * A `npm run smoke` command line, shell-quoted; `prefix` goes before it as it is (an
 * environment assignment the user fills in).
 *
 * @example smokeCommandLine(['--local'], ['--token-file', 'my token']) // "npm run smoke -- --local --token-file 'my token'"
 */
export function smokeCommandLine(target: readonly string[], args: readonly string[], prefix = ''): string {
  return `${prefix}${['npm', 'run', 'smoke', '--', ...target, ...args].map(shellQuote).join(' ')}`;
}

/**
 * The flags of the same run against `npm start`: `--local`, the `--data-dir` given, and a
 * `--url` given with http: (npm start serves plain HTTP; a deployed stage's URL is https:, and
 * with --local it would post to AWS and look for the outcome here).
 */
function localFlags(invocation: SmokeInvocation): string[] {
  return [
    '--local',
    ...(invocation.dataDir !== undefined ? ['--data-dir', invocation.dataDir] : []),
    ...(invocation.url?.startsWith('http:') ? ['--url', invocation.url] : []),
  ];
}

/** Why AWS was not reached, when `error` says it was not: no CLI, no credentials, no such stage. */
function notReached(
  error: unknown,
): { problem: 'no-cli' | 'credentials' | 'no-stack'; message: string } | undefined {
  if (stageNotReached(error)) return { problem: error.problem, message: error.message };
  if (error instanceof StageUnreachableError)
    return { problem: error.problem === 'credentials' ? 'credentials' : 'no-stack', message: error.message };
  if (isCredentialsError(error)) {
    const { name, message } = error as Error;
    return { problem: 'credentials', message: `no usable AWS credentials (${name}: ${message})` };
  }
  return undefined;
}

/**
 * What to print for an error that ended `npm run smoke`. A stage that was not reached (no AWS
 * CLI, no credentials, no stack) gets the same command with `--local`; a relay that did not
 * answer gets the URL tried, where that came from, and how to point smoke at `npm start`;
 * anything else is its message. `env` is the environment smoke ran in (HOST, PORT).
 */
export function explainSmokeFailure(
  error: unknown,
  invocation: SmokeInvocation,
  env: NodeJS.ProcessEnv = {},
): string {
  if (error instanceof RelayUnreachableError) return explainUnreachableRelay(error, invocation, env);
  const unreached = notReached(error);
  if (!unreached) return error instanceof Error ? error.message : String(error);
  const advice = {
    'no-cli': `${STAGE_ADVICE['no-cli']}, or give its WebhookUrl and StateTableName outputs with --url and --table.`,
    credentials: `${STAGE_ADVICE.credentials} and run it again.`,
    'no-stack': `${STAGE_ADVICE['no-stack']}.`,
  }[unreached.problem];
  return suggestLocal(unreached.message, smokeCommandLine(localFlags(invocation), invocation.args), advice);
}

function explainUnreachableRelay(
  error: RelayUnreachableError,
  invocation: SmokeInvocation,
  env: NodeJS.ProcessEnv,
): string {
  if (!invocation.local) {
    return (
      `${error.message}\n\nIs the URL right? It is the stack's WebhookUrl output, or the --url given. ` +
      `For the relay \`npm start\` runs on this machine, add --local:\n  ${smokeCommandLine(localFlags(invocation), invocation.args)}`
    );
  }
  const local = localRelayUrl(env);
  const where =
    invocation.url !== undefined
      ? `smoke tried ${invocation.url}, the --url given.`
      : `smoke --local tried ${local.address}, ${local.from}.`;
  const target = ['--local', ...(invocation.dataDir !== undefined ? ['--data-dir', invocation.dataDir] : [])];
  return [
    error.message,
    '',
    `Is \`npm start\` running? ${where}`,
    'If it is not, start it (npm start) and run this again. If it listens elsewhere, give smoke the PORT (and HOST) it',
    'was started with, or its URL:',
    `  ${smokeCommandLine(target, invocation.args, 'PORT=<its port> ')}`,
    `  ${smokeCommandLine([...target, '--url', 'http://<host>:<port>/alertmanager'], invocation.args)}`,
  ].join('\n');
}

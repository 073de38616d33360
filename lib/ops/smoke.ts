import { randomBytes } from 'node:crypto';
import type { Notification } from '../alertmanager/types.ts';
import { readAppliedGroup } from '../delivery/group-state.ts';
import { idempotencyKey } from '../queue/idempotency.ts';
import type { QueueMessage } from '../queue/message.ts';
import type { StateStore } from '../state/store.ts';
import { type DeadLetterQueues, readDeadLetter } from './dlq/dead-letters.ts';
import { formatTable } from './dlq/table.ts';

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
  /** `key` is the message's content key; the group's state says whether it was applied. */
  outcome(destination: string, key: string, groupKey: string): Promise<Outcome>;
}

/** The outcome from the relay's own records: the group's applied state, else a DLQ message with the key. */
export function recordsObserver(options: {
  state: StateStore;
  deadLetters: DeadLetterQueues;
  description: string;
}): DeliveryObserver {
  return {
    description: options.description,
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
  for (const step of ['firing', 'resolved'] as const) {
    const notification = smokeNotification({
      status: step,
      run,
      startsAt,
      ...(step === 'resolved' ? { endsAt: now().toISOString() } : {}),
      labels: options.labels,
    });
    const response = await fetchImpl(options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'alertmanager-relay-smoke',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      body: JSON.stringify(notification),
    });
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

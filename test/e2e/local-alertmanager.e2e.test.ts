import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, REPO_ROOT, run } from '../support/run-script.ts';
import {
  missingOutputLine,
  openTerminal,
  parseWalkthrough,
  type Terminal,
  type WalkthroughStep,
} from './support/walkthrough.ts';

/**
 * docs/local-alertmanager.md, followed as a reader would: every fenced block in it, in order,
 * with the ports and directories it names replaced by free ports and a temporary directory.
 * Shell blocks run with bash (`set -euo pipefail`) and must exit 0; the programs it leaves
 * running (the relay by `npm start`, Debian's prometheus-alertmanager and prometheus) each get a
 * process group of their own, as in a terminal, and are stopped by Ctrl-C (SIGINT to the group)
 * where the doc says so. The output the doc shows is matched against what the commands print.
 * Between the doc's steps, the test awaits the state the doc describes (the notification printed,
 * a repeat counted, the silence in force, a scrape) by polling the programs' HTTP APIs.
 *
 * The install and systemctl blocks are not run (they need root and systemd): the packages they
 * name are checked to be installed and to provide the programs and units the doc uses.
 */

const DOC = join(REPO_ROOT, 'docs/local-alertmanager.md');
const steps = parseWalkthrough(readFileSync(DOC, 'utf8'));

/** The doc's ports: the relay (npm start's default), Alertmanager's and Prometheus' defaults. */
const DOC_PORTS = { relay: 9099, alertmanager: 9093, prometheus: 9090 } as const;
/** The doc's paths. */
const DOC_SCRATCH = '~/relay-demo';
const DOC_CLONE = '~/alertmanager-relay';

/** Alertmanager's repeat of an unchanged group in the doc's alertmanager.yml: repeat_interval 10s + group_interval 5s. */
const REPEAT_SECONDS = 15;
/** Every wait below is bounded by this, only to turn a hang into a failure that says what was awaited. */
const DEADLINE_MS = 90_000;

interface Context {
  root: string;
  home: string;
  scratch: string;
  ports: Record<keyof typeof DOC_PORTS, number>;
  env: NodeJS.ProcessEnv;
  /** The programs still running, by the doc's serve id. */
  terminals: Map<string, Terminal>;
  /** Every program started, running or not. */
  started: Map<string, Terminal>;
  /** stdout+stderr of each `run` block, by id. */
  outputs: Map<string, string>;
}

let context: Context;

/** The doc's text with its ports and paths replaced by the test's. */
function substitute(text: string): string {
  let out = text.replaceAll(DOC_SCRATCH, context.scratch).replaceAll(DOC_CLONE, REPO_ROOT);
  for (const [name, port] of Object.entries(DOC_PORTS)) {
    out = out.replace(
      new RegExp(`(?<![0-9])${port}(?![0-9])`, 'g'),
      String(context.ports[name as keyof typeof DOC_PORTS]),
    );
  }
  return out;
}

const stepsOf = (kind: WalkthroughStep['kind']) => steps.filter((step) => step.kind === kind);
const blockOf = (kind: WalkthroughStep['kind'], id: string): WalkthroughStep => {
  const step = steps.find((s) => s.kind === kind && s.args[0] === id);
  if (!step) throw new Error(`docs/local-alertmanager.md has no "${kind} ${id}" block`);
  return step;
};

/** Polls `probe` until it returns a value (not undefined), at most DEADLINE_MS; the error says what was awaited and what was last seen. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  let last: unknown = 'nothing yet';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`not within ${DEADLINE_MS} ms: ${what} (last: ${String(last)})`);
}

async function getText(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

/** One sample of the relay's /metrics, by its exact series text (`name{labels}`), or 0 if absent. */
async function relayMetric(series: string): Promise<number> {
  const text = await getText(`http://127.0.0.1:${context.ports.relay}/metrics`);
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const RECEIVED = 'alertmanager_relay_notifications_received_total';
const outcome = (name: string) =>
  `alertmanager_relay_notifications_total{destination="stdout",sink="console",outcome="${name}"}`;

/** Prometheus' instant query, as `{label set}` -> value. */
async function promQuery(query: string): Promise<Map<string, number>> {
  const url = new URL(`http://127.0.0.1:${context.ports.prometheus}/api/v1/query`);
  url.searchParams.set('query', query);
  const body = JSON.parse(await getText(url.toString())) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return new Map(body.data.result.map((r) => [JSON.stringify(r.metric), Number(r.value[1])]));
}

/** The ExampleAlert as Alertmanager's v2 API has it. */
async function exampleAlertState(): Promise<string | undefined> {
  const alerts = JSON.parse(
    await getText(`http://127.0.0.1:${context.ports.alertmanager}/api/v2/alerts`),
  ) as {
    labels: Record<string, string>;
    status: { state: string };
  }[];
  return alerts.find((a) => a.labels.alertname === 'ExampleAlert')?.status.state;
}

async function runBlock(step: WalkthroughStep): Promise<string> {
  const terminal = openTerminal({
    name: `run ${step.args[0]}`,
    script: substitute(step.text),
    cwd: context.home,
    env: context.env,
  });
  const exit = await terminal.exited();
  if (exit.code !== 0) {
    throw new Error(
      `docs/local-alertmanager.md line ${step.line} (run ${step.args[0]}) exited with ${JSON.stringify(exit)}:\n${terminal.output()}`,
    );
  }
  return terminal.output();
}

/** Waits for a server the doc started to answer on its readiness endpoint. */
async function ready(name: string, url: string): Promise<void> {
  const terminal = context.terminals.get(name);
  await until(`${name} ready at ${url}`, async () => {
    if (terminal?.exitStatus()) throw new Error(`${name} exited:\n${terminal.output()}`);
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok ? true : undefined;
  });
}

/** The stopped-window observation: what the metrics-stopped step saw, for the final assertions. */
const seen: { receivedBeforeSilence?: number; receivedAfterSilence?: number[] } = {};

/**
 * What the test does around a step, keyed `kind:id` (serve, run, file) or `await:<serve>:<id>`.
 * `before` awaits the state the doc says the step finds; `after` checks what it did.
 */
const hooks: Record<string, { before?: () => Promise<void>; after?: (output: string) => Promise<void> }> = {
  'serve:alertmanager': {
    after: () => ready('alertmanager', `http://127.0.0.1:${context.ports.alertmanager}/-/ready`),
  },
  'serve:prometheus': {
    after: () => ready('prometheus', `http://127.0.0.1:${context.ports.prometheus}/-/ready`),
  },
  'file:alertmanager.yml': {
    // The doc's alertmanager.yml is the printed one with the route's timings added.
    after: async (written) => {
      const printed = parse(context.outputs.get('print-receiver') ?? '');
      const file = parse(written);
      expect(file.receivers).toEqual(printed.receivers);
      expect(file.route.receiver).toBe(printed.route.receiver);
      expect(Object.keys(file.route).sort()).toEqual(
        [...Object.keys(printed.route), 'group_wait', 'group_interval', 'repeat_interval'].sort(),
      );
      expect(file.route.repeat_interval).toBe('10s');
      expect(file.route.group_interval).toBe('5s');
    },
  },
  'run:metrics-repeats': {
    // "Alertmanager sends the unchanged group again every 15 s ... the relay prints it only once".
    before: async () => {
      await until('a repeat of ExampleAlert counted as a duplicate', async () =>
        (await relayMetric(outcome('duplicate'))) >= 1 && (await relayMetric(RECEIVED)) >= 2
          ? true
          : undefined,
      );
    },
    after: async () => {
      expect(await relayMetric(outcome('delivered'))).toBe(1);
      seen.receivedBeforeSilence = await relayMetric(RECEIVED);
    },
  },
  'run:silenced': {
    before: async () => {
      await until('ExampleAlert suppressed in Alertmanager', async () =>
        (await exampleAlertState()) === 'suppressed' ? true : undefined,
      );
    },
  },
  'run:metrics-stopped': {
    // "run this now and again half a minute later, and the count ... stays where it is".
    // Absence has no event to await: the second look comes two repeats later, when without the
    // silence Alertmanager would have sent the group at least twice (it did before the silence).
    after: async (first) => {
      const count = (output: string) => Number(/_received_total (\d+)/.exec(output)?.[1]);
      const now = count(first);
      expect(now).toBeGreaterThanOrEqual(seen.receivedBeforeSilence ?? Number.NaN);
      await new Promise((resolve) => setTimeout(resolve, 2 * REPEAT_SECONDS * 1000));
      const later = count(await runBlock(blockOf('run', 'metrics-stopped')));
      seen.receivedAfterSilence = [now, later];
      expect(later).toBe(now);
    },
  },
  'run:query-up': {
    before: async () => {
      await until('Prometheus scraped the relay', async () =>
        [...(await promQuery('up{job="alertmanager-relay"}')).values()][0] === 1 ? true : undefined,
      );
    },
  },
  'run:query-outcomes': {
    before: async () => {
      await until('Prometheus has scraped the delivered and duplicate counts', async () => {
        const byOutcome = await promQuery(
          'sum by (outcome) (alertmanager_relay_notifications_total{job="alertmanager-relay"})',
        );
        return byOutcome.get('{"outcome":"delivered"}') === 1 &&
          (byOutcome.get('{"outcome":"duplicate"}') ?? 0) >= 1
          ? true
          : undefined;
      });
    },
  },
  'run:relay-rules': {
    // Every alert of monitoring/alerts.yaml is loaded, and the doc lists them all.
    after: async (output) => {
      const mixin = parse(readFileSync(join(REPO_ROOT, 'monitoring/alerts.yaml'), 'utf8')) as {
        groups: { rules: { alert?: string }[] }[];
      };
      const names = mixin.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter(Boolean);
      const loaded = [...output.matchAll(/"name":"(AlertmanagerRelay[A-Za-z]*)"/g)].map((m) => m[1]);
      expect(loaded.sort()).toEqual([...names].sort());
      const listed = [...blockOf('output', 'relay-rules').text.matchAll(/"name":"(\w+)"/g)].map((m) => m[1]);
      expect(listed.sort()).toEqual([...names].sort());
    },
  },
  'run:remove-scratch-dir': {
    after: async () => {
      expect(existsSync(context.scratch)).toBe(false);
    },
  },
};

function hookKey(step: WalkthroughStep): string {
  return step.kind === 'await' ? `await:${step.args[0]}:${step.args[1]}` : `${step.kind}:${step.args[0]}`;
}

async function follow(step: WalkthroughStep): Promise<void> {
  const hook = hooks[hookKey(step)];
  await hook?.before?.();
  switch (step.kind) {
    case 'install':
    case 'system':
      return; // checked by the tests below, not run
    case 'run': {
      const output = await runBlock(step);
      context.outputs.set(step.args[0], output);
      await hook?.after?.(output);
      return;
    }
    case 'output': {
      const output = context.outputs.get(step.args[0]);
      if (output === undefined)
        throw new Error(`line ${step.line}: output ${step.args[0]} comes before its run block`);
      const missing = missingOutputLine(substitute(step.text), output);
      expect(
        missing,
        `line ${step.line}: "run ${step.args[0]}" did not print the doc's line "${missing}". It printed:\n${output}`,
      ).toBeUndefined();
      return;
    }
    case 'file': {
      const text = substitute(step.text);
      await writeFile(join(context.scratch, step.args[0]), text);
      await hook?.after?.(text);
      return;
    }
    case 'serve': {
      const name = step.args[0];
      const terminal = openTerminal({
        name,
        script: substitute(step.text),
        cwd: context.home,
        env: context.env,
      });
      context.terminals.set(name, terminal);
      context.started.set(name, terminal);
      await hook?.after?.('');
      return;
    }
    case 'await': {
      const terminal = context.terminals.get(step.args[0]);
      if (!terminal) throw new Error(`line ${step.line}: no terminal ${step.args[0]} is running`);
      await terminal.waitForOutput(substitute(step.text), DEADLINE_MS);
      return;
    }
    case 'ctrl-c': {
      for (const name of step.args) {
        const terminal = context.terminals.get(name);
        if (!terminal) throw new Error(`line ${step.line}: no terminal ${name} is running`);
        terminal.interrupt();
        // Bounded only so that a program that ignores Ctrl-C fails the test instead of hanging it.
        const exit = await Promise.race([
          terminal.exited(),
          new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 15_000)),
        ]);
        expect(exit, `${name} after Ctrl-C:\n${terminal.output()}`).not.toBe('still running');
        expect(
          terminal.groupAlive(),
          `${name}: a process of its terminal is still running after Ctrl-C`,
        ).toBe(false);
        context.terminals.delete(name);
      }
      return;
    }
  }
}

describe('Doc: docs/local-alertmanager.md', () => {
  it('should mark every fenced block with a step the test knows, and the test should hook only steps the doc has', () => {
    // Prepare
    const keys = new Set(steps.map(hookKey));

    // Act
    const unknownHooks = Object.keys(hooks).filter((key) => !keys.has(key));
    const outputsWithoutRun = stepsOf('output').filter(
      (o) => !steps.some((s) => s.kind === 'run' && s.args[0] === o.args[0] && s.line < o.line),
    );

    // Assess
    expect(unknownHooks).toEqual([]);
    expect(outputsWithoutRun.map((s) => s.line)).toEqual([]);
    expect(
      stepsOf('serve')
        .map((s) => s.args[0])
        .sort(),
    ).toEqual(['alertmanager', 'prometheus', 'relay']);
    expect(
      stepsOf('ctrl-c')
        .flatMap((s) => s.args)
        .sort(),
    ).toEqual(['alertmanager', 'prometheus', 'relay']);
  });

  it('should install, with the packages it names, the programs it runs and the services it stops', async () => {
    // Prepare
    const installed = stepsOf('install')
      .flatMap((s) => s.text.split('\n'))
      .flatMap((line) => /apt-get install (.+)$/.exec(line)?.[1].split(/\s+/) ?? []);
    const units = stepsOf('system')
      .flatMap((s) => s.text.split('\n'))
      .flatMap((line) => /systemctl (?:stop|start) (.+)$/.exec(line)?.[1].split(/\s+/) ?? []);
    const programs = ['prometheus', 'promtool', 'prometheus-alertmanager', 'amtool'];

    // Act
    const status = await run('dpkg-query', ['-W', `-f=\${Package} \${Status}\n`, ...installed]);
    const files = await run('dpkg', ['-L', ...installed]);

    // Assess
    expect(installed.sort()).toEqual(['prometheus', 'prometheus-alertmanager']);
    expect(status.stdout.trim().split('\n').sort()).toEqual(
      installed.map((p) => `${p} install ok installed`).sort(),
    );
    const fileList = files.stdout.split('\n');
    for (const program of programs) {
      expect(fileList, `${program} comes from ${installed.join(' or ')}`).toContain(`/usr/bin/${program}`);
      expect(
        steps.some(
          (s) =>
            (s.kind === 'run' || s.kind === 'serve') && new RegExp(`(^|\\s)${program} `, 'm').test(s.text),
        ),
      ).toBe(true);
    }
    expect(units.length).toBeGreaterThan(0);
    for (const unit of units) {
      expect(
        fileList.some((f) => f.endsWith(`/systemd/system/${unit}.service`)),
        `${unit}.service`,
      ).toBe(true);
    }
  });

  describe('followed step by step', () => {
    beforeAll(async () => {
      const root = await mkdtemp(join(tmpdir(), 'relay-walkthrough-'));
      const home = join(root, 'home');
      await mkdir(home);
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        npm_config_update_notifier: 'false',
      };
      context = {
        root,
        home,
        scratch: join(root, 'relay-demo'),
        ports: { relay: await freePort(), alertmanager: await freePort(), prometheus: await freePort() },
        env,
        terminals: new Map(),
        started: new Map(),
        outputs: new Map(),
      };
      // npm start and alertmanager-config --local read PORT; the doc's 9099 is their default.
      env.PORT = String(context.ports.relay);
      // The doc runs the built-in default config (no relay.yaml in the clone); a developer's own
      // relay.yaml in this checkout is set aside by naming an equivalent of the default instead.
      if (existsSync(join(REPO_ROOT, 'relay.yaml'))) {
        env.RELAY_CONFIG = join(root, 'default-relay.yaml');
        await writeFile(env.RELAY_CONFIG, 'destinations:\n  - name: stdout\n    sink: console\n');
      }
    });

    afterEach((test) => {
      if (test.task.result?.state !== 'fail') return;
      for (const terminal of context.started.values())
        console.error(`----- ${terminal.name} -----\n${terminal.output().split('\n').slice(-60).join('\n')}`);
    });

    afterAll(async () => {
      for (const terminal of context?.terminals.values() ?? []) terminal.kill();
      if (context) await rm(context.root, { recursive: true, force: true });
    });

    it('should deliver the rule, stop after the silence, be scraped and stop on Ctrl-C, as the doc says', async () => {
      // Act: every step, in the doc's order
      for (const step of steps) await follow(step);

      // Assess: the relay printed the alert once, although Alertmanager sent it several times
      // before the silence, and nothing is left running
      expect(seen.receivedBeforeSilence).toBeGreaterThanOrEqual(2);
      expect(seen.receivedAfterSilence?.[0]).toBe(seen.receivedAfterSilence?.[1]);
      expect(context.terminals.size).toBe(0);
      const relay = context.started.get('relay')?.output() ?? '';
      expect(relay.match(/\[FIRING\] ExampleAlert /g)).toHaveLength(1);
      expect(relay).toContain('SIGINT: finishing in-flight work');
    }, 300_000);
  });
});

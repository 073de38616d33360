import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { dlqUrlVar, ENV, queueUrlVar } from '../lib/runtime-env.ts';
import { sinks } from '../lib/sinks/registry.ts';
import { type BenchResult, median, nodeBin, repoRoot, result, timeNode } from './measure.ts';

const RUNS = 9;
const KIB = 1024;
/** Most a cold import() may take above `node -e 0` (issue 16): ingest, and each sink function. */
const INGEST_ABOVE_FLOOR_MS = 50;
const SINK_ABOVE_FLOOR_MS = 60;

/** What serverless.yml would set; the SDK clients are created at import but make no call. */
function lambdaEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    [ENV.secretId]: 'relay-bench',
    [ENV.stateTable]: 'relay-bench-state',
    [ENV.maxReceiveCount]: '5',
  };
  for (const sink of sinks) {
    env[queueUrlVar(sink.name)] =
      `https://sqs.eu-west-1.amazonaws.com/123456789012/relay-bench-${sink.name}.fifo`;
    env[dlqUrlVar(sink.name)] =
      `https://sqs.eu-west-1.amazonaws.com/123456789012/relay-bench-${sink.name}-dlq.fifo`;
  }
  return env;
}

function dirBytes(path: string): number {
  if (!existsSync(path)) return 0;
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/**
 * Figure 3: each Lambda bundle (`node scripts/build.ts`, with an ingest token configured as a
 * deploy requires): the size of its entry file and the wall time of a fresh `node` that
 * `import()`s it, against `node -e 0`. Median of RUNS, runs interleaved.
 */
export async function benchColdStart(): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-bench-build-'));
  try {
    const config = join(dir, 'relay.yaml');
    await writeFile(
      config,
      stringify({
        ingest: { tokenSecret: 'INGEST_TOKEN' },
        destinations: [{ name: 'audit', sink: 'webhook', url: 'https://hooks.example.com/audit' }],
      }),
    );
    const build = spawnSync(nodeBin, ['scripts/build.ts'], {
      cwd: repoRoot,
      env: { ...process.env, RELAY_CONFIG: config },
      encoding: 'utf8',
    });
    if (build.status !== 0)
      throw new Error(`node scripts/build.ts failed:\n${build.stdout}\n${build.stderr}`);
    // Measured from a private copy: another `npm run build` in the checkout empties .build/.
    cpSync(join(repoRoot, '.build/functions'), join(dir, 'functions'), { recursive: true });
    return await measure(join(dir, 'functions'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(bundles: string): Promise<BenchResult[]> {
  const env = lambdaEnv();
  const functions = ['ingest', ...sinks.map((s) => s.name)];
  const floor: number[] = [];
  const times = new Map<string, number[]>(functions.map((f) => [f, []]));
  await timeNode(['-e', '0']);
  for (let run = 0; run < RUNS; run++) {
    floor.push(await timeNode(['-e', '0'], env));
    for (const name of functions) {
      const entry = pathToFileURL(join(bundles, name, 'index.mjs')).href;
      times
        .get(name)
        ?.push(await timeNode(['--input-type=module', '-e', `await import(${JSON.stringify(entry)})`], env));
    }
  }
  const floorMs = median(floor);
  const results: BenchResult[] = [];
  for (const name of functions) {
    const folder = join(bundles, name);
    const kib = statSync(join(folder, 'index.mjs')).size / KIB;
    const isIngest = name === 'ingest';
    const limit = isIngest ? 350 : 600;
    results.push(
      result({
        name: `bundle size: ${name} (index.mjs; lazy chunks ${Math.round(dirBytes(join(folder, 'chunks')) / KIB)} KiB not loaded at cold start)`,
        value: kib,
        unit: 'KiB',
        baseline: null,
        target: `<= ${limit} KiB`,
        met: kib <= limit,
      }),
    );
    const ms = median(times.get(name) ?? []);
    const above = isIngest ? INGEST_ABOVE_FLOOR_MS : SINK_ABOVE_FLOOR_MS;
    results.push(
      result({
        name: `cold import(): ${name} vs node -e 0 (${(ms - floorMs).toFixed(1)} ms above)`,
        value: ms,
        unit: 'ms',
        baseline: floorMs,
        target: `<= node -e 0 + ${above} ms`,
        met: ms - floorMs <= above,
      }),
    );
    const assets = join(folder, 'graph-assets');
    if (existsSync(assets)) {
      results.push(
        result({
          name: `renderer assets: ${name} (graph-assets: wasm + fonts, read when a graph is drawn; reported separately)`,
          value: dirBytes(assets) / KIB,
          unit: 'KiB',
          baseline: null,
          target: null,
          met: null,
        }),
      );
    }
  }
  return results;
}

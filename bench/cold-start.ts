import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRelay, unpackFunction } from '../test/support/packaged-lambda.ts';
import { type BenchResult, median, repoRoot, result, timeNode } from './measure.ts';

const RUNS = 9;
const KIB = 1024;
/** Most a cold import() may take above `node -e 0` (issue 16): ingest, and each other function. */
const INGEST_ABOVE_FLOOR_MS = 50;
const SINK_ABOVE_FLOOR_MS = 60;
const SOURCE_MAPS = '--enable-source-maps';
/**
 * The relay's own error reporting as a deploy with `--param sentryDsn=...` has it: a DSN makes
 * every function load and start Sentry at init. Nothing listens there; nothing is sent at init.
 */
const FAKE_SENTRY_DSN = 'http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1';

interface TemplateFunction {
  Type: string;
  Properties: { Code?: { S3Key?: string }; Environment?: { Variables?: Record<string, unknown> } };
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
 * A function's environment as the template sets it; what is resolved at deploy time (queue URLs,
 * the table, the secret) gets a plausible value: nothing is called at import.
 */
function deployedEnv(fn: TemplateFunction): Record<string, string> {
  const env: Record<string, string> = {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
  };
  for (const [name, value] of Object.entries(fn.Properties.Environment?.Variables ?? {})) {
    if (typeof value === 'string') env[name] = value;
    else if (/^(QUEUE|DLQ)_URL_/.test(name))
      env[name] = `https://sqs.eu-west-1.amazonaws.com/123456789012/relay-bench-${name.toLowerCase()}.fifo`;
    else env[name] = `relay-bench-${name.toLowerCase()}`;
  }
  env.SENTRY_DSN = FAKE_SENTRY_DSN;
  return env;
}

/** NODE_OPTIONS with source maps switched the other way: the variant not deployed. */
function toggledSourceMaps(options: string): string {
  const flags = options.split(/\s+/).filter(Boolean);
  return flags.includes(SOURCE_MAPS)
    ? flags.filter((flag) => flag !== SOURCE_MAPS).join(' ')
    : [...flags, SOURCE_MAPS].join(' ');
}

/**
 * Figure 3: each Lambda function as `npm run package` makes it (relay.example.yaml, which
 * configures every sink): the size of its entry file, and the wall time of a fresh `node` that
 * `import()`s it from the unpacked zip with the environment the template gives it (its
 * NODE_OPTIONS included) and a Sentry DSN set, against `node -e 0`. The same again with source
 * maps switched the other way, to show what they cost. Median of RUNS, runs interleaved.
 */
export async function benchColdStart(): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-bench-cold-'));
  try {
    const packageDir = await packageRelay(dir, readFileSync(join(repoRoot, 'relay.example.yaml'), 'utf8'));
    const template = JSON.parse(
      readFileSync(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8'),
    ) as { Resources: Record<string, TemplateFunction> };
    const functions: { name: string; entry: string; env: Record<string, string> }[] = [];
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const name = /\/([^/]+)\.zip$/.exec(String(resource.Properties.Code?.S3Key))?.[1];
      if (!name) continue;
      const code = await unpackFunction(packageDir, name);
      // The runtime's resolution of `Handler` (module path + export), as resolveHandler does it.
      const modulePath = code.handler.slice(0, code.handler.lastIndexOf('.'));
      const entry = ['.mjs', '.js', '.cjs']
        .map((ext) => join(code.root, `${modulePath}${ext}`))
        .find((file) => existsSync(file));
      if (!entry) throw new Error(`${name}: no module for handler ${code.handler}`);
      functions.push({ name, entry, env: deployedEnv(resource) });
    }
    functions.sort((a, b) =>
      a.name === 'ingest' ? -1 : b.name === 'ingest' ? 1 : a.name.localeCompare(b.name),
    );
    return await measure(functions);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(functions: { name: string; entry: string; env: Record<string, string> }[]) {
  const floor: number[] = [];
  const deployed = new Map<string, number[]>(functions.map((f) => [f.name, []]));
  const toggled = new Map<string, number[]>(functions.map((f) => [f.name, []]));
  const importOf = (entry: string) => [
    '--input-type=module',
    '-e',
    `await import(${JSON.stringify(pathToFileURL(entry).href)})`,
  ];
  await timeNode(['-e', '0']);
  for (let run = 0; run < RUNS; run++) {
    floor.push(await timeNode(['-e', '0']));
    for (const fn of functions) {
      deployed.get(fn.name)?.push(await timeNode(importOf(fn.entry), fn.env));
      const other = { ...fn.env, NODE_OPTIONS: toggledSourceMaps(fn.env.NODE_OPTIONS ?? '') };
      toggled.get(fn.name)?.push(await timeNode(importOf(fn.entry), other));
    }
  }
  const floorMs = median(floor);
  const results: BenchResult[] = [];
  for (const fn of functions) {
    const folder = dirname(fn.entry);
    const kib = statSync(fn.entry).size / KIB;
    const isIngest = fn.name === 'ingest';
    const limit = isIngest ? 350 : 600;
    results.push(
      result({
        name: `bundle size: ${fn.name} (index.mjs as packaged; lazy chunks ${Math.round(dirBytes(join(folder, 'chunks')) / KIB)} KiB not loaded at cold start)`,
        value: kib,
        unit: 'KiB',
        baseline: null,
        target: `<= ${limit} KiB`,
        met: kib <= limit,
      }),
    );
    const above = isIngest ? INGEST_ABOVE_FLOOR_MS : SINK_ABOVE_FLOOR_MS;
    const options = fn.env.NODE_OPTIONS ?? '';
    const ms = median(deployed.get(fn.name) ?? []);
    results.push(
      result({
        name: `cold import(): ${fn.name} as deployed (NODE_OPTIONS=${JSON.stringify(options)}, SENTRY_DSN set) vs node -e 0 (${(ms - floorMs).toFixed(1)} ms above)`,
        value: ms,
        unit: 'ms',
        baseline: floorMs,
        target: `<= node -e 0 + ${above} ms`,
        met: ms - floorMs <= above,
      }),
    );
    const otherOptions = toggledSourceMaps(options);
    const otherMs = median(toggled.get(fn.name) ?? []);
    results.push(
      result({
        name: `cold import(): ${fn.name} ${otherOptions.includes(SOURCE_MAPS) ? 'with' : 'without'} source maps (NODE_OPTIONS=${JSON.stringify(otherOptions)}, SENTRY_DSN set; not deployed, for comparison) vs node -e 0 (${(otherMs - floorMs).toFixed(1)} ms above)`,
        value: otherMs,
        unit: 'ms',
        baseline: floorMs,
        target: null,
        met: null,
      }),
    );
    const assets = join(folder, 'graph-assets');
    if (existsSync(assets)) {
      results.push(
        result({
          name: `renderer assets: ${fn.name} (graph-assets: wasm + fonts, read when a graph is drawn; reported separately)`,
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

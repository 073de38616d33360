import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bundleNeedsGraphAssets,
  copyGraphAssets,
  GRAPH_ASSET_FILES,
  GRAPH_ASSETS_DIR,
} from '../../../../lib/sinks/slack/graph/assets.ts';
import { type FakePrometheus, startFakePrometheus } from '../../../support/fake-prometheus.ts';
import {
  LATENCY_NOW,
  LATENCY_QUERY,
  LATENCY_SERIES,
  latencyNotification,
} from '../../../support/graph-data.ts';

/**
 * The renderer inside an esbuild bundle, as scripts/build.ts makes it for a Lambda: run in a
 * separate Node process from a folder with no node_modules anywhere above it, so the wasm and
 * the font can only come from the copies beside the bundle.
 */

const root = resolve(import.meta.dirname, '../../../..');
const alertGraphModule = join(root, 'lib/sinks/slack/graph/alert-graph.ts');

// The options of scripts/build.ts that matter for loading the assets.
const BUILD_OPTIONS: BuildOptions = {
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  mainFields: ['module', 'main'],
  minify: true,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  metafile: true,
  logLevel: 'silent',
};

const ENTRY_STATIC = `
import { renderAlertGraph } from ${JSON.stringify(alertGraphModule)};
export const render = (...args) => renderAlertGraph(...args);
`;
// A dynamic import puts the graph code in a lazy chunk one folder below the entry.
const ENTRY_LAZY = `
export async function render(...args) {
  const { renderAlertGraph } = await import(${JSON.stringify(alertGraphModule)});
  return renderAlertGraph(...args);
}
`;
const RUNNER = `
const [bundle, prometheusUrl, notification, now] = process.argv.slice(2);
const { render } = await import(bundle);
const graph = await render({ notification: JSON.parse(notification), now: new Date(now) }, { prometheusUrl, timeoutSeconds: 60 }, { get: async () => { throw new Error('none'); } });
process.stdout.write(JSON.stringify('png' in graph ? { png: Buffer.from(graph.png).toString('base64'), series: graph.series } : graph));
`;

let dir: string;
let prometheus: FakePrometheus;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-graph-bundle-'));
  await writeFile(join(dir, 'runner.mjs'), RUNNER);
  prometheus = await startFakePrometheus({ series: { [LATENCY_QUERY]: LATENCY_SERIES } });
});

afterAll(async () => {
  await prometheus?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function bundleEntry(
  name: string,
  source: string,
): Promise<{ outdir: string; chunks: string[]; needsAssets: boolean }> {
  const entry = join(dir, `${name}.mjs`);
  await writeFile(entry, source);
  const outdir = join(dir, name);
  const result = await build({
    ...BUILD_OPTIONS,
    absWorkingDir: root,
    entryPoints: { index: entry },
    outdir,
  });
  const chunks = await readdir(join(outdir, 'chunks')).catch(() => []);
  return { outdir, chunks, needsAssets: bundleNeedsGraphAssets(Object.keys(result.metafile?.inputs ?? {})) };
}

async function runBundle(outdir: string): Promise<Record<string, unknown>> {
  const child = spawn(
    process.execPath,
    [
      'runner.mjs',
      join(outdir, 'index.mjs'),
      prometheus.url,
      JSON.stringify(latencyNotification()),
      LATENCY_NOW.toISOString(),
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const [code] = await once(child, 'close');
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(stdout) as Record<string, unknown>;
}

function pngSize(base64: unknown): { width: number; height: number } {
  const png = Buffer.from(String(base64), 'base64');
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('Graph: renderer inside an esbuild bundle', () => {
  it('should need no node_modules: the temp folder has none above it', () => {
    // Act
    const resolveFromTemp = () => createRequire(join(dir, 'x.mjs')).resolve(GRAPH_ASSET_FILES.wasm.module);

    // Assess
    expect(resolveFromTemp).toThrow();
  });

  it('should render from the copies beside the entry file', async () => {
    // Prepare
    const { outdir, needsAssets } = await bundleEntry('static', ENTRY_STATIC);
    const copied = await copyGraphAssets(outdir);

    // Act
    const graph = await runBundle(outdir);

    // Assess
    expect(needsAssets).toBe(true);
    const expected = (await stat(createRequire(import.meta.url).resolve(GRAPH_ASSET_FILES.wasm.module))).size;
    expect((await stat(join(outdir, GRAPH_ASSETS_DIR, GRAPH_ASSET_FILES.wasm.file))).size).toBe(expected);
    expect(copied).toBeGreaterThan(expected);
    expect(graph.series).toBe(4);
    expect(pngSize(graph.png)).toEqual({ width: 1000, height: 360 });
  });

  it('should render from a lazy chunk, finding the copies one folder up, and skip (not throw) without them', async () => {
    // Prepare
    const { outdir, chunks } = await bundleEntry('lazy', ENTRY_LAZY);
    await copyGraphAssets(outdir);

    // Act
    const graph = await runBundle(outdir);
    await rename(join(outdir, GRAPH_ASSETS_DIR), join(outdir, 'moved-away'));
    const withoutAssets = await runBundle(outdir);

    // Assess
    expect(chunks.length).toBeGreaterThan(0);
    expect(pngSize(graph.png)).toEqual({ width: 1000, height: 360 });
    expect(withoutAssets).toMatchObject({
      reason: 'render-error',
      skipped: expect.stringContaining('graph asset resvg.wasm not found'),
    });
  });

  it('should tell bundles that do not include the renderer apart', async () => {
    // Act
    const { needsAssets } = await bundleEntry('plain', 'export const x = 1;');

    // Assess
    expect(needsAssets).toBe(false);
  });
});

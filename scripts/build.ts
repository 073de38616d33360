/**
 * `npm run build`: validates the relay config, bundles every Lambda with esbuild into
 * .build/functions/<name>/index.mjs, and writes the serverless.yml fragments that lib/infra
 * generates from the sink registry to .build/serverless/. A bad config exits 1 with every
 * problem and its path.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { ConfigError, loadConfig } from '../lib/config/load.ts';
import { fragmentFiles, generateFragments } from '../lib/infra/fragments.ts';
import { bundleDir, INGEST_FUNCTION } from '../lib/infra/names.ts';
import { ENV } from '../lib/runtime-env.ts';
import { sinks } from '../lib/sinks/registry.ts';

const root = resolve(import.meta.dirname, '..');

// An ESM bundle has no `require`; bundled CommonJS packages (parts of the AWS SDK) call it.
const REQUIRE_BANNER =
  "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

async function main(): Promise<void> {
  const started = performance.now();
  // A value left in the shell would win over relay.yaml inside loadConfig.
  delete process.env[ENV.bundledConfig];
  const { config, source } = loadConfig({ cwd: root });
  console.log(`config: ${source} (${config.destinations.length} destinations)`);

  const entries: Record<string, string> = { [INGEST_FUNCTION]: 'functions/ingest.ts' };
  for (const sink of sinks) entries[sink.name] = `functions/sinks/${sink.name}.ts`;
  const missing = Object.values(entries).filter((entry) => !existsSync(join(root, entry)));
  if (missing.length > 0) throw new Error(`missing Lambda entry points: ${missing.join(', ')}`);

  await rm(join(root, '.build'), { recursive: true, force: true });
  // One esbuild call for every function: it bundles the entry points in parallel and parses
  // shared modules (AWS SDK, config, routing) once.
  const bundles = build({
    absWorkingDir: root,
    entryPoints: Object.entries(entries).map(([name, entry]) => ({
      in: entry,
      out: `${relative('.build', bundleDir(name))}/index`,
    })),
    outdir: '.build',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // ESM builds of the AWS SDK and Powertools tree-shake better than their CommonJS ones.
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    banner: { js: REQUIRE_BANNER },
    // The AWS SDK v3 in the nodejs24.x runtime is not external: the bundle pins the version
    // we tested instead of whatever the runtime ships that week.
    define: { [`process.env.${ENV.bundledConfig}`]: JSON.stringify(JSON.stringify(config)) },
    metafile: true,
    logLevel: 'warning',
  });
  const [result] = await Promise.all([bundles, writeFragments(sinks.map((sink) => sink.name))]);

  for (const name of Object.keys(entries)) {
    const file = join(root, bundleDir(name), 'index.mjs');
    const [code, map] = await Promise.all([stat(file), stat(`${file}.map`)]);
    console.log(`${bundleDir(name)}/index.mjs  ${kib(code.size)}  (map ${kib(map.size)})`);
  }
  const inputs = Object.keys(result.metafile.inputs).length;
  console.log(
    `built ${Object.keys(entries).length} functions from ${inputs} modules in ${Math.round(performance.now() - started)} ms`,
  );
}

async function writeFragments(sinkNames: string[]): Promise<void> {
  const dir = join(root, '.build', 'serverless');
  await mkdir(dir, { recursive: true });
  const files = fragmentFiles(generateFragments(sinkNames));
  await Promise.all(
    Object.entries(files).map(([file, content]) =>
      writeFile(join(dir, file), `${JSON.stringify(content, null, 2)}\n`),
    ),
  );
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

try {
  await main();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  }
  process.exit(1);
}

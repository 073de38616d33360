/**
 * `npm run build`: validates the relay config, bundles every Lambda with esbuild into
 * .build/functions/<name>/index.mjs, and writes the serverless.yml fragments that lib/infra
 * generates for the sinks the config uses to .build/serverless/ (so `sls package` zips and
 * deploys only those). A bad config exits 1 with every problem and its path.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { build, type Metafile, transform } from 'esbuild';
import { ConfigError, loadConfig } from '../lib/config/load.ts';
import { buildProblems, deployRefusal, reservationRequirement } from '../lib/infra/deploy-checks.ts';
import {
  DeploymentConfigError,
  type DeploymentSettings,
  deploymentSettings,
} from '../lib/infra/deployment.ts';
import { fragmentFiles, generateFragments } from '../lib/infra/fragments.ts';
import { bundleDir, INGEST_FUNCTION, WATCHDOG_FUNCTION } from '../lib/infra/names.ts';
import { ENV } from '../lib/runtime-env.ts';
import { sinks } from '../lib/sinks/registry.ts';
import {
  bundleNeedsGraphAssets,
  copyGraphAssets,
  GRAPH_ASSETS_DIR,
} from '../lib/sinks/slack/graph/assets.ts';
import { watchdogWarnings } from '../lib/watchdog/config.ts';

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
  const refusal = deployRefusal(config, process.argv.slice(2));
  if (refusal) throw new ConfigError(source, [refusal]);
  const problems = buildProblems(config);
  if (problems.length > 0) throw new ConfigError(source, problems);
  for (const warning of watchdogWarnings(config.watchdog)) console.warn(`warning: ${warning}`);
  let deployment: DeploymentSettings;
  try {
    deployment = deploymentSettings(
      config,
      sinks.map((sink) => sink.name),
    );
  } catch (error) {
    if (error instanceof DeploymentConfigError) throw new ConfigError(source, error.problems);
    throw error;
  }
  console.log(
    `stack: ingest + ${deployment.sinks.join(', ')} (the sinks the destinations use)` +
      (deployment.watchdog ? ` + ${WATCHDOG_FUNCTION} (every minute)` : ''),
  );
  const reservation = reservationRequirement(deployment);
  if (reservation) console.log(`note: ${reservation}`);
  // The watchdog function tells its deployment by when it was built (lib/watchdog/deployment.ts).
  const builtAt = new Date().toISOString();

  // Every registered sink is bundled (in parallel, so it costs no time; bench/cold-start.ts
  // measures them all); only the deployed ones are in the fragments, so only those are zipped.
  const entries: Record<string, string> = { [INGEST_FUNCTION]: 'functions/ingest.ts' };
  for (const sink of sinks) entries[sink.name] = `functions/sinks/${sink.name}.ts`;
  // Only when deployed: the function reads the watchdog: block and refuses a config without one.
  if (deployment.watchdog) entries[WATCHDOG_FUNCTION] = 'functions/watchdog.ts';
  const missing = Object.values(entries).filter((entry) => !existsSync(join(root, entry)));
  if (missing.length > 0) throw new Error(`missing Lambda entry points: ${missing.join(', ')}`);

  await rm(join(root, '.build'), { recursive: true, force: true });
  const [bundles, , configLiteral, builtAtLiteral] = await Promise.all([
    Promise.all(Object.entries(entries).map(([name, entry]) => bundle(name, entry, config, builtAt))),
    writeFragments(deployment),
    printedLiteral(JSON.stringify(config)),
    printedLiteral(builtAt),
  ]);

  for (const { name, outputs, assetBytes } of bundles) {
    const code = outputs.filter((output) => output.path.endsWith('.mjs'));
    const entry = code.find((output) => output.path.endsWith('/index.mjs'));
    const lazy = code.filter((output) => output !== entry);
    const maps = outputs.filter((output) => output.path.endsWith('.map'));
    // The define only replaces the literal expression `process.env.RELAY_BUNDLED_CONFIG`; read any
    // other way, the Lambda would silently fall back to the built-in default config.
    if (!code.some((output) => output.text.includes(configLiteral))) {
      throw new Error(
        `${bundleDir(name)} does not carry the config: read process.env.${ENV.bundledConfig} literally`,
      );
    }
    if (name === WATCHDOG_FUNCTION && !code.some((output) => output.text.includes(builtAtLiteral))) {
      throw new Error(
        `${bundleDir(name)} does not carry the build time: read process.env.${ENV.builtAt} literally`,
      );
    }
    console.log(
      `${`${bundleDir(name)}/index.mjs`.padEnd(36)} ${kib(entry?.bytes ?? 0)}` +
        ` + ${lazy.length} lazy chunks ${kib(sum(lazy))} (maps ${kib(sum(maps))})` +
        (assetBytes > 0 ? ` + ${GRAPH_ASSETS_DIR}/ ${kib(assetBytes)}` : ''),
    );
  }
  console.log(`built ${bundles.length} functions in ${Math.round(performance.now() - started)} ms`);
}

/**
 * One self-contained folder per function: its zip holds that folder only. `splitting` turns
 * dynamic imports (Sentry when SENTRY_DSN is set, the AWS SDK's SSO/STS credential providers)
 * into chunks that are read only when imported, which keeps them off the cold start.
 */
async function bundle(name: string, entry: string, config: unknown, builtAt: string) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { index: entry },
    outdir: bundleDir(name),
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
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
    define: {
      [`process.env.${ENV.bundledConfig}`]: JSON.stringify(JSON.stringify(config)),
      [`process.env.${ENV.builtAt}`]: JSON.stringify(builtAt),
    },
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  await Promise.all(
    result.outputFiles.map(async (output) => {
      await mkdir(dirname(output.path), { recursive: true });
      await writeFile(output.path, output.contents);
    }),
  );
  const assetBytes = await copyGraphAssetsFor(name, result.metafile);
  return {
    name,
    assetBytes,
    outputs: result.outputFiles.map((output) => ({
      path: output.path,
      bytes: output.contents.byteLength,
      text: output.text,
    })),
  };
}

// Node cannot import .wasm/.ttf files as bytes from source, so lib/sinks/slack/graph/assets.ts reads them
// with fs: from node_modules when run from source, from the folder beside the bundle in a
// Lambda. Copied only into bundles that include that module; the zip holds the whole folder.
async function copyGraphAssetsFor(name: string, metafile: Metafile): Promise<number> {
  if (!bundleNeedsGraphAssets(Object.keys(metafile.inputs))) return 0;
  return copyGraphAssets(join(root, bundleDir(name)));
}

function sum(outputs: { bytes: number }[]): number {
  return outputs.reduce((total, output) => total + output.bytes, 0);
}

async function writeFragments(deployment: DeploymentSettings): Promise<void> {
  const dir = join(root, '.build', 'serverless');
  await mkdir(dir, { recursive: true });
  const files = fragmentFiles(generateFragments(deployment));
  await Promise.all(
    Object.entries(files).map(([file, content]) =>
      writeFile(join(dir, file), `${JSON.stringify(content, null, 2)}\n`),
    ),
  );
}

/** The string literal as esbuild prints it in a minified bundle. */
async function printedLiteral(value: string): Promise<string> {
  const { code } = await transform(`x(${JSON.stringify(value)})`, { minify: true });
  return code.slice('x('.length, code.lastIndexOf(')'));
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

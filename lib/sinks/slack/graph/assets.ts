import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The two binary files the renderer needs: resvg's wasm and a font (Lambda has no system
 * fonts). From source (tests, `npm start`) they are read from node_modules; scripts/build.ts
 * copies them into GRAPH_ASSETS_DIR beside every bundle that includes this module, and the
 * same code finds them there relative to import.meta.url (the bundle's entry file, or a lazy
 * chunk one folder below it).
 */

/** Folder inside a function's bundle folder that holds the assets. */
export const GRAPH_ASSETS_DIR = 'graph-assets';

/** Each asset: its file name in GRAPH_ASSETS_DIR and the package path it comes from. */
export const GRAPH_ASSET_FILES = {
  wasm: { file: 'resvg.wasm', module: '@resvg/resvg-wasm/index_bg.wasm' },
  font: { file: 'DejaVuSans.ttf', module: 'dejavu-fonts-ttf/ttf/DejaVuSans.ttf' },
} as const;

export type GraphAssetName = keyof typeof GRAPH_ASSET_FILES;

/** Where an asset may be, in the order tried: beside the bundle, then node_modules. */
export function assetCandidates(name: GraphAssetName, base: string | URL = import.meta.url): string[] {
  const { file, module } = GRAPH_ASSET_FILES[name];
  const candidates = [
    fileURLToPath(new URL(`./${GRAPH_ASSETS_DIR}/${file}`, base)),
    fileURLToPath(new URL(`../${GRAPH_ASSETS_DIR}/${file}`, base)),
  ];
  try {
    candidates.push(createRequire(base).resolve(module));
  } catch {
    // In a bundle there is no node_modules: the copies beside it are the only candidates.
  }
  return candidates;
}

/** Reads an asset from the first candidate that exists; the error lists where it looked. */
export async function readGraphAsset(
  name: GraphAssetName,
  base: string | URL = import.meta.url,
): Promise<Uint8Array> {
  const candidates = assetCandidates(name, base);
  for (const path of candidates) {
    try {
      return await readFile(path);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
    }
  }
  throw new Error(
    `graph asset ${GRAPH_ASSET_FILES[name].file} not found (looked in ${candidates.join(', ')})`,
  );
}

/** Whether a bundle built from these inputs (esbuild metafile keys) needs the assets beside it. */
export function bundleNeedsGraphAssets(inputs: Iterable<string>): boolean {
  for (const input of inputs)
    if (input.replace(/\\/g, '/').endsWith('lib/sinks/slack/graph/assets.ts')) return true;
  return false;
}

/** Copies the assets from node_modules into `<bundleDir>/GRAPH_ASSETS_DIR`; returns the bytes copied. */
export async function copyGraphAssets(bundleDir: string): Promise<number> {
  const dir = join(bundleDir, GRAPH_ASSETS_DIR);
  await mkdir(dir, { recursive: true });
  const require = createRequire(import.meta.url);
  let bytes = 0;
  for (const { file, module } of Object.values(GRAPH_ASSET_FILES)) {
    const target = join(dir, file);
    await copyFile(require.resolve(module), target);
    bytes += (await stat(target)).size;
  }
  return bytes;
}

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layers of lib/ as docs/architecture.md draws them: each folder may import only from the
 * folders below it, and nothing forms a cycle. A sink never imports another sink.
 */
const ROOT = fileURLToPath(new URL('../', import.meta.url));

// Lower layers first. A file may import from its own layer or any lower one.
const LAYERS: readonly (readonly string[])[] = [
  ['lib/alertmanager', 'lib/state', 'lib/runtime-env.ts'],
  // The watchdog's config is part of relay.yaml's schema; its checker builds queue messages.
  ['lib/config', 'lib/queue', 'lib/watchdog'],
  ['lib/delivery', 'lib/format', 'lib/templates', 'lib/telemetry.ts', 'lib/secrets.ts', 'lib/sentry.ts'],
  // The chat stage: a chat sink's journal, pacing, group record and storm mode (lib/chat/storm).
  ['lib/chat'],
  ['lib/sinks'],
  // Loading a config validates each destination against its sink's schema, so it sits above the sinks.
  ['lib/ingest', 'lib/infra', 'lib/config/load.ts'],
  ['lib/local', 'lib/lambda.ts', 'lib/ops'],
];

/** The layer of the longest prefix that names the file (lib/config/load.ts before lib/config). */
function layerOf(file: string): number {
  let best = { index: -1, length: 0 };
  LAYERS.forEach((layer, index) => {
    for (const prefix of layer) {
      const matches = file === prefix || file.startsWith(`${prefix}/`);
      if (matches && prefix.length > best.length) best = { index, length: prefix.length };
    }
  });
  if (best.index < 0) throw new Error(`${file} is in no layer: add it to LAYERS`);
  return best.index;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((spec) => relative(ROOT, normalize(join(ROOT, dirname(file), spec))));
}

const files = sourceFiles('lib');
const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe('Architecture: lib/ layers', () => {
  it('should import nothing from a higher layer', () => {
    // Act
    const upward = files.flatMap((file) =>
      (graph.get(file) ?? [])
        .filter((target) => layerOf(target) > layerOf(file))
        .map((target) => `${file} -> ${target}`),
    );

    // Assess
    expect(upward).toEqual([]);
  });

  it('should keep each sink to its own folder', () => {
    // Act
    const across = files.flatMap((file) => {
      const own = /^lib\/sinks\/([^/]+)\//.exec(file)?.[1];
      if (!own) return [];
      return (graph.get(file) ?? [])
        .filter((target) => {
          const other = /^lib\/sinks\/([^/]+)\//.exec(target)?.[1];
          return other !== undefined && other !== own;
        })
        .map((target) => `${file} -> ${target}`);
    });

    // Assess
    expect(across).toEqual([]);
  });

  it('should have no import cycle', () => {
    // Prepare
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) if (graph.has(target)) visit(target, [...path, file]);
      state.set(file, 'done');
    };

    // Act
    for (const file of files) visit(file, []);

    // Assess
    expect(cycles).toEqual([]);
  });
});

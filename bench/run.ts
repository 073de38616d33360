/**
 * `npm run bench`: every figure of BENCHMARKS.md, each against a baseline measured in the same
 * run, written to bench/results.json and printed as a table. Never part of `npm test`.
 * `npm run bench -- ingest storm` runs only the named figures and prints them (no file written).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { benchAlertmanager } from './alertmanager.ts';
import { benchColdStart } from './cold-start.ts';
import { benchCost } from './cost.ts';
import { benchIngest } from './ingest.ts';
import { benchMatchers } from './matchers.ts';
import { type BenchResult, repoRoot } from './measure.ts';
import { benchMemory } from './memory.ts';
import { benchStorm } from './storm.ts';
import { benchStormDigest } from './storm-digest.ts';
import { benchTemplates } from './templates.ts';
import { benchThroughput } from './throughput.ts';

const FIGURES: Record<string, () => Promise<BenchResult[] | string>> = {
  ingest: benchIngest,
  throughput: benchThroughput,
  'cold-start': benchColdStart,
  alertmanager: benchAlertmanager,
  storm: benchStorm,
  'storm-digest': benchStormDigest,
  matchers: benchMatchers,
  templates: benchTemplates,
  memory: benchMemory,
  cost: benchCost,
};

function format(value: number | null): string {
  if (value === null) return '-';
  return Math.abs(value) >= 100 ? value.toFixed(0) : String(value);
}

/** The table BENCHMARKS.md shows (GitHub Markdown). */
export function table(results: BenchResult[]): string {
  const rows = results.map((r) => [
    r.name,
    `${format(r.value)} ${r.unit}`,
    r.baseline === null ? '-' : `${format(r.baseline)} ${r.unit}`,
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target ?? '-',
    r.met === null ? '-' : r.met ? 'yes' : '**no**',
  ]);
  const header = ['figure', 'value', 'baseline', 'ratio', 'target', 'met'];
  return [header, header.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

const TABLE_START = '<!-- bench:table -->';
const TABLE_END = '<!-- /bench:table -->';

/** A full run puts its table into BENCHMARKS.md, between the markers, with the date and machine. */
async function updateBenchmarksMd(results: BenchResult[], load: number[]): Promise<void> {
  const path = join(repoRoot, 'BENCHMARKS.md');
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (!text?.includes(TABLE_START) || !text.includes(TABLE_END)) return;
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, load average ${load.map((l) => l.toFixed(1)).join(' ')} at the start, Node ${process.version}`;
  const block = `${TABLE_START}\nLatest full run: ${new Date().toISOString().slice(0, 16)}Z on ${machine}.\n\n${table(results)}\n${TABLE_END}`;
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END) + TABLE_END.length;
  await writeFile(path, `${text.slice(0, start)}${block}${text.slice(end)}`);
  process.stdout.write(`updated ${path}\n`);
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const load = loadavg();
  const results: BenchResult[] = [];
  let failed = 0;
  for (const [name, run] of Object.entries(FIGURES)) {
    if (only.length > 0 && !only.includes(name)) continue;
    const started = performance.now();
    process.stdout.write(`bench: ${name}... `);
    try {
      const outcome = await run();
      if (typeof outcome === 'string') {
        process.stdout.write(`skipped: ${outcome}\n`);
        continue;
      }
      results.push(...outcome);
      process.stdout.write(`done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    } catch (error) {
      failed++;
      process.stdout.write(`FAILED\n${(error as Error).stack ?? error}\n`);
    }
  }
  process.stdout.write(`\n${table(results)}\n\n`);
  // Only a full run replaces the committed results: a partial one would drop the other figures.
  if (only.length === 0) {
    const file = join(repoRoot, 'bench/results.json');
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`wrote ${file}\n`);
    await updateBenchmarksMd(results, load);
  }
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

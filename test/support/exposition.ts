/**
 * The Prometheus text exposition format (version 0.0.4), read back for tests: metric families
 * with their type, help and samples, label values unescaped.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export interface Sample {
  /** The sample's own name: a histogram's `_bucket`, `_sum` and `_count` are samples of its family. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
  /** Every label name any sample of the family carries (a histogram's `le` included). */
  labelNames: Set<string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;

/** Parses an exposition; throws on a line it cannot read, naming it. */
export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const family = (name: string) => {
    let found = families.get(name);
    if (!found) {
      found = { name, type: 'untyped', help: '', samples: [], labelNames: new Set() };
      families.set(name, found);
    }
    return found;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') family(meta[2]).type = meta[3];
      else family(meta[2]).help = meta[3].replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not an exposition line: ${JSON.stringify(line)}`);
    const [, name, labelText, value] = sample;
    const labels = parseLabels(labelText ?? '');
    const owner =
      families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, '')) ?? family(name);
    owner.samples.push({ name, labels, value: Number(value) });
    for (const label of Object.keys(labels)) owner.labelNames.add(label);
  }
  return families;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const pair = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/.exec(rest);
    if (!pair) throw new Error(`unreadable labels: ${JSON.stringify(text)}`);
    labels[pair[1]] = pair[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(pair[0].length);
  }
  return labels;
}

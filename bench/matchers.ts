import { type Matcher, parseMatcher } from '../lib/alertmanager/matchers.ts';
import { type BenchResult, median, result } from './measure.ts';

const RUNS = 9;
const CALLS = 200;

/** The matcher of issue 10: valid in Alertmanager, exponential on a backtracking engine. */
const CATASTROPHIC = 'instance=~"([a-z0-9]+[.-]?)+:9100"';
/** What the same rule says without nested repetition. */
const PLAIN = 'instance=~"[a-z0-9.-]+:9100"';

/**
 * Label values an alert's author controls, each 10,000 characters: letters with no port (the
 * backtracking worst case), host-like pieces with no port, and a value that matches.
 */
function hostileValues(length: number): string[] {
  return ['a'.repeat(length), 'ab-1.'.repeat(length / 5), `${'a'.repeat(length - 5)}:9100`];
}

/** Mean µs per matches() call over every value, CALLS times each. */
function perCall(matcher: Matcher, values: readonly string[]): number {
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) for (const value of values) matcher.matches(value);
  return ((performance.now() - started) * 1000) / (CALLS * values.length);
}

/** Median µs per call of each pair member, runs interleaved so a burst of load hits both. */
function interleaved(a: () => number, b: () => number): [number, number] {
  a();
  b();
  const first: number[] = [];
  const second: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    first.push(a());
    second.push(b());
  }
  return [median(first), median(second)];
}

/**
 * Matcher figures: the catastrophic pattern on 10,000-character label values against the plain
 * pattern on the same values (RE2 runs in time linear in the input whatever the nesting, so the
 * two cost about the same), and the catastrophic pattern on 10,000 against 1,000 characters (10x
 * the input, about 10x the time; a backtracking engine does not return at all).
 */
export async function benchMatchers(): Promise<BenchResult[]> {
  const catastrophic = parseMatcher(CATASTROPHIC);
  const plain = parseMatcher(PLAIN);
  const long = hostileValues(10_000);
  const short = hostileValues(1_000);

  const [hostile, baseline] = interleaved(
    () => perCall(catastrophic, long),
    () => perCall(plain, long),
  );
  const [tenThousand, thousand] = interleaved(
    () => perCall(catastrophic, long),
    () => perCall(catastrophic, short),
  );
  return [
    result({
      name: `matcher ${CATASTROPHIC} on 10,000-char label values vs ${PLAIN} on the same values`,
      value: hostile,
      unit: 'µs/match',
      baseline,
      target: '<= 50x',
      met: hostile <= 50 * baseline,
    }),
    result({
      name: `matcher ${CATASTROPHIC}: 10,000-char vs 1,000-char label values (linear time: about 10x)`,
      value: tenThousand,
      unit: 'µs/match',
      baseline: thousand,
      target: '<= 20x',
      met: tenThousand <= 20 * thousand,
    }),
  ];
}

import { expect } from 'vitest';
import { type ConsoleDestination, createConsoleSink } from '../../../lib/sinks/console/console.ts';
import type { ConsoleRecord } from '../../../lib/sinks/console/format.ts';
import {
  describeSinkConformance,
  HOSTILE,
  plainTextViolations,
  type SinkConformance,
} from '../../support/conformance.ts';

// The console's vendor is its output: no HTTP answers to classify, so the kit delivers a
// notification and hostile content, and checks what was written and logged.
const conformance: SinkConformance<ConsoleDestination> = {
  name: 'console (text)',
  sink: ({ now, received }) => createConsoleSink({ now: () => new Date(now()), write: received }),
  destination: () => ({ name: 'stdout', sink: 'console' }),
  hostile: ({ outcome, texts }) => {
    expect(outcome).toEqual({ delivered: true });
    // One line for the alert and one for what Alertmanager left out, whatever the labels
    // hold; no escape sequence, control character or bidi control.
    const lines = texts.join('').trimEnd().split('\n');
    expect(lines.map((line) => line.slice(0, 10))).toEqual(['[FIRING] H', '[TRUNCATED']);
    const controls = [...texts.join('')].filter(
      (c) =>
        c !== '\n' &&
        (c.charCodeAt(0) < 0x20 ||
          (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f) ||
          /[\u202a-\u202e\u2066-\u2069\u200e\u200f]/.test(c)),
    );
    expect(controls).toEqual([]);
  },
};

describeSinkConformance(conformance);
describeSinkConformance<ConsoleDestination>({
  ...conformance,
  name: 'console (json)',
  destination: () => ({ name: 'stdout', sink: 'console', format: 'json' }),
  hostile: ({ outcome, texts }) => {
    expect(outcome).toEqual({ delivered: true });
    // JSON lines carry the text as it came, escaped as JSON.
    const [record] = texts
      .join('')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as ConsoleRecord);
    expect(record.alert?.annotations.summary).toBe(HOSTILE);
    // As JSON escapes: no control, C1 or bidi character reaches the terminal raw.
    expect(plainTextViolations(texts.join(''))).toEqual([]);
  },
});

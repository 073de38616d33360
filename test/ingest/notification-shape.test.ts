import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateNotification } from '../../lib/alertmanager/schema.ts';
import { isNotification } from '../../lib/ingest/notification-shape.ts';
import { referencePayload } from '../support/notifications.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const EMOJI = '\u{1F525}';

/** Values that sit on either side of some rule of the schema. */
const CANDIDATES: (Json | undefined)[] = [
  undefined,
  null,
  true,
  0,
  -1,
  1,
  1.5,
  4,
  Number.POSITIVE_INFINITY,
  '',
  '4',
  'firing',
  'resolved',
  'Firing',
  'x',
  '\uD800',
  EMOJI.repeat(256),
  EMOJI.repeat(257),
  'a'.repeat(256),
  'a'.repeat(257),
  `${'a'.repeat(255)}\uD800`,
  `${'a'.repeat(256)}\uDC00`,
  [],
  ['x'],
  {},
  { a: 'x' },
  { a: 1 },
  { __proto__: 'x' } as unknown as Json,
  JSON.parse('{"__proto__": 1}') as Json,
];

/** Every path to a value in `value`, the root included. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (value === null || typeof value !== 'object') return out;
  for (const [key, child] of Object.entries(value)) {
    out.push(...paths(child, [...prefix, Array.isArray(value) ? Number(key) : key]));
  }
  return out;
}

/** A copy of `root` with the value at `path` replaced (or deleted when `value` is undefined). */
function replaced(root: Json, path: (string | number)[], value: Json | undefined): Json | undefined {
  if (path.length === 0) return value;
  const copy = structuredClone(root) as Record<string | number, Json>;
  let holder = copy;
  for (const key of path.slice(0, -1)) holder = holder[key] as Record<string | number, Json>;
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(holder)) holder.splice(Number(last), 1);
    else delete holder[last];
  } else Object.defineProperty(holder, last, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

const references = readdirSync(join(import.meta.dirname, '../../events/alertmanager'))
  .filter((name) => name.endsWith('.json'))
  .map((name) => referencePayload(name) as unknown as Json);

const schemaAccepts = (value: unknown): boolean => validateNotification(value).ok;

describe('Function: isNotification', () => {
  it('should accept every notification the real Alertmanager sent', () => {
    // Prepare
    const accepted = references.filter((body) => schemaAccepts(body));

    // Act
    const verdicts = references.map((body) => isNotification(body));

    // Assess
    expect(accepted).toHaveLength(references.length);
    expect(verdicts.every(Boolean)).toBe(true);
  });

  it('should agree with the webhook v4 schema when any one value is replaced or removed', () => {
    // Prepare
    const cases: unknown[] = [];
    for (const body of references.slice(0, 4)) {
      for (const path of paths(body)) {
        for (const candidate of CANDIDATES) cases.push(replaced(body, path, candidate));
      }
    }

    // Act
    const disagreements = cases.filter((body) => isNotification(body) !== schemaAccepts(body));

    // Assess
    expect(cases.length).toBeGreaterThan(1000);
    expect(cases.some((body) => !schemaAccepts(body))).toBe(true);
    expect(cases.some((body) => schemaAccepts(body))).toBe(true);
    expect(disagreements.map((body) => JSON.stringify(body)?.slice(0, 300))).toEqual([]);
  });

  it('should agree with the webhook v4 schema on arbitrary JSON put anywhere in a notification', () => {
    // Prepare
    const body = references[0];
    const where = paths(body);

    // Act + Assess
    fc.assert(
      fc.property(fc.nat(where.length - 1), fc.jsonValue(), (index, value) => {
        const candidate = replaced(body, where[index], value as Json);
        expect(isNotification(candidate)).toBe(schemaAccepts(candidate));
      }),
      { numRuns: 2000 },
    );
  });

  it('should agree with the webhook v4 schema on extra fields, which both accept', () => {
    // Prepare
    const body = structuredClone(references[0]) as Record<string, Json>;
    body.notification_reason = 'x';
    (body.alerts as Record<string, Json>[])[0].extra = { nested: [1, 2] };

    // Act
    const verdict = isNotification(body);

    // Assess
    expect(verdict).toBe(true);
    expect(schemaAccepts(body)).toBe(true);
  });
});

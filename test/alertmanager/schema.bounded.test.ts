import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  jsonPath,
  MAX_PROBLEMS,
  notificationSchema,
  VIEW_ENTRIES,
  VIEW_ITEMS,
  validateNotification,
} from '../../lib/alertmanager/schema.ts';
import { allocatedBytes } from '../ingest/allocation.ts';
import { referencePayload } from '../support/notifications.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests change parsed JSON in ways the Notification type forbids
type Json = Record<string, any>;

/**
 * What validating one invalid body may allocate, whatever its size or number of problems.
 * The bodies below stay under 2.75 MiB (ingest's limit) and their maps under 20,000 entries;
 * the largest cost left is a pass over such a map's keys (up to 32 bytes a key).
 */
const MAX_ALLOCATED_BYTES = 4 * 1024 * 1024;

const references = readdirSync(join(import.meta.dirname, '../../events/alertmanager'))
  .filter((name) => name.endsWith('.json'))
  .map((name) => referencePayload(name) as unknown as Json);

/** A valid notification to break: a copy of a captured one. */
const validBody = fc.constantFrom(...references).map((body) => structuredClone(body));

/** The keys an alert must have. */
const ALERT_FIELDS = ['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint'];
const MAPS = ['groupLabels', 'commonLabels', 'commonAnnotations'];

/** An alert that breaks one or more rules: missing or mistyped fields, or nothing at all. */
const invalidAlert = fc.oneof(
  fc.constant({}),
  fc.constant({ status: 'pending' }),
  fc
    .tuple(validBody, fc.subarray(ALERT_FIELDS, { minLength: 1 }), fc.constantFrom(undefined, 1, null, []))
    .map(([body, fields, value]) => {
      const alert = body.alerts[0];
      for (const field of fields) {
        if (value === undefined) delete alert[field];
        else alert[field] = value;
      }
      return alert;
    }),
);

/** A map of `size` entries whose values are not all strings; the bad ones at `where`. */
function hostileMap(size: number, intKeys: boolean, where: 'first' | 'last' | 'every') {
  const map: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) {
    const bad = where === 'every' || (where === 'first' ? i === 0 : i === size - 1);
    map[intKeys ? String(i) : `k${i}`] = bad ? i : 'v';
  }
  return map;
}

/** Invalid bodies of every kind the schema refuses, most of them large; and where the first problem is. */
const hostileBody: fc.Arbitrary<{ body: unknown; firstPath?: RegExp }> = fc.oneof(
  // The repro and its relatives: thousands of alerts, each wrong.
  fc
    .tuple(fc.integer({ min: 10_000, max: 100_000 }), invalidAlert, fc.boolean())
    .map(([count, alert, keepTop]) => ({
      body: keepTop
        ? { ...references[0], alerts: Array.from({ length: count }, () => structuredClone(alert)) }
        : { alerts: Array.from({ length: count }, () => structuredClone(alert)) },
    })),
  // One huge map with non-string values: first, last (past the view) or everywhere.
  fc
    .tuple(
      validBody,
      fc.constantFrom(...MAPS, 'labels', 'annotations'),
      fc.integer({ min: 1_000, max: 20_000 }),
      fc.boolean(),
      fc.constantFrom('first', 'last', 'every') as fc.Arbitrary<'first' | 'last' | 'every'>,
    )
    .map(([body, map, size, intKeys, where]) => {
      const holder = MAPS.includes(map) ? body : body.alerts[0];
      holder[map] = hostileMap(size, intKeys, where);
      const key = intKeys ? (where === 'last' ? size - 1 : 0) : `k${where === 'last' ? size - 1 : 0}`;
      const owner = MAPS.includes(map) ? `\\$\\.${map}` : `\\$\\.alerts\\[0\\]\\.${map}`;
      const keyPath = intKeys ? `\\[${key}\\]` : `\\.${key}`;
      return { body, firstPath: new RegExp(`^${owner}${keyPath}$`) };
    }),
  // Many valid alerts, and a broken one far past the view.
  fc
    .tuple(validBody, fc.integer({ min: VIEW_ITEMS, max: 20_000 }), invalidAlert)
    .map(([body, index, alert]) => {
      const alerts = Array.from({ length: index }, (_, i) => body.alerts[i % body.alerts.length]);
      alerts.push(alert);
      return { body: { ...body, alerts }, firstPath: new RegExp(`^\\$\\.alerts\\[${index}\\]`) };
    }),
  // Required fields missing under a pile of unknown ones.
  fc
    .tuple(
      fc.integer({ min: 1_000, max: 50_000 }),
      fc.subarray(notificationSchema.required.slice(), { minLength: 1 }),
    )
    .map(([count, missing]) => {
      const body: Json = structuredClone(references[0]);
      for (const field of missing) delete body[field];
      for (let i = 0; i < count; i++) body[`extra${i}`] = { nested: [i] };
      return { body };
    }),
);

/** The problems a plain allErrors validator lists, as validateNotification words paths. */
const plain = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
  notificationSchema,
);
function plainPaths(value: unknown): string[] {
  if (plain(value)) return [];
  return (plain.errors ?? [])
    .slice(0, MAX_PROBLEMS)
    .map((e: ErrorObject) =>
      e.keyword === 'required'
        ? jsonPath(`${e.instancePath}/${e.params.missingProperty}`)
        : jsonPath(e.instancePath),
    );
}

describe('Function: validateNotification (bounded)', () => {
  it("should refuse the issue's 2 MB body of 699,050 empty alerts allocating under 4 MiB", () => {
    // Prepare
    const text = `{"alerts":[${Array.from({ length: 699_050 }, () => '{}').join(',')}]}`;
    const body = JSON.parse(text);

    // Act
    const { result, bytes } = allocatedBytes(() => validateNotification(body));

    // Assess
    expect(text.length).toBeGreaterThan(2_000_000);
    expect(bytes).toBeLessThan(MAX_ALLOCATED_BYTES);
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems).toHaveLength(MAX_PROBLEMS);
    expect(problems[0]).toEqual({ path: '$.version', message: 'is required' });
    expect(problems).toContainEqual({ path: '$.alerts[0].status', message: 'is required' });
  });

  it('should allocate a bounded amount for any invalid body, and name its problems', () => {
    fc.assert(
      fc.property(hostileBody, ({ body, firstPath }) => {
        // Act
        const { result, bytes } = allocatedBytes(() => validateNotification(body));

        // Assess
        expect(bytes).toBeLessThan(MAX_ALLOCATED_BYTES);
        expect(result.ok).toBe(false);
        const problems = result.ok ? [] : result.problems;
        expect(problems.length).toBeGreaterThan(0);
        expect(problems.length).toBeLessThanOrEqual(MAX_PROBLEMS);
        for (const problem of problems) {
          expect(problem.path.startsWith('$')).toBe(true);
          expect(problem.message.length).toBeGreaterThan(0);
        }
        if (firstPath) expect(problems.map((p) => p.path)).toContainEqual(expect.stringMatching(firstPath));
      }),
      { numRuns: 60 },
    );
  });

  it(`should list what a plain allErrors validator lists when the body fits the view (${VIEW_ITEMS} alerts, ${VIEW_ENTRIES} entries a map)`, () => {
    const candidates = [undefined, null, 1, '', 'x', 'firing', [], {}, { a: 1 }, { a: 'b' }];
    const mutation = fc.tuple(
      fc.constantFrom(...notificationSchema.required, 'truncatedAlerts'),
      fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      fc.option(fc.constantFrom(...ALERT_FIELDS), { nil: undefined }),
      fc.constantFrom(...candidates),
    );
    fc.assert(
      fc.property(validBody, fc.array(mutation, { minLength: 1, maxLength: 12 }), (body, mutations) => {
        // Prepare
        for (const [field, alertIndex, alertField, value] of mutations) {
          const alert = alertIndex === undefined ? undefined : body.alerts?.[alertIndex];
          const [holder, key] =
            alertField !== undefined && alert && typeof alert === 'object'
              ? [alert, alertField]
              : [body, field];
          if (value === undefined) delete holder[key];
          else holder[key] = structuredClone(value);
        }

        // Act
        const result = validateNotification(body);

        // Assess
        const expected = plainPaths(body);
        expect(result.ok).toBe(expected.length === 0);
        expect(result.ok ? [] : result.problems.map((p) => p.path)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

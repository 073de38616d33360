import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import type { Notification } from './types.ts';

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;

/**
 * Alertmanager's webhook body, version 4 (notify/webhook in Alertmanager's source).
 * Unknown extra fields are accepted: newer versions add some (notification_reason,
 * routeLabels).
 */
export const notificationSchema = {
  $id: 'https://github.com/alertmanager-relay/schemas/notification-v4.json',
  type: 'object',
  required: [
    'version',
    'groupKey',
    'status',
    'receiver',
    'groupLabels',
    'commonLabels',
    'commonAnnotations',
    'externalURL',
    'alerts',
  ],
  properties: {
    version: { const: '4' },
    groupKey: { type: 'string' },
    truncatedAlerts: { type: 'integer', minimum: 0 },
    status: { enum: ['firing', 'resolved'] },
    receiver: { type: 'string' },
    groupLabels: stringMap,
    commonLabels: stringMap,
    commonAnnotations: stringMap,
    externalURL: { type: 'string' },
    alerts: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint'],
        properties: {
          status: { enum: ['firing', 'resolved'] },
          labels: stringMap,
          annotations: stringMap,
          startsAt: { type: 'string', minLength: 1 },
          endsAt: { type: 'string' },
          generatorURL: { type: 'string' },
          fingerprint: { type: 'string', minLength: 1, maxLength: 256 },
        },
      },
    },
  },
} as const;

/** One schema problem, with the JSON path of the offending value (`$.alerts[0].status`). */
export interface SchemaProblem {
  path: string;
  message: string;
}

// Compiled once at module load: ajv compiles to a function, and compiling per request would
// cost more than the validation itself. validateSchema: false skips compiling the JSON Schema
// 2020-12 meta-schema (about 60 ms of an import); the schema is a constant, and a unit test
// checks it against the meta-schema.
// Two validators of the same schema. Ajv has no cap on the errors `allErrors` collects: over a
// 2 MB body of 699,050 empty alerts it built 4.9 million error objects (698 MB) before the list
// was cut to MAX_PROBLEMS. So `everyError` only ever sees a bounded view of the body
// (`boundedView`), and `firstError`, which stops at the first problem and allocates one error
// object whatever the body, looks at the whole of it.
const options = { strict: true, allowUnionTypes: true, validateSchema: false } as const;
const firstError = new Ajv2020({ ...options, allErrors: false }).compile<Notification>(notificationSchema);
const everyError = new Ajv2020({ ...options, allErrors: true }).compile(notificationSchema);

/** At most this many problems are reported: enough to fix a payload, bounded for a hostile one. */
export const MAX_PROBLEMS = 50;

/**
 * How much of each array (`alerts`) and each string map (labels, annotations, the group's
 * and common maps) the detailed listing looks at. The schema reads nothing else of any size
 * (unknown fields are not validated), so Ajv's error list over the view is bounded: at most
 * one error per value it checks, about 20 at the top, 3 maps of VIEW_ENTRIES, and
 * VIEW_ITEMS alerts of 7 fields and 2 maps of VIEW_ENTRIES: under 2,300 errors, about 1 MB.
 */
export const VIEW_ITEMS = 50;
export const VIEW_ENTRIES = 20;

/**
 * Checks a parsed body against the webhook v4 schema. The problems listed are those in the
 * first VIEW_ITEMS alerts and the first VIEW_ENTRIES entries of each map, at most
 * MAX_PROBLEMS, in Ajv's order; when that much of the body is valid, the first problem past
 * it. What this allocates does not grow with the number of problems: besides a few hundred
 * KB, at most two passes over the keys of the largest map (for-in), a small part of what
 * JSON.parse spent building that map.
 */
export function validateNotification(
  value: unknown,
): { ok: true; notification: Notification } | { ok: false; problems: SchemaProblem[] } {
  // A valid body (nearly every body) costs one pass that stops at nothing; the bounded listing
  // runs only for an invalid one.
  if (firstError(value)) return { ok: true, notification: value };
  const first = (firstError.errors ?? []).map(toProblem);
  if (!everyError(boundedView(notificationSchema, value)))
    return { ok: false, problems: (everyError.errors ?? []).slice(0, MAX_PROBLEMS).map(toProblem) };
  return { ok: false, problems: first };
}

/** The subset of JSON Schema `boundedView` walks: what `notificationSchema` uses. */
interface ViewSchema {
  type?: string;
  properties?: Record<string, ViewSchema>;
  additionalProperties?: ViewSchema;
  items?: ViewSchema;
  readonly [keyword: string]: unknown;
}

/**
 * A copy of `value` reduced to what `schema` validates, each array cut to its first VIEW_ITEMS
 * items and each map (an object schema with `additionalProperties`) to its first VIEW_ENTRIES
 * entries. An object schema with `properties` keeps only those (the schema does not look at
 * the rest), own properties only, as JSON.parse made them. The cuts never make a valid body
 * invalid (`minItems` is at most 1, and maps have no required keys) and the result keeps the
 * body's JSON paths, so Ajv's errors over it are errors of the body. Copies are made with a
 * null prototype: a `__proto__` key stays a key.
 */
export function boundedView(schema: ViewSchema, value: unknown): unknown {
  if (schema.type === 'array' && Array.isArray(value)) {
    const items = schema.items;
    const kept = value.slice(0, VIEW_ITEMS);
    return items ? kept.map((item) => boundedView(items, item)) : kept;
  }
  if (schema.type !== 'object' || typeof value !== 'object' || value === null || Array.isArray(value))
    return value;
  const record = value as Record<string, unknown>;
  const copy = Object.create(null) as Record<string, unknown>;
  if (schema.properties) {
    for (const [key, child] of Object.entries(schema.properties))
      if (Object.hasOwn(record, key)) copy[key] = boundedView(child, record[key]);
  }
  const rest = schema.additionalProperties;
  if (rest) {
    let entries = 0;
    for (const key in record) {
      if (!Object.hasOwn(record, key) || (schema.properties && Object.hasOwn(schema.properties, key)))
        continue;
      if (++entries > VIEW_ENTRIES) break;
      copy[key] = boundedView(rest, record[key]);
    }
  }
  return copy;
}

/** `/alerts/0/labels` -> `$.alerts[0].labels` */
export function jsonPath(instancePath: string, root = '$'): string {
  if (instancePath === '') return root;
  let path = root;
  for (const raw of instancePath.slice(1).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^\d+$/.test(segment)) path += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) path += `.${segment}`;
    else path += `[${JSON.stringify(segment)}]`;
  }
  return path;
}

function toProblem(error: ErrorObject): SchemaProblem {
  const path = jsonPath(error.instancePath);
  switch (error.keyword) {
    case 'required':
      return {
        path: jsonPath(`${error.instancePath}/${error.params.missingProperty}`),
        message: 'is required',
      };
    case 'const':
      return { path, message: `must be ${JSON.stringify(error.params.allowedValue)}` };
    case 'enum':
      return {
        path,
        message: `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    default:
      return { path, message: error.message ?? error.keyword };
  }
}

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

// Compiled once at module load: ajv compiles to a function, and compiling per request
// would cost more than the validation itself.
// validateSchema: false skips compiling the JSON Schema 2020-12 meta-schema at every cold start
// (about 60 ms of the ingest Lambda's import); the schema is a constant, and a unit test checks
// it against the meta-schema.
const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, validateSchema: false });
const validate = ajv.compile<Notification>(notificationSchema);

/** At most this many problems are reported: enough to fix a payload, bounded for a hostile one. */
const MAX_PROBLEMS = 50;

/** Checks a parsed body against the webhook v4 schema. */
export function validateNotification(
  value: unknown,
): { ok: true; notification: Notification } | { ok: false; problems: SchemaProblem[] } {
  if (validate(value)) return { ok: true, notification: value };
  return { ok: false, problems: (validate.errors ?? []).slice(0, MAX_PROBLEMS).map(toProblem) };
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

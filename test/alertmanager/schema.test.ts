import { readdirSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { jsonPath, notificationSchema, validateNotification } from '../../lib/alertmanager/schema.ts';
import { PAYLOADS_DIR, payloadText } from '../support/notifications.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests change parsed JSON in ways the Notification type forbids
type Json = Record<string, any>;

const PAYLOADS = PAYLOADS_DIR;

/** A real Alertmanager 0.25 body (events/alertmanager/), as parsed JSON (mutable). */
function payload(name = 'am-0.25-prom-group-some-resolved.json'): Json {
  return JSON.parse(payloadText(name));
}

const payloadFiles = readdirSync(PAYLOADS).filter((file) => file.endsWith('.json'));

describe('Function: validateNotification', () => {
  it('should find the captured payloads', () => {
    // Prepare & Act
    const files = payloadFiles;

    // Assess
    expect(files.length).toBeGreaterThanOrEqual(7);
  });

  it.each(payloadFiles)('should accept the real payload %s', (file) => {
    // Prepare
    const body = payload(file);

    // Act
    const result = validateNotification(body);

    // Assess
    expect(result).toEqual({ ok: true, notification: body });
  });

  it('should accept unknown extra fields at the top level and in alerts', () => {
    // Prepare
    const body = payload();
    body.notification_reason = 'some alerts resolved';
    body.routeLabels = { team: 'web' };
    body.somethingNew = [1, { nested: true }];
    body.alerts[0].silencedBy = ['abc'];

    // Act
    const result = validateNotification(body);

    // Assess
    expect(result.ok).toBe(true);
  });

  it('should accept a payload without truncatedAlerts (optional)', () => {
    // Prepare
    const body = payload();
    delete body.truncatedAlerts;

    // Act
    const result = validateNotification(body);

    // Assess
    expect(result.ok).toBe(true);
  });

  it.each([
    ['version', '$.version'],
    ['groupKey', '$.groupKey'],
    ['status', '$.status'],
    ['receiver', '$.receiver'],
    ['groupLabels', '$.groupLabels'],
    ['commonLabels', '$.commonLabels'],
    ['commonAnnotations', '$.commonAnnotations'],
    ['externalURL', '$.externalURL'],
    ['alerts', '$.alerts'],
  ])('should report a missing %s at %s', (field, path) => {
    // Prepare
    const body = payload();
    delete body[field];

    // Act
    const result = validateNotification(body);

    // Assess
    expect(result).toEqual({ ok: false, problems: [{ path, message: 'is required' }] });
  });

  it.each(['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint'])(
    "should report a missing alert field %s with the alert's JSON path",
    (field) => {
      // Prepare
      const body = payload();
      delete body.alerts[2][field];

      // Act
      const result = validateNotification(body);

      // Assess
      expect(result).toEqual({
        ok: false,
        problems: [{ path: `$.alerts[2].${field}`, message: 'is required' }],
      });
    },
  );

  it('should report a mistyped alert status at $.alerts[0].status', () => {
    // Prepare
    const body = payload();
    body.alerts[0].status = 'pending';

    // Act
    const result = validateNotification(body);

    // Assess
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([
      { path: '$.alerts[0].status', message: 'must be one of "firing", "resolved"' },
    ]);
  });

  it.each([
    ['version 3', (b: Json) => (b.version = '3'), '$.version'],
    ['version as a number', (b: Json) => (b.version = 4), '$.version'],
    ['a numeric groupKey', (b: Json) => (b.groupKey = 42), '$.groupKey'],
    ['a numeric label value', (b: Json) => (b.alerts[1].labels.severity = 2), '$.alerts[1].labels.severity'],
    [
      'a label name that is not an identifier',
      (b: Json) => (b.alerts[0].labels['app.kubernetes.io/name'] = null),
      '$.alerts[0].labels["app.kubernetes.io/name"]',
    ],
    ['an annotations array', (b: Json) => (b.alerts[0].annotations = ['x']), '$.alerts[0].annotations'],
    ['a negative truncatedAlerts', (b: Json) => (b.truncatedAlerts = -1), '$.truncatedAlerts'],
    ['a fractional truncatedAlerts', (b: Json) => (b.truncatedAlerts = 1.5), '$.truncatedAlerts'],
    ['an empty fingerprint', (b: Json) => (b.alerts[0].fingerprint = ''), '$.alerts[0].fingerprint'],
    ['an alert that is a string', (b: Json) => (b.alerts[0] = 'alert'), '$.alerts[0]'],
    ['no alerts at all', (b: Json) => (b.alerts = []), '$.alerts'],
    ['alerts as an object', (b: Json) => (b.alerts = {}), '$.alerts'],
  ])('should report %s at its JSON path', (_name, mutate, path) => {
    // Prepare
    const body = payload();
    mutate(body);

    // Act
    const result = validateNotification(body);

    // Assess
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) {
      expect(problem.path).toBe(path);
      expect(problem.message).toEqual(expect.any(String));
      expect(problem.message.length).toBeGreaterThan(0);
    }
  });

  it('should list every problem, each with its own path', () => {
    // Prepare
    const body = payload();
    delete body.receiver;
    body.alerts[0].status = 'unknown';
    delete body.alerts[1].fingerprint;
    body.alerts[2].labels.pod = 3;

    // Act
    const result = validateNotification(body);

    // Assess
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.problems.map((p) => p.path);
    expect(paths.sort()).toEqual(
      ['$.receiver', '$.alerts[0].status', '$.alerts[1].fingerprint', '$.alerts[2].labels.pod'].sort(),
    );
  });

  it('should bound the number of problems reported for a hostile payload', () => {
    // Prepare
    const body = payload();
    body.alerts = Array.from({ length: 1000 }, () => ({}));

    // Act
    const result = validateNotification(body);

    // Assess
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.length).toBeLessThanOrEqual(50);
    expect(problems[0]).toEqual({ path: '$.alerts[0].status', message: 'is required' });
  });

  it.each([
    ['null', null],
    ['an array', []],
    ['a string', 'firing'],
    ['a number', 4],
  ])('should reject %s at the root', (_name, value) => {
    // Prepare & Act
    const result = validateNotification(value);

    // Assess
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.map((p) => p.path)).toContain('$');
  });

  it('should not be fooled by a __proto__ key carrying the required fields', () => {
    // Prepare
    const valid = payload();
    const body = JSON.parse(`{"__proto__":${JSON.stringify(valid)}}`);

    // Act
    const result = validateNotification(body);

    // Assess
    expect(Object.hasOwn(body, '__proto__')).toBe(true);
    expect(result.ok).toBe(false);
    expect(({} as Record<string, unknown>).groupKey).toBeUndefined();
  });
});

describe('Function: jsonPath', () => {
  it.each([
    ['', '$'],
    ['/alerts', '$.alerts'],
    ['/alerts/0/labels', '$.alerts[0].labels'],
    ['/alerts/12/labels/severity', '$.alerts[12].labels.severity'],
    ['/alerts/0/labels/app.kubernetes.io~1name', '$.alerts[0].labels["app.kubernetes.io/name"]'],
    ['/commonLabels/a~0b', '$.commonLabels["a~b"]'],
    ['/commonLabels/with space', '$.commonLabels["with space"]'],
    ['/commonLabels/say "hi"', '$.commonLabels["say \\"hi\\""]'],
  ])('should turn %j into %s', (pointer, expected) => {
    // Prepare & Act
    const path = jsonPath(pointer);

    // Assess
    expect(path).toBe(expected);
  });
});

describe('Constant: notificationSchema', () => {
  it('should be a valid JSON Schema 2020-12 (the validator skips this check at start-up)', () => {
    // Prepare
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });

    // Act
    const valid = ajv.validateSchema(notificationSchema);

    // Assess
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });
});

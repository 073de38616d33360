import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateNotification } from '../../lib/alertmanager/schema.ts';
import type { RelayConfig } from '../../lib/config/types.ts';
import { createIngestHandler } from '../../lib/ingest/ingest.ts';
import { parseMessage } from '../../lib/queue/message.ts';
import type { Enqueuer, OutgoingMessage, SendBatchResult } from '../../lib/queue/types.ts';
import { LocalSecrets } from '../../lib/secrets.ts';
import { CountingTelemetry, createLogger } from '../../lib/telemetry.ts';
import { payloadText as capturedText } from '../support/notifications.ts';
import { allocatedBytes, allocatedBytesAsync } from './allocation.ts';

/**
 * Hostile input beyond test/ingest/ingest.test.ts (which covers arbitrary JSON and text, mutated
 * real payloads, __proto__ keys and the auth cases): huge strings, deep nesting, bytes that are
 * not UTF-8, 10,000 labels, and for every accepted body, that what was enqueued is a valid
 * queue message carrying a valid notification.
 */

const TOKEN = 'hostile-token-c41d';
/** What SQS refuses in a body: anything but the XML 1.0 characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are the point
const REFUSED_BY_SQS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function payloadText(name = 'am-0.25-prom-group-firing-3alerts.json'): string {
  return capturedText(name);
}

class RecordingEnqueuer implements Enqueuer {
  readonly messages: OutgoingMessage[] = [];
  async sendBatch(_sink: string, entries: OutgoingMessage[]): Promise<SendBatchResult> {
    this.messages.push(...entries);
    return { failed: [] };
  }
}

function setup() {
  const config: RelayConfig = {
    ingest: { tokenSecret: 'TOKEN' },
    destinations: [
      { name: 'all', sink: 'console' },
      {
        name: 'critical',
        sink: 'webhook',
        url: 'https://hooks.example.com/x',
        matchers: ['severity="critical"'],
      },
    ],
  };
  const enqueuer = new RecordingEnqueuer();
  const handler = createIngestHandler({
    config,
    secrets: new LocalSecrets({ env: { TOKEN } }),
    enqueuer,
    telemetry: new CountingTelemetry({ logger: createLogger('test', 'SILENT') }),
  });
  return { handler, enqueuer };
}

function event(body: string, isBase64Encoded = false): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /alertmanager',
    rawPath: '/alertmanager',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: 'POST',
        path: '/alertmanager',
        protocol: 'HTTP/1.1',
        sourceIp: '10.0.0.1',
        userAgent: 'x',
      },
      requestId: 'r',
      routeKey: 'POST /alertmanager',
      stage: '$default',
      time: '21/Nov/2026:12:00:00 +0000',
      timeEpoch: 0,
    },
    body,
    isBase64Encoded,
  };
}

/** 2xx with the accepted summary, or a 4xx with `{error, details}`: never a 5xx. */
function expectClientAnswer(result: APIGatewayProxyStructuredResultV2): void {
  const status = result.statusCode ?? 0;
  expect(status).toBeGreaterThanOrEqual(200);
  expect(status).toBeLessThan(500);
  expect(result.headers?.['content-type']).toBe('application/json');
  const body = JSON.parse(result.body ?? '');
  if (status >= 400) expect(body).toEqual({ error: expect.any(String), details: expect.any(Array) });
}

/** Every enqueued message parses as a queue message whose notification passes the schema. */
function expectValidMessages(messages: OutgoingMessage[]): void {
  for (const message of messages) {
    const parsed = parseMessage(message.body);
    expect(validateNotification(parsed.notification).ok).toBe(true);
    expect(parsed.notification.alerts.length).toBeGreaterThan(0);
    // SQS refuses lone surrogates, most control characters, U+FFFE and U+FFFF in a body.
    expect(message.body).not.toMatch(REFUSED_BY_SQS);
  }
}

const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
function expectPrototypeUnchanged(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNames);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

describe('Function: createIngestHandler (hostile input)', () => {
  it("should refuse the issue's 2 MB body of 699,050 empty alerts with a 400 naming the problems, allocating no more than JSON.parse of it plus 4 MiB", async () => {
    // Prepare
    const { handler } = setup();
    const text = `{"alerts":[${Array.from({ length: 699_050 }, () => '{}').join(',')}]}`;
    // Loads the schema module (imported when a first body is refused), so it is not counted below.
    await handler(event('{"alerts":[{}]}'));
    const parsing = allocatedBytes(() => JSON.parse(text)).bytes;

    // Act
    const { result, bytes } = await allocatedBytesAsync(() => handler(event(text)));

    // Assess
    expect(text.length).toBeGreaterThan(2_000_000);
    expect(result.statusCode).toBe(400);
    const body = JSON.parse(result.body ?? '');
    expect(body.error).toBe('invalid notification');
    expect(body.details.length).toBeGreaterThan(0);
    expect(body.details.length).toBeLessThanOrEqual(50);
    expect(body.details[0]).toEqual({ path: '$.version', message: 'is required' });
    // Before: Ajv's allErrors built 698 MB of error objects for this body.
    expect(bytes).toBeLessThan(parsing + 4 * 1024 * 1024);
  });

  it('should answer 2xx or 4xx and enqueue only valid messages for payloads with huge strings (property)', async () => {
    // Prepare
    const { handler, enqueuer } = setup();
    const base = JSON.parse(payloadText());
    const where = fc.constantFrom('label', 'annotation', 'groupKey', 'fingerprint', 'extra', 'startsAt');

    // Act & Assess
    await fc.assert(
      fc.asyncProperty(
        where,
        fc.integer({ min: 10_000, max: 2_000_000 }),
        fc.string(),
        async (w, size, seed) => {
          enqueuer.messages.length = 0;
          const body = structuredClone(base);
          const huge = (seed || 'x').repeat(Math.ceil(size / Math.max(1, seed.length))).slice(0, size);
          if (w === 'label') body.alerts[0].labels.huge = huge;
          if (w === 'annotation') body.alerts[0].annotations.description = huge;
          if (w === 'groupKey') body.groupKey = huge;
          if (w === 'fingerprint') body.alerts[0].fingerprint = huge;
          if (w === 'extra') body.extra = huge;
          if (w === 'startsAt') body.alerts[0].startsAt = huge;
          const result = await handler(event(JSON.stringify(body)));
          expectClientAnswer(result);
          if (result.statusCode === 202) expectValidMessages(enqueuer.messages);
          else expect(enqueuer.messages).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it.each([
    [
      'an extra field',
      (body: Record<string, unknown>, deep: unknown) => Object.assign(body, { extra: deep }),
    ],
    [
      'an alert field',
      (body: Record<string, unknown>, deep: unknown) => {
        (body.alerts as Record<string, unknown>[])[0].extra = deep;
      },
    ],
    [
      'a label value',
      (body: Record<string, unknown>, deep: unknown) => {
        (body.alerts as { labels: Record<string, unknown> }[])[0].labels.deep = deep;
      },
    ],
  ])('should answer 400, never 5xx, for nesting 100,000 levels deep in %s', async (_name, place) => {
    // Prepare
    const { handler, enqueuer } = setup();
    const body = JSON.parse(payloadText());
    const depth = 100_000;
    const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    // Built as text: JSON.stringify of such a value would itself overflow the stack.
    const hostile = (() => {
      const probe = structuredClone(body);
      place(probe, '__DEEP__');
      return JSON.stringify(probe).replace('"__DEEP__"', nested);
    })();

    // Act
    const result = await handler(event(hostile));

    // Assess
    expectClientAnswer(result);
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body ?? '').details).toEqual(['the body is nested deeper than 64 levels']);
    expect(enqueuer.messages).toEqual([]);
  });

  it('should answer 2xx or 4xx for a base64 body of arbitrary bytes, and enqueue only well-formed text (property)', async () => {
    // Prepare
    const { handler, enqueuer } = setup();
    const valid = Buffer.from(payloadText());

    // Act & Assess
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 64 }),
        fc.nat({ max: valid.length }),
        fc.boolean(),
        async (bytes, at, splice) => {
          enqueuer.messages.length = 0;
          // Either raw bytes, or a real payload with the bytes spliced in (inside a string, often).
          const body = splice
            ? Buffer.concat([valid.subarray(0, at), bytes, valid.subarray(at)])
            : Buffer.from(bytes);
          const result = await handler(event(body.toString('base64'), true));
          expectClientAnswer(result);
          if (result.statusCode === 202) expectValidMessages(enqueuer.messages);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('should accept a payload whose label values hold invalid UTF-8 (lone surrogates escaped in JSON) without enqueuing malformed text', async () => {
    // Prepare
    const { handler, enqueuer } = setup();
    const text = payloadText().replace(
      '"labels": {',
      '"labels": {"broken": "a\\ud800b", "nul": "x\\u0000y", "noncharacter": "\\uffff\\ufffe",',
    );

    // Act
    const result = await handler(event(text));

    // Assess
    expectClientAnswer(result);
    if (result.statusCode === 202) expectValidMessages(enqueuer.messages);
    else expect(enqueuer.messages).toEqual([]);
  });

  it('should route an alert with 10,000 labels, or refuse it with 413, and stay 2xx/4xx', async () => {
    // Prepare
    const { handler, enqueuer } = setup();
    const body = JSON.parse(payloadText());
    for (let i = 0; i < 10_000; i++) body.alerts[0].labels[`label_${i}`] = `value-${i}`;
    body.alerts[0].labels.constructor = 'x';
    Object.defineProperty(body.alerts[0].labels, '__proto__', { value: 'critical', enumerable: true });

    // Act
    const result = await handler(event(JSON.stringify(body)));

    // Assess
    expectClientAnswer(result);
    expect([202, 413]).toContain(result.statusCode);
    if (result.statusCode === 202) {
      expectValidMessages(enqueuer.messages);
      const labels = parseMessage(enqueuer.messages[0].body).notification.alerts[0].labels;
      expect(Object.keys(labels).length).toBeGreaterThanOrEqual(10_000);
    }
    expectPrototypeUnchanged();
  });

  it('should keep Object.prototype intact for objects keyed __proto__, constructor and prototype at every level (property)', async () => {
    // Prepare
    const { handler, enqueuer } = setup();
    const keys = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf');
    const values = fc.oneof(fc.string(), fc.jsonValue(), fc.constant({ polluted: 'yes' }));

    // Act & Assess
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('root', 'alert', 'labels', 'annotations', 'groupLabels'),
        keys,
        values,
        async (level, key, value) => {
          enqueuer.messages.length = 0;
          const v = JSON.stringify(value);
          let text = payloadText();
          if (level === 'root') text = text.replace('{', `{"${key}": ${v},`);
          if (level === 'alert')
            text = text.replace(
              '"status": "firing",\n      "labels"',
              `"${key}": ${v}, "status": "firing", "labels"`,
            );
          if (level === 'labels') text = text.replace('"labels": {', `"labels": {"${key}": ${v},`);
          if (level === 'annotations')
            text = text.replace('"annotations": {', `"annotations": {"${key}": ${v},`);
          if (level === 'groupLabels')
            text = text.replace('"groupLabels": {', `"groupLabels": {"${key}": ${v},`);
          const result = await handler(event(text));
          expectClientAnswer(result);
          if (result.statusCode === 202) expectValidMessages(enqueuer.messages);
          expectPrototypeUnchanged();
        },
      ),
      { numRuns: 200 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildMessage,
  parseMessage,
  serializeMessage,
  toQueueJson,
  toQueueText,
} from '../../lib/queue/message.ts';
import { makeNotification } from '../support/notifications.ts';

const RECEIVED_AT = '2026-11-21T12:00:00.000Z';
/** What SQS refuses in a body or a string attribute: anything but the XML 1.0 characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are the point
const REFUSED_BY_SQS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const HOSTILE = 'a\uFFFFb\uFFFEc\uD800d\uDFFFe\u0000f\u0008g\u{1F600}h\\\uFFFF';

function message(key: string) {
  return {
    ...buildMessage('audit', 'webhook', makeNotification({}), RECEIVED_AT, { index: 1, count: 1 }),
    idempotencyKey: key,
  };
}

describe('Function: buildMessage', () => {
  it('should carry the destination, the part and a content key of the notification', () => {
    // Prepare
    const notification = makeNotification({ count: 2 });

    // Act
    const built = buildMessage('audit', 'webhook', notification, RECEIVED_AT, { index: 2, count: 3 });
    const again = buildMessage('audit', 'webhook', notification, RECEIVED_AT, { index: 2, count: 3 });

    // Assess
    expect(built).toMatchObject({
      v: 1,
      destination: 'audit',
      sink: 'webhook',
      part: { index: 2, count: 3 },
    });
    expect(built.idempotencyKey).toMatch(/^[0-9a-f]{64}$/);
    expect(again.idempotencyKey).toBe(built.idempotencyKey);
  });
});

describe('Function: parseMessage', () => {
  it('should return a well-formed message as it is', () => {
    // Prepare
    const body = message('k1');

    // Act
    const parsed = parseMessage(JSON.stringify(body));

    // Assess
    expect(parsed).toEqual(body);
  });

  it.each([
    ['unknown message version', { ...message('k1'), v: 0 }],
    ['missing destination or idempotencyKey', { ...message('k1'), destination: 42 }],
    ['missing notification', { ...message('k1'), notification: { alerts: 'none' } }],
    ['missing receivedAt', { ...message('k1'), receivedAt: undefined }],
  ])('should throw "%s"', (expected, body) => {
    // Act & Assess
    expect(() => parseMessage(JSON.stringify(body))).toThrow(expected);
  });
});

describe('Function: serializeMessage', () => {
  it('should escape U+FFFE, U+FFFF, lone surrogates and control characters so SQS accepts the body, and parse back exactly', () => {
    // Prepare
    const notification = makeNotification({ labels: () => ({ hostile: HOSTILE }) });
    const built = buildMessage('audit', 'webhook', notification, RECEIVED_AT, { index: 1, count: 1 });

    // Act
    const body = serializeMessage(built);

    // Assess
    expect(body).not.toMatch(REFUSED_BY_SQS);
    expect(body).toContain('\\uffff');
    expect(parseMessage(body)).toEqual(built);
  });
});

describe('Function: toQueueJson', () => {
  it('should give JSON that SQS accepts and that parses back to the same value, for any string (property)', () => {
    // Act & Assess
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' })), (value) => {
        const json = toQueueJson(value);
        expect(json).not.toMatch(REFUSED_BY_SQS);
        expect(JSON.parse(json)).toEqual(value);
      }),
      { numRuns: 500 },
    );
  });
});

describe('Function: toQueueText', () => {
  it('should replace each character SQS refuses with U+FFFD and keep the rest', () => {
    // Act
    const text = toQueueText(HOSTILE);

    // Assess
    expect(text).toBe('a\uFFFDb\uFFFDc\uFFFDd\uFFFDe\uFFFDf\uFFFDg\u{1F600}h\\\uFFFD');
    expect(text).not.toMatch(REFUSED_BY_SQS);
    expect(toQueueText('tab\tnewline\ncr\r')).toBe('tab\tnewline\ncr\r');
  });
});

import { describe, expect, it } from 'vitest';
import { buildMessage, parseMessage } from '../../lib/queue/message.ts';
import { makeNotification } from '../support/notifications.ts';

const RECEIVED_AT = '2026-11-21T12:00:00.000Z';

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

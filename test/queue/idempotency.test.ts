import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert, Notification } from '../../lib/alertmanager/types.ts';
import { idempotencyKey, messageGroupId, queueDeduplicationId } from '../../lib/queue/idempotency.ts';
import { referencePayload } from '../support/notifications.ts';

const payload = referencePayload;

/** SQS allows alphanumerics and punctuation in MessageDeduplicationId and MessageGroupId, up to 128 chars. */
const SQS_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

const KEY_FIELDS = ['fingerprint', 'status', 'startsAt', 'endsAt'] as const;

function changed(alert: Alert, field: (typeof KEY_FIELDS)[number]): Alert {
  if (field === 'status') return { ...alert, status: alert.status === 'firing' ? 'resolved' : 'firing' };
  return { ...alert, [field]: `${alert[field]}x` };
}

describe('Function: idempotencyKey', () => {
  it('should give the same key for the same payload (an Alertmanager HA pair or a retry)', () => {
    // Prepare
    const first = payload('am-0.25-prom-group-some-resolved.json');
    const second = payload('am-0.25-prom-group-some-resolved.json');

    // Act
    const a = idempotencyKey('ops', first);
    const b = idempotencyKey('ops', second);

    // Assess
    expect(a).toBe(b);
    expect(a).toMatch(SQS_ID);
  });

  it('should ignore the order of the alerts', () => {
    // Prepare
    const notification = payload('am-0.25-prom-group-firing-3alerts.json');
    const reversed = { ...notification, alerts: [...notification.alerts].reverse() };

    // Act
    const a = idempotencyKey('ops', notification);
    const b = idempotencyKey('ops', reversed);

    // Assess
    expect(b).toBe(a);
  });

  it('should change when the destination, the groupKey or the status changes', () => {
    // Prepare
    const notification = payload('am-0.25-prom-group-some-resolved.json');
    const base = idempotencyKey('ops', notification);

    // Act
    const keys = [
      idempotencyKey('ops2', notification),
      idempotencyKey('ops', { ...notification, groupKey: `${notification.groupKey}x` }),
      idempotencyKey('ops', { ...notification, status: 'resolved' }),
    ];

    // Assess
    for (const key of keys) expect(key).not.toBe(base);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it.each(KEY_FIELDS)("should change when one alert's %s changes", (field) => {
    // Prepare
    const notification = payload('am-0.25-prom-group-some-resolved.json');
    const base = idempotencyKey('ops', notification);
    const alerts = notification.alerts.map((alert, i) => (i === 1 ? changed(alert, field) : alert));

    // Act
    const key = idempotencyKey('ops', { ...notification, alerts });

    // Assess
    expect(key).not.toBe(base);
  });

  it('should change when an alert is added or removed', () => {
    // Prepare
    const notification = payload('am-0.25-prom-group-firing-3alerts.json');
    const base = idempotencyKey('ops', notification);

    // Act
    const fewer = idempotencyKey('ops', { ...notification, alerts: notification.alerts.slice(1) });
    const more = idempotencyKey('ops', {
      ...notification,
      alerts: [...notification.alerts, { ...notification.alerts[0], fingerprint: 'ffffffffffffffff' }],
    });

    // Assess
    expect(fewer).not.toBe(base);
    expect(more).not.toBe(base);
  });

  it('should not depend on fields outside the key (labels, annotations, receiver, extra fields)', () => {
    // Prepare
    const notification = payload('am-0.25-prom-group-some-resolved.json');
    const base = idempotencyKey('ops', notification);
    const other: Notification = {
      ...notification,
      receiver: 'another',
      externalURL: 'http://elsewhere:9093',
      notification_reason: 'repeat interval elapsed',
      alerts: notification.alerts.map((alert) => ({
        ...alert,
        labels: { ...alert.labels, extra: 'label' },
        annotations: { summary: 'reworded' },
        generatorURL: 'http://other/graph',
      })),
    };

    // Act
    const key = idempotencyKey('ops', other);

    // Assess
    expect(key).toBe(base);
  });

  it('should give each part of a split notification its own key', () => {
    // Prepare
    const notification = payload('am-0.25-prom-group-firing-3alerts.json');

    // Act
    const keys = [
      idempotencyKey('ops', notification),
      idempotencyKey('ops', notification, { index: 1, count: 2 }),
      idempotencyKey('ops', notification, { index: 2, count: 2 }),
    ];

    // Assess
    expect(keys[0]).toBe(idempotencyKey('ops', notification, { index: 1, count: 1 }));
    expect(new Set(keys).size).toBe(3);
  });

  it('should be independent of alert order and sensitive to every key field (property)', () => {
    // Prepare
    const alertArb = fc.record({
      fingerprint: fc.stringMatching(/^[0-9a-f]{16}$/),
      status: fc.constantFrom('firing' as const, 'resolved' as const),
      startsAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      endsAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    });
    const arb = fc
      .record({
        groupKey: fc.string(),
        status: fc.constantFrom('firing' as const, 'resolved' as const),
        alerts: fc.uniqueArray(alertArb, { minLength: 1, maxLength: 8, selector: (a) => a.fingerprint }),
        target: fc.nat(),
        field: fc.constantFrom(...KEY_FIELDS),
      })
      .chain((value) =>
        fc
          .shuffledSubarray(value.alerts, { minLength: value.alerts.length, maxLength: value.alerts.length })
          .map((shuffled) => ({ ...value, shuffled })),
      );
    const full = (alerts: Pick<Alert, (typeof KEY_FIELDS)[number]>[]): Alert[] =>
      alerts.map((a) => ({ ...a, labels: {}, annotations: {}, generatorURL: '' }));

    // Act & Assess
    fc.assert(
      fc.property(arb, ({ groupKey, status, alerts, shuffled, target, field }) => {
        const key = idempotencyKey('dest', { groupKey, status, alerts: full(alerts) });
        expect(idempotencyKey('dest', { groupKey, status, alerts: full(shuffled) })).toBe(key);
        const mutated = full(alerts).map((a, i) => (i === target % alerts.length ? changed(a, field) : a));
        expect(idempotencyKey('dest', { groupKey, status, alerts: mutated })).not.toBe(key);
      }),
    );
  });
});

describe('Function: queueDeduplicationId', () => {
  it('should be the same within one request and differ between two requests with the same content', () => {
    // Prepare
    const key = idempotencyKey('ops', payload('am-0.25-prom-group-some-resolved.json'));

    // Act
    const resend = [queueDeduplicationId(key, 'request-1'), queueDeduplicationId(key, 'request-1')];
    const otherPost = queueDeduplicationId(key, 'request-2');
    const otherContent = queueDeduplicationId(key.replace(/^./, 'x'), 'request-1');

    // Assess
    expect(resend[0]).toBe(resend[1]);
    expect(otherPost).not.toBe(resend[0]);
    expect(otherContent).not.toBe(resend[0]);
    expect(resend[0]).not.toBe(key);
    expect(resend[0]).toMatch(SQS_ID);
  });

  it('should fit SQS for any request id (property)', () => {
    // Act & Assess
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (requestId) => {
        expect(queueDeduplicationId('k'.repeat(64), requestId)).toMatch(SQS_ID);
      }),
    );
  });
});

describe('Function: messageGroupId', () => {
  it('should start with the destination and stay within the SQS limit for a long groupKey', () => {
    // Prepare
    const groupKey = `{}/{severity="page"}:{alertname="${'Ä'.repeat(5000)}", instance="a b\nc"}`;

    // Act
    const id = messageGroupId('a'.repeat(64), groupKey);

    // Assess
    expect(id.startsWith(`${'a'.repeat(64)}:`)).toBe(true);
    expect(id).toMatch(SQS_ID);
  });

  it('should be the same for the same destination and groupKey, different otherwise', () => {
    // Prepare
    const groupKey = '{}:{alertname="ManyInstances"}';

    // Act
    const same = [messageGroupId('ops', groupKey), messageGroupId('ops', groupKey)];
    const otherGroup = messageGroupId('ops', '{}:{alertname="Other"}');
    const otherDestination = messageGroupId('ops2', groupKey);

    // Assess
    expect(same[0]).toBe(same[1]);
    expect(otherGroup).not.toBe(same[0]);
    expect(otherDestination).not.toBe(same[0]);
  });

  it('should fit SQS for any destination name the config allows and any groupKey (property)', () => {
    // Prepare
    const arb = fc.tuple(
      fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/),
      fc.string({ unit: 'binary' }),
    );

    // Act & Assess
    fc.assert(
      fc.property(arb, ([destination, groupKey]) => {
        expect(messageGroupId(destination, groupKey)).toMatch(SQS_ID);
      }),
    );
  });
});

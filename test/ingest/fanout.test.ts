import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert, Notification } from '../../lib/alertmanager/types.ts';
import type { DestinationConfig } from '../../lib/config/types.ts';
import {
  buildFanout,
  type FanoutEntry,
  fitAlert,
  MAX_MESSAGE_BYTES,
  MessageBodies,
} from '../../lib/ingest/fanout.ts';
import { TRUNCATION_NOTE, VALUE_CAP_BYTES } from '../../lib/ingest/fit.ts';
import type { RoutedNotification } from '../../lib/ingest/routing.ts';
import { idempotencyKey, messageGroupId, queueDeduplicationId } from '../../lib/queue/idempotency.ts';
import { buildMessage, parseMessage, type QueueMessage, serializeMessage } from '../../lib/queue/message.ts';
import { referencePayload } from '../support/notifications.ts';

/** SQS's own limit on one message and on one SendMessageBatch call. */
const SQS_LIMIT = 1_048_576;
const RECEIVED_AT = '2026-11-21T12:00:00.000Z';
const REQUEST = { receivedAt: RECEIVED_AT, requestId: 'request-1' };
/** What SQS refuses in a body: anything but the XML 1.0 characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are the point
const REFUSED_BY_SQS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function payload(name = 'am-0.25-prom-group-some-resolved.json'): Notification {
  return referencePayload(name);
}

function routed(
  notification: Notification,
  destination: DestinationConfig = { name: 'ops', sink: 'console' },
) {
  return { destination, notification } satisfies RoutedNotification;
}

/** `count` alerts shaped like the captured ones, each with a `description` of `annotationBytes` characters. */
function bigNotification(count: number, annotationBytes: number): Notification {
  const template = payload().alerts[0];
  const alerts: Alert[] = Array.from({ length: count }, (_, i) => ({
    ...template,
    labels: { ...template.labels, pod: `web-${i}` },
    annotations: { summary: `Pod web-${i} unhealthy`, description: 'd'.repeat(annotationBytes) },
    fingerprint: i.toString(16).padStart(16, '0'),
  }));
  return { ...payload(), alerts };
}

const parse = (entry: FanoutEntry): QueueMessage => JSON.parse(entry.message.body) as QueueMessage;
const bytes = (text: string) => Buffer.byteLength(text);

describe('Function: buildFanout', () => {
  it('should build one message per destination on that sink, keyed by the payload', () => {
    // Prepare
    const notification = payload();
    const hook: DestinationConfig = { name: 'hook', sink: 'webhook', url: 'https://example.com/' };
    const resolvedOnly = { ...notification, status: 'resolved' as const, alerts: [notification.alerts[2]] };

    // Act
    const entries = buildFanout([routed(notification), routed(resolvedOnly, hook)], REQUEST);

    // Assess
    expect(entries).toHaveLength(2);
    expect(entries.map((e) => [e.sink, e.destination, e.alerts])).toEqual([
      ['console', 'ops', 3],
      ['webhook', 'hook', 1],
    ]);
    expect(entries[0].message.groupId).toBe(messageGroupId('ops', notification.groupKey));
    expect(entries[1].message.groupId).toBe(messageGroupId('hook', notification.groupKey));
    expect(entries[0].message.deduplicationId).toBe(
      queueDeduplicationId(idempotencyKey('ops', notification), 'request-1'),
    );
    expect(entries[1].message.deduplicationId).toBe(
      queueDeduplicationId(idempotencyKey('hook', resolvedOnly), 'request-1'),
    );
    expect(parse(entries[1])).toEqual({
      v: 1,
      destination: 'hook',
      sink: 'webhook',
      idempotencyKey: idempotencyKey('hook', resolvedOnly),
      part: { index: 1, count: 1 },
      receivedAt: RECEIVED_AT,
      notification: resolvedOnly,
    });
    for (const entry of entries) {
      expect(entry.message.groupId.length).toBeLessThanOrEqual(128);
      expect(entry.message.deduplicationId.length).toBeLessThanOrEqual(128);
    }
  });

  it('should give unique message ids and a deduplication id of the content and the request, never of the time', () => {
    // Prepare
    const routes = [routed(payload()), routed(payload(), { name: 'ops2', sink: 'console' })];

    // Act
    const first = buildFanout(routes, REQUEST);
    const sameRequestLater = buildFanout(routes, { ...REQUEST, receivedAt: '2026-11-21T12:05:00.000Z' });
    const secondPost = buildFanout(routes, { ...REQUEST, requestId: 'request-2' });

    // Assess
    const dedupIds = (entries: FanoutEntry[]) => entries.map((e) => e.message.deduplicationId);
    const contentKeys = (entries: FanoutEntry[]) => entries.map((e) => parse(e).idempotencyKey);
    expect(new Set(first.map((e) => e.message.id)).size).toBe(first.length);
    expect(dedupIds(sameRequestLater)).toEqual(dedupIds(first));
    for (const [i, id] of dedupIds(secondPost).entries()) expect(id).not.toBe(dedupIds(first)[i]);
    expect(contentKeys(secondPost)).toEqual(contentKeys(first));
    expect(secondPost.map((e) => e.message.groupId)).toEqual(first.map((e) => e.message.groupId));
  });

  it('should return nothing when nothing was routed', () => {
    // Prepare & Act
    const entries = buildFanout([], REQUEST);

    // Assess
    expect(entries).toEqual([]);
  });

  it('should split a notification over 1 MiB by alerts into parts i of n, losing no alert', () => {
    // Prepare
    const notification = bigNotification(40, 40_000);
    expect(bytes(JSON.stringify(notification))).toBeGreaterThan(SQS_LIMIT);

    // Act
    const entries = buildFanout([routed(notification)], REQUEST);

    // Assess
    const parts = entries.map(parse);
    expect(entries.length).toBeGreaterThan(1);
    expect(parts.map((p) => p.part)).toEqual(parts.map((_, i) => ({ index: i + 1, count: parts.length })));
    expect(entries.reduce((sum, e) => sum + e.alerts, 0)).toBe(40);
    expect(parts.flatMap((p) => p.notification.alerts)).toEqual(notification.alerts);
    for (const [i, entry] of entries.entries()) {
      expect(bytes(entry.message.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(entry.alerts).toBe(parts[i].notification.alerts.length);
      expect(entry.message.groupId).toBe(messageGroupId('ops', notification.groupKey));
      expect(entry.message.deduplicationId).toBe(queueDeduplicationId(parts[i].idempotencyKey, 'request-1'));
      expect(parts[i].notification.groupKey).toBe(notification.groupKey);
      expect(parts[i].notification.commonLabels).toEqual(notification.commonLabels);
    }
    expect(new Set(entries.map((e) => e.message.deduplicationId)).size).toBe(entries.length);
    expect(new Set(parts.map((p) => p.idempotencyKey)).size).toBe(entries.length);
    expect(MAX_MESSAGE_BYTES).toBeLessThanOrEqual(SQS_LIMIT);
  });

  it('should cut an annotation over the value cap to the cap, with a mark saying how many bytes were cut', () => {
    // Prepare
    const notification = bigNotification(1, 1_500_000);
    const alert = notification.alerts[0];

    // Act
    const entries = buildFanout([routed(notification)], REQUEST);

    // Assess
    expect(entries).toHaveLength(1);
    expect(entries[0].alerts).toBe(1);
    expect(bytes(entries[0].message.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const sent = parse(entries[0]).notification.alerts[0];
    expect(sent.labels).toEqual(alert.labels);
    expect(sent.fingerprint).toBe(alert.fingerprint);
    expect(sent.annotations.summary).toBe(alert.annotations.summary);
    const [, kept, cut] = /^(d+) \[truncated (\d+) bytes\]$/.exec(sent.annotations.description) ?? [];
    expect(Number(cut)).toBe(1_500_000 - kept.length);
    expect(bytes(sent.annotations.description)).toBeLessThanOrEqual(VALUE_CAP_BYTES);
    expect(kept.length).toBeGreaterThan(VALUE_CAP_BYTES - 64);
  });

  it.each([
    ['multi-byte characters', '€'],
    ['characters JSON escapes', '"'],
    ['control characters JSON escapes as \\u00XX', '\u0001'],
  ])('should still fit an oversized alert whose annotation is made of %s', (_name, char) => {
    // Prepare
    const notification = bigNotification(1, 0);
    notification.alerts[0].annotations.description = char.repeat(700_000);

    // Act
    const entries = buildFanout([routed(notification)], REQUEST);

    // Assess
    expect(entries).toHaveLength(1);
    expect(bytes(entries[0].message.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(parse(entries[0]).notification.alerts[0].annotations.description).toContain('[truncated');
  });

  it('should keep every alert when one huge alert comes with normal ones', () => {
    // Prepare
    const notification = bigNotification(6, 100);
    notification.alerts[3].annotations.description = 'x'.repeat(2_000_000);

    // Act
    const entries = buildFanout([routed(notification)], REQUEST);

    // Assess
    const alerts = entries.flatMap((e) => parse(e).notification.alerts);
    expect(alerts.map((a) => a.fingerprint)).toEqual(notification.alerts.map((a) => a.fingerprint));
    expect(
      alerts.filter((a) => a.annotations.description.includes('[truncated')).map((a) => a.fingerprint),
    ).toEqual([notification.alerts[3].fingerprint]);
    for (const entry of entries) expect(bytes(entry.message.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });

  it('should cut a label value over the value cap and keep the alert and its other labels', () => {
    // Prepare
    const notification = bigNotification(2, 10);
    notification.alerts[1].labels.huge = 'l'.repeat(1_100_000);

    // Act
    const entries = buildFanout([routed(notification)], REQUEST);

    // Assess
    const alerts = entries.flatMap((e) => parse(e).notification.alerts);
    expect(alerts.map((a) => a.fingerprint)).toEqual(notification.alerts.map((a) => a.fingerprint));
    expect(alerts[1].labels.huge).toMatch(/^l+ \[truncated \d+ bytes\]$/);
    expect(bytes(alerts[1].labels.huge)).toBeLessThanOrEqual(VALUE_CAP_BYTES);
    expect({ ...alerts[1].labels, huge: 'x' }).toEqual({ ...notification.alerts[1].labels, huge: 'x' });
  });

  it('should accept one alert with a 1.1 MB description that Alertmanager repeats in commonAnnotations, in one message', () => {
    // Prepare
    const notification = bigNotification(1, 1_100_000);
    notification.commonAnnotations = { ...notification.alerts[0].annotations };

    // Act
    const entries = buildFanout([routed(notification)], REQUEST);

    // Assess
    expect(entries).toHaveLength(1);
    const sent = parse(entries[0]).notification;
    expect(sent.alerts[0].annotations.description).toMatch(/^d+ \[truncated \d+ bytes\]$/);
    expect(sent.commonAnnotations).toEqual(sent.alerts[0].annotations);
    expect(bytes(entries[0].message.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });

  it('should cut and then drop common fields that alone are over a queue message, keeping groupLabels and the alerts', () => {
    // Prepare
    const notification = bigNotification(3, 100);
    for (let i = 0; i < 8; i++) notification.commonLabels[`big_${i}`] = 'c'.repeat(200_000);
    notification.notification_reason = 'r'.repeat(300_000);

    // Act
    const entries = buildFanout([routed(notification)], REQUEST);

    // Assess
    expect(entries).toHaveLength(1);
    const sent = parse(entries[0]).notification;
    expect(bytes(entries[0].message.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(sent.alerts).toEqual(notification.alerts);
    expect(sent.groupLabels).toEqual(notification.groupLabels);
    expect(sent.groupKey).toBe(notification.groupKey);
    expect(JSON.stringify(sent)).toContain(' bytes]');
  });

  it('should drop labels by size, never alertname, and say so when an alert has more labels than a message holds', () => {
    // Prepare
    const notification = bigNotification(1, 10);
    const labels = notification.alerts[0].labels;
    for (let i = 0; i < 60_000; i++) labels[`label_with_a_long_name_${i}`] = `value-${i}`;

    // Act
    const entries = buildFanout([routed(notification)], REQUEST);

    // Assess
    expect(entries).toHaveLength(1);
    const sent = parse(entries[0]).notification.alerts[0];
    expect(bytes(entries[0].message.body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(sent.labels.alertname).toBe(labels.alertname);
    expect(Object.keys(sent.labels).length).toBeLessThan(Object.keys(labels).length);
    expect(sent.annotations[TRUNCATION_NOTE]).toMatch(/^\[truncated \d+ bytes: \d+ entries dropped/);
  });

  it('should make characters SQS refuses safe in the body and give them back exactly when parsed', () => {
    // Prepare
    const notification = bigNotification(1, 10);
    const hostile = 'a\uFFFFb\uFFFEc\uD800d\uDFFFe\u0001f\u{1F600}g';
    notification.alerts[0].labels.hostile = hostile;
    notification.commonLabels.hostile = hostile;

    // Act
    const entries = buildFanout([routed(notification)], REQUEST);

    // Assess
    expect(entries[0].message.body).not.toMatch(REFUSED_BY_SQS);
    const parsed = parseMessage(entries[0].message.body);
    expect(parsed.notification.alerts[0].labels.hostile).toBe(hostile);
    expect(parsed.notification.commonLabels.hostile).toBe(hostile);
  });

  it('should fit any strings, SQS-safe, and leave what is under the cap as it came (property)', () => {
    // Prepare
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 50 }),
      fc.constantFrom('\uFFFF', '\uFFFE', '\uD800', '\u0000'),
    );
    const arb = fc.record({
      labels: fc.dictionary(fc.string({ maxLength: 10 }), text, { maxKeys: 5 }),
      annotation: text,
      repeat: fc.nat({ max: 3000 }),
      maxBytes: fc.integer({ min: 4000, max: 20_000 }),
    });

    // Act & Assess
    fc.assert(
      fc.property(arb, ({ labels, annotation, repeat, maxBytes }) => {
        const notification = bigNotification(2, 0);
        notification.alerts[0].labels = { ...labels, alertname: 'A' };
        notification.alerts[1].annotations.description = annotation.repeat(repeat);
        const entries = buildFanout([routed(notification)], REQUEST, maxBytes);
        const alerts = entries.flatMap((e) => parseMessage(e.message.body).notification.alerts);
        for (const entry of entries) {
          expect(bytes(entry.message.body)).toBeLessThanOrEqual(maxBytes);
          expect(entry.message.body).not.toMatch(REFUSED_BY_SQS);
        }
        expect(alerts.map((a) => a.fingerprint)).toEqual(notification.alerts.map((a) => a.fingerprint));
        expect(alerts[0].labels).toEqual(notification.alerts[0].labels);
        const description = alerts[1].annotations.description;
        if (description !== notification.alerts[1].annotations.description) {
          expect(description).toMatch(/ \[truncated \d+ bytes\]$/);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('should split into parts that fit any limit and keep every alert in order (property)', () => {
    // Prepare
    const arb = fc.record({
      sizes: fc.array(fc.nat({ max: 3000 }), { minLength: 1, maxLength: 30 }),
      maxBytes: fc.integer({ min: 2500, max: 20_000 }),
    });

    // Act & Assess
    fc.assert(
      fc.property(arb, ({ sizes, maxBytes }) => {
        const notification = bigNotification(sizes.length, 0);
        sizes.forEach((size, i) => {
          notification.alerts[i].annotations.description = 'é'.repeat(size);
        });
        const entries = buildFanout([routed(notification)], REQUEST, maxBytes);
        const parts = entries.map(parse);
        for (const entry of entries) expect(bytes(entry.message.body)).toBeLessThanOrEqual(maxBytes);
        expect(parts.map((p) => p.part)).toEqual(
          parts.map((_, i) => ({ index: i + 1, count: parts.length })),
        );
        expect(entries.reduce((sum, e) => sum + e.alerts, 0)).toBe(sizes.length);
        expect(parts.flatMap((p) => p.notification.alerts.map((a) => a.fingerprint))).toEqual(
          notification.alerts.map((a) => a.fingerprint),
        );
      }),
      { numRuns: 50 },
    );
  });
});

describe('Class: MessageBodies', () => {
  describe('Method: write', () => {
    it('should write what serializeMessage writes, for every destination sharing the alerts', () => {
      // Prepare
      const notification = payload();
      // U+FFFE and U+FFFF are the characters JSON.stringify leaves raw and SQS refuses, here in keys too.
      notification.alerts[1].labels['odd\uFFFEname'] = 'odd\uFFFFvalue';
      (notification as Record<string, unknown>)['extra\uFFFE'] = { nested: ['\uFFFF'] };
      const bodies = new MessageBodies();
      const shares = [notification.alerts, notification.alerts.slice(1), [notification.alerts[2]]];
      const messages = shares.map((alerts, i) =>
        buildMessage(`d${i}`, 'console', { ...notification, alerts }, RECEIVED_AT, { index: 1, count: 1 }),
      );

      // Act
      const written = messages.map((m) => bodies.write(m));

      // Assess
      expect(written).toEqual(messages.map((m) => serializeMessage(m)));
    });

    it('should write what serializeMessage writes for any JSON in labels, annotations and extra fields (property)', () => {
      // Prepare
      const template = payload();
      const text = fc.string({ unit: 'binary', maxLength: 20 });
      const strings = fc.dictionary(text, text, { maxKeys: 4 });
      const extras = fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 });

      // Act & Assess
      fc.assert(
        fc.property(
          fc.array(fc.tuple(strings, strings, extras), { minLength: 1, maxLength: 4 }),
          extras,
          text,
          (alerts, envelopeExtras, groupKey) => {
            const notification = JSON.parse(
              JSON.stringify({
                ...envelopeExtras,
                ...template,
                groupKey,
                alerts: alerts.map(([labels, annotations, extra], i) => ({
                  ...extra,
                  ...template.alerts[0],
                  labels,
                  annotations,
                  fingerprint: `f${i}`,
                })),
              }),
            ) as Notification;
            const message = buildMessage('d', 'webhook', notification, RECEIVED_AT, { index: 1, count: 1 });
            expect(new MessageBodies().write(message)).toBe(serializeMessage(message));
          },
        ),
        { numRuns: 300 },
      );
    });
  });
});

describe('Function: fitAlert', () => {
  it('should return an alert that fits unchanged', () => {
    // Prepare
    const alert = payload().alerts[0];

    // Act
    const fitted = fitAlert(alert, 10_000);

    // Assess
    expect(fitted).toBe(alert);
  });

  it('should shorten the longest annotation first and keep the labels', () => {
    // Prepare
    const alert: Alert = {
      ...payload().alerts[0],
      annotations: { summary: 's'.repeat(200), description: 'd'.repeat(5000), runbook: 'https://runbook' },
    };

    // Act
    const fitted = fitAlert(alert, 3000);

    // Assess
    expect(bytes(JSON.stringify(fitted))).toBeLessThanOrEqual(3000);
    expect(fitted.labels).toEqual(alert.labels);
    expect(fitted.annotations.summary).toBe(alert.annotations.summary);
    expect(fitted.annotations.runbook).toBe(alert.annotations.runbook);
    expect(fitted.annotations.description).toContain('[truncated');
    expect(alert.annotations.description).toHaveLength(5000);
  });
});

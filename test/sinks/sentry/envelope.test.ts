import { describe, expect, it } from 'vitest';
import {
  buildEnvelope,
  buildEvent,
  defaultApiUrl,
  EVENT_ITEM_MAX_BYTES,
  eventBytes,
  eventIdFor,
  eventRateLimitSeconds,
  fingerprintQuery,
  MESSAGE_MAX_CHARS,
  parseDsn,
  sanitizeTagKey,
  sanitizeTagValue,
  sentryAuthHeader,
} from '../../../lib/sinks/sentry/envelope.ts';
import { makeNotification } from '../../support/notifications.ts';

const OPTIONS = {
  severityLabel: 'severity',
  environmentLabel: 'environment',
  releaseLabel: 'release',
  client: { name: 'alertmanager-relay', version: '0.1.0' },
};
const CONTEXT = {
  eventId: 'e'.repeat(32),
  receivedAt: '2026-11-21T12:00:00.000Z',
  part: { index: 1, count: 1 },
};

describe('Module: sentry-envelope', () => {
  describe('Function: parseDsn', () => {
    it('should split a sentry.io DSN into key, host, project and envelope URL', () => {
      // Act
      const dsn = parseDsn('https://abc123@o42.ingest.de.sentry.io/4507001\n');

      // Assess
      expect(dsn).toEqual({
        publicKey: 'abc123',
        secretKey: undefined,
        origin: 'https://o42.ingest.de.sentry.io',
        host: 'o42.ingest.de.sentry.io',
        projectId: '4507001',
        envelopeUrl: 'https://o42.ingest.de.sentry.io/api/4507001/envelope/',
      });
    });

    it('should keep a self-hosted path prefix and a legacy secret key', () => {
      // Act
      const dsn = parseDsn('http://pub:sec@sentry.example.com:9000/prefix/7');

      // Assess
      expect(dsn.envelopeUrl).toBe('http://sentry.example.com:9000/prefix/api/7/envelope/');
      expect(dsn.secretKey).toBe('sec');
      expect(sentryAuthHeader(dsn, 'c/1')).toBe(
        'Sentry sentry_version=7, sentry_client=c/1, sentry_key=pub, sentry_secret=sec',
      );
    });

    it.each([
      ['not a URL', 'nope'],
      ['no key', 'https://sentry.io/1'],
      ['no project id', 'https://key@sentry.io/'],
      ['a non-numeric project', 'https://key@sentry.io/alerts'],
      ['ftp', 'ftp://key@sentry.io/1'],
    ])('should refuse %s without quoting the key', (_, raw) => {
      // Act
      const act = () => parseDsn(raw);

      // Assess
      expect(act).toThrow();
      try {
        act();
      } catch (error) {
        expect((error as Error).message).not.toContain('key@');
      }
    });
  });

  describe('Function: defaultApiUrl', () => {
    it.each([
      ['https://k@o1.ingest.de.sentry.io/2', 'https://de.sentry.io'],
      ['https://k@o1.ingest.us.sentry.io/2', 'https://us.sentry.io'],
      ['https://k@o1.us.ingest.sentry.io/2', 'https://us.sentry.io'],
      ['https://k@o1.ingest.sentry.io/2', 'https://sentry.io'],
      ['https://k@sentry.example.com/prefix/2', 'https://sentry.example.com/prefix'],
    ])('should map %s to %s', (raw, api) => {
      // Act
      const url = defaultApiUrl(parseDsn(raw));

      // Assess
      expect(url).toBe(api);
    });
  });

  describe('Function: eventRateLimitSeconds', () => {
    it.each([
      [null, undefined],
      ['', undefined],
      ['60::organization', 60],
      ['60:transaction:key, 2700:default;error;security:organization', 2700],
      ['60:transaction:key', undefined],
      ['1.5:error:key:quota', 2],
      ['10:error:key, 30::org', 30],
      ['garbage, 5:error', 5],
      ['2700:metric_bucket:organization:quota_exceeded:custom', undefined],
    ])('should read %j as %j', (header, seconds) => {
      // Act
      const result = eventRateLimitSeconds(header);

      // Assess
      expect(result).toBe(seconds);
    });
  });

  describe('Function: sanitizeTagKey / sanitizeTagValue', () => {
    it('should replace characters Sentry refuses and cut to 32 / 200 characters', () => {
      // Act
      const key = sanitizeTagKey('app.kubernetes.io/name with spaces and more');
      const value = sanitizeTagValue(`line1\nline2\t${'é'.repeat(300)}`);

      // Assess
      expect(key).toBe('app.kubernetes.io_name_with_spac');
      expect(key).toHaveLength(32);
      expect(Array.from(value)).toHaveLength(200);
      expect(value.startsWith('line1 line2 é')).toBe(true);
      expect(value.endsWith('…')).toBe(true);
      expect(sanitizeTagKey('')).toBe('_');
    });
  });

  describe('Function: eventIdFor', () => {
    it('should give the same 32-hex id for the same key and fingerprint, another for another', () => {
      // Act
      const a = eventIdFor('key-1', 'fp-1');
      const again = eventIdFor('key-1', 'fp-1');
      const otherAlert = eventIdFor('key-1', 'fp-2');
      const otherNotification = eventIdFor('key-2', 'fp-1');

      // Assess
      expect(a).toMatch(/^[0-9a-f]{32}$/);
      expect(again).toBe(a);
      expect(new Set([a, otherAlert, otherNotification]).size).toBe(3);
    });
  });

  describe('Function: buildEvent', () => {
    it('should default unknown or missing severities to error', () => {
      // Prepare
      const notification = makeNotification({
        count: 2,
        labels: (i): Record<string, string> => (i === 0 ? { severity: 'weird' } : {}),
      });
      delete notification.alerts[1].labels.severity;

      // Act
      const levels = notification.alerts.map(
        (alert) => buildEvent(alert, notification, CONTEXT, OPTIONS).level,
      );

      // Assess
      expect(levels).toEqual(['error', 'error']);
    });

    it('should not let a severity named like an Object method pick a level', () => {
      // Prepare
      const notification = makeNotification({ labels: () => ({ severity: 'constructor' }) });

      // Act
      const event = buildEvent(notification.alerts[0], notification, CONTEXT, OPTIONS);

      // Assess
      expect(event.level).toBe('error');
    });

    it('should cut a message over 8192 characters and mark the cut', () => {
      // Prepare
      const notification = makeNotification({});
      notification.alerts[0].annotations.summary = 's'.repeat(MESSAGE_MAX_CHARS + 10);

      // Act
      const event = buildEvent(notification.alerts[0], notification, CONTEXT, OPTIONS);

      // Assess
      expect(event.message).toHaveLength(MESSAGE_MAX_CHARS);
      expect(event.message.endsWith('…')).toBe(true);
    });

    it('should keep two labels that sanitise alike apart', () => {
      // Prepare
      const notification = makeNotification({ labels: () => ({ 'a/b': '1', a_b: '2' }) });

      // Act
      const event = buildEvent(notification.alerts[0], notification, CONTEXT, OPTIONS);

      // Assess
      expect(Object.values(event.tags)).toEqual(expect.arrayContaining(['1', '2']));
    });

    it('should drop annotations and labels from extra when cutting long strings is not enough', () => {
      // Prepare
      const notification = makeNotification({});
      const annotations: Record<string, string> = {};
      for (let i = 0; i < 400; i++) annotations[`a${i}`] = 'x'.repeat(4000);
      notification.alerts[0].annotations = { summary: 'big', ...annotations };

      // Act
      const event = buildEvent(notification.alerts[0], notification, CONTEXT, OPTIONS);

      // Assess
      expect(eventBytes(event)).toBeLessThan(EVENT_ITEM_MAX_BYTES);
      expect(event.extra.annotations).toBeUndefined();
      expect(event.extra.relayTrimmed).toMatch(/annotations and labels were left out/);
      expect(event.message).toBe('big');
    });
  });

  describe('Function: buildEnvelope', () => {
    it('should write header, item header with the UTF-8 byte length, and the event, newline-separated', () => {
      // Prepare
      const notification = makeNotification({});
      notification.alerts[0].annotations.summary = 'Überlast ✓';
      const event = buildEvent(notification.alerts[0], notification, CONTEXT, OPTIONS);

      // Act
      const envelope = buildEnvelope(event, new Date('2026-11-21T12:00:01.000Z'));

      // Assess
      const [header, itemHeader, payload, rest] = envelope.split('\n');
      expect(JSON.parse(header)).toMatchObject({
        event_id: CONTEXT.eventId,
        sent_at: '2026-11-21T12:00:01.000Z',
      });
      expect(JSON.parse(itemHeader)).toEqual({
        type: 'event',
        length: Buffer.byteLength(payload, 'utf8'),
        content_type: 'application/json',
      });
      expect(Buffer.byteLength(payload, 'utf8')).toBeGreaterThan(payload.length);
      expect(JSON.parse(payload).message).toBe('Überlast ✓');
      expect(rest).toBe('');
    });
  });

  describe('Function: fingerprintQuery', () => {
    it('should quote a value that is not a plain token', () => {
      // Act
      const plain = fingerprintQuery('af01d46df1d1cb21');
      const odd = fingerprintQuery('a b"c');

      // Assess
      expect(plain).toBe('alert_fingerprint:af01d46df1d1cb21');
      expect(odd).toBe('alert_fingerprint:"a b\\"c"');
    });
  });
});

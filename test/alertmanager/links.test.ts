import { describe, expect, it } from 'vitest';
import { generatorUrl, httpUrl, runbookUrl, silenceUrl } from '../../lib/alertmanager/links.ts';
import { parseMatcher } from '../../lib/alertmanager/matchers.ts';
import { makeNotification } from '../support/notifications.ts';

describe('Alertmanager links', () => {
  describe('Method: silenceUrl', () => {
    it("should pre-fill Alertmanager's new-silence page with the alert's labels, sorted", () => {
      // Prepare
      const notification = makeNotification({});
      const alert = { labels: { job: 'api', alertname: 'HighLatency' } };

      // Act
      const url = silenceUrl(notification, alert);

      // Assess
      expect(url).toBe(
        `http://alertmanager:9093/#/silences/new?filter=${encodeURIComponent('{alertname="HighLatency",job="api"}')}`,
      );
    });

    it('should give a link, not throw, for a label holding a lone surrogate (Alertmanager accepts one)', () => {
      // Prepare
      const notification = makeNotification({});
      const alert = { labels: { alertname: 'Poison', hostile: 'a\uD800b' } };

      // Act
      const url = silenceUrl(notification, alert);

      // Assess
      expect(decodeURIComponent(url?.split('filter=')[1] ?? '')).toBe(
        '{alertname="Poison",hostile="a\uFFFDb"}',
      );
    });

    it('should use the common labels of the notification when no alert is given', () => {
      // Prepare
      const notification = {
        ...makeNotification({}),
        commonLabels: { alertname: 'DiskFull', team: 'storage' },
      };

      // Act
      const url = silenceUrl(notification);

      // Assess
      expect(decodeURIComponent(new URL(url ?? '').hash)).toBe(
        '#/silences/new?filter={alertname="DiskFull",team="storage"}',
      );
    });

    it('should escape quotes and backslashes so the filter parses back to the same value', () => {
      // Prepare
      const value = 'say "hi" \\ bye';
      const notification = makeNotification({});

      // Act
      const url = silenceUrl(notification, { labels: { msg: value } }) ?? '';
      const filter = decodeURIComponent(url.split('filter=')[1]);

      // Assess
      const matcher = parseMatcher(filter.slice(1, -1));
      expect(matcher.name).toBe('msg');
      expect(matcher.value).toBe(value);
    });

    it('should strip a trailing slash of externalURL and give nothing without an http(s) externalURL', () => {
      // Prepare
      const alert = { labels: { a: 'b' } };

      // Act
      const withSlash = silenceUrl({ externalURL: 'https://am.example/sub/', commonLabels: {} }, alert);
      const empty = silenceUrl({ externalURL: '', commonLabels: {} }, alert);
      const script = silenceUrl({ externalURL: 'javascript:alert(1)', commonLabels: {} }, alert);

      // Assess
      expect(withSlash?.startsWith('https://am.example/sub/#/silences/new?filter=')).toBe(true);
      expect(empty).toBeUndefined();
      expect(script).toBeUndefined();
    });
  });

  describe('Method: runbookUrl', () => {
    it('should prefer runbook_url, fall back to runbook, and refuse non-http values', () => {
      // Act
      const both = runbookUrl({ annotations: { runbook_url: 'https://rb/1', runbook: 'https://rb/2' } });
      const fallback = runbookUrl({ annotations: { runbook: 'https://rb/2' } });
      const bad = runbookUrl({ annotations: { runbook_url: 'see wiki' } });

      // Assess
      expect([both, fallback, bad]).toEqual(['https://rb/1', 'https://rb/2', undefined]);
    });
  });

  describe('Method: generatorUrl / httpUrl', () => {
    it('should accept absolute http(s) URLs only', () => {
      // Assess
      expect(generatorUrl({ generatorURL: 'http://prom:9090/graph?g0.expr=up' })).toBe(
        'http://prom:9090/graph?g0.expr=up',
      );
      expect(generatorUrl({ generatorURL: '/graph?g0.expr=up' })).toBeUndefined();
      expect(httpUrl('ftp://x')).toBeUndefined();
      expect(httpUrl(undefined)).toBeUndefined();
    });
  });
});

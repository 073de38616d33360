import { describe, expect, it } from 'vitest';
import type { Alert } from '../../lib/alertmanager/types.ts';
import { ALERT_RULES, fitRecord, queueBytes, truncateText, VALUE_CAP_BYTES } from '../../lib/ingest/fit.ts';

function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    status: 'firing',
    labels: { alertname: 'Big', instance: 'web-1' },
    annotations: { summary: 'short' },
    startsAt: '2026-11-21T11:00:00.000Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph',
    fingerprint: 'f000000000000001',
    ...overrides,
  };
}

describe('Function: truncateText', () => {
  it('should return a value within the limit unchanged', () => {
    // Act & Assess
    expect(truncateText('x'.repeat(100), 100)).toBe('x'.repeat(100));
  });

  it('should cut to the limit with a mark that counts the bytes cut off', () => {
    // Prepare
    const value = 'é'.repeat(1000);

    // Act
    const cut = truncateText(value, 500);

    // Assess
    const [, kept, bytes] = /^(é*) \[truncated (\d+) bytes\]$/.exec(cut) ?? [];
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(500);
    expect(Buffer.byteLength(kept) + Number(bytes)).toBe(2000);
    expect(kept.length).toBeGreaterThan(200);
  });

  it('should never cut between the two halves of a surrogate pair', () => {
    // Prepare
    const value = '\u{1F600}'.repeat(1000);

    // Act
    const cuts = [101, 102, 103, 104].map((limit) => truncateText(value, limit));

    // Assess
    for (const cut of cuts) expect(cut.isWellFormed()).toBe(true);
  });
});

describe('Function: fitRecord', () => {
  it('should cap every string at VALUE_CAP_BYTES without changing the input', () => {
    // Prepare
    const input = alert({ annotations: { description: 'd'.repeat(VALUE_CAP_BYTES + 10) } });
    const before = JSON.stringify(input);

    // Act
    const { value, fits } = fitRecord(input, 2 * VALUE_CAP_BYTES, ALERT_RULES);

    // Assess
    expect(fits).toBe(true);
    expect(Buffer.byteLength(value.annotations.description)).toBeLessThanOrEqual(VALUE_CAP_BYTES);
    expect(JSON.stringify(input)).toBe(before);
  });

  it('should cut annotations before labels and never touch status or fingerprint', () => {
    // Prepare
    const input = alert({
      labels: { alertname: 'Big', pod: 'p'.repeat(3000) },
      annotations: { description: 'd'.repeat(3000) },
      fingerprint: 'f'.repeat(256),
    });

    // Act
    const { value, fits } = fitRecord(input, 4500, ALERT_RULES);

    // Assess
    expect(fits).toBe(true);
    expect(queueBytes(value)).toBeLessThanOrEqual(4500);
    expect(value.labels).toEqual(input.labels);
    expect(value.annotations.description).toMatch(/^d* \[truncated \d+ bytes\]$/);
    expect([value.status, value.fingerprint]).toEqual([input.status, input.fingerprint]);
  });

  it('should keep a __proto__ key as data and leave Object.prototype alone', () => {
    // Prepare
    const labels = JSON.parse('{"alertname":"Big","__proto__":"x"}') as Record<string, string>;
    const input = alert({ labels, annotations: { description: 'd'.repeat(VALUE_CAP_BYTES + 1) } });

    // Act
    const { value } = fitRecord(input, 2 * VALUE_CAP_BYTES, ALERT_RULES);

    // Assess
    expect(Object.keys(value.labels)).toEqual(['alertname', '__proto__']);
    expect(Object.getPrototypeOf(value.labels)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).alertname).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import {
  compareCodePoints,
  compareLabelNames,
  labelNames,
  labelValues,
  sortedPairs,
} from '../../lib/alertmanager/labels.ts';

describe("Function: labelNames (Alertmanager's KV.SortedPairs order)", () => {
  it('should put alertname first even where a plain sort puts an upper-case name before it', () => {
    // Act
    const names = labelNames({ Team: 'core', alertname: 'HighLatency' });

    // Assess
    expect(names).toEqual(['alertname', 'Team']);
    expect(Object.keys({ Team: 'core', alertname: 'HighLatency' }).sort()).toEqual(['Team', 'alertname']);
  });

  it('should sort the other names by byte, as Go does: upper case, then _, then lower case, no locale', () => {
    // Act
    const names = labelNames({ env: 'prod', _tier: 'x', Zone: 'b', alertname: 'A', Team: 'core', a: '1' });

    // Assess
    expect(names).toEqual(['alertname', 'Team', 'Zone', '_tier', 'a', 'env']);
  });

  it('should sort names above U+FFFF after U+E000-U+FFFF, by code point as UTF-8 bytes do', () => {
    // Prepare: UTF-16 puts '😀' (a surrogate pair, 0xD83D...) before 'Ａ' (0xFF21).
    const labels = { '😀': 'smile', Ａ: 'wide', é: 'e' };

    // Act
    const names = labelNames(labels);

    // Assess
    expect(names).toEqual(['é', 'Ａ', '😀']);
    expect(Object.keys(labels).sort()).toEqual(['é', '😀', 'Ａ']);
  });

  it('should list nothing for an empty or missing map', () => {
    // Act & Assess
    expect(labelNames({})).toEqual([]);
    expect(labelNames(undefined)).toEqual([]);
  });
});

describe('Function: sortedPairs and labelValues', () => {
  it('should give pairs and values in the order of the names (.Values follows .SortedPairs)', () => {
    // Prepare
    const labels = { zone: 'eu west', Team: 'core', alertname: 'HighLatency', cluster: 'k8s-ü' };

    // Act
    const pairs = sortedPairs(labels);
    const values = labelValues(labels);

    // Assess
    expect(pairs).toEqual([
      ['alertname', 'HighLatency'],
      ['Team', 'core'],
      ['cluster', 'k8s-ü'],
      ['zone', 'eu west'],
    ]);
    expect(values).toEqual(['HighLatency', 'core', 'k8s-ü', 'eu west']);
  });
});

describe('Function: compareLabelNames and compareCodePoints', () => {
  it.each([
    ['alertname', 'Team', -1],
    ['Team', 'alertname', 1],
    ['alertname', 'alertname', 0],
    ['Team', 'env', -1],
    ['a', 'ab', -1],
    ['\uffff', '\u{10000}', -1],
    ['\ud7ff', '\ue000', -1],
  ] as const)('should order %j against %j as %d', (a, b, sign) => {
    // Act
    const order = Math.sign(compareLabelNames(a, b));

    // Assess
    expect(order).toBe(sign);
  });

  it('should agree with the order of the UTF-8 bytes', () => {
    // Prepare
    const words = ['b', 'B', '_', '\u00e9', '\uff21', '\u{1f600}', '\u{10000}', '\ue000', 'ab', 'a', ''];
    const byBytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

    // Act
    const sorted = [...words].sort(compareCodePoints);

    // Assess
    expect(sorted).toEqual(byBytes);
  });
});

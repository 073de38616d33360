import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildScope, quoteScopeValue, scopeKeyFor } from '../../../lib/sinks/sysdig/scope.ts';
import { parseScope } from '../../support/fake-sysdig.ts';

describe('Sink: sysdig scope', () => {
  describe('Method: scopeKeyFor', () => {
    it('should turn _ into . for labels with a default prefix', () => {
      // Act
      const keys = ['container_name', 'host_hostName', 'kubernetes_namespace_name', 'agent_tag_env'].map(
        (label) => scopeKeyFor(label, {}),
      );

      // Assess
      expect(keys).toEqual(['container.name', 'host.hostName', 'kubernetes.namespace.name', 'agent.tag.env']);
    });

    it('should not map labels outside the prefixes', () => {
      // Act
      const keys = ['alertname', 'severity', 'instance', 'job'].map((label) => scopeKeyFor(label, {}));

      // Assess
      expect(keys).toEqual([undefined, undefined, undefined, undefined]);
    });

    it('should take an explicit mapping as written, over the prefixes', () => {
      // Prepare
      const mapping = { labels: { instance: 'host.hostName', container_name: 'container.label.name' } };

      // Act
      const keys = ['instance', 'container_name'].map((label) => scopeKeyFor(label, mapping));

      // Assess
      expect(keys).toEqual(['host.hostName', 'container.label.name']);
    });

    it('should use only the configured prefixes, and none when given an empty list', () => {
      // Act
      const custom = scopeKeyFor('kube_pod_name', { prefixes: ['kube_'] });
      const none = scopeKeyFor('container_name', { prefixes: [] });

      // Assess
      expect(custom).toBe('kube.pod.name');
      expect(none).toBeUndefined();
    });

    it('should not find inherited properties for a label named like one', () => {
      // Act
      const key = scopeKeyFor('constructor', { labels: {} });

      // Assess
      expect(key).toBeUndefined();
    });
  });

  describe('Method: quoteScopeValue', () => {
    it('should use double quotes, or single quotes when the value has a double quote', () => {
      // Act
      const plain = quoteScopeValue('web-1');
      const withDouble = quoteScopeValue('say "hi"');

      // Assess
      expect(plain).toBe('"web-1"');
      expect(withDouble).toBe(`'say "hi"'`);
    });

    it('should refuse values it cannot quote unambiguously', () => {
      // Act
      const refused = [`both ' and "`, 'back\\slash', 'new\nline', 'nul\u0000'].map(quoteScopeValue);

      // Assess
      expect(refused).toEqual([undefined, undefined, undefined, undefined]);
    });
  });

  describe('Method: buildScope', () => {
    it('should and-join the mapped labels sorted by scope key', () => {
      // Act
      const scope = buildScope(
        { host_hostName: 'h1', container_name: 'web', alertname: 'Down', severity: 'critical' },
        {},
      );

      // Assess
      expect(scope.expression).toBe('container.name = "web" and host.hostName = "h1"');
      expect(scope.skipped).toEqual([]);
    });

    it('should give no expression when no label maps', () => {
      // Act
      const scope = buildScope({ alertname: 'Down' }, {});

      // Assess
      expect(scope.expression).toBeUndefined();
    });

    it('should skip labels whose key is not a valid scope key, or whose value cannot be quoted', () => {
      // Act
      const scope = buildScope(
        { container__name: 'a', host_: 'b', container_name: `it's "odd"`, host_hostName: 'ok' },
        {},
      );

      // Assess
      expect(scope.expression).toBe('host.hostName = "ok"');
      expect(scope.skipped).toEqual([
        { label: 'container__name', reason: 'not a valid scope key' },
        { label: 'container_name', reason: 'value cannot be quoted safely' },
        { label: 'host_', reason: 'not a valid scope key' },
      ]);
    });

    it('should keep the first label by name when two map to the same key', () => {
      // Act
      const scope = buildScope(
        { host_hostName: 'a', instance: 'b' },
        { labels: { instance: 'host.hostName' } },
      );

      // Assess
      expect(scope.expression).toBe('host.hostName = "a"');
      expect(scope.skipped).toEqual([{ label: 'instance', reason: 'scope key already used' }]);
    });

    it('should never let a label value add or change a clause, whatever it holds', () => {
      // Prepare
      // Mostly the characters that could break out of a quoted value, plus anything at all.
      const risky = fc.constantFrom('"', "'", '\\', ' ', '=', 'and', 'or', '\n', '(', ')', 'é', 'x');
      const value = fc.oneof(
        fc.string({ unit: risky, maxLength: 12 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
      );
      const labels = fc.record({ container_name: value, host_hostName: value, kubernetes_pod_name: value });

      // Act / Assess
      fc.assert(
        fc.property(labels, (input) => {
          const scope = buildScope(input, {});
          const parsed = scope.expression === undefined ? [] : parseScope(scope.expression);
          expect(parsed).toEqual(scope.pairs);
          for (const [key, parsedValue] of parsed) {
            const label = key.replaceAll('.', '_') as keyof typeof input;
            expect(parsedValue).toBe(input[label]);
          }
        }),
        { numRuns: 500 },
      );
    });
  });
});

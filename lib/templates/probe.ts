/**
 * The data a template is rendered over when it is validated, to see where its values land.
 * Shaped like templateData (lib/templates/data.ts), with every free-text field non-empty: a
 * label or annotation map answers any name (`commonLabels.anything`), so a value the
 * template reads is written, and the engine can tell where in the rendering it went. Lists
 * and statuses are real (two alerts, one firing, one resolved) so loops and `where` run; the
 * engine renders every branch of `if`, `unless` and `case` (see engine.ts), since the probe
 * cannot know which label values a real alert will hold.
 */

/** The text of every probe value: any non-empty text would do; this one reads as what it is. */
export const PROBE_VALUE = 'probe';

/**
 * A map that holds `sample` and answers PROBE_VALUE for any other name: a label or annotation
 * map, and the data itself (a name the data lacks, `{{ host }}`, is a value too: LiquidJS looks
 * a variable up with `in` on the data once the template's own variables are passed).
 */
function anyName<T extends object>(sample: T): T {
  const own = (key: string | symbol): key is string => typeof key === 'string' && !(key in Object.prototype);
  return new Proxy(sample, {
    has: (target, key) => own(key) || Reflect.has(target, key),
    get: (target, key, receiver) =>
      own(key) && !Object.hasOwn(target, key) ? PROBE_VALUE : Reflect.get(target, key, receiver),
    getOwnPropertyDescriptor: (target, key) =>
      Reflect.getOwnPropertyDescriptor(target, key) ??
      (own(key) ? { value: PROBE_VALUE, writable: false, enumerable: false, configurable: true } : undefined),
  });
}

const LINKS = {
  graph: 'https://prometheus.probe.invalid/graph',
  runbook: 'https://runbooks.probe.invalid/probe',
  silence: 'https://alertmanager.probe.invalid/#/silences/new',
};

function probeAlert(status: 'firing' | 'resolved', index: number): Record<string, unknown> {
  return {
    status,
    labels: anyName({ alertname: PROBE_VALUE, instance: `${PROBE_VALUE}-${index}`, severity: PROBE_VALUE }),
    annotations: anyName({ summary: PROBE_VALUE, description: PROBE_VALUE }),
    startsAt: '2024-01-01T00:00:00Z',
    endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2024-01-01T01:00:00Z',
    generatorURL: LINKS.graph,
    fingerprint: `${PROBE_VALUE}${index}`,
    links: { ...LINKS },
  };
}

/**
 * The probe data sets: a firing group of two alerts (one firing, one resolved), and a resolved
 * group with no alert listed (a `for ... else`, a `size == 0`). Both set `alert`, which sinks
 * that render per alert fill.
 */
export function probeData(): Record<string, unknown>[] {
  const firing = [probeAlert('firing', 0), probeAlert('resolved', 1)];
  const group = (status: string, alerts: Record<string, unknown>[]) =>
    anyName({
      version: '4',
      status,
      receiver: PROBE_VALUE,
      groupKey: PROBE_VALUE,
      truncatedAlerts: 1,
      groupLabels: anyName({ alertname: PROBE_VALUE }),
      commonLabels: anyName({ alertname: PROBE_VALUE, severity: PROBE_VALUE }),
      commonAnnotations: anyName({ summary: PROBE_VALUE }),
      externalURL: 'https://alertmanager.probe.invalid',
      alerts,
      destination: { name: PROBE_VALUE, sink: PROBE_VALUE },
      part: { index: 1, count: 1 },
      links: { alertmanager: 'https://alertmanager.probe.invalid', ...LINKS },
      alert: firing[0],
    });
  return [group('firing', firing), group('resolved', [])];
}

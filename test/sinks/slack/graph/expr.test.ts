import { describe, expect, it } from 'vitest';
import {
  exprFromGeneratorUrl,
  graphSubject,
  MAX_EXPR_LENGTH,
} from '../../../../lib/sinks/slack/graph/expr.ts';
import { splitThreshold } from '../../../../lib/sinks/slack/graph/threshold.ts';
import { makeNotification, referencePayload } from '../../../support/notifications.ts';

describe('Graph: expression from generatorURL', () => {
  it('should decode g0.expr as Prometheus writes it (Go url.Values: + for spaces)', () => {
    // Prepare
    const url =
      'http://vm:19090/graph?g0.expr=label_replace%28vector%281%29%2C+%22pod%22%2C+%22web-1%22%2C+%22%22%2C+%22%22%29&g0.tab=1';

    // Act
    const expr = exprFromGeneratorUrl(url);

    // Assess
    expect(expr).toBe('label_replace(vector(1), "pod", "web-1", "", "")');
  });

  it('should read the expression of the real Alertmanager 0.25 payloads', () => {
    // Prepare
    const notification = referencePayload('am-0.25-prom-single-firing.json');

    // Act
    const expr = exprFromGeneratorUrl(notification.alerts[0]?.generatorURL);

    // Assess
    expect(expr).toMatch(/^label_replace\(/);
  });

  it('should take only g0.expr, whatever other parameters come before or after it', () => {
    // Prepare
    const urls = [
      'https://prom.example.com/prometheus/graph?g0.tab=1&g0.expr=up+%3D%3D+0&g1.expr=other',
      'http://p/graph?g0.range_input=1h&g0.expr=up%20%3D%3D%200&g0.expr=second',
    ];

    // Act
    const exprs = urls.map(exprFromGeneratorUrl);

    // Assess
    expect(exprs).toEqual(['up == 0', 'up == 0']);
  });

  it('should give undefined when there is no usable expression', () => {
    // Prepare
    const urls: unknown[] = [
      '',
      undefined,
      42,
      'http://prom.local/graph',
      'http://prom.local/graph?g0.tab=1',
      'http://prom.local/graph?g0.expr=',
      'http://prom.local/graph?g0.expr=+++',
      'http://prom.local/graph#g0.expr=up',
      'http://vmalert:8880/vmalert/alert?group_id=1&alert_id=2',
      `http://p/graph?g0.expr=${'a'.repeat(MAX_EXPR_LENGTH + 1)}`,
    ];

    // Act
    const exprs = urls.map(exprFromGeneratorUrl);

    // Assess
    expect(exprs).toEqual(urls.map(() => undefined));
  });

  it('should read the expression of hostile or odd URLs without caring where they point', () => {
    // Prepare
    const urls = [
      'http://169.254.169.254/latest/meta-data/?g0.expr=up',
      'file:///etc/passwd?g0.expr=up',
      'javascript:alert(1)?g0.expr=up',
      '/graph?g0.expr=up',
      'http://[not a host/graph?g0.expr=up',
      'http://user:pass@evil.example/graph?g0.expr=up#frag',
    ];

    // Act
    const exprs = urls.map(exprFromGeneratorUrl);

    // Assess
    expect(exprs).toEqual(urls.map(() => 'up'));
  });

  it('should keep a malformed percent sequence as text instead of failing', () => {
    // Act
    const expr = exprFromGeneratorUrl('http://p/graph?g0.expr=rate(x%ZZ[5m])');

    // Assess
    expect(expr).toBe('rate(x%ZZ[5m])');
  });
});

describe('Graph: subject of a notification', () => {
  it('should take the first firing alert with an expression and the earliest start among alerts sharing it', () => {
    // Prepare
    const notification = makeNotification({ count: 4 });
    const [a, b, c, d] = notification.alerts;
    if (!a || !b || !c || !d) throw new Error('fixture');
    a.status = 'resolved';
    a.generatorURL = 'http://p/graph?g0.expr=resolved_one';
    b.generatorURL = 'http://p/graph';
    c.startsAt = '2026-11-21T10:30:00Z';
    d.startsAt = '2026-11-21T10:10:00.123456789Z';

    // Act
    const subject = graphSubject(notification);

    // Assess
    expect(subject?.expr).toBe('latency > 1');
    expect(subject?.alerts).toEqual([c, d]);
    expect(subject?.startsAt).toBe(Date.parse('2026-11-21T10:10:00.123Z'));
  });

  it('should give undefined when no firing alert carries an expression', () => {
    // Prepare
    const notification = makeNotification({ count: 2 });
    for (const alert of notification.alerts) alert.generatorURL = '';

    // Act
    const subject = graphSubject(notification);

    // Assess
    expect(subject).toBeUndefined();
  });
});

describe('Graph: threshold of an alert expression', () => {
  it('should split a trailing comparison with a number into the query and the threshold', () => {
    // Prepare
    const cases = [
      ['histogram_quantile(0.99, sum by (le) (rate(x_bucket{a=">"}[5m]))) > 0.5', '>', 0.5],
      ['up == 0', '==', 0],
      ['free_bytes / size_bytes <= 1e-1', '<=', 0.1],
      ['temperature_celsius >= -5', '>=', -5],
      ['a != 1', '!=', 1],
      ['sum(rate(errors_total[5m])) < .25', '<', 0.25],
    ] as const;

    // Act
    const splits = cases.map(([expr]) => splitThreshold(expr));

    // Assess
    expect(splits.map((s) => s && [s.operator, s.threshold])).toEqual(
      cases.map(([, op, value]) => [op, value]),
    );
    expect(splits[0]?.query).toBe('histogram_quantile(0.99, sum by (le) (rate(x_bucket{a=">"}[5m])))');
    expect(splits[2]?.query).toBe('free_bytes / size_bytes');
  });

  it('should leave expressions it cannot split safely alone', () => {
    // Prepare
    const exprs = [
      'up',
      'a > 1 and b < 2',
      'a > 1 unless on(job) b',
      'a > bool 1',
      'a > b',
      'a > 1 > 2',
      'a > 1 * 2',
      'a{x="1"} > on(job) group_left b',
      '(a > 1)',
      '> 1',
      'a{x="unterminated > 1',
    ];

    // Act
    const splits = exprs.map(splitThreshold);

    // Assess
    expect(splits).toEqual(exprs.map(() => undefined));
  });

  it('should not mistake comparison characters inside strings, matchers or subqueries for the top level', () => {
    // Act
    const split = splitThreshold('count(x{path=~"/a>b", q=\'<\'}[5m:1m]) or_more_metric > 3');

    // Assess
    expect(split).toEqual({
      query: 'count(x{path=~"/a>b", q=\'<\'}[5m:1m]) or_more_metric',
      operator: '>',
      threshold: 3,
    });
  });
});

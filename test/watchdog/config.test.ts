import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  resolveWatchdog,
  type WatchdogConfig,
  watchdogConfigSchema,
  watchdogProblems,
  watchdogWarnings,
} from '../../lib/watchdog/config.ts';
import {
  alertmanagerDuration,
  longestHeartbeatGapSeconds,
  WATCHDOG_ROUTE,
  watchdogRouteLines,
} from '../../lib/watchdog/route.ts';

const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
  watchdogConfigSchema,
);

describe('Schema: watchdogConfigSchema', () => {
  it('should accept the block as documented, and the destinations alone', () => {
    // Act
    const full = validate({
      alertname: 'Watchdog',
      silentAfter: 600,
      destinations: ['pager'],
      forward: false,
    });
    const least = validate({ destinations: ['pager'] });

    // Assess
    expect([full, least]).toEqual([true, true]);
  });

  it('should refuse a silentAfter under 10 s, no destinations, a repeated one and an unknown field', () => {
    // Act
    const cases = [
      { destinations: ['pager'], silentAfter: 9 },
      { destinations: ['pager'], silentAfter: 60.5 },
      { destinations: [] },
      { destinations: ['pager', 'pager'] },
      {},
      { destinations: ['pager'], silentafter: 600 },
      { destinations: ['pager'], alertname: '' },
    ].map((block) => (validate(block) ? 'valid' : validate.errors?.[0]?.keyword));

    // Assess
    expect(cases).toEqual([
      'minimum',
      'type',
      'minItems',
      'uniqueItems',
      'required',
      'additionalProperties',
      'minLength',
    ]);
  });
});

describe('Function: resolveWatchdog', () => {
  it('should fill in the defaults: Watchdog, 600 s, forward false', () => {
    // Act
    const watchdog = resolveWatchdog({ destinations: ['pager'] });

    // Assess
    expect(watchdog).toEqual({
      alertname: 'Watchdog',
      silentAfterSeconds: 600,
      destinations: ['pager'],
      forward: false,
    });
    expect(resolveWatchdog(undefined)).toBeUndefined();
  });
});

describe('Function: watchdogProblems', () => {
  const destinations = [{ name: 'pager' }, { name: 'ops' }];

  it('should name each destination that is not configured, with its path and the known names', () => {
    // Act
    const problems = watchdogProblems({ destinations: ['pager', 'pagr', 'slack'] }, destinations);

    // Assess
    expect(problems).toEqual([
      'watchdog.destinations[1]: unknown destination "pagr" (known: pager, ops)',
      'watchdog.destinations[2]: unknown destination "slack" (known: pager, ops)',
    ]);
  });

  it('should refuse to watch the relay’s own page', () => {
    // Act
    const problems = watchdogProblems(
      { alertname: 'AlertmanagerSilent', destinations: ['pager'] },
      destinations,
    );

    // Assess
    expect(problems).toEqual([
      expect.stringMatching(/^watchdog\.alertname: AlertmanagerSilent is the alert the relay pages with/),
    ]);
  });

  it('should find nothing wrong without a block, or with a good one', () => {
    // Assess
    expect(watchdogProblems(undefined, destinations)).toEqual([]);
    expect(watchdogProblems({ destinations: ['ops'] }, destinations)).toEqual([]);
  });
});

describe('Function: watchdogWarnings', () => {
  it('should warn when silentAfter is less than two of the printed route’s longest heartbeat gaps', () => {
    // Prepare
    const block = (silentAfter: number): WatchdogConfig => ({ destinations: ['pager'], silentAfter });

    // Act
    const short = watchdogWarnings(block(179));
    const enough = watchdogWarnings(block(180));

    // Assess
    expect(short).toEqual([
      'watchdog.silentAfter: 179 s is less than twice the longest gap between heartbeats on the Watchdog route ' +
        '`npm run alertmanager-config` prints (repeat_interval 1m + group_interval 30s = 90 s): one late heartbeat ' +
        'would page; use at least 180 s',
    ]);
    expect(enough).toEqual([]);
    expect(watchdogWarnings({ destinations: ['pager'] })).toEqual([]);
    expect(watchdogWarnings(undefined)).toEqual([]);
  });
});

describe('Function: watchdogRouteLines', () => {
  it('should print a child route Alertmanager reads with the timing the check assumes', () => {
    // Act
    const text = [
      'route:',
      '  receiver: alertmanager-relay',
      ...watchdogRouteLines({ receiver: 'alertmanager-relay', alertname: 'Watchdog' }),
    ].join('\n');
    const route = parse(text).route.routes[0];

    // Assess
    expect(route).toEqual({
      receiver: 'alertmanager-relay',
      matchers: ['alertname="Watchdog"'],
      group_by: ['alertname'],
      group_wait: '0s',
      group_interval: '30s',
      repeat_interval: '1m',
      continue: false,
    });
    expect(longestHeartbeatGapSeconds()).toBe(
      WATCHDOG_ROUTE.repeatIntervalSeconds + WATCHDOG_ROUTE.groupIntervalSeconds,
    );
  });

  it('should quote a hostile alertname so the matcher and the YAML still mean that name', () => {
    // Act
    const text = ['route:', ...watchdogRouteLines({ receiver: 'r', alertname: `it's "a"\nname` })].join('\n');
    const route = parse(text).route.routes[0];

    // Assess
    expect(route.matchers).toEqual(['alertname="it\'s \\"a\\"\\nname"']);
    expect(JSON.parse(route.matchers[0].slice('alertname='.length))).toBe(`it's "a"\nname`);
  });
});

describe('Function: alertmanagerDuration', () => {
  it('should write seconds the way Alertmanager reads durations', () => {
    // Assess
    expect([0, 30, 60, 90, 3600].map(alertmanagerDuration)).toEqual(['0s', '30s', '1m', '1m30s', '60m']);
  });
});

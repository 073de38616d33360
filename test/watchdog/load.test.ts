import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../lib/config/load.ts';
import { resolveWatchdog } from '../../lib/watchdog/config.ts';

const DESTINATIONS = `
destinations:
  - name: pager
    sink: pagerduty
    routingKeySecret: PD_KEY
  - name: ops
    sink: console
`;

/** The problems parseConfig names for `text` (none: it loaded). */
function problems(text: string): string[] {
  try {
    parseConfig(text, 'relay.yaml');
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
}

describe('Function: parseConfig (watchdog:)', () => {
  it('should load the block as the issue writes it, and leave the defaults to resolveWatchdog', () => {
    // Act
    const config = parseConfig(`${DESTINATIONS}watchdog:\n  destinations: [pager]\n`, 'relay.yaml');

    // Assess
    expect(config.watchdog).toEqual({ destinations: ['pager'] });
    expect(resolveWatchdog(config.watchdog)).toEqual({
      alertname: 'Watchdog',
      silentAfterSeconds: 600,
      destinations: ['pager'],
      forward: false,
    });
  });

  it('should name the path of each problem: schema and unknown destinations alike', () => {
    // Act
    const found = [
      problems(`${DESTINATIONS}watchdog:\n  destinations: [pager]\n  silentAfter: 5\n`),
      problems(`${DESTINATIONS}watchdog:\n  destinations: [pagr, ops]\n`),
      problems(`${DESTINATIONS}watchdog:\n  silentAfter: 600\n`),
      problems(`${DESTINATIONS}watchdog:\n  destinations: [pager]\n  forwrd: true\n`),
    ];

    // Assess
    expect(found).toEqual([
      ['watchdog.silentAfter: must be >= 10'],
      ['watchdog.destinations[0]: unknown destination "pagr" (known: pager, ops)'],
      ['watchdog.destinations: is required'],
      ['watchdog.forwrd: unknown field'],
    ]);
  });
});

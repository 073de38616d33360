import { describe, expectTypeOf, it } from 'vitest';
import type { DestinationConfig } from '../../lib/config/types.ts';
import type { ConsoleDestination } from '../../lib/sinks/console/config.ts';
import type { IlertDestination } from '../../lib/sinks/ilert/config.ts';
import type { PagerDutyDestination } from '../../lib/sinks/pagerduty/config.ts';
import type { SentryDestination } from '../../lib/sinks/sentry/config.ts';
import type { SysdigDestination } from '../../lib/sinks/sysdig/config.ts';
import type { WebhookDestination } from '../../lib/sinks/webhook/config.ts';

// Checked by `tsc --noEmit` (npm test runs it first); at run time these are no-ops.
describe('Type: DestinationFromSchema', () => {
  it('should give every sink the common fields and stay a DestinationConfig', () => {
    // Assess
    expectTypeOf<WebhookDestination>().toExtend<DestinationConfig>();
    expectTypeOf<ConsoleDestination>().toExtend<DestinationConfig>();
    expectTypeOf<IlertDestination>().toExtend<DestinationConfig>();
    expectTypeOf<PagerDutyDestination>().toExtend<DestinationConfig>();
    expectTypeOf<SentryDestination>().toExtend<DestinationConfig>();
    expectTypeOf<SysdigDestination>().toExtend<DestinationConfig>();
    expectTypeOf<SentryDestination['matchers']>().toEqualTypeOf<string[] | undefined>();
  });

  it('should make required what the schema requires, and keep a field with a default optional', () => {
    // Assess
    expectTypeOf<WebhookDestination['url']>().toEqualTypeOf<string>();
    expectTypeOf<WebhookDestination['timeoutSeconds']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<ConsoleDestination['format']>().toEqualTypeOf<'text' | 'json' | undefined>();
    expectTypeOf<SysdigDestination['defaultSeverity']>().toEqualTypeOf<number | undefined>();
  });

  it('should read enums as unions of their values', () => {
    // Assess
    expectTypeOf<IlertDestination['mode']>().toEqualTypeOf<'alertmanager' | 'events' | undefined>();
    expectTypeOf<PagerDutyDestination['defaultSeverity']>().toEqualTypeOf<
      'critical' | 'error' | 'warning' | 'info' | undefined
    >();
    expectTypeOf<SysdigDestination['region']>().toEqualTypeOf<
      'us1' | 'us2' | 'us4' | 'eu1' | 'au1' | 'me2' | 'in1' | undefined
    >();
    expectTypeOf<NonNullable<SentryDestination['levels']>[string]>().toEqualTypeOf<
      'fatal' | 'error' | 'warning' | 'info' | 'debug'
    >();
  });

  it('should refuse a field the schema does not have', () => {
    // Act
    // @ts-expect-error `urll` is not a webhook field
    const typo: WebhookDestination = { name: 'a', sink: 'webhook', url: 'https://x', urll: 'typo' };

    // Assess
    expectTypeOf(typo).toEqualTypeOf<WebhookDestination>();
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DestinationConfig, RelayConfig } from '../../lib/config/types.ts';
import { previewNotification } from '../../lib/ops/preview.ts';
import { templateData } from '../../lib/templates/data.ts';
import { renderDeliveryTemplates, type TemplateSpec } from '../../lib/templates/destination.ts';
import { makeNotification } from '../support/notifications.ts';
import { capturingLogger } from '../support/vendor-delivery.ts';

// The builder of a notification's template data, counted: it must run once per delivery,
// however many alerts a sink renders for.
vi.mock('../../lib/templates/data.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../lib/templates/data.ts')>();
  return { ...actual, templateData: vi.fn(actual.templateData) };
});

const built = vi.mocked(templateData);

const PER_ALERT = '{{ alert.labels.instance }} of {{ alerts | size }}';

/** Every sink that renders its templates once per alert, with a template on the per-alert key. */
const perAlertDestinations: DestinationConfig[] = [
  { name: 'monitor', sink: 'sysdig', tokenSecret: 'SYSDIG_TOKEN', templates: { name: PER_ALERT } },
  { name: 'errors', sink: 'sentry', dsnSecret: 'SENTRY_DSN', templates: { message: PER_ALERT } },
  {
    name: 'events',
    sink: 'ilert',
    mode: 'events',
    keySecret: 'ILERT_KEY',
    templates: { summary: PER_ALERT },
  },
  {
    name: 'genie',
    sink: 'opsgenie',
    mode: 'alert',
    apiKeySecret: 'OG_KEY',
    templates: { summary: PER_ALERT },
  },
  {
    name: 'pager',
    sink: 'pagerduty',
    mode: 'alert',
    routingKeySecret: 'PD_KEY',
    templates: { summary: PER_ALERT },
  },
];

describe('Function: renderDeliveryTemplates (data built once per delivery)', () => {
  afterEach(() => {
    built.mockClear();
  });

  it.each(perAlertDestinations.map((d) => [d.sink, d] as const))(
    'should build the notification data once for a %s delivery of 5 alerts, each alert its own',
    async (_, destination) => {
      // Prepare
      const notification = makeNotification({ count: 5 });
      const config: RelayConfig = { ingest: {}, destinations: [destination] };

      // Act
      const [preview] = await previewNotification(config, notification);

      // Assess
      expect(preview.error).toBeUndefined();
      expect(preview.warnings).toEqual([]);
      expect(built).toHaveBeenCalledTimes(1);
      // Each alert's call still renders that alert: the instance of every alert is sent.
      const bodies = preview.requests.map((r) => r.body).join('\n');
      for (let i = 0; i < 5; i++) expect(bodies).toContain(`web-${i}:9100 of 5`);
    },
  );

  it('should build nothing for a destination without templates', () => {
    // Prepare
    const delivery = {
      destination: { name: 'monitor', sink: 'sysdig' },
      notification: makeNotification({ count: 3 }),
      part: { index: 1, count: 1 },
      logger: capturingLogger().logger,
    };
    const spec: TemplateSpec = { keys: ['name'], format: 'text' };

    // Act
    const rendered = delivery.notification.alerts.map((alert) =>
      renderDeliveryTemplates(delivery, spec, { alert }),
    );

    // Assess
    expect(rendered).toEqual([0, 1, 2].map(() => ({ values: {}, notes: [] })));
    expect(built).not.toHaveBeenCalled();
  });

  it('should build again for another part or destination of the same notification, and not let a render change the data', () => {
    // Prepare
    const notification = makeNotification({ count: 2 });
    const spec: TemplateSpec = { keys: ['name'], format: 'text' };
    const logger = capturingLogger();
    const delivery = (name: string, index: number) => ({
      destination: { name, sink: 'sysdig', templates: { name: '{{ part.index }} {{ alerts | size }}' } },
      notification,
      part: { index, count: 2 },
      logger: logger.logger,
    });
    const first = delivery('a', 1);

    // Act
    const once = renderDeliveryTemplates(first, spec, { alert: notification.alerts[0] });
    const again = renderDeliveryTemplates(first, spec, { alert: notification.alerts[1] });
    const second = renderDeliveryTemplates(delivery('a', 2), spec);
    const other = renderDeliveryTemplates(delivery('b', 1), spec);

    // Assess
    expect([once.values.name, again.values.name, second.values.name, other.values.name]).toEqual([
      '1 2',
      '1 2',
      '2 2',
      '1 2',
    ]);
    expect(built).toHaveBeenCalledTimes(3);
    // The shared data is frozen: a render (or a filter) cannot change what the next render reads.
    const data = built.mock.results[0].value as { alerts: unknown[] };
    expect(Object.isFrozen(data) && Object.isFrozen(data.alerts) && Object.isFrozen(data.alerts[0])).toBe(
      true,
    );
    expect(logger.lines).toEqual([]);
  });
});

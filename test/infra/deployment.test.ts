import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../lib/config/load.ts';
import { INFRA } from '../../lib/infra/constants.ts';
import { DeploymentConfigError, deploymentSettings } from '../../lib/infra/deployment.ts';
import { generateFragments } from '../../lib/infra/fragments.ts';

const REGISTRY = ['console', 'ilert', 'pagerduty', 'sentry', 'slack', 'sysdig', 'webhook'];

function config(extra: string): ReturnType<typeof parseConfig> {
  return parseConfig(
    `${extra}\ndestinations:\n  - { name: audit, sink: webhook, url: 'https://hooks.example.com/a' }\n` +
      `  - { name: ops, sink: slack, tokenSecret: SLACK_TOKEN, channel: C0123456789 }\n`,
    'relay.yaml',
  );
}

describe('Function: deploymentSettings', () => {
  it('should deploy only the sinks the destinations use, in registry order, with the defaults', () => {
    // Act
    const settings = deploymentSettings(config(''), REGISTRY);

    // Assess
    expect(settings.sinks).toEqual(['slack', 'webhook']);
    expect(settings.sink.webhook).toEqual({
      maximumConcurrency: INFRA.sink.maximumConcurrency,
      memoryMb: 256,
    });
    expect(settings.sink.slack.memoryMb).toBe(256);
    expect(settings.ingest).toEqual({
      reservedConcurrency: INFRA.ingest.reservedConcurrency,
      accessLogRetentionDays: INFRA.ingest.accessLogRetentionDays,
    });
    expect(settings.pointInTimeRecovery).toBe(false);
  });

  it('should give Slack the renderer memory only when one of its destinations draws graphs', () => {
    // Prepare
    const text =
      'destinations:\n  - { name: ops, sink: slack, tokenSecret: SLACK_TOKEN, channel: C0123456789, ' +
      'graph: { prometheusUrl: "https://prometheus.example.com" } }\n';

    // Act
    const settings = deploymentSettings(parseConfig(text, 'relay.yaml'), REGISTRY);

    // Assess
    expect(settings.sink.slack.memoryMb).toBe(INFRA.sink.memoryMbBySink.slack);
  });

  it('should take reserved concurrency, access log retention, per-sink sizing and PITR from relay.yaml', () => {
    // Prepare
    const text =
      'ingest:\n  reservedConcurrency: 20\n  accessLogRetentionDays: 90\n' +
      'sinks:\n  webhook: { maximumConcurrency: 20 }\n  slack: { memoryMb: 1024 }\n' +
      'state: { pointInTimeRecovery: true }';

    // Act
    const settings = deploymentSettings(config(text), REGISTRY);
    const fragment = generateFragments(settings);

    // Assess
    expect(settings.ingest).toEqual({ reservedConcurrency: 20, accessLogRetentionDays: 90 });
    expect(fragment.functions.webhook.events?.[0]).toMatchObject({ sqs: { maximumConcurrency: 20 } });
    expect(fragment.functions.slack.memorySize).toBe(1024);
    expect(fragment.functions.ingest.reservedConcurrency).toBe(20);
    expect(fragment.resources.HttpApiAccessLogGroup.Properties.RetentionInDays).toBe(90);
    expect(fragment.resources.StateTable.Properties.PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: true,
    });
  });

  it('should generate no resource of a sink no destination uses', () => {
    // Act
    const fragment = generateFragments(deploymentSettings(config(''), REGISTRY));

    // Assess
    const names = [...Object.keys(fragment.resources), ...Object.keys(fragment.functions)].join(' ');
    for (const unused of ['Console', 'Ilert', 'Pagerduty', 'Sentry', 'Sysdig'])
      expect(names).not.toContain(unused);
    expect(Object.keys(fragment.functions).sort()).toEqual(['ingest', 'slack', 'webhook']);
    expect(fragment.functions.ingest.environment).not.toHaveProperty('QUEUE_URL_PAGERDUTY');
  });

  it.each([
    ['none', 'none'],
    ['0', 0],
  ])('should reserve no concurrency for ingest.reservedConcurrency: %s', (_text, value) => {
    // Prepare
    const text = `ingest:\n  reservedConcurrency: ${value}`;

    // Act
    const settings = deploymentSettings(config(text), REGISTRY);
    const fragment = generateFragments(settings);

    // Assess
    expect(settings.ingest.reservedConcurrency).toBeUndefined();
    expect(fragment.functions.ingest).not.toHaveProperty('reservedConcurrency');
  });

  it('should refuse sizing for a sink that is unknown or not used, and the removed stage throttle', () => {
    // Prepare
    const text =
      'ingest:\n  throttle: { rateLimit: 500, burstLimit: 100 }\nsinks:\n  pagerduty: {}\n  acme: {}';

    // Act
    const settings = () => deploymentSettings(config(text), REGISTRY);

    // Assess
    expect(settings).toThrow(DeploymentConfigError);
    expect(() => settings()).toThrow(/sinks\.pagerduty: no destination uses this sink/);
    expect(() => settings()).toThrow(/sinks\.acme: unknown sink/);
    expect(() => settings()).toThrow(/ingest\.throttle: removed; delete it\. A stage throttle answers 429/);
  });
});

describe('Schema: deployment fields of relay.yaml', () => {
  it.each([
    ['ingest:\n  reservedConcurrency: -1', 'ingest.reservedConcurrency'],
    ['ingest:\n  reservedConcurrency: all', 'ingest.reservedConcurrency'],
    ['ingest:\n  accessLogRetentionDays: 10', 'ingest.accessLogRetentionDays: must be one of 1, 3, 5, 7, 14'],
    ['sinks:\n  webhook: { maximumConcurrency: 1 }', 'sinks.webhook.maximumConcurrency'],
    ['sinks:\n  webhook: { memoryMb: 64 }', 'sinks.webhook.memoryMb'],
    ['sinks:\n  webhook: { concurrency: 3 }', 'sinks.webhook.concurrency: unknown field'],
    ['state: { pointInTimeRecovery: "yes" }', 'state.pointInTimeRecovery'],
  ])('should refuse %j naming %s', (text, path) => {
    // Act
    const parse = () => config(text);

    // Assess
    expect(parse).toThrow(ConfigError);
    expect(() => parse()).toThrow(path);
  });
});

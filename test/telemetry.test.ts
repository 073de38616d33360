import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CLOUDWATCH_METRICS,
  createLambdaTelemetry,
  LOCAL_ONLY_METRICS,
  metricLine,
} from '../lib/telemetry.ts';

const quietLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

function capture(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  return lines;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Function: createLambdaTelemetry', () => {
  it('should write a per-delivery count as one metric log line and no CloudWatch metric', () => {
    // Prepare
    const lines = capture();
    const telemetry = createLambdaTelemetry({ serviceName: 'slack', logger: quietLogger as never });

    // Act
    telemetry.count('Delivered', { sink: 'slack', destination: 'ops' });
    telemetry.milliseconds('DeliveryLatency', { sink: 'slack', destination: 'ops' }, 840);
    telemetry.count('NotificationsReceived', {});

    // Assess
    expect(lines).toEqual([
      '{"metric":"Delivered","value":1,"sink":"slack","destination":"ops"}',
      '{"metric":"DeliveryLatency","value":840,"sink":"slack","destination":"ops"}',
      '{"metric":"NotificationsReceived","value":1}',
    ]);
  });

  it('should also publish a CloudWatch metric (EMF) for what goes wrong', () => {
    // Prepare
    const lines = capture();
    const telemetry = createLambdaTelemetry({ serviceName: 'slack', logger: quietLogger as never });

    // Act
    telemetry.count('DeadLettered', { sink: 'slack', destination: 'ops' });

    // Assess
    expect(JSON.parse(lines[0])).toEqual({
      metric: 'DeadLettered',
      value: 1,
      sink: 'slack',
      destination: 'ops',
    });
    const emf = JSON.parse(lines[1]);
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'AlertmanagerRelay',
      Metrics: [{ Name: 'DeadLettered', Unit: 'Count' }],
    });
    expect(emf).toMatchObject({ DeadLettered: 1, sink: 'slack', destination: 'ops', service: 'slack' });
  });

  it('should keep every per-delivery count out of CloudWatch, where each series costs $0.30 a month', () => {
    // Assess
    for (const name of [
      'NotificationsReceived',
      'NotificationsRejected',
      'MessagesEnqueued',
      'Delivered',
      'DeliveryLatency',
      'DuplicatesSkipped',
      'Superseded',
    ] as const)
      expect(CLOUDWATCH_METRICS.has(name)).toBe(false);
  });
});

describe('Function: createLambdaTelemetry, waits and renewals', () => {
  it('should write neither a metric log line nor a CloudWatch metric for a wait or a renewal', () => {
    // Prepare
    const lines = capture();
    const telemetry = createLambdaTelemetry({ serviceName: 'slack', logger: quietLogger as never });
    const names = ['WaitDeferred', 'WaitRateLimited', 'WaitHeld', 'WaitOutOfTime', 'Renewed'] as const;

    // Act
    for (const name of names) telemetry.count(name, { sink: 'slack', destination: 'ops' });

    // Assess
    expect(lines).toEqual([]);
    expect([...LOCAL_ONLY_METRICS].sort()).toEqual([...names].sort());
    for (const name of names) expect(CLOUDWATCH_METRICS.has(name)).toBe(false);
  });
});

describe('Function: metricLine', () => {
  it('should leave out the dimensions a metric does not have', () => {
    // Act
    const line = metricLine('NotificationsUnrouted', {}, 3);

    // Assess
    expect(line).toBe('{"metric":"NotificationsUnrouted","value":3}');
  });
});

describe('Function: createLambdaTelemetry, metrics disabled', () => {
  it("should write nothing when Powertools' POWERTOOLS_METRICS_DISABLED is true", () => {
    // Prepare
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const lines = capture();
    const telemetry = createLambdaTelemetry({ serviceName: 'slack', logger: quietLogger as never });

    // Act
    telemetry.count('DeadLettered', { sink: 'slack', destination: 'ops' });
    telemetry.count('Delivered', { sink: 'slack', destination: 'ops' });

    // Assess
    expect(lines).toEqual([]);
    vi.unstubAllEnvs();
  });
});

import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SinkLogger, SinkMetricName } from './delivery/sink.ts';

/** CloudWatch namespace of the relay's EMF metrics (CLOUDWATCH_METRICS; the dashboard reads these). */
export const METRIC_NAMESPACE = 'AlertmanagerRelay';

/** The relay's metrics; the words match docs/architecture.md and the dashboard. */
export type MetricName =
  | 'NotificationsReceived'
  | 'NotificationsRejected'
  | 'NotificationsUnrouted'
  | 'MessagesEnqueued'
  | 'Delivered'
  | 'Retried'
  | 'DeadLettered'
  | 'DuplicatesSkipped'
  | 'Superseded'
  | 'DeliveryLatency'
  /** Ingest recorded a heartbeat of the watchdog's always-firing alert (lib/watchdog, docs/watchdog.md). */
  | 'WatchdogHeartbeats'
  /**
   * A record handed back without a failed attempt (lib/delivery/record-handler.ts): the sink
   * deferred it (its pacing, a storm digest's next edit), the vendor rate limited it, it was held
   * behind a group-mate handed back before it, or the function's time ran out. See LOCAL_ONLY_METRICS.
   */
  | 'WaitDeferred'
  | 'WaitRateLimited'
  | 'WaitHeld'
  | 'WaitOutOfTime'
  /** A record renewed at the queue's receive limit: a fresh copy sent in its place. See LOCAL_ONLY_METRICS. */
  | 'Renewed'
  | SinkMetricName;

export interface MetricDimensions {
  sink?: string;
  destination?: string;
}

/** The minimal error reporter the relay needs from Sentry (@sentry/aws-serverless satisfies it). */
export interface ErrorReporter {
  captureException(error: unknown, hint?: { tags?: Record<string, string> }): unknown;
}

/** Logs, metrics and error reports: Powertools + EMF on AWS, in-memory counters locally. */
export interface Telemetry {
  readonly logger: Logger;
  count(name: MetricName, dimensions: MetricDimensions, value?: number): void;
  milliseconds(name: MetricName, dimensions: MetricDimensions, value: number): void;
  /** The relay's own unexpected errors (not a vendor's 5xx): to the log and, when configured, Sentry. */
  reportError(error: unknown, context: Record<string, string | number | undefined>): void;
}

export function createLogger(serviceName: string, logLevel?: string): Logger {
  return new Logger({
    serviceName,
    logLevel: (
      logLevel ??
      process.env.LOG_LEVEL ??
      process.env.POWERTOOLS_LOG_LEVEL ??
      'INFO'
    ).toUpperCase() as LogLevel,
  });
}

function reportTo(logger: Logger, reporter: ErrorReporter | undefined) {
  return (error: unknown, context: Record<string, string | number | undefined>) => {
    logger.error('unexpected error', { ...context, error: error as Error });
    if (!reporter) return;
    const tags: Record<string, string> = {};
    for (const [key, value] of Object.entries(context)) if (value !== undefined) tags[key] = String(value);
    reporter.captureException(error, { tags });
  };
}

/**
 * The metrics that become CloudWatch metrics (EMF). CloudWatch bills each metric series, one per
 * name and dimension set, $0.30 for every month in which it is published, prorated by the hour
 * it is published in (https://aws.amazon.com/cloudwatch/pricing/). So only events that nothing
 * AWS publishes for free can say, and that happen when something goes wrong, are here: in a
 * healthy month none of them is published and they cost nothing; in an outage, cents. Every
 * per-delivery count (received, enqueued, delivered, latency, duplicates, superseded) would be a
 * series per destination published every hour, $0.30 each a month, and each has a free
 * counterpart on the dashboard: API Gateway's Count, 4xx and 5xx; SQS's NumberOfMessagesSent
 * and NumberOfMessagesDeleted per sink queue; and per destination the metric log lines below,
 * read by the dashboard's Logs Insights widgets (lib/infra/dashboard.ts).
 *
 * One exception is published while all is well: `WatchdogHeartbeats`, in a stack whose relay.yaml
 * has a `watchdog:` block, about once a minute (one series, $0.30 a month). Its alarm
 * (lib/infra/alarms.ts) fires when it stops: an alarm can only watch for missing data on a
 * metric CloudWatch has.
 */
export const CLOUDWATCH_METRICS: ReadonlySet<MetricName> = new Set<MetricName>([
  'NotificationsUnrouted',
  'WatchdogHeartbeats',
  'Retried',
  'DeadLettered',
  'TemplateFailed',
  'GraphsSkipped',
  'StormStarted',
  'GroupsFolded',
  'GroupsBackfilled',
]);

/**
 * Counted where the runtime keeps counts (`npm start`: /healthz's counters and /metrics), and
 * nowhere on AWS: neither a CloudWatch metric nor a metric log line. Waits and renewals are not
 * failures (no alarm or dashboard reads them), and a paced chat destination can wait many times in a
 * burst: a line each would add to every stack's log bytes for nothing that reads them.
 * Their log lines (info) say the same where the log level lets them through.
 */
export const LOCAL_ONLY_METRICS: ReadonlySet<MetricName> = new Set<MetricName>([
  'WaitDeferred',
  'WaitRateLimited',
  'WaitHeld',
  'WaitOutOfTime',
  'Renewed',
]);

/**
 * One metric as a compact JSON log line, whatever the log level (like EMF, which it replaces for
 * the per-delivery counts): billed per byte ingested (about 80 bytes), queried by Logs Insights:
 * `filter ispresent(metric) | stats sum(value) by destination, metric`.
 */
export interface MetricLine {
  metric: MetricName;
  value: number;
  sink?: string;
  destination?: string;
}

/** The line metricLine writes, without its newline. */
export function metricLine(name: MetricName, dimensions: MetricDimensions, value: number): string {
  const line: MetricLine = { metric: name, value };
  if (dimensions.sink) line.sink = dimensions.sink;
  if (dimensions.destination) line.destination = dimensions.destination;
  return JSON.stringify(line);
}

/**
 * Lambda telemetry: every count and duration (but LOCAL_ONLY_METRICS) is a metric log line on
 * stdout; those in CLOUDWATCH_METRICS are also an EMF record (Powertools singleMetric: one record per metric,
 * because one batch carries records for several destinations, each its own dimension set).
 */
export function createLambdaTelemetry(options: {
  serviceName: string;
  reporter?: ErrorReporter;
  logger?: Logger;
}): Telemetry {
  const logger = options.logger ?? createLogger(options.serviceName);
  // Powertools' own switch for its EMF output turns the metric log lines off too (tests use it).
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED?.toLowerCase() === 'true';
  // Made at the first CloudWatch metric, not at init: a cold start does not need it before a request.
  let metrics: Metrics | undefined;
  const emit = (
    name: MetricName,
    dimensions: MetricDimensions,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
  ) => {
    if (disabled || LOCAL_ONLY_METRICS.has(name)) return;
    // stdout is what Lambda sends to the function's log group, as Powertools' EMF records are.
    process.stdout.write(`${metricLine(name, dimensions, value)}\n`);
    if (!CLOUDWATCH_METRICS.has(name)) return;
    metrics ??= new Metrics({ namespace: METRIC_NAMESPACE, serviceName: options.serviceName });
    const single = metrics.singleMetric();
    for (const [key, dimension] of Object.entries(dimensions))
      if (dimension) single.addDimension(key, dimension);
    single.addMetric(name, unit, value);
  };
  return {
    logger,
    count: (name, dimensions, value = 1) => emit(name, dimensions, MetricUnit.Count, value),
    milliseconds: (name, dimensions, value) => emit(name, dimensions, MetricUnit.Milliseconds, value),
    reportError: reportTo(logger, options.reporter),
  };
}

/** Local telemetry: counters kept in memory, shown by `GET /healthz` and read by tests. */
export class CountingTelemetry implements Telemetry {
  readonly logger: Logger;
  readonly #counts = new Map<string, number>();
  readonly #reportError: Telemetry['reportError'];

  constructor(options: { logger: Logger; reporter?: ErrorReporter }) {
    this.logger = options.logger;
    this.#reportError = reportTo(options.logger, options.reporter);
  }

  count(name: MetricName, dimensions: MetricDimensions, value = 1): void {
    const key = dimensions.destination ? `${name}.${dimensions.destination}` : name;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + value);
    if (dimensions.destination) this.#counts.set(name, (this.#counts.get(name) ?? 0) + value);
  }

  milliseconds(): void {}

  reportError(error: unknown, context: Record<string, string | number | undefined>): void {
    this.#reportError(error, context);
  }

  /** `Delivered` (all destinations) and `Delivered.<destination>`, etc. */
  get(name: MetricName, destination?: string): number {
    return this.#counts.get(destination ? `${name}.${destination}` : name) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** A Powertools logger seen through the small SinkLogger interface, with fixed context on every line. */
export function contextLogger(logger: Logger, context: Record<string, unknown> = {}): SinkLogger {
  return {
    debug: (message, extra) => logger.debug(message, { ...context, ...extra }),
    info: (message, extra) => logger.info(message, { ...context, ...extra }),
    warn: (message, extra) => logger.warn(message, { ...context, ...extra }),
    error: (message, extra) => logger.error(message, { ...context, ...extra }),
  };
}

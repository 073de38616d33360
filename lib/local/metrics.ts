import { readFileSync } from 'node:fs';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricDimensions, MetricName, Telemetry } from '../telemetry.ts';

/** Every metric of the local runtime starts with this, as Alertmanager's own start with `alertmanager_`. */
export const METRIC_PREFIX = 'alertmanager_relay_';

/**
 * Label value for a destination or sink the config does not name (a queue message of a destination
 * since removed, an unparseable message). Labels only ever carry configured names, the sink
 * registry's names, a fixed word or an HTTP status: nothing a notification says becomes a label,
 * so a hostile or high-cardinality alert cannot grow the series count.
 */
export const UNKNOWN_LABEL = 'unknown';

/**
 * What happened to a queue message, as `alertmanager_relay_notifications_total{outcome}` counts it.
 * `superseded` counts only what a lifecycle sink skipped; an event-log sink delivers a superseded
 * notification, marked, and it is counted as `delivered`.
 */
export const OUTCOMES = ['delivered', 'retried', 'dead_lettered', 'duplicate', 'superseded'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * Why a message was handed back without a failed attempt (`alertmanager_relay_waits_total{reason}`):
 * the sink deferred it (its pacing, a storm digest's next edit), the vendor rate limited it, it was
 * held behind a group-mate handed back before it, or the function's time ran out.
 */
export const WAIT_REASONS = ['deferred', 'rate_limited', 'held', 'out_of_time'] as const;
export type WaitReason = (typeof WAIT_REASONS)[number];

/** The queue states of `alertmanager_relay_queue_messages{state}`. */
export const QUEUE_STATES = ['visible', 'in_flight', 'delayed'] as const;

/** Statuses the server answers on `POST /alertmanager`; their series exist (at 0) from the start. */
export const INGEST_CODES = [202, 400, 401, 405, 413, 415, 500, 503] as const;

/** A Telemetry metric name this module maps onto a Prometheus metric: every one. */
export type RelayMetricName = MetricName;

/**
 * One destination's share of its sink's queue and DLQ, as the runtime reads them at a scrape.
 * The queue is per sink; its message groups are per destination.
 */
export interface DestinationQueueState {
  destination: string;
  /** The sink whose queue holds these messages. */
  sink: string;
  /** Ready to be received (including messages behind an in-flight group-mate). */
  visible: number;
  /** Received by a worker and being handled. */
  inFlight: number;
  /** Handed back with a visibility in the future: a retry's backoff or a wait. */
  delayed: number;
  /** Epoch ms when the oldest message still on the queue was sent to it; absent when it has none. */
  oldestSentAt?: number;
  /** Messages in its sink's DLQ. */
  deadLetters: number;
}

/**
 * Reads every destination's queue state, synchronously (node:sqlite is synchronous). It may throw
 * (a full disk, a corrupt page): the scrape then shows no queue series and counts the failure in
 * `alertmanager_relay_queue_read_failures_total`, rather than failing.
 */
export type QueueStateReader = () => Iterable<DestinationQueueState>;

export interface RelayMetricsOptions {
  /** The configured destinations: the only destination label values, each with its sink. */
  destinations: readonly { name: string; sink: string }[];
  /** The relay's version for `alertmanager_relay_build_info` (default: package.json's). */
  version?: string;
  /** Read at each scrape for the queue gauges; without it they are not exposed. */
  queueState?: QueueStateReader;
  /** Node's process and runtime metrics (process_*, nodejs_*); default true. */
  defaultMetrics?: boolean;
  /** Epoch ms, for the oldest message's age. */
  now?: () => number;
}

/**
 * Latency buckets from ingest's 202 to the vendor's answer: a direct delivery takes tens of
 * milliseconds, a retry after backoff tens of seconds to minutes (5, 20, 80, 320 s), a paced or
 * rate-limited one minutes.
 */
export const LATENCY_BUCKETS_SECONDS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
] as const;

type Labelled = 'destination' | 'sink';
/** Where a Telemetry name lands: a counter without labels, or one by destination and sink (and fixed labels). */
type CounterTarget =
  | { counter: Counter; labelled: false }
  | { counter: Counter<string>; labelled: true; fixed?: Record<string, string> };

/**
 * The local runtime's Prometheus metrics, in one prom-client Registry of its own (never the
 * global one, so two relays in one process, as in the tests, do not mix).
 *
 * Fed three ways: as a Telemetry (`observe(telemetry)` wraps the runtime's CountingTelemetry, so
 * every count the handlers make also lands here), by the server (`ingestAnswered(status)`), and
 * at each scrape by the runtime's queue reader (gauges). `exposition()` is the body of
 * `GET /metrics`.
 *
 * @example
 * const metrics = new RelayMetrics({ destinations: config.destinations, queueState: () => readQueues() });
 * const telemetry = metrics.observe(new CountingTelemetry({ logger }));
 * // ... the handlers count through `telemetry`; the server calls metrics.ingestAnswered(202)
 * const { contentType, body } = await metrics.exposition();
 */
export class RelayMetrics {
  readonly registry = new Registry();
  readonly #destinations: ReadonlyMap<string, string>;
  readonly #sinks: ReadonlySet<string>;
  readonly #now: () => number;
  readonly #byName: ReadonlyMap<RelayMetricName, CounterTarget>;
  readonly #ingestRequests: Counter<'code'>;
  readonly #latency: Histogram<Labelled>;

  constructor(options: RelayMetricsOptions) {
    this.#destinations = new Map(options.destinations.map((d) => [d.name, d.sink]));
    this.#sinks = new Set(options.destinations.map((d) => d.sink));
    this.#now = options.now ?? Date.now;
    const registers = [this.registry];
    const perDestination = ['destination', 'sink'] as const;

    const notifications = new Counter({
      name: `${METRIC_PREFIX}notifications_total`,
      help: 'Queue messages handled by a sink, by outcome: delivered, retried (a failed attempt), dead_lettered, duplicate (skipped), superseded (skipped by a lifecycle sink).',
      labelNames: [...perDestination, 'outcome'],
      registers,
    });
    this.#latency = new Histogram({
      name: `${METRIC_PREFIX}notification_latency_seconds`,
      help: "Time from ingest's acceptance of a notification to the vendor's acknowledgement of its delivery.",
      labelNames: perDestination,
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    const waits = new Counter({
      name: `${METRIC_PREFIX}waits_total`,
      help: 'Queue messages handed back without a failed attempt, by reason: deferred, rate_limited, held (behind a group-mate), out_of_time.',
      labelNames: [...perDestination, 'reason'],
      registers,
    });
    const perDestinationCounter = (name: string, help: string) =>
      new Counter({ name: `${METRIC_PREFIX}${name}`, help, labelNames: perDestination, registers });
    const plainCounter = (name: string, help: string) =>
      new Counter({ name: `${METRIC_PREFIX}${name}`, help, registers });

    const renewals = perDestinationCounter(
      'renewals_total',
      "Queue messages renewed near the queue's receive limit without failing (waiting there, or in a batch with a crash loop): a fresh copy sent in their place.",
    );
    const enqueued = perDestinationCounter(
      'messages_enqueued_total',
      "Queue messages ingest put on a sink's queue (a notification split to fit is several).",
    );
    const received = plainCounter(
      'notifications_received_total',
      'Alertmanager notifications ingest accepted (answered 202).',
    );
    const rejected = plainCounter(
      'notifications_rejected_total',
      'Requests to POST /alertmanager refused with a 4xx: bad token, type, size or payload.',
    );
    const unrouted = plainCounter(
      'notifications_unrouted_total',
      "Accepted notifications that matched no destination's matchers.",
    );
    const heartbeats = plainCounter(
      'watchdog_heartbeats_total',
      "Notifications carrying the watchdog's always-firing alert, recorded as heartbeats (docs/watchdog.md).",
    );
    const stormsStarted = perDestinationCounter(
      'storms_started_total',
      'Alert storms started on a chat destination: new groups fold into one digest.',
    );
    const stormsEnded = perDestinationCounter(
      'storms_ended_total',
      'Alert storms that calmed down: the digest shows its final summary.',
    );
    const digests = perDestinationCounter(
      'storm_digests_posted_total',
      "Storm digests posted to a chat destination: a storm's first digest message (its later updates are not counted).",
    );
    const folded = perDestinationCounter(
      'storm_groups_folded_total',
      "Alert groups folded into a storm's digest instead of getting a message of their own.",
    );
    const backfilled = perDestinationCounter(
      'storm_groups_backfilled_total',
      'Alert groups still firing after a storm, requeued to get a message of their own.',
    );
    const graphsSkipped = perDestinationCounter(
      'graphs_skipped_total',
      'Slack graph images not attached (Prometheus unreachable, no data, upload refused).',
    );
    const templateFailures = perDestinationCounter(
      'template_failures_total',
      "Deliveries whose destination template failed and fell back to the sink's default text.",
    );

    const outcome = (value: Outcome): CounterTarget => ({
      counter: notifications,
      labelled: true,
      fixed: { outcome: value },
    });
    const wait = (reason: WaitReason): CounterTarget => ({
      counter: waits,
      labelled: true,
      fixed: { reason },
    });
    const labelled = (counter: Counter<Labelled>): CounterTarget => ({ counter, labelled: true });
    const plain = (counter: Counter): CounterTarget => ({ counter, labelled: false });
    // Every name the handlers count (a new MetricName without a line here fails to compile).
    const byName: Record<Exclude<RelayMetricName, 'DeliveryLatency'>, CounterTarget> = {
      Delivered: outcome('delivered'),
      Retried: outcome('retried'),
      DeadLettered: outcome('dead_lettered'),
      DuplicatesSkipped: outcome('duplicate'),
      Superseded: outcome('superseded'),
      WaitDeferred: wait('deferred'),
      WaitRateLimited: wait('rate_limited'),
      WaitHeld: wait('held'),
      WaitOutOfTime: wait('out_of_time'),
      Renewed: labelled(renewals),
      MessagesEnqueued: labelled(enqueued),
      NotificationsReceived: plain(received),
      NotificationsRejected: plain(rejected),
      NotificationsUnrouted: plain(unrouted),
      WatchdogHeartbeats: plain(heartbeats),
      StormStarted: labelled(stormsStarted),
      StormEnded: labelled(stormsEnded),
      DigestPosted: labelled(digests),
      GroupsFolded: labelled(folded),
      GroupsBackfilled: labelled(backfilled),
      GraphsSkipped: labelled(graphsSkipped),
      TemplateFailed: labelled(templateFailures),
    };
    this.#byName = new Map(Object.entries(byName) as [RelayMetricName, CounterTarget][]);

    this.#ingestRequests = new Counter({
      name: `${METRIC_PREFIX}ingest_requests_total`,
      help: 'Requests to POST /alertmanager, by the HTTP status answered.',
      labelNames: ['code'],
      registers,
    });

    new Gauge({
      name: `${METRIC_PREFIX}build_info`,
      help: "The relay's version; always 1.",
      labelNames: ['version'],
      registers,
    }).set({ version: options.version ?? packageVersion() }, 1);

    // Every series this relay can have exists from the start at 0, so rate() and increase() see
    // the first event, and an alert on a ratio has both sides.
    for (const code of INGEST_CODES) this.#ingestRequests.inc({ code: String(code) }, 0);
    const perDestinationCounters = [
      renewals,
      enqueued,
      stormsStarted,
      stormsEnded,
      digests,
      folded,
      backfilled,
      graphsSkipped,
      templateFailures,
    ];
    for (const [destination, sink] of this.#destinations) {
      const labels = { destination, sink };
      for (const value of OUTCOMES) notifications.inc({ ...labels, outcome: value }, 0);
      for (const reason of WAIT_REASONS) waits.inc({ ...labels, reason }, 0);
      this.#latency.zero(labels);
      for (const counter of perDestinationCounters) counter.inc(labels, 0);
    }
    for (const counter of [received, rejected, unrouted, heartbeats]) counter.inc(0);

    if (options.queueState) this.#queueGauges(options.queueState, registers);
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named like counters, which `promtool check metrics` refuses; each is the sum over
      // `type` of the series without `_total` (nodejs_active_handles{type}, ...), which stay.
      for (const name of LINT_FAILING_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
  }

  /**
   * A Telemetry that counts into both `inner` (the runtime's CountingTelemetry behind /healthz)
   * and these metrics. Its logger and error reporting are inner's.
   */
  observe(inner: Telemetry): Telemetry {
    return {
      logger: inner.logger,
      count: (name, dimensions, value) => {
        inner.count(name, dimensions, value);
        this.count(name, dimensions, value);
      },
      milliseconds: (name, dimensions, value) => {
        inner.milliseconds(name, dimensions, value);
        this.milliseconds(name, dimensions, value);
      },
      reportError: (error, context) => inner.reportError(error, context),
    };
  }

  /** Telemetry's count: the metric `name` maps to, incremented by `value` (default 1). */
  count(name: RelayMetricName, dimensions: MetricDimensions, value = 1): void {
    const target = this.#byName.get(name);
    // A counter only goes up; a negative or non-finite count is a caller's bug, not a metric.
    if (!target || !Number.isFinite(value) || value < 0) return;
    if (target.labelled) target.counter.inc({ ...this.#labels(dimensions), ...target.fixed }, value);
    else target.counter.inc(value);
  }

  /** Telemetry's milliseconds: `DeliveryLatency` into the latency histogram, in seconds. */
  milliseconds(name: RelayMetricName, dimensions: MetricDimensions, value: number): void {
    if (name !== 'DeliveryLatency' || !Number.isFinite(value) || value < 0) return;
    this.#latency.observe(this.#labels(dimensions), value / 1000);
  }

  /** The server answered `POST /alertmanager` with `status`. */
  ingestAnswered(status: number): void {
    const code = Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : 'other';
    this.#ingestRequests.inc({ code });
  }

  /** The body of `GET /metrics` and its Content-Type (Prometheus text format 0.0.4). */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * Configured names only (see UNKNOWN_LABEL): a sink no destination uses is `unknown`, and so is
   * a destination the config does not name for that sink.
   */
  #labels(dimensions: MetricDimensions): Record<Labelled, string> {
    const sink =
      dimensions.sink !== undefined && this.#sinks.has(dimensions.sink) ? dimensions.sink : UNKNOWN_LABEL;
    const destination = dimensions.destination;
    const configured = destination !== undefined && this.#destinations.get(destination) === sink;
    return { destination: configured ? destination : UNKNOWN_LABEL, sink };
  }

  #queueGauges(read: QueueStateReader, registers: Registry[]): void {
    const failures = new Counter({
      name: `${METRIC_PREFIX}queue_read_failures_total`,
      help: 'Scrapes at which the queue could not be read (its gauges were left out of that scrape).',
      registers,
    });
    failures.inc(0);
    // Each gauge's collect runs at every scrape; the queue is read once per scrape, by the first
    // of them, and what it read is kept until the scrape's synchronous pass over the metrics ends
    // (prom-client calls every collect in one pass before it awaits anything).
    let pending: Map<string, DestinationQueueState> | 'failed' | undefined;
    const snapshot = () => {
      if (pending === undefined) {
        try {
          pending = this.#aggregate(read());
        } catch {
          failures.inc();
          pending = 'failed';
        }
        queueMicrotask(() => {
          pending = undefined;
        });
      }
      return pending;
    };
    const perDestination = ['destination', 'sink'] as const;
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      fill: (self: Gauge<L>, state: DestinationQueueState) => void,
    ) =>
      new Gauge<L>({
        name: `${METRIC_PREFIX}${name}`,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          const states = snapshot();
          if (states === 'failed') return;
          for (const state of states.values()) fill(this, state);
        },
      });

    gauge(
      'queue_messages',
      "Messages on a destination's share of its sink's queue, by state: visible (ready), in_flight (being handled), delayed (waiting for a retry or a wait).",
      [...perDestination, 'state'],
      (self, { destination, sink, ...state }) => {
        self.set({ destination, sink, state: 'visible' }, state.visible);
        self.set({ destination, sink, state: 'in_flight' }, state.inFlight);
        self.set({ destination, sink, state: 'delayed' }, state.delayed);
      },
    );
    gauge(
      'oldest_message_age_seconds',
      "Age of the oldest message on a destination's share of its sink's queue, since it was sent to the queue; 0 when it has none.",
      perDestination,
      (self, { destination, sink, oldestSentAt }) => {
        const age = oldestSentAt === undefined ? 0 : Math.max(0, (this.#now() - oldestSentAt) / 1000);
        self.set({ destination, sink }, age);
      },
    );
    gauge(
      'dead_letters',
      "Messages of a destination in its sink's dead-letter queue.",
      perDestination,
      (self, { destination, sink, deadLetters }) => self.set({ destination, sink }, deadLetters),
    );
  }

  /**
   * Every configured destination (at 0 when the reader did not mention it), plus per sink an
   * `unknown` destination that sums what the reader reported for destinations the config does not
   * name for that sink; labelled as #labels labels a count.
   */
  #aggregate(states: Iterable<DestinationQueueState>): Map<string, DestinationQueueState> {
    const empty = ({ destination, sink }: Record<Labelled, string>): DestinationQueueState => ({
      destination,
      sink,
      visible: 0,
      inFlight: 0,
      delayed: 0,
      deadLetters: 0,
    });
    const key = ({ destination, sink }: Record<Labelled, string>) => JSON.stringify([sink, destination]);
    const sums = new Map(
      [...this.#destinations].map(([destination, sink]) => [
        key({ destination, sink }),
        empty({ destination, sink }),
      ]),
    );
    for (const state of states) {
      const labels = this.#labels(state);
      const sum = sums.get(key(labels)) ?? empty(labels);
      sum.visible += finite(state.visible);
      sum.inFlight += finite(state.inFlight);
      sum.delayed += finite(state.delayed);
      sum.deadLetters += finite(state.deadLetters);
      if (state.oldestSentAt !== undefined && Number.isFinite(state.oldestSentAt))
        sum.oldestSentAt = Math.min(sum.oldestSentAt ?? state.oldestSentAt, state.oldestSentAt);
      sums.set(key(labels), sum);
    }
    return sums;
  }
}

/** prom-client's default gauges that end in `_total` (see the constructor). */
const LINT_FAILING_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

function finite(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return String((JSON.parse(text) as { version?: unknown }).version ?? UNKNOWN_LABEL);
}

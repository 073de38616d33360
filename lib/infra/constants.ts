import { DELIVERY_POLICY } from '../delivery/policy.ts';

/**
 * Every number the deployed relay depends on, in one place: lib/infra generates the
 * functions, queues and roles from these, and test/infra checks the packaged template
 * against them.
 */
export interface InfraConstants {
  readonly runtime: string;
  readonly architecture: 'arm64' | 'x86_64';
  readonly ingest: {
    readonly timeoutSeconds: number;
    readonly memoryMb: number;
    /** Default of `ingest.reservedConcurrency` in relay.yaml. */
    readonly reservedConcurrency: number;
    /** Concurrency Lambda keeps unreserved in every account: a reservation needs the quota above it. */
    readonly unreservedConcurrencyFloor: number;
    /** Default of `ingest.accessLogRetentionDays`: the HTTP API stage's access log. */
    readonly accessLogRetentionDays: number;
  };
  readonly sink: {
    readonly timeoutSeconds: number;
    /** Default memory of a sink function; `memoryMbBySink` and relay.yaml `sinks.<sink>.memoryMb` override it. */
    readonly memoryMb: number;
    readonly memoryMbBySink: Readonly<Record<string, number>>;
    readonly batchSize: number;
    readonly maximumBatchingWindowSeconds: number;
    /** Default of relay.yaml `sinks.<sink>.maximumConcurrency`. */
    readonly maximumConcurrency: number;
  };
  readonly queue: {
    readonly retentionSeconds: number;
    readonly maxReceiveCount: number;
    readonly visibilityTimeoutFactor: number;
  };
  readonly deadLetterQueue: { readonly retentionSeconds: number };
  /** The watchdog's scheduled check (only with a `watchdog:` block in relay.yaml). */
  readonly watchdog: {
    readonly timeoutSeconds: number;
    readonly memoryMb: number;
    /** The EventBridge rule's schedule expression. */
    readonly schedule: string;
  };
  readonly logs: { readonly retentionDays: number };
  /** Default of relay.yaml `state.pointInTimeRecovery`. */
  readonly stateTable: { readonly pointInTimeRecovery: boolean };
}

export const INFRA: InfraConstants = {
  runtime: 'nodejs24.x',
  architecture: 'arm64',
  ingest: {
    // Alertmanager waits for our answer; API Gateway HTTP APIs cut integrations off at 30 s
    // anyway: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
    timeoutSeconds: 10,
    // I/O-bound (parse, route, one SendMessageBatch per sink); 256 MB is about 0.15 vCPU, which
    // runs the handler's ~0.3 ms of CPU at 100 alerts in ~2 ms (BENCHMARKS.md). Lambda bills
    // GB-s, so half the memory is half the compute cost:
    // https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
    memoryMb: 256,
    // The only ceiling in front of the bearer check (docs/operations.md, "Security model of the
    // endpoint"): there is no stage throttle, because API Gateway answers a throttled request
    // 429 and Alertmanager drops a 429, so anyone who found the URL could drain a bucket and make
    // Alertmanager lose real notifications. Past the reservation Lambda throttles, API Gateway
    // answers 500 ("If the Lambda API rejects the invocation request, API Gateway returns a 500":
    // https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html) and
    // Alertmanager retries every 5xx (notify/util.go, Retrier.Check). It also bounds what a flood
    // costs per second and keeps a flood from starving the sink functions of the account.
    // relay.yaml `ingest.reservedConcurrency: none` removes it.
    reservedConcurrency: 50,
    // "Lambda reserves 100 units of concurrency for functions that don't explicitly reserve
    // concurrency": https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
    unreservedConcurrencyFloor: 100,
    // Access logs are for reading what was rejected and by whom, days after; two weeks covers a
    // holiday, and each request writes about 250 bytes (billed per byte ingested and stored).
    accessLogRetentionDays: 14,
  },
  sink: {
    // Long enough for a slow vendor plus a Prometheus query for a graph; every extra second
    // is six more seconds of visibility timeout before a crashed batch is retried.
    timeoutSeconds: 30,
    // Waiting on a vendor is most of a sink's time; measured peak RSS of a delivery is far under
    // 256 MB. The Slack renderer (resvg wasm + font) peaks at ~190 MiB VmHWM for 20 charts of 8
    // series against ~62 MiB for Node idle (docs/operations.md, "Limits"), so Slack gets 512
    // when one of its destinations draws graphs (lib/infra/deployment.ts), 256 otherwise.
    memoryMb: 256,
    memoryMbBySink: { slack: 512 },
    // FIFO event source mappings take at most 10 messages per batch:
    // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
    batchSize: 10,
    // Lambda does not support a batching window for FIFO queues (same page); kept as a
    // number so the visibility formula stays lift's.
    maximumBatchingWindowSeconds: 0,
    // Per-sink cap on concurrent batches so a storm does not trip vendor rate limits.
    // Lambda accepts 2..1000:
    // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
    maximumConcurrency: 5,
  },
  queue: {
    // 4 days is the SQS default; the DLQ must keep a message longer than its source does.
    retentionSeconds: 4 * 24 * 60 * 60,
    // The delivery policy's receive backstop (lib/delivery/policy.ts), far above its attempts:
    // the relay counts failed attempts itself and dead-letters the last one with its reason;
    // the redrive policy only catches a function that keeps crashing.
    maxReceiveCount: DELIVERY_POLICY.receiveBackstop,
    // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html: "at least
    // six times the timeout that you configure on your function".
    visibilityTimeoutFactor: 6,
  },
  deadLetterQueue: {
    // The SQS maximum, 14 days. AWS: make a DLQ's retention longer than its source queue's:
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
    retentionSeconds: 14 * 24 * 60 * 60,
  },
  watchdog: {
    // A check is one consistent read of the watchdog's record, and on a page a write or three and
    // one SendMessageBatch per sink; 30 s leaves room for a slow SQS or DynamoDB and a cold start.
    timeoutSeconds: 30,
    // I/O only, 1,440 invocations a day; the smallest size Lambda has.
    memoryMb: 128,
    // EventBridge's finest rate (a minute is singular): a page is at most a minute late on AWS.
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
    schedule: 'rate(1 minute)',
  },
  logs: {
    retentionDays: 30,
  },
  stateTable: {
    // The table holds records that expire within 7-30 days and rebuild themselves (a lost
    // delivery record means at most one duplicate delivery); PITR is billed per GB-month.
    pointInTimeRecovery: false,
  },
};

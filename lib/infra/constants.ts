import { DELIVERY_POLICY } from '../delivery/policy.ts';

/**
 * Every number the deployed relay depends on, in one place: lib/infra generates the
 * functions, queues and roles from these, and test/infra checks the packaged template
 * against them.
 */
export interface InfraConstants {
  readonly runtime: string;
  readonly architecture: 'arm64' | 'x86_64';
  readonly ingest: { readonly timeoutSeconds: number; readonly memoryMb: number };
  readonly sink: {
    readonly timeoutSeconds: number;
    readonly memoryMb: number;
    readonly batchSize: number;
    readonly maximumBatchingWindowSeconds: number;
    readonly maximumConcurrency: number;
  };
  readonly queue: {
    readonly retentionSeconds: number;
    readonly maxReceiveCount: number;
    readonly visibilityTimeoutFactor: number;
  };
  readonly deadLetterQueue: { readonly retentionSeconds: number };
  readonly logs: { readonly retentionDays: number };
}

export const INFRA: InfraConstants = {
  runtime: 'nodejs24.x',
  architecture: 'arm64',
  ingest: {
    // Alertmanager waits for our answer; API Gateway HTTP APIs cut integrations off at 30 s
    // anyway: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
    timeoutSeconds: 10,
    memoryMb: 512,
  },
  sink: {
    // Long enough for a slow vendor plus a Prometheus query for a graph; every extra second
    // is six more seconds of visibility timeout before a crashed batch is retried.
    timeoutSeconds: 30,
    memoryMb: 512,
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
  logs: {
    retentionDays: 30,
  },
};

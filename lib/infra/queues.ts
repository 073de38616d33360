import type { CfnOutput, CfnResource } from './cloudformation.ts';
import { getAtt, ref } from './cloudformation.ts';
import { INFRA, type InfraConstants } from './constants.ts';
import type { SinkNames } from './names.ts';

/**
 * The visibility timeout of a queue a Lambda function consumes, as lift computes it: six
 * times the function timeout plus the batching window, so a batch that is still being
 * processed (or retried after a throttle) does not reappear to a second invocation.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 *
 * @example visibilityTimeoutSeconds(30, 0) // 180
 */
export function visibilityTimeoutSeconds(
  functionTimeoutSeconds: number,
  maximumBatchingWindowSeconds: number,
  factor: number = INFRA.queue.visibilityTimeoutFactor,
): number {
  return factor * functionTimeoutSeconds + maximumBatchingWindowSeconds;
}

/**
 * High-throughput FIFO: the throughput quota applies per message group instead of per queue
 * (300 API calls/s per queue otherwise, which a storm of separate notifications exceeds), and
 * deduplication is checked within a message group. The relay's deduplication ids are the
 * idempotency key, which already includes the destination and groupKey that form the group,
 * so checking them per group drops exactly the same duplicates.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/high-throughput-fifo.html
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html
 */
export const HIGH_THROUGHPUT_FIFO = {
  DeduplicationScope: 'messageGroup',
  FifoThroughputLimit: 'perMessageGroupId',
} as const;

/** A sink's FIFO queue and its FIFO dead-letter queue, with their URLs as stack outputs. */
export function sinkQueues(
  names: SinkNames,
  constants: InfraConstants = INFRA,
): { resources: Record<string, CfnResource>; outputs: Record<string, CfnOutput> } {
  const queue: CfnResource = {
    Type: 'AWS::SQS::Queue',
    Properties: {
      QueueName: names.queueName,
      FifoQueue: true,
      // Ingest sets MessageDeduplicationId from the payload (lib/queue/idempotency.ts), never the body hash.
      ContentBasedDeduplication: false,
      ...HIGH_THROUGHPUT_FIFO,
      VisibilityTimeout: visibilityTimeoutSeconds(
        constants.sink.timeoutSeconds,
        constants.sink.maximumBatchingWindowSeconds,
        constants.queue.visibilityTimeoutFactor,
      ),
      MessageRetentionPeriod: constants.queue.retentionSeconds,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: getAtt(names.deadLetterQueueLogicalId, 'Arn'),
        maxReceiveCount: constants.queue.maxReceiveCount,
      },
    },
  };
  // A FIFO queue's dead-letter queue must be FIFO too:
  // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
  // High throughput too: a revoked token dead-letters every message of a storm at the rate the
  // function fails them, one SendMessage each, which is above 300 calls/s at 1,000 messages/s.
  // The DLQ's deduplication ids carry the time (lib/delivery/record-handler.ts), so a per-group
  // scope drops nothing the queue scope would not.
  const deadLetterQueue: CfnResource = {
    Type: 'AWS::SQS::Queue',
    Properties: {
      QueueName: names.deadLetterQueueName,
      FifoQueue: true,
      ContentBasedDeduplication: false,
      ...HIGH_THROUGHPUT_FIFO,
      MessageRetentionPeriod: constants.deadLetterQueue.retentionSeconds,
      SqsManagedSseEnabled: true,
    },
  };
  return {
    resources: { [names.queueLogicalId]: queue, [names.deadLetterQueueLogicalId]: deadLetterQueue },
    outputs: {
      [`${names.queueLogicalId}Url`]: {
        Description: `URL of the ${names.sink} sink's FIFO queue`,
        Value: ref(names.queueLogicalId),
      },
      [`${names.deadLetterQueueLogicalId}Url`]: {
        Description: `URL of the ${names.sink} sink's dead-letter queue (npm run dlq -- redrive)`,
        Value: ref(names.deadLetterQueueLogicalId),
      },
    },
  };
}

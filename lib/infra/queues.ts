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
  const deadLetterQueue: CfnResource = {
    Type: 'AWS::SQS::Queue',
    Properties: {
      QueueName: names.deadLetterQueueName,
      FifoQueue: true,
      ContentBasedDeduplication: false,
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

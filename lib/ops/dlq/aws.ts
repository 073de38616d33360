import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { sinkNames } from '../../infra/names.ts';
import { resolveName, type Stage } from '../stack.ts';
import {
  DeadLetterQueueError,
  type DeadLetterQueues,
  type RawDeadLetter,
  type RedriveProgress,
} from './dead-letters.ts';

interface QueueRef {
  url: string;
  arn: string;
}

/** SQS's move task statuses, as the progress reports them. */
const STATUS: Record<string, RedriveProgress['status']> = {
  RUNNING: 'running',
  CANCELLING: 'running',
  COMPLETED: 'completed',
  CANCELLED: 'cancelled',
  FAILED: 'failed',
};

/**
 * The DLQs of a deployed stage. Queue names come from lib/infra/names.ts (the same names the
 * stack was generated with), so no stack output needs to be read.
 */
export class AwsDeadLetterQueues implements DeadLetterQueues {
  readonly description: string;
  readonly #client: SQSClient;
  readonly #stage: Stage;
  readonly #sinks: readonly string[];
  readonly #sleep: (ms: number) => Promise<unknown>;
  readonly #pollIntervalMs: number;
  readonly #refs = new Map<string, QueueRef>();

  constructor(options: {
    client: SQSClient;
    stage: Stage;
    /** The sinks of the registry: every one has a queue and a DLQ in the stack. */
    sinks: readonly string[];
    sleep?: (ms: number) => Promise<unknown>;
    pollIntervalMs?: number;
  }) {
    this.#client = options.client;
    this.#stage = options.stage;
    this.#sinks = options.sinks;
    this.#sleep = options.sleep ?? sleep;
    this.#pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.description = `SQS, stage ${options.stage.stage}${options.stage.region ? ` in ${options.stage.region}` : ''}`;
  }

  async sinks(): Promise<string[]> {
    return [...this.#sinks];
  }

  async depth(sink: string): Promise<number> {
    const { url } = await this.#queue(sink, 'dlq');
    const { Attributes } = await this.#client.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  }

  /**
   * ReceiveMessage with VisibilityTimeout 0: the messages stay visible (nothing is removed;
   * their receive count on the DLQ goes up, which nothing reads). A FIFO queue answers with
   * the same first messages again, so receiving stops when a call brings nothing new.
   */
  async peek(sink: string, limit: number): Promise<RawDeadLetter[]> {
    const { url } = await this.#queue(sink, 'dlq');
    const seen = new Map<string, RawDeadLetter>();
    while (seen.size < limit) {
      const { Messages = [] } = await this.#client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: Math.min(10, limit - seen.size),
          VisibilityTimeout: 0,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['SentTimestamp'],
        }),
      );
      let added = 0;
      for (const message of Messages) {
        if (!message.MessageId || seen.has(message.MessageId)) continue;
        const attributes: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.MessageAttributes ?? {}))
          if (value.StringValue !== undefined) attributes[name] = value.StringValue;
        seen.set(message.MessageId, {
          messageId: message.MessageId,
          body: message.Body ?? '',
          attributes,
          ...(message.Attributes?.SentTimestamp
            ? { sentTimestamp: Number(message.Attributes.SentTimestamp) }
            : {}),
        });
        added++;
      }
      if (added === 0) break;
    }
    return [...seen.values()].slice(0, limit);
  }

  /**
   * StartMessageMoveTask from the DLQ to the sink's queue, then ListMessageMoveTasks until the
   * task is no longer running. The destination is named explicitly: messages the sink function
   * dead-lettered itself (permanent errors) were sent with SendMessage and have no "original
   * source" for SQS to return them to.
   * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html
   */
  async redrive(
    sink: string,
    options: { ratePerSecond?: number; onProgress?: (progress: RedriveProgress) => void } = {},
  ): Promise<RedriveProgress> {
    const [dlq, queue] = await Promise.all([this.#queue(sink, 'dlq'), this.#queue(sink, 'queue')]);
    let handle: string | undefined;
    try {
      ({ TaskHandle: handle } = await this.#client.send(
        new StartMessageMoveTaskCommand({
          SourceArn: dlq.arn,
          DestinationArn: queue.arn,
          ...(options.ratePerSecond ? { MaxNumberOfMessagesPerSecond: options.ratePerSecond } : {}),
        }),
      ));
    } catch (error) {
      throw new DeadLetterQueueError(
        `could not start a redrive of ${sink}'s DLQ: ${(error as Error).name}: ${(error as Error).message}`,
      );
    }
    for (;;) {
      const { Results = [] } = await this.#client.send(
        new ListMessageMoveTasksCommand({ SourceArn: dlq.arn, MaxResults: 10 }),
      );
      const task = Results.find((result) => result.TaskHandle === handle) ?? Results[0];
      const progress: RedriveProgress = {
        moved: task?.ApproximateNumberOfMessagesMoved ?? 0,
        ...(task?.ApproximateNumberOfMessagesToMove !== undefined
          ? { total: task.ApproximateNumberOfMessagesToMove }
          : {}),
        status: STATUS[task?.Status ?? 'RUNNING'] ?? 'running',
        ...(task?.FailureReason ? { failureReason: task.FailureReason } : {}),
      };
      options.onProgress?.(progress);
      if (progress.status !== 'running') return progress;
      await this.#sleep(this.#pollIntervalMs);
    }
  }

  /** PurgeQueue: SQS allows one per queue every 60 seconds and may take that long to finish. */
  async purge(sink: string): Promise<number> {
    const before = await this.depth(sink);
    const { url } = await this.#queue(sink, 'dlq');
    await this.#client.send(new PurgeQueueCommand({ QueueUrl: url }));
    return before;
  }

  async #queue(sink: string, which: 'queue' | 'dlq'): Promise<QueueRef> {
    if (!this.#sinks.includes(sink)) {
      throw new DeadLetterQueueError(`unknown sink "${sink}" (known: ${this.#sinks.join(', ')})`);
    }
    const key = `${sink}/${which}`;
    const cached = this.#refs.get(key);
    if (cached) return cached;
    const names = sinkNames(sink);
    const name = resolveName(which === 'dlq' ? names.deadLetterQueueName : names.queueName, this.#stage);
    let url: string | undefined;
    try {
      ({ QueueUrl: url } = await this.#client.send(new GetQueueUrlCommand({ QueueName: name })));
    } catch (error) {
      const { name: code, message } = error as Error;
      if (code === 'QueueDoesNotExist' || code === 'AWS.SimpleQueueService.NonExistentQueue') {
        throw new DeadLetterQueueError(
          `queue ${name} not found (${code}): is stage ${this.#stage.stage} deployed in this region?`,
        );
      }
      throw new DeadLetterQueueError(`could not look up queue ${name}: ${code}: ${message}`);
    }
    const { Attributes } = await this.#client.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
    );
    const ref = { url: url as string, arn: Attributes?.QueueArn as string };
    this.#refs.set(key, ref);
    return ref;
  }
}

import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  type Message,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { type AppliedGroup, readAppliedGroup } from '../../delivery/group-state.ts';
import { sinkNames } from '../../infra/names.ts';
import type { StateStore } from '../../state/store.ts';
import { isCredentialsError } from '../aws-hint.ts';
import { resolveName, type Stage } from '../stack.ts';
import { StageUnreachableError } from './command-line.ts';
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

/**
 * How long `list` holds the messages it has read invisible: long enough to page through a
 * DLQ of thousands (each receive takes milliseconds), short enough that a listing killed
 * half-way gives its messages back within a minute. Released at once when the listing ends.
 */
export const LIST_HOLD_SECONDS = 60;

/** SQS's move task statuses, as the progress reports them. */
const STATUS: Record<string, RedriveProgress['status']> = {
  RUNNING: 'running',
  CANCELLING: 'running',
  COMPLETED: 'completed',
  CANCELLED: 'cancelled',
  FAILED: 'failed',
};

/** A sink's queue is not in the stage (no destination of that sink, or no such stage). */
class QueueNotFoundError extends DeadLetterQueueError {}

function rawDeadLetter(message: Message): RawDeadLetter {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {}))
    if (value.StringValue !== undefined) attributes[name] = value.StringValue;
  return {
    messageId: message.MessageId as string,
    body: message.Body ?? '',
    attributes,
    ...(message.Attributes?.SentTimestamp ? { sentTimestamp: Number(message.Attributes.SentTimestamp) } : {}),
  };
}

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
  /**
   * What the relay last applied to a group, from the stage's DynamoDB state table: only when
   * the table is known, so `list` and `redrive` can say which dead letters are superseded.
   */
  readonly appliedGroup?: (destination: string, groupKey: string) => Promise<AppliedGroup | undefined>;

  constructor(options: {
    client: SQSClient;
    stage: Stage;
    /** The sinks of the registry; the stack has a queue and a DLQ for those its config uses. */
    sinks: readonly string[];
    /** The stage's state table (DynamoDbStateStore), to judge dead letters against their group. */
    state?: StateStore;
    sleep?: (ms: number) => Promise<unknown>;
    pollIntervalMs?: number;
  }) {
    this.#client = options.client;
    this.#stage = options.stage;
    this.#sinks = options.sinks;
    this.#sleep = options.sleep ?? sleep;
    this.#pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.description = `SQS, stage ${options.stage.stage}${options.stage.region ? ` in ${options.stage.region}` : ''}`;
    const { state } = options;
    if (state) this.appliedGroup = (destination, groupKey) => readAppliedGroup(state, destination, groupKey);
  }

  /**
   * The sinks whose DLQ exists in the stage: the stack holds only the sinks its config uses,
   * so a registry sink without a queue is left out rather than reported as an error.
   */
  async sinks(): Promise<string[]> {
    const found = await Promise.all(
      this.#sinks.map(async (sink) => {
        try {
          await this.#queue(sink, 'dlq');
          return sink;
        } catch (error) {
          if (error instanceof QueueNotFoundError) return undefined;
          throw error;
        }
      }),
    );
    const deployed = found.filter((sink): sink is string => sink !== undefined);
    if (deployed.length === 0) {
      const example = resolveName(sinkNames(this.#sinks[0] ?? 'webhook').deadLetterQueueName, this.#stage);
      throw new StageUnreachableError(
        `stage ${this.#stage.stage} is not deployed ${this.#where()}: no sink's dead-letter queue ` +
          `(${example}, ...) exists there`,
        'no-stage',
      );
    }
    return deployed;
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
   * Pages through the DLQ without removing anything: each ReceiveMessage holds what it got
   * invisible (LIST_HOLD_SECONDS), so the next one returns the messages after them, until a
   * receive brings nothing; then every held message is made visible again
   * (ChangeMessageVisibilityBatch to 0), also when a receive fails. A receive with visibility
   * 0 would hand out the same first messages every time.
   *
   * FIFO rule: while a message group has a message in flight, its later messages are not
   * returned. One receive returns several messages of a group (up to 10), so a group with more
   * dead letters than that shows its first ones; `depth` still counts them all. Receiving
   * raises the messages' receive count on the DLQ, which nothing reads (it has no redrive policy).
   * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html
   */
  async peek(sink: string, limit: number): Promise<RawDeadLetter[]> {
    const { url } = await this.#queue(sink, 'dlq');
    const seen = new Map<string, RawDeadLetter>();
    const held: string[] = [];
    let failure: unknown;
    try {
      while (seen.size < limit) {
        const { Messages = [] } = await this.#client.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: Math.min(10, limit - seen.size),
            VisibilityTimeout: LIST_HOLD_SECONDS,
            // Long polling asks every SQS server, so an empty answer means nothing is left to
            // receive; a short poll samples some servers and may answer empty too early.
            WaitTimeSeconds: 1,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['SentTimestamp'],
          }),
        );
        if (Messages.length === 0) break;
        const before = seen.size;
        for (const message of Messages) {
          if (message.ReceiptHandle) held.push(message.ReceiptHandle);
          if (!message.MessageId || seen.has(message.MessageId)) continue;
          seen.set(message.MessageId, rawDeadLetter(message));
        }
        // Held messages are not handed out again; a receive of only known ones means SQS (or a
        // hold that ran out) is going round in circles: what we have is the whole list.
        if (seen.size === before) break;
      }
    } catch (error) {
      failure = error;
    }
    const unreleased = await this.#release(url, held);
    if (failure) throw failure;
    if (unreleased > 0) {
      throw new DeadLetterQueueError(
        `${sink}: ${unreleased} listed message(s) could not be made visible again; they return by themselves ` +
          `within ${LIST_HOLD_SECONDS} s`,
      );
    }
    return [...seen.values()].slice(0, limit);
  }

  /** Makes held messages visible again, 10 per call; returns how many SQS refused. */
  async #release(url: string, receiptHandles: readonly string[]): Promise<number> {
    let refused = 0;
    for (let i = 0; i < receiptHandles.length; i += 10) {
      const chunk = receiptHandles.slice(i, i + 10);
      try {
        const { Failed = [] } = await this.#client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: chunk.map((handle, j) => ({
              Id: String(j),
              ReceiptHandle: handle,
              VisibilityTimeout: 0,
            })),
          }),
        );
        refused += Failed.length;
      } catch {
        refused += chunk.length;
      }
    }
    return refused;
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

  /** `in eu-west-1`, or `in the default region` when none was given. */
  #where(): string {
    return this.#stage.region ? `in ${this.#stage.region}` : 'in the default region';
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
        throw new QueueNotFoundError(
          `queue ${name} not found (${code}): is stage ${this.#stage.stage} deployed in this region, ` +
            `with a destination of sink ${sink}?`,
        );
      }
      if (isCredentialsError(error)) {
        throw new StageUnreachableError(
          `no usable AWS credentials to reach stage ${this.#stage.stage} ${this.#where()} (${code}: ${message})`,
          'credentials',
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

import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsDeadLetterQueues, LIST_HOLD_SECONDS } from '../../../lib/ops/dlq/aws.ts';
import {
  dlqCommandLine,
  dlqInvocation,
  explainDlqFailure,
  StageUnreachableError,
} from '../../../lib/ops/dlq/command-line.ts';
import { type CommandIo, listCommand, purgeCommand, redriveCommand } from '../../../lib/ops/dlq/commands.ts';
import { type DeadLetterQueues, readDeadLetter } from '../../../lib/ops/dlq/dead-letters.ts';
import { formatTable } from '../../../lib/ops/dlq/table.ts';
import { makeNotification } from '../../support/notifications.ts';

const sqs = mockClient(SQSClient);
const ACCOUNT = '123456789012';
const url = (name: string) => `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/${name}`;
const arn = (name: string) => `arn:aws:sqs:eu-west-1:${ACCOUNT}:${name}`;
const DLQ = 'alertmanager-relay-prod-webhook-dlq.fifo';
const QUEUE = 'alertmanager-relay-prod-webhook.fifo';

function body(groupKey = '{}:{alertname="HighLatency"}') {
  return JSON.stringify({
    v: 1,
    destination: 'audit',
    sink: 'webhook',
    idempotencyKey: 'k',
    part: { index: 1, count: 1 },
    receivedAt: '2026-11-21T12:00:00.000Z',
    notification: makeNotification({ groupKey, count: 2 }),
  });
}

function queues(): AwsDeadLetterQueues {
  return new AwsDeadLetterQueues({
    client: new SQSClient({ region: 'eu-west-1' }),
    stage: { service: 'alertmanager-relay', stage: 'prod', region: 'eu-west-1' },
    sinks: ['console', 'webhook'],
    sleep: async () => undefined,
  });
}

function recordingIo(answer = false): CommandIo & { lines: string[]; questions: string[] } {
  const lines: string[] = [];
  const questions: string[] = [];
  return {
    lines,
    questions,
    print: (text) => lines.push(...text.split('\n')),
    confirm: async (question) => {
      questions.push(question);
      return answer;
    },
  };
}

function queueAttributes(input: { QueueUrl: string; AttributeNames: string[] }) {
  if (input.AttributeNames.includes('QueueArn'))
    return { Attributes: { QueueArn: arn(input.QueueUrl.split('/').pop() as string) } };
  const visible = input.QueueUrl.endsWith(DLQ) ? '2' : '0';
  return { Attributes: { ApproximateNumberOfMessages: visible, ApproximateNumberOfMessagesNotVisible: '0' } };
}

beforeEach(() => {
  sqs.reset();
  sqs
    .on(GetQueueUrlCommand)
    .callsFake((input: { QueueName: string }) => ({ QueueUrl: url(input.QueueName) }));
  sqs.on(GetQueueAttributesCommand).callsFake(queueAttributes);
});

describe('Class: AwsDeadLetterQueues', () => {
  describe('Method: peek', () => {
    it('should receive with a hold and every attribute, until a receive brings nothing new', async () => {
      // Prepare
      const message = (id: string) => ({
        MessageId: id,
        Body: body(),
        MessageAttributes: { reason: { DataType: 'String', StringValue: `reason ${id}` } },
        Attributes: { SentTimestamp: '1795000000000' },
      });
      sqs
        .on(ReceiveMessageCommand)
        .resolvesOnce({ Messages: [message('m1'), message('m2')] })
        .resolves({ Messages: [message('m1'), message('m2')] });

      // Act
      const peeked = await queues().peek('webhook', 50);

      // Assess
      expect(peeked.map((m) => [m.messageId, m.attributes.reason, m.sentTimestamp])).toEqual([
        ['m1', 'reason m1', 1795000000000],
        ['m2', 'reason m2', 1795000000000],
      ]);
      const calls = sqs.commandCalls(ReceiveMessageCommand);
      expect(calls).toHaveLength(2);
      expect(calls[0].args[0].input).toMatchObject({
        QueueUrl: url(DLQ),
        VisibilityTimeout: LIST_HOLD_SECONDS,
        MessageAttributeNames: ['All'],
        MaxNumberOfMessages: 10,
      });
    });
  });

  describe('Method: redrive', () => {
    it('should start a move task to the sink queue at the given rate and poll it until completed', async () => {
      // Prepare
      sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
      sqs
        .on(ListMessageMoveTasksCommand)
        .resolvesOnce({
          Results: [
            {
              TaskHandle: 'task-1',
              Status: 'RUNNING',
              ApproximateNumberOfMessagesMoved: 1,
              ApproximateNumberOfMessagesToMove: 2,
            },
          ],
        })
        .resolves({
          Results: [
            {
              TaskHandle: 'task-1',
              Status: 'COMPLETED',
              ApproximateNumberOfMessagesMoved: 2,
              ApproximateNumberOfMessagesToMove: 2,
            },
          ],
        });
      const seen: string[] = [];

      // Act
      const result = await queues().redrive('webhook', {
        ratePerSecond: 5,
        onProgress: (p) => seen.push(`${p.status} ${p.moved}/${p.total}`),
      });

      // Assess
      expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0].args[0].input).toEqual({
        SourceArn: arn(DLQ),
        DestinationArn: arn(QUEUE),
        MaxNumberOfMessagesPerSecond: 5,
      });
      expect(sqs.commandCalls(ListMessageMoveTasksCommand)[0].args[0].input).toMatchObject({
        SourceArn: arn(DLQ),
      });
      expect(seen).toEqual(['running 1/2', 'completed 2/2']);
      expect(result.status).toBe('completed');
    });

    it('should report a failed task with its reason', async () => {
      // Prepare
      sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-2' });
      sqs.on(ListMessageMoveTasksCommand).resolves({
        Results: [
          {
            TaskHandle: 'task-2',
            Status: 'FAILED',
            ApproximateNumberOfMessagesMoved: 0,
            FailureReason: 'AccessDenied',
          },
        ],
      });
      const io = recordingIo();

      // Act
      const ok = await redriveCommand(queues(), io, { sink: 'webhook' });

      // Assess
      expect(ok).toBe(false);
      expect(io.lines).toContain('webhook: redrive failed: AccessDenied');
    });

    it('should say why when SQS refuses to start the task', async () => {
      // Prepare
      const refusal = Object.assign(new Error('There is already a task running'), {
        name: 'UnsupportedOperation',
      });
      sqs.on(StartMessageMoveTaskCommand).rejects(refusal);

      // Act
      const failure = queues().redrive('webhook', {});

      // Assess
      await expect(failure).rejects.toThrow(
        /could not start a redrive of webhook's DLQ: UnsupportedOperation/,
      );
    });
  });

  describe('Method: purge', () => {
    it('should purge the DLQ (not the sink queue) only after a yes', async () => {
      // Prepare
      sqs.on(PurgeQueueCommand).resolves({});

      // Act
      const declined = await purgeCommand(queues(), recordingIo(false), { sink: 'webhook' });
      const purgesAfterNo = sqs.commandCalls(PurgeQueueCommand).length;
      const confirmed = await purgeCommand(queues(), recordingIo(true), { sink: 'webhook' });

      // Assess
      expect([declined, confirmed]).toEqual([false, true]);
      expect(purgesAfterNo).toBe(0);
      expect(sqs.commandCalls(PurgeQueueCommand).map((call) => call.args[0].input.QueueUrl)).toEqual([
        url(DLQ),
      ]);
    });

    it('should not ask with --yes', async () => {
      // Prepare
      sqs.on(PurgeQueueCommand).resolves({});
      const io = recordingIo(false);

      // Act
      await purgeCommand(queues(), io, { sink: 'webhook', yes: true });

      // Assess
      expect(io.questions).toEqual([]);
      expect(io.lines).toContain('webhook: deleted 2 messages');
    });
  });

  it('should say which queue is missing when the stage is not deployed', async () => {
    // Prepare
    sqs.on(GetQueueUrlCommand).rejects(Object.assign(new Error('gone'), { name: 'QueueDoesNotExist' }));

    // Act
    const failure = queues().depth('webhook');

    // Assess
    await expect(failure).rejects.toThrow(
      'queue alertmanager-relay-prod-webhook-dlq.fifo not found (QueueDoesNotExist): is stage prod deployed in this region, with a destination of sink webhook?',
    );
  });
  it('should say plainly that there are no usable AWS credentials', async () => {
    for (const name of ['CredentialsProviderError', 'ExpiredToken', 'InvalidClientTokenId']) {
      // Prepare
      sqs.on(GetQueueUrlCommand).rejects(Object.assign(new Error('Could not load credentials'), { name }));

      // Act
      const failure = queues().sinks();

      // Assess
      await expect(failure, name).rejects.toThrow(StageUnreachableError);
      await expect(failure, name).rejects.toMatchObject({
        problem: 'credentials',
        message: `no usable AWS credentials to reach stage prod in eu-west-1 (${name}: Could not load credentials)`,
      });
    }
  });

  it('should say plainly that the stage is not deployed when no sink has a DLQ there', async () => {
    // Prepare
    sqs.on(GetQueueUrlCommand).rejects(Object.assign(new Error('gone'), { name: 'QueueDoesNotExist' }));

    // Act
    const failure = queues().sinks();

    // Assess
    await expect(failure).rejects.toMatchObject({
      problem: 'no-stage',
      message:
        "stage prod is not deployed in eu-west-1: no sink's dead-letter queue (alertmanager-relay-prod-console-dlq.fifo, ...) exists there",
    });
  });

  it('should pass on why a queue could not be looked up otherwise (permissions)', async () => {
    // Prepare
    sqs.on(GetQueueUrlCommand).rejects(Object.assign(new Error('not allowed'), { name: 'AccessDenied' }));

    // Act
    const failure = queues().depth('webhook');

    // Assess
    await expect(failure).rejects.toThrow(
      'could not look up queue alertmanager-relay-prod-webhook-dlq.fifo: AccessDenied: not allowed',
    );
  });
});

describe('Command: list', () => {
  it('should print each DLQ depth and a row per message with destination, group, group state (? where it cannot be read), alerts, code and reason', async () => {
    // Prepare
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [
        {
          MessageId: 'm1',
          Body: body(),
          MessageAttributes: {
            reason: {
              DataType: 'String',
              StringValue: 'PermanentError: webhook example.com answered 400 Bad Request',
            },
            destination: { DataType: 'String', StringValue: 'audit' },
            statusCode: { DataType: 'String', StringValue: '400' },
            firstFailureAt: { DataType: 'String', StringValue: '2026-11-21T12:00:01.000Z' },
            attempts: { DataType: 'String', StringValue: '1' },
          },
        },
      ],
    });
    const io = recordingIo();

    // Act
    await listCommand(queues(), io, {});

    // Assess
    expect(io.lines).toContain('console  0');
    expect(io.lines).toContain('webhook  2');
    expect(io.lines.find((line) => line.startsWith('audit'))).toBe(
      'audit        {}:{alertname="HighLatency"}  firing  ?            HighLatency (2)  400   2026-11-21T12:00:01.000Z  1         PermanentError: webhook example.com answered 400 Bad Request',
    );
    expect(io.lines).toContain('webhook: 2 messages (showing 1)');
  });
});

describe('Command: list, its redrive hint', () => {
  /** DLQs in memory: `depths` per sink, every message a dead letter of destination audit. */
  function memoryQueues(depths: Record<string, number>): DeadLetterQueues {
    return {
      description: 'memory',
      sinks: async () => Object.keys(depths),
      depth: async (sink) => depths[sink],
      peek: async (sink, limit) =>
        Array.from({ length: Math.min(limit, depths[sink]) }, (_, i) => ({
          messageId: `${sink}-${i}`,
          body: body(),
          attributes: { reason: 'PermanentError: 400', destination: 'audit' },
        })),
      redrive: async () => ({ moved: 0, status: 'completed' }),
      purge: async () => 0,
    };
  }

  it('should repeat --local and --data-dir, quoted, and name each sink with dead letters', async () => {
    // Prepare
    const io = recordingIo();

    // Act
    await listCommand(memoryQueues({ console: 0, slack: 1, webhook: 2 }), io, {
      target: { local: true, dataDir: '/srv/relay data' },
    });

    // Assess
    const hint = io.lines.slice(
      io.lines.indexOf('Fix the reason first (token, channel, vendor outage), then:'),
    );
    expect(hint).toEqual([
      'Fix the reason first (token, channel, vendor outage), then:',
      "  npm run dlq -- redrive --local --data-dir '/srv/relay data' --sink slack",
      "  npm run dlq -- redrive --local --data-dir '/srv/relay data' --sink webhook",
    ]);
  });

  it('should repeat --stage, --region and --table for a deployed stage', async () => {
    // Prepare
    const io = recordingIo();

    // Act
    await listCommand(memoryQueues({ webhook: 1 }), io, {
      target: { stage: 'prod', region: 'us-east-1', table: 'relay-state' },
    });

    // Assess
    expect(io.lines.at(-1)).toBe(
      '  npm run dlq -- redrive --stage prod --region us-east-1 --table relay-state --sink webhook',
    );
  });

  it('should print no hint when every DLQ is empty', async () => {
    // Prepare
    const io = recordingIo();

    // Act
    await listCommand(memoryQueues({ webhook: 0 }), io, { target: { local: true } });

    // Assess
    expect(io.lines.join('\n')).not.toContain('redrive');
  });
});

describe('Function: dlqInvocation', () => {
  it('should keep the flags the user gave, and never --yes', () => {
    // Act
    const invocation = dlqInvocation('purge', {
      local: true,
      'data-dir': '/srv/relay',
      sink: 'webhook',
      rate: '5',
      wide: true,
    });

    // Assess
    expect(invocation).toEqual({
      command: 'purge',
      target: { local: true, dataDir: '/srv/relay' },
      args: ['--sink', 'webhook', '--rate', '5', '--wide'],
    });
    expect(dlqCommandLine('list', {})).toBe('npm run dlq -- list');
  });
});

describe('Function: explainDlqFailure', () => {
  const invocation = dlqInvocation('redrive', { stage: 'prod', sink: 'webhook', rate: '5' });

  it('should give the same command with --local when there are no AWS credentials', () => {
    // Act
    const text = explainDlqFailure(
      new StageUnreachableError(
        'no usable AWS credentials to reach stage prod in eu-west-1 (...)',
        'credentials',
      ),
      invocation,
    );

    // Assess
    expect(text.split('\n')).toEqual([
      'no usable AWS credentials to reach stage prod in eu-west-1 (...)',
      '',
      'For the relay `npm start` runs on this machine, add --local:',
      '  npm run dlq -- redrive --local --sink webhook --rate 5',
      'For a deployed stage, set up AWS credentials (AWS_PROFILE, `aws configure` or `aws sso login`) and run it again.',
    ]);
  });

  it('should give the same command with --local when the stage is not deployed', () => {
    // Act
    const text = explainDlqFailure(
      new StageUnreachableError('stage prod is not deployed', 'no-stage'),
      invocation,
    );

    // Assess
    expect(text).toContain('  npm run dlq -- redrive --local --sink webhook --rate 5\n');
    expect(text).toContain('For a deployed stage, name it and its region as deployed: --stage S --region R.');
  });

  it('should print any other failure as it is', () => {
    // Act
    const text = explainDlqFailure(new Error('unknown sink "x"'), invocation);

    // Assess
    expect(text).toBe('unknown sink "x"');
  });
});

describe('Function: readDeadLetter', () => {
  it('should read a body that is not a queue message without failing', () => {
    // Act
    const letter = readDeadLetter({
      messageId: 'x',
      body: 'not json',
      attributes: { reason: 'PermanentError: malformed queue message' },
    });

    // Assess
    expect(letter).toMatchObject({
      destination: 'unknown',
      groupKey: '?',
      alertCount: 0,
      reason: 'PermanentError: malformed queue message',
    });
  });
});

describe('Function: formatTable', () => {
  it('should pad columns to the widest cell and cut cells over their maximum width', () => {
    // Act
    const table = formatTable(['SINK', 'REASON'], [['webhook', 'a very long reason indeed']], {
      maxWidth: [undefined, 10],
    });

    // Assess
    expect(table.split('\n')).toEqual(['SINK     REASON', 'webhook  a very lo…']);
  });
});

/**
 * `npm run dlq -- <list|redrive|purge> [options]`: inspect, replay or empty the sinks'
 * dead-letter queues, on AWS (a deployed stage) or in the local runtime's queue (--local).
 * The commands live in lib/ops/dlq/commands.ts.
 */
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AwsDeadLetterQueues } from '../lib/ops/dlq/aws.ts';
import { type DlqTarget, dlqInvocation, explainDlqFailure } from '../lib/ops/dlq/command-line.ts';
import { type CommandIo, listCommand, purgeCommand, redriveCommand } from '../lib/ops/dlq/commands.ts';
import { DeadLetterQueueError, type DeadLetterQueues } from '../lib/ops/dlq/dead-letters.ts';
import { LocalDeadLetterQueues } from '../lib/ops/dlq/local.ts';
import { defaultRegion, readStackOutputs, serviceName } from '../lib/ops/stack.ts';
import { sinks } from '../lib/sinks/registry.ts';
import { DynamoDbStateStore } from '../lib/state/dynamodb.ts';

const USAGE = `usage: npm run dlq -- <command> [options]

commands:
  list [--sink S] [--limit N] [--wide]   DLQ depth per sink and each waiting message (nothing is removed)
  redrive --sink S [--rate N]            move the DLQ back to the sink's queue (N messages/s), progress until done
  purge --sink S [--yes]                 delete the DLQ's messages (asks first unless --yes)

where:
  --local [--data-dir DIR]   the local runtime's queue (DIR/relay.db; default $RELAY_DATA_DIR or .relay)
  --stage S [--region R]     a deployed stage (default dev, region as deployed: eu-west-1 unless given)
  --table T                  its state table (default: the StateTableName stack output), to tell superseded dead letters`;

const root = resolve(import.meta.dirname, '..');

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new DeadLetterQueueError(`${flag} must be a positive integer`);
  return number;
}

const parseCommandLine = () =>
  parseArgs({
    allowPositionals: true,
    options: {
      sink: { type: 'string' },
      rate: { type: 'string' },
      limit: { type: 'string' },
      wide: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      local: { type: 'boolean' },
      'data-dir': { type: 'string' },
      stage: { type: 'string' },
      region: { type: 'string' },
      table: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine();
  const [command] = positionals;
  if (values.help || !command || !['list', 'redrive', 'purge'].includes(command)) {
    console.error(USAGE);
    return values.help ? 0 : 64;
  }
  if (command !== 'list' && !values.sink) {
    console.error(`${command} needs --sink\n\n${USAGE}`);
    return 64;
  }
  const invocation = dlqInvocation(command, values);
  try {
    return await run(command, values, invocation.target);
  } catch (error) {
    console.error(explainDlqFailure(error, invocation));
    return error instanceof DeadLetterQueueError ? 2 : 1;
  }
}

async function run(
  command: string,
  values: ReturnType<typeof parseCommandLine>['values'],
  target: DlqTarget,
): Promise<number> {
  let queues: DeadLetterQueues & { close?(): void };
  if (values.local) {
    queues = new LocalDeadLetterQueues({
      dataDir: resolve(values['data-dir'] ?? process.env.RELAY_DATA_DIR ?? '.relay'),
    });
  } else {
    const region = values.region ?? defaultRegion(resolve(root, 'serverless.yml'));
    const stage = {
      service: serviceName(resolve(root, 'serverless.yml')),
      stage: values.stage ?? 'dev',
      region,
    };
    // The state table lets list and redrive say which dead letters a newer notification
    // superseded; without it (no stack outputs readable) they show `?` and still work.
    const table = values.table ?? (await readStackOutputs(stage).catch(() => undefined))?.StateTableName;
    queues = new AwsDeadLetterQueues({
      client: new SQSClient(region ? { region } : {}),
      stage,
      sinks: sinks.map((sink) => sink.name),
      ...(table
        ? {
            state: new DynamoDbStateStore(
              DynamoDBDocumentClient.from(new DynamoDBClient(region ? { region } : {})),
              table,
            ),
          }
        : {}),
    });
  }
  const io: CommandIo = {
    print: (text) => process.stdout.write(`${text}\n`),
    confirm: async (question) => {
      const prompt = createInterface({ input: process.stdin, output: process.stdout });
      try {
        const answer = await Promise.race([
          prompt.question(`${question} [y/N] `),
          new Promise<string>((done) => prompt.once('close', () => done(''))),
        ]);
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        prompt.close();
      }
    },
  };
  try {
    if (command === 'list') {
      await listCommand(queues, io, {
        sink: values.sink,
        limit: positiveInteger(values.limit, '--limit'),
        wide: values.wide,
        target,
      });
      return 0;
    }
    if (command === 'redrive') {
      const ok = await redriveCommand(queues, io, {
        sink: values.sink as string,
        ratePerSecond: positiveInteger(values.rate, '--rate'),
      });
      return ok ? 0 : 1;
    }
    return (await purgeCommand(queues, io, { sink: values.sink as string, yes: values.yes })) ? 0 : 1;
  } finally {
    queues.close?.();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);

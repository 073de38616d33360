/**
 * `npm run smoke -- --url URL --token-file F [--local | --stage S]`: sends a synthetic firing
 * then resolved notification and reports what each destination did (lib/ops/smoke.ts).
 * --local reads the local runtime's records; otherwise the stage's DynamoDB table and DLQs.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readStageOutputs } from '../lib/ops/aws-hint.ts';
import { AwsDeadLetterQueues } from '../lib/ops/dlq/aws.ts';
import { LocalDeadLetterQueues } from '../lib/ops/dlq/local.ts';
import {
  type DeliveryObserver,
  explainSmokeFailure,
  formatSmokeReport,
  localRelayUrl,
  recordsObserver,
  runSmoke,
  smokeInvocation,
} from '../lib/ops/smoke.ts';
import { defaultRegion, serviceName } from '../lib/ops/stack.ts';
import { sinks } from '../lib/sinks/registry.ts';
import { DynamoDbStateStore } from '../lib/state/dynamodb.ts';
import { SqliteStateStore } from '../lib/state/sqlite.ts';

const USAGE = `usage: npm run smoke -- [--url URL] [--token-file F] [--label name=value ...] [--timeout SECONDS]
       --local [--data-dir DIR]                  outcomes from the local runtime (default URL http://HOST:PORT/alertmanager,
                                                 HOST and PORT as npm start reads them: 127.0.0.1 and 9099 unless set)
       --stage S [--region R] [--table T]        outcomes from the stage's state table and DLQs (URL from the stack outputs)`;

const root = resolve(import.meta.dirname, '..');

const parseCommandLine = () =>
  parseArgs({
    options: {
      url: { type: 'string' },
      'token-file': { type: 'string' },
      label: { type: 'string', multiple: true },
      timeout: { type: 'string' },
      local: { type: 'boolean' },
      'data-dir': { type: 'string' },
      stage: { type: 'string' },
      region: { type: 'string' },
      table: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });

async function main(): Promise<number> {
  let values: ReturnType<typeof parseCommandLine>['values'];
  try {
    ({ values } = parseCommandLine());
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 64;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const labels: Record<string, string> = {};
  for (const pair of values.label ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) {
      console.error(`--label takes name=value, got ${pair}\n\n${USAGE}`);
      return 64;
    }
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (values.timeout !== undefined && !(Number(values.timeout) > 0)) {
    console.error(`--timeout takes a number of seconds, got ${values.timeout}\n\n${USAGE}`);
    return 64;
  }
  const invocation = smokeInvocation(values);
  try {
    return await run(values, labels);
  } catch (error) {
    console.error(explainSmokeFailure(error, invocation, process.env));
    return 1;
  }
}

async function run(
  values: ReturnType<typeof parseCommandLine>['values'],
  labels: Record<string, string>,
): Promise<number> {
  const tokenFile = values['token-file'];
  let token: string | undefined;
  if (tokenFile !== undefined) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      throw new Error(`could not read --token-file ${tokenFile}: ${(error as Error).message}`);
    }
  }
  let url = values.url;
  let observer: DeliveryObserver;
  const closers: (() => void)[] = [];
  if (values.local) {
    const dataDir = resolve(values['data-dir'] ?? process.env.RELAY_DATA_DIR ?? '.relay');
    url ??= localRelayUrl(process.env).url;
    const deadLetters = new LocalDeadLetterQueues({ dataDir });
    const state = new SqliteStateStore(join(dataDir, 'state.db'));
    closers.push(
      () => deadLetters.close(),
      () => state.close(),
    );
    observer = recordsObserver({ state, deadLetters, description: `the local runtime in ${dataDir}` });
  } else {
    const region = values.region ?? defaultRegion(resolve(root, 'serverless.yml'));
    const stage = {
      service: serviceName(resolve(root, 'serverless.yml')),
      stage: values.stage ?? 'dev',
      region,
    };
    const outputs =
      url && values.table ? {} : await readStageOutputs(stage, "the stage's webhook URL and state table");
    url ??= outputs.WebhookUrl;
    const table = values.table ?? outputs.StateTableName;
    if (!url || !table)
      throw new Error(
        `the stack outputs of stage ${stage.stage} have no ${url ? 'StateTableName' : 'WebhookUrl'}: ` +
          'give it with ' +
          (url ? '--table' : '--url'),
      );
    observer = recordsObserver({
      state: new DynamoDbStateStore(
        DynamoDBDocumentClient.from(new DynamoDBClient(region ? { region } : {})),
        table,
      ),
      deadLetters: new AwsDeadLetterQueues({
        client: new SQSClient(region ? { region } : {}),
        stage,
        sinks: sinks.map((sink) => sink.name),
      }),
      description: `state table ${table} and the DLQs of stage ${stage.stage}`,
    });
  }
  try {
    const reports = await runSmoke({
      url,
      token,
      labels,
      observer,
      timeoutMs: values.timeout ? Number(values.timeout) * 1000 : undefined,
      print: (line) => console.log(line),
    });
    const { text, ok } = formatSmokeReport(reports, observer.description);
    console.log(text);
    return ok ? 0 : 1;
  } finally {
    for (const close of closers) close();
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

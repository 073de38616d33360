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
import { AwsDeadLetterQueues } from '../lib/ops/dlq/aws.ts';
import { LocalDeadLetterQueues } from '../lib/ops/dlq/local.ts';
import { type DeliveryObserver, formatSmokeReport, recordsObserver, runSmoke } from '../lib/ops/smoke.ts';
import { defaultRegion, readStackOutputs, serviceName } from '../lib/ops/stack.ts';
import { sinks } from '../lib/sinks/registry.ts';
import { DynamoDbStateStore } from '../lib/state/dynamodb.ts';
import { SqliteStateStore } from '../lib/state/sqlite.ts';

const USAGE = `usage: npm run smoke -- [--url URL] [--token-file F] [--label name=value ...] [--timeout SECONDS]
       --local [--data-dir DIR]                  outcomes from the local runtime (default URL http://127.0.0.1:9099/alertmanager)
       --stage S [--region R] [--table T]        outcomes from the stage's state table and DLQs (URL from the stack outputs)`;

const root = resolve(import.meta.dirname, '..');

async function main(): Promise<number> {
  const { values } = parseArgs({
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
  const token = values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : undefined;
  let url = values.url;
  let observer: DeliveryObserver;
  const closers: (() => void)[] = [];
  if (values.local) {
    const dataDir = resolve(values['data-dir'] ?? process.env.RELAY_DATA_DIR ?? '.relay');
    url ??= `http://127.0.0.1:${process.env.PORT ?? 9099}/alertmanager`;
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
    const outputs = url && values.table ? {} : await readStackOutputs(stage);
    url ??= outputs.WebhookUrl;
    const table = values.table ?? outputs.StateTableName;
    if (!url || !table)
      throw new Error(`stack outputs of stage ${stage.stage} have no WebhookUrl / StateTableName`);
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

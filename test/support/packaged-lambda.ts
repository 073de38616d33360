import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, Context, SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * The packaged relay, run the way AWS runs it: `npm run package` (build + `sls package`), each
 * function's zip unpacked, its handler resolved as the Lambda Node.js runtime resolves
 * `handler: .build/functions/<name>/index.handler` (the module beside the zip root, its
 * `handler` export), invoked with API Gateway and SQS events; SQS and DynamoDB are the
 * emulators of test/support/aws-emulators.ts, reached through AWS_ENDPOINT_URL_*.
 */

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

/** `npm run package` with `configYaml` as relay.yaml; returns the folder with the zips and template. */
export async function packageRelay(dir: string, configYaml: string): Promise<string> {
  const config = join(dir, 'relay.yaml');
  await writeFile(config, configYaml);
  const out = join(dir, 'package');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
  };
  for (const name of Object.keys(env))
    if (name.startsWith('AWS_') || name.startsWith('RELAY_')) delete env[name];
  await run('npm', ['run', 'package', '--', '--stage', 'ci', '--package', out], {
    cwd: root,
    env: { ...env, RELAY_CONFIG: config },
    maxBuffer: 16 * 1024 * 1024,
  });
  return out;
}

/** Unpacks a zip (stored or deflated entries) into `dest`, from its central directory. */
export async function extractZip(file: string, dest: string): Promise<string[]> {
  const zip = await readFile(file);
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(offset + 10);
    const compressed = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const skip = zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
    const local = zip.readUInt32LE(offset + 42);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    offset += 46 + nameLength + skip;
    if (name.endsWith('/')) continue;
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + compressed);
    const target = join(dest, name);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, method === 8 ? inflateRawSync(data) : data);
    names.push(name);
  }
  return names;
}

/** The template's function of `key` (its Handler string and zip), unpacked under `dir/<key>`. */
export async function unpackFunction(
  packageDir: string,
  key: string,
): Promise<{ root: string; handler: string }> {
  const template = JSON.parse(
    await readFile(join(packageDir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const fn = Object.values(template.Resources).find(
    (resource) =>
      resource.Type === 'AWS::Lambda::Function' &&
      String((resource.Properties.Code as { S3Key: string }).S3Key).endsWith(`/${key}.zip`),
  );
  if (!fn) throw new Error(`no function ${key} in the template (${(await readdir(packageDir)).join(', ')})`);
  const dest = join(packageDir, 'unpacked', key);
  await extractZip(join(packageDir, `${key}.zip`), dest);
  return { root: dest, handler: String(fn.Properties.Handler) };
}

export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/**
 * What the nodejs runtime does with `Handler`: split at the last dot into a module path
 * (relative to the code root, tried as .js, .mjs, .cjs) and an export name; import it.
 */
export async function resolveHandler<E, R>(code: {
  root: string;
  handler: string;
}): Promise<LambdaHandler<E, R>> {
  const dot = code.handler.lastIndexOf('.');
  const modulePath = code.handler.slice(0, dot);
  const exportName = code.handler.slice(dot + 1);
  const entries = await readdir(join(code.root, dirname(modulePath)));
  const base = modulePath.split('/').pop() as string;
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((name) => entries.includes(name));
  if (!file) throw new Error(`${code.handler}: no ${base}.js/.mjs/.cjs in the zip`);
  const module = (await import(pathToFileURL(join(code.root, dirname(modulePath), file)).href)) as Record<
    string,
    unknown
  >;
  const handler = module[exportName];
  if (typeof handler !== 'function')
    throw new Error(`${code.handler}: ${exportName} is not an exported function`);
  return handler as LambdaHandler<E, R>;
}

/** A Lambda context with `timeoutSeconds` left. */
export function lambdaContext(functionName: string, timeoutSeconds: number, memoryMb: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'packaged-test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The HTTP API (payload 2.0) event API Gateway sends for POST /alertmanager. */
export function apiGatewayEvent(body: string, token: string): APIGatewayProxyEventV2 {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: 'POST /alertmanager',
    rawPath: '/alertmanager',
    rawQueryString: '',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'Alertmanager/0.25.0',
    },
    requestContext: {
      accountId: '000000000000',
      apiId: 'packaged',
      domainName: 'packaged.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'packaged',
      http: {
        method: 'POST',
        path: '/alertmanager',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'Alertmanager/0.25.0',
      },
      requestId: crypto.randomUUID(),
      routeKey: 'POST /alertmanager',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    body,
    isBase64Encoded: false,
  };
}

/**
 * One poll of a FIFO event source mapping: ReceiveMessage (10, with the attributes Lambda
 * passes), the SQS event Lambda builds from it, the handler, then DeleteMessageBatch of every
 * record not reported in batchItemFailures. Returns how many records were handed over.
 */
export async function pollOnce(
  sqs: SQSClient,
  queue: { url: string; arn: string },
  handler: LambdaHandler<SQSEvent, { batchItemFailures: { itemIdentifier: string }[] }>,
  context: () => Context,
): Promise<{ records: number; failed: number }> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.url,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 180,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    }),
  );
  if (Messages.length === 0) return { records: 0, failed: 0 };
  const records: SQSRecord[] = Messages.map((message) => ({
    messageId: message.MessageId as string,
    receiptHandle: message.ReceiptHandle as string,
    body: message.Body as string,
    attributes: {
      ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
      SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()),
      SenderId: 'packaged',
      ApproximateFirstReceiveTimestamp:
        message.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      SequenceNumber: message.Attributes?.SequenceNumber,
      MessageGroupId: message.Attributes?.MessageGroupId,
      MessageDeduplicationId: message.Attributes?.MessageDeduplicationId,
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          stringValue: value.StringValue,
          dataType: value.DataType as string,
          stringListValues: [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody as string,
    eventSource: 'aws:sqs',
    eventSourceARN: queue.arn,
    awsRegion: 'us-east-1',
  }));
  const result = await handler({ Records: records }, context());
  const failed = new Set((result?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
  const done = records.filter((record) => !failed.has(record.messageId));
  if (done.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: done.map((record, i) => ({ Id: String(i), ReceiptHandle: record.receiptHandle })),
      }),
    );
  }
  return { records: records.length, failed: failed.size };
}

/** What a counting proxy's `inspect` sees of one call, after the answer came back. */
export interface ProxiedCall {
  operation: string;
  status: number;
  request: Buffer;
  response: Buffer;
}

/**
 * A pass-through HTTP proxy that counts AWS API calls by their X-Amz-Target (`AmazonSQS.SendMessageBatch`,
 * `DynamoDB_20120810.GetItem`): point AWS_ENDPOINT_URL_* at it to count what the bundles call.
 * With `rewrite`, each request body is buffered and replaced by what it returns (the emulators
 * do not check SigV4 signatures, so a changed body still passes); with `inspect`, each call's
 * request and answer bodies are handed over once the answer is complete.
 */
export async function startCountingProxy(
  target: string,
  options: {
    rewrite?: (operation: string, body: Buffer) => Buffer;
    inspect?: (call: ProxiedCall) => void;
  } = {},
): Promise<{ url: string; counts: Map<string, number>; close(): Promise<void> }> {
  const counts = new Map<string, number>();
  const upstream = new URL(target);
  const { rewrite, inspect } = options;
  const server: Server = createServer((request, response) => {
    const operation = String(request.headers['x-amz-target'] ?? `${request.method} ${request.url}`);
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
    const send = (body?: Buffer) => {
      const headers = { ...request.headers };
      if (body) headers['content-length'] = String(body.length);
      const forward = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: request.method,
          path: request.url,
          headers,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          if (!inspect) {
            answer.pipe(response);
            return;
          }
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            const answered = Buffer.concat(chunks);
            response.end(answered);
            inspect({
              operation,
              status: answer.statusCode ?? 502,
              request: body ?? Buffer.alloc(0),
              response: answered,
            });
          });
        },
      );
      forward.on('error', () => response.destroy());
      if (body) forward.end(body);
      else request.pipe(forward);
    };
    if (!rewrite && !inspect) {
      send();
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      send(rewrite ? rewrite(operation, body) : body);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

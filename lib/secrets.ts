import { readFile } from 'node:fs/promises';
import type {
  GetParametersCommandInput,
  GetParametersCommandOutput,
  SSMClientConfig,
} from '@aws-sdk/client-ssm';
import { PermanentError, RetryableError } from './delivery/errors.ts';
import type { SecretReader } from './delivery/sink.ts';

/** How long a fetched secret is reused: a rotated value is picked up within this time. */
export const SECRET_CACHE_SECONDS = 300;

/** GetParameters takes at most 10 names per call. */
export const GET_PARAMETERS_MAX_NAMES = 10;

/** A stage's parameters live under one path: `/alertmanager-relay-prod/` + the secret's NAME. */
const SECRETS_PATH = /^\/[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*\/$/;

/** The SSM parameter holding secret `name` under `path` (`/alertmanager-relay-prod/INGEST_TOKEN`). */
export function secretParameterName(path: string, name: string): string {
  return `${path}${name}`;
}

type Entry = { value: string | undefined; fetchedAt: number };

/** One SSM GetParameters call. */
export type GetParametersCall = (input: GetParametersCommandInput) => Promise<GetParametersCommandOutput>;

/**
 * GetParameters through an SSMClient imported on the first call. The client carries the models
 * of every SSM operation (some 75 KiB minified, about 15 ms to load), so a function pays for it
 * when it first reads a secret, never at import and never if its destinations name none. A
 * failed import is tried again on the next call.
 */
export function lazyGetParameters(config: SSMClientConfig = {}): GetParametersCall {
  let loading: Promise<GetParametersCall> | undefined;
  return async (input) => {
    loading ??= import('@aws-sdk/client-ssm').then(
      ({ SSMClient, GetParametersCommand }) => {
        const client = new SSMClient(config);
        return (call: GetParametersCommandInput) => client.send(new GetParametersCommand(call));
      },
      (error: unknown) => {
        loading = undefined;
        throw error;
      },
    );
    return (await loading)(input);
  };
}

/**
 * Secrets on AWS: one SSM Parameter Store SecureString per secret, `<path><NAME>`, which the
 * operator creates (CloudFormation cannot create a SecureString). Each function's IAM policy
 * names exactly the parameters of its own secrets (lib/infra/functions.ts), and `names` lists
 * the same ones: asked for any of them, the reader fetches all that are not cached with
 * GetParameters (at most 10 names per call, decrypted), so a function makes one call per
 * SECRET_CACHE_SECONDS. A missing parameter is remembered as missing for as long.
 *
 * Errors name the parameter, never a value: a missing parameter is a PermanentError (nothing
 * to retry until an operator creates it); access denied is retryable (an IAM change takes a
 * few seconds to reach every reader after a deploy), and says the function's policy does not
 * include the parameter; throttling, 5xx and network failures are retryable.
 */
export class ParameterStoreSecrets implements SecretReader {
  readonly #getParameters: GetParametersCall;
  readonly #path: string;
  readonly #names: ReadonlySet<string>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  /** The fetch under way for a name: what each name failed with (a name absent from it did not). */
  readonly #pending = new Map<string, Promise<Map<string, Error>>>();

  constructor(options: {
    /** lazyGetParameters() on Lambda; `(input) => client.send(new GetParametersCommand(input))` elsewhere. */
    getParameters: GetParametersCall;
    /** `/alertmanager-relay-prod/`: starts and ends with a slash. */
    path: string;
    /** The secret names this function reads (fetched together); others are fetched one by one. */
    names?: readonly string[];
    ttlSeconds?: number;
    now?: () => number;
  }) {
    if (!SECRETS_PATH.test(options.path)) {
      throw new Error(
        `the secrets path must look like /alertmanager-relay-prod/ (a slash at both ends), got ${JSON.stringify(options.path)}`,
      );
    }
    this.#getParameters = options.getParameters;
    this.#path = options.path;
    this.#names = new Set(options.names ?? []);
    this.#ttlMs = (options.ttlSeconds ?? SECRET_CACHE_SECONDS) * 1000;
    this.#now = options.now ?? Date.now;
  }

  async get(name: string): Promise<string> {
    let entry = this.#fresh(name);
    if (!entry) {
      const failure = (await this.#load(name)).get(name);
      if (failure) throw failure;
      entry = this.#entries.get(name);
    }
    if (entry?.value === undefined) {
      throw new PermanentError(
        `secret "${name}" is not set: SSM parameter ${secretParameterName(this.#path, name)} does not exist ` +
          '(create it as a SecureString: docs/operations.md, Set the secrets)',
      );
    }
    return entry.value;
  }

  #fresh(name: string): Entry | undefined {
    const entry = this.#entries.get(name);
    return entry && this.#now() - entry.fetchedAt < this.#ttlMs ? entry : undefined;
  }

  /** One fetch at a time per name: records of a batch asking at once share it. */
  #load(name: string): Promise<Map<string, Error>> {
    const pending = this.#pending.get(name);
    if (pending) return pending;
    const batch = this.#names.has(name)
      ? [...this.#names].filter((other) => !this.#fresh(other) && !this.#pending.has(other))
      : [name];
    const fetching = this.#fetch(batch).finally(() => {
      for (const other of batch) this.#pending.delete(other);
    });
    for (const other of batch) this.#pending.set(other, fetching);
    return fetching;
  }

  async #fetch(names: string[]): Promise<Map<string, Error>> {
    const failures = new Map<string, Error>();
    const chunks: string[][] = [];
    for (let i = 0; i < names.length; i += GET_PARAMETERS_MAX_NAMES) {
      chunks.push(names.slice(i, i + GET_PARAMETERS_MAX_NAMES));
    }
    await Promise.all(chunks.map((chunk) => this.#fetchChunk(chunk, failures)));
    return failures;
  }

  async #fetchChunk(names: string[], failures: Map<string, Error>): Promise<void> {
    const parameter = (name: string) => secretParameterName(this.#path, name);
    let found: Map<string, string | undefined>;
    let invalid: Set<string>;
    try {
      const output = await this.#getParameters({ Names: names.map(parameter), WithDecryption: true });
      found = new Map((output.Parameters ?? []).map((p) => [p.Name ?? '', p.Value]));
      invalid = new Set(output.InvalidParameters ?? []);
    } catch (error) {
      // IAM refuses the whole call when one name is not allowed: ask for each alone, so the
      // others are read and the refusal names the one parameter.
      if (names.length > 1 && errorName(error) === 'AccessDeniedException') {
        await Promise.all(names.map((name) => this.#fetchChunk([name], failures)));
        return;
      }
      for (const name of names) failures.set(name, readError(error, name, parameter(name)));
      return;
    }
    const fetchedAt = this.#now();
    for (const name of names) {
      const value = found.get(parameter(name));
      if (typeof value === 'string' && value !== '') this.#entries.set(name, { value, fetchedAt });
      else if (invalid.has(parameter(name))) this.#entries.set(name, { value: undefined, fetchedAt });
      else {
        failures.set(
          name,
          new RetryableError(
            `could not read secret "${name}": SSM answered without parameter ${parameter(name)}`,
          ),
        );
      }
    }
  }
}

function errorName(error: unknown): string {
  return (error as { name?: string }).name ?? 'Error';
}

/** What a failed GetParameters call means for one secret; never the SDK's message (it names the role). */
function readError(error: unknown, name: string, parameter: string): Error {
  const code = errorName(error);
  if (code === 'AccessDeniedException') {
    return new RetryableError(
      `could not read secret "${name}": access to SSM parameter ${parameter} was denied: this function's IAM ` +
        'policy does not include it (the build grants each function the secrets its destinations name; ' +
        'redeploy after changing relay.yaml), or it is encrypted with a KMS key the function may not use (use aws/ssm)',
      { cause: error },
    );
  }
  if (code === 'InvalidKeyId' || code === 'ValidationException') {
    return new PermanentError(`could not read secret "${name}": SSM parameter ${parameter}: ${code}`, {
      cause: error,
    });
  }
  // Throttling (Parameter Store's default throughput is shared by the account), 5xx, network.
  return new RetryableError(`could not read secret "${name}" from SSM parameter ${parameter}: ${code}`, {
    cause: error,
  });
}

/**
 * Secrets locally: the environment variable of that name, else the JSON file named by
 * RELAY_SECRETS_FILE (re-read when it changes, so a rotated value is picked up).
 *
 * Error messages name the variable, never the file's path: ingest puts the message of a token it
 * cannot read into its 503 body, which anyone who can reach the port reads. The path is in the
 * error's `cause`, which the relay's log prints (and `npm start` names the file at start).
 */
export class LocalSecrets implements SecretReader {
  readonly #env: NodeJS.ProcessEnv;
  readonly #file?: string;
  #fileCache?: { text: string; values: Record<string, unknown> };

  constructor(options: { env?: NodeJS.ProcessEnv; file?: string } = {}) {
    this.#env = options.env ?? process.env;
    this.#file = options.file ?? this.#env.RELAY_SECRETS_FILE;
  }

  async get(name: string): Promise<string> {
    const fromEnv = this.#env[name];
    if (fromEnv) return fromEnv;
    if (this.#file) {
      const value = (await this.#readFile())[name];
      if (typeof value === 'string' && value !== '') return value;
    }
    throw new PermanentError(
      `secret "${name}" is not set: set the environment variable ${name} or ${this.#file ? 'add it to the file named by RELAY_SECRETS_FILE' : 'put it in a JSON file named by RELAY_SECRETS_FILE'}`,
      this.#file ? { cause: new Error(`RELAY_SECRETS_FILE is ${this.#file}`) } : {},
    );
  }

  async #readFile(): Promise<Record<string, unknown>> {
    const file = this.#file as string;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      // The code (ENOENT, EACCES) says what to fix; the path, in the cause, goes to the log only.
      throw new PermanentError(
        `the file named by RELAY_SECRETS_FILE cannot be read: ${(error as NodeJS.ErrnoException).code}`,
        { cause: new Error(`RELAY_SECRETS_FILE ${file}: ${(error as Error).message}`, { cause: error }) },
      );
    }
    if (this.#fileCache?.text === text) return this.#fileCache.values;
    let values: unknown;
    try {
      values = JSON.parse(text);
    } catch {
      // Never the parser's message: it quotes the text, which holds secrets.
      throw new PermanentError('the file named by RELAY_SECRETS_FILE is not valid JSON', {
        cause: new Error(`RELAY_SECRETS_FILE is ${file}`),
      });
    }
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new PermanentError(
        'the file named by RELAY_SECRETS_FILE must hold a JSON object of name -> value',
        { cause: new Error(`RELAY_SECRETS_FILE is ${file}`) },
      );
    }
    this.#fileCache = { text, values: values as Record<string, unknown> };
    return this.#fileCache.values;
  }
}

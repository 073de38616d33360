import { readFile } from 'node:fs/promises';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PermanentError, RetryableError } from './delivery/errors.ts';
import type { SecretReader } from './delivery/sink.ts';

/** How long a fetched secret is reused: a rotated value is picked up within this time. */
export const SECRET_CACHE_SECONDS = 300;

/**
 * Secrets on AWS: one Secrets Manager secret holding a JSON object of name -> value,
 * fetched once and cached for SECRET_CACHE_SECONDS. Errors never carry a value.
 */
export class SecretsManagerSecrets implements SecretReader {
  readonly #client: SecretsManagerClient;
  readonly #secretId: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #cache?: { values: Record<string, unknown>; fetchedAt: number };
  #pending?: Promise<Record<string, unknown>>;

  constructor(options: {
    client: SecretsManagerClient;
    secretId: string;
    ttlSeconds?: number;
    now?: () => number;
  }) {
    this.#client = options.client;
    this.#secretId = options.secretId;
    this.#ttlMs = (options.ttlSeconds ?? SECRET_CACHE_SECONDS) * 1000;
    this.#now = options.now ?? Date.now;
  }

  async get(name: string): Promise<string> {
    const values = await this.#values();
    const value = values[name];
    if (typeof value !== 'string' || value === '') {
      throw new PermanentError(`secret "${name}" is not set in Secrets Manager secret ${this.#secretId}`);
    }
    return value;
  }

  async #values(): Promise<Record<string, unknown>> {
    if (this.#cache && this.#now() - this.#cache.fetchedAt < this.#ttlMs) return this.#cache.values;
    // One fetch at a time: a batch of records asking at once shares it.
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #fetch(): Promise<Record<string, unknown>> {
    let text: string | undefined;
    try {
      const output = await this.#client.send(new GetSecretValueCommand({ SecretId: this.#secretId }));
      text = output.SecretString;
    } catch (error) {
      const name = (error as { name?: string }).name ?? 'Error';
      if (name === 'ResourceNotFoundException') {
        throw new PermanentError(`Secrets Manager secret ${this.#secretId} does not exist`);
      }
      // Throttling, network and permission hiccups: the queue retries.
      throw new RetryableError(`could not read Secrets Manager secret ${this.#secretId}: ${name}`);
    }
    let values: unknown;
    try {
      values = JSON.parse(text ?? '');
    } catch {
      throw new PermanentError(
        `Secrets Manager secret ${this.#secretId} is not a JSON object (set it as {"NAME": "value"})`,
      );
    }
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new PermanentError(
        `Secrets Manager secret ${this.#secretId} is not a JSON object (set it as {"NAME": "value"})`,
      );
    }
    this.#cache = { values: values as Record<string, unknown>, fetchedAt: this.#now() };
    return this.#cache.values;
  }
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

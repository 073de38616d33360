import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../lib/delivery/errors.ts';
import {
  LocalSecrets,
  lazyGetParameters,
  ParameterStoreSecrets,
  SECRET_CACHE_SECONDS,
} from '../lib/secrets.ts';
import { type FakeSsm, internalError, SSM_ACCOUNT, startFakeSsm, throttled } from './support/fake-ssm.ts';

const TOKEN_VALUE = 'tok-4f9b2c7e1d0a-NEVER-PRINT';
const HOOK_VALUE = 'whsec_c2VjcmV0LXNpZ25pbmcta2V5LU5FVkVSLVBSSU5U';

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('Class: ParameterStoreSecrets (against the fake SSM)', () => {
  const PATH = '/alertmanager-relay-ci/';
  const VALUES: Record<string, string> = {
    INGEST_TOKEN: TOKEN_VALUE,
    INGEST_TOKEN_PREVIOUS: 'tok-previous-NEVER-PRINT',
    SLACK_TOKEN: 'xoxb-slack-NEVER-PRINT',
    HOOK: HOOK_VALUE,
  };
  let ssm: FakeSsm;
  let clients: SSMClient[];
  let clock: number;

  /** A client signing as `caller` (the fake's IAM role), without the SDK's own retries. */
  function client(caller = 'relay-function'): SSMClient {
    const created = new SSMClient({
      region: 'eu-west-1',
      endpoint: ssm.url,
      credentials: { accessKeyId: caller, secretAccessKey: 'fake' },
      maxAttempts: 1,
    });
    clients.push(created);
    return created;
  }

  function reader(names: readonly string[], caller?: string): ParameterStoreSecrets {
    const ssmClient = client(caller);
    return new ParameterStoreSecrets({
      getParameters: (input) => ssmClient.send(new GetParametersCommand(input)),
      path: PATH,
      names,
      now: () => clock,
    });
  }

  function expectNoValue(error: Error): void {
    const text = `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}`;
    for (const value of Object.values(VALUES)) expect(text).not.toContain(value);
  }

  beforeEach(async () => {
    clock = Date.UTC(2026, 10, 21, 12);
    clients = [];
    ssm = await startFakeSsm({
      parameters: Object.fromEntries(
        Object.entries(VALUES).map(([name, value]) => [`${PATH}${name}`, value]),
      ),
    });
  });

  afterEach(async () => {
    for (const created of clients) created.destroy();
    await ssm.close();
  });

  describe('Method: get', () => {
    it('should read <path><NAME> decrypted, fetching every name of the function in one call', async () => {
      // Prepare
      const secrets = reader(['INGEST_TOKEN', 'INGEST_TOKEN_PREVIOUS']);

      // Act
      const token = await secrets.get('INGEST_TOKEN');
      const previous = await secrets.get('INGEST_TOKEN_PREVIOUS');

      // Assess
      expect(token).toBe(TOKEN_VALUE);
      expect(previous).toBe(VALUES.INGEST_TOKEN_PREVIOUS);
      expect(ssm.getCalls).toEqual([
        {
          caller: 'relay-function',
          names: [`${PATH}INGEST_TOKEN`, `${PATH}INGEST_TOKEN_PREVIOUS`],
          withDecryption: true,
        },
      ]);
    });

    it('should ask for at most 10 names per call', async () => {
      // Prepare: 23 names, two of them missing.
      const names = Array.from({ length: 23 }, (_, i) => `SECRET_${String(i).padStart(2, '0')}`);
      for (const name of names.slice(0, 21))
        ssm.parameters.set(`${PATH}${name}`, { type: 'SecureString', value: `value-${name}`, version: 1 });
      const secrets = reader(names);

      // Act
      const values = await Promise.all(names.slice(0, 21).map((name) => secrets.get(name)));
      const missing = await caught(secrets.get('SECRET_22'));

      // Assess
      expect(values).toEqual(names.slice(0, 21).map((name) => `value-${name}`));
      expect(missing).toBeInstanceOf(PermanentError);
      expect(ssm.getCalls.map((call) => call.names.length).sort()).toEqual([10, 10, 3]);
      expect(ssm.requests.every((request) => request.outcome === 200)).toBe(true);
    });

    it('should share one call between concurrent gets', async () => {
      // Prepare
      const secrets = reader(['INGEST_TOKEN', 'SLACK_TOKEN', 'HOOK']);

      // Act
      const values = await Promise.all([
        secrets.get('HOOK'),
        secrets.get('SLACK_TOKEN'),
        secrets.get('HOOK'),
      ]);

      // Assess
      expect(values).toEqual([HOOK_VALUE, VALUES.SLACK_TOKEN, HOOK_VALUE]);
      expect(ssm.getCalls).toHaveLength(1);
    });

    it('should reuse the values within the cache time and pick up a rotated value after it', async () => {
      // Prepare
      const secrets = reader(['INGEST_TOKEN']);
      await secrets.get('INGEST_TOKEN');
      ssm.parameters.set(`${PATH}INGEST_TOKEN`, { type: 'SecureString', value: 'rotated-token', version: 2 });
      clock += SECRET_CACHE_SECONDS * 1000 - 1;
      const cached = await secrets.get('INGEST_TOKEN');
      clock += 1;

      // Act
      const rotated = await secrets.get('INGEST_TOKEN');

      // Assess
      expect(cached).toBe(TOKEN_VALUE);
      expect(rotated).toBe('rotated-token');
      expect(ssm.getCalls).toHaveLength(2);
    });

    it('should fetch a name it was not given on its own', async () => {
      // Prepare
      const secrets = reader(['INGEST_TOKEN']);

      // Act
      const hook = await secrets.get('HOOK');

      // Assess
      expect(hook).toBe(HOOK_VALUE);
      expect(ssm.getCalls.map((call) => call.names)).toEqual([[`${PATH}HOOK`]]);
    });

    it('should throw a PermanentError naming a missing parameter, and remember it is missing for the cache time', async () => {
      // Prepare: the previous token is deleted after a rotation; ingest asks on every request.
      ssm.parameters.delete(`${PATH}INGEST_TOKEN_PREVIOUS`);
      const secrets = reader(['INGEST_TOKEN', 'INGEST_TOKEN_PREVIOUS']);

      // Act
      const first = await caught(secrets.get('INGEST_TOKEN_PREVIOUS'));
      const again = await caught(secrets.get('INGEST_TOKEN_PREVIOUS'));
      const token = await secrets.get('INGEST_TOKEN');
      ssm.parameters.set(`${PATH}INGEST_TOKEN_PREVIOUS`, {
        type: 'SecureString',
        value: 'created-later',
        version: 1,
      });
      clock += SECRET_CACHE_SECONDS * 1000;
      const created = await secrets.get('INGEST_TOKEN_PREVIOUS');

      // Assess
      expect(first).toBeInstanceOf(PermanentError);
      expect(first.message).toBe(
        `secret "INGEST_TOKEN_PREVIOUS" is not set: SSM parameter ${PATH}INGEST_TOKEN_PREVIOUS does not exist ` +
          '(create it as a SecureString: docs/operations.md, Set the secrets)',
      );
      expect(again).toBeInstanceOf(PermanentError);
      expect(token).toBe(TOKEN_VALUE);
      expect(created).toBe('created-later');
      expect(ssm.getCalls).toHaveLength(2);
    });

    it('should read what the policy allows and name the parameter the policy leaves out', async () => {
      // Prepare: the role may read the ingest token only.
      ssm.setPolicy('ingest-role', [ssm.arn(`${PATH}INGEST_TOKEN`, 'eu-west-1')]);
      const secrets = reader(['INGEST_TOKEN', 'SLACK_TOKEN'], 'ingest-role');

      // Act
      const token = await secrets.get('INGEST_TOKEN');
      const denied = await caught(secrets.get('SLACK_TOKEN'));

      // Assess
      expect(token).toBe(TOKEN_VALUE);
      expect(denied).toBeInstanceOf(RetryableError);
      expect(denied.message).toContain(`access to SSM parameter ${PATH}SLACK_TOKEN was denied`);
      expect(denied.message).toContain("this function's IAM policy does not include it");
      // The SDK's own message names the role and the account: never in ours.
      expect(denied.message).not.toContain('assumed-role');
      expect(denied.message).not.toContain(SSM_ACCOUNT);
      expectNoValue(denied);
      // The two-name call was refused whole, then each name alone; a refusal is not cached, so
      // asking for the refused name asks SSM again.
      expect(ssm.requests.map((request) => request.outcome)).toEqual([400, 200, 400, 400]);
    });

    it.each([
      ['throttling', throttled, 'ThrottlingException'],
      ['a 5xx', internalError, 'InternalServerError'],
    ])('should throw a RetryableError on %s, and not cache it', async (_, answer, code) => {
      // Prepare
      const secrets = reader(['INGEST_TOKEN', 'HOOK']);
      ssm.respondWith([answer()]);

      // Act
      const failed = await caught(secrets.get('INGEST_TOKEN'));
      const value = await secrets.get('INGEST_TOKEN');

      // Assess
      expect(failed).toBeInstanceOf(RetryableError);
      expect(failed.message).toBe(
        `could not read secret "INGEST_TOKEN" from SSM parameter ${PATH}INGEST_TOKEN: ${code}`,
      );
      expectNoValue(failed);
      expect(value).toBe(TOKEN_VALUE);
    });

    it('should throw a RetryableError when SSM cannot be reached', async () => {
      // Prepare
      await ssm.close();
      const secrets = reader(['INGEST_TOKEN']);

      // Act
      const error = await caught(secrets.get('INGEST_TOKEN'));

      // Assess
      expect(error).toBeInstanceOf(RetryableError);
      expect(error.message).toContain(`${PATH}INGEST_TOKEN`);
    });

    it('should read a plain String parameter too (an operator who forgot --type SecureString)', async () => {
      // Prepare
      ssm.parameters.set(`${PATH}PLAIN`, { type: 'String', value: 'plain-value', version: 1 });
      const secrets = reader(['PLAIN']);

      // Act
      const value = await secrets.get('PLAIN');

      // Assess
      expect(value).toBe('plain-value');
    });
  });

  describe('Function: lazyGetParameters', () => {
    it('should call GetParameters through an SSM client it loads on the first call', async () => {
      // Prepare
      const getParameters = lazyGetParameters({
        region: 'eu-west-1',
        endpoint: ssm.url,
        credentials: { accessKeyId: 'lazy-caller', secretAccessKey: 'fake' },
        maxAttempts: 1,
      });
      const secrets = new ParameterStoreSecrets({ getParameters, path: PATH, names: ['INGEST_TOKEN'] });

      // Act
      const token = await secrets.get('INGEST_TOKEN');
      const hook = await secrets.get('HOOK');

      // Assess
      expect([token, hook]).toEqual([TOKEN_VALUE, HOOK_VALUE]);
      expect(ssm.getCalls.map((call) => call.caller)).toEqual(['lazy-caller', 'lazy-caller']);
    });
  });

  describe('Constructor', () => {
    it.each(['alertmanager-relay-ci/', '/alertmanager-relay-ci', '', '/a b/'])(
      'should refuse the path %j',
      (path) => {
        // Act & Assess
        expect(() => new ParameterStoreSecrets({ getParameters: lazyGetParameters(), path })).toThrow(
          'the secrets path must look like /alertmanager-relay-prod/',
        );
      },
    );
  });
});

describe('Fake SSM contract', () => {
  let ssm: FakeSsm;
  let ssmClient: SSMClient;

  beforeEach(async () => {
    ssm = await startFakeSsm({ parameters: { '/x/A': 'value-a' } });
    ssmClient = new SSMClient({
      region: 'eu-west-1',
      endpoint: ssm.url,
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      maxAttempts: 1,
    });
  });

  afterEach(async () => {
    ssmClient.destroy();
    await ssm.close();
  });

  it('should refuse more than 10 names, as SSM does', async () => {
    // Act
    const error = await caught(
      ssmClient.send(new GetParametersCommand({ Names: Array.from({ length: 11 }, (_, i) => `/x/N${i}`) })),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
  });

  it('should return a SecureString encrypted without WithDecryption', async () => {
    // Act
    const output = await ssmClient.send(new GetParametersCommand({ Names: ['/x/A', '/x/B'] }));

    // Assess
    expect(output.Parameters?.[0]?.Value).not.toBe('value-a');
    expect(output.InvalidParameters).toEqual(['/x/B']);
  });
});

describe('Class: LocalSecrets', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-secrets-'));
    file = join(dir, 'secrets.json');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('Method: get', () => {
    it('should read the environment variable of that name first', async () => {
      // Prepare
      await writeFile(file, JSON.stringify({ INGEST_TOKEN: 'from-file-value' }));
      const secrets = new LocalSecrets({ env: { INGEST_TOKEN: 'from-env-value', RELAY_SECRETS_FILE: file } });

      // Act
      const value = await secrets.get('INGEST_TOKEN');

      // Assess
      expect(value).toBe('from-env-value');
    });

    it('should fall back to the JSON file named by RELAY_SECRETS_FILE', async () => {
      // Prepare
      await writeFile(file, JSON.stringify({ INGEST_TOKEN: 'from-file-value' }));
      const secrets = new LocalSecrets({ env: { RELAY_SECRETS_FILE: file } });

      // Act
      const value = await secrets.get('INGEST_TOKEN');

      // Assess
      expect(value).toBe('from-file-value');
    });

    it('should prefer an explicit file over RELAY_SECRETS_FILE', async () => {
      // Prepare
      const other = join(dir, 'other.json');
      await writeFile(file, JSON.stringify({ INGEST_TOKEN: 'from-env-file' }));
      await writeFile(other, JSON.stringify({ INGEST_TOKEN: 'from-explicit-file' }));
      const secrets = new LocalSecrets({ env: { RELAY_SECRETS_FILE: file }, file: other });

      // Act
      const value = await secrets.get('INGEST_TOKEN');

      // Assess
      expect(value).toBe('from-explicit-file');
    });

    it('should re-read the file after it changes', async () => {
      // Prepare
      await writeFile(file, JSON.stringify({ INGEST_TOKEN: 'first-value' }));
      const secrets = new LocalSecrets({ env: { RELAY_SECRETS_FILE: file } });
      const before = await secrets.get('INGEST_TOKEN');
      await writeFile(file, JSON.stringify({ INGEST_TOKEN: 'rotated-value' }));

      // Act
      const after = await secrets.get('INGEST_TOKEN');

      // Assess
      expect(before).toBe('first-value');
      expect(after).toBe('rotated-value');
    });

    it('should throw a PermanentError naming the variable when it is set nowhere', async () => {
      // Prepare
      await writeFile(file, JSON.stringify({ OTHER: TOKEN_VALUE }));
      const secrets = new LocalSecrets({ env: { RELAY_SECRETS_FILE: file } });

      // Act
      const error = await caught(secrets.get('SLACK_TOKEN'));

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toContain('environment variable SLACK_TOKEN');
      expect(error.message).toContain('RELAY_SECRETS_FILE');
      expect(error.message).not.toContain(dir);
      expect((error.cause as Error).message).toBe(`RELAY_SECRETS_FILE is ${file}`);
      expect(error.message).not.toContain(TOKEN_VALUE);
    });

    it('should say how to set a secret when there is no file at all', async () => {
      // Prepare
      const secrets = new LocalSecrets({ env: {} });

      // Act
      const error = await caught(secrets.get('SLACK_TOKEN'));

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toContain('environment variable SLACK_TOKEN');
      expect(error.message).toContain('RELAY_SECRETS_FILE');
    });

    it('should throw a PermanentError with the error code when the file cannot be read', async () => {
      // Prepare
      const secrets = new LocalSecrets({ env: { RELAY_SECRETS_FILE: join(dir, 'missing.json') } });

      // Act
      const error = await caught(secrets.get('SLACK_TOKEN'));

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toBe('the file named by RELAY_SECRETS_FILE cannot be read: ENOENT');
    });

    it.each([
      ['missing', async (path: string) => path],
      [
        'unreadable (a directory)',
        async (path: string) => {
          await mkdir(path);
          return path;
        },
      ],
    ])(
      'should keep the path of a %s file out of the message and in the cause, for the log only',
      async (_, make) => {
        // Prepare
        const path = await make(join(dir, 'private-secrets-location.json'));
        const secrets = new LocalSecrets({ env: { RELAY_SECRETS_FILE: path } });

        // Act
        const error = await caught(secrets.get('INGEST_TOKEN'));

        // Assess
        expect(error.message).not.toContain('private-secrets-location');
        expect(error.message).not.toContain(dir);
        expect(String((error.cause as Error).message)).toContain(path);
      },
    );

    it.each([
      ['not valid JSON', `{"INGEST_TOKEN": "${TOKEN_VALUE}"`],
      ['not a JSON object', JSON.stringify([TOKEN_VALUE])],
    ])('should throw a PermanentError for a file that is %s, never quoting it', async (_, text) => {
      // Prepare
      await writeFile(file, text);
      const secrets = new LocalSecrets({ env: { RELAY_SECRETS_FILE: file } });

      // Act
      const error = await caught(secrets.get('INGEST_TOKEN'));

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toMatch(/^the file named by RELAY_SECRETS_FILE /);
      expect(error.message).not.toContain(dir);
      expect((error.cause as Error).message).toBe(`RELAY_SECRETS_FILE is ${file}`);
      expect(error.message).not.toContain(TOKEN_VALUE);
    });
  });
});

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../lib/delivery/errors.ts';
import { LocalSecrets, SECRET_CACHE_SECONDS, SecretsManagerSecrets } from '../lib/secrets.ts';

const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:relay-ci-AbCdEf';
const TOKEN_VALUE = 'tok-4f9b2c7e1d0a-NEVER-PRINT';
const HOOK_VALUE = 'whsec_c2VjcmV0LXNpZ25pbmcta2V5LU5FVkVSLVBSSU5U';

const smMock = mockClient(SecretsManagerClient);

function awsError(name: string, message = `${name} happened`): Error {
  return Object.assign(new Error(message), { name, $metadata: {} });
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('Class: SecretsManagerSecrets', () => {
  let clock: number;
  let secrets: SecretsManagerSecrets;

  beforeEach(() => {
    smMock.reset();
    clock = Date.UTC(2026, 10, 21, 12);
    secrets = new SecretsManagerSecrets({
      client: new SecretsManagerClient({ region: 'eu-west-1' }),
      secretId: SECRET_ID,
      now: () => clock,
    });
  });

  describe('Method: get', () => {
    it('should read the named value of the JSON secret', async () => {
      // Prepare
      smMock
        .on(GetSecretValueCommand)
        .resolves({ SecretString: JSON.stringify({ INGEST_TOKEN: TOKEN_VALUE, HOOK: HOOK_VALUE }) });

      // Act
      const token = await secrets.get('INGEST_TOKEN');
      const hook = await secrets.get('HOOK');

      // Assess
      expect(token).toBe(TOKEN_VALUE);
      expect(hook).toBe(HOOK_VALUE);
      const calls = smMock.commandCalls(GetSecretValueCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0].args[0].input).toEqual({ SecretId: SECRET_ID });
    });

    it('should reuse the fetched secret within the cache time', async () => {
      // Prepare
      smMock
        .on(GetSecretValueCommand)
        .resolves({ SecretString: JSON.stringify({ INGEST_TOKEN: TOKEN_VALUE }) });
      await secrets.get('INGEST_TOKEN');
      clock += SECRET_CACHE_SECONDS * 1000 - 1;

      // Act
      const value = await secrets.get('INGEST_TOKEN');

      // Assess
      expect(value).toBe(TOKEN_VALUE);
      expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    });

    it('should fetch again once the cache time has passed, picking up a rotated value', async () => {
      // Prepare
      smMock
        .on(GetSecretValueCommand)
        .resolvesOnce({ SecretString: JSON.stringify({ INGEST_TOKEN: 'old-token-value' }) })
        .resolves({ SecretString: JSON.stringify({ INGEST_TOKEN: 'new-token-value' }) });
      const before = await secrets.get('INGEST_TOKEN');
      clock += SECRET_CACHE_SECONDS * 1000;

      // Act
      const after = await secrets.get('INGEST_TOKEN');

      // Assess
      expect(before).toBe('old-token-value');
      expect(after).toBe('new-token-value');
      expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    });

    it('should honour a custom ttlSeconds', async () => {
      // Prepare
      smMock
        .on(GetSecretValueCommand)
        .resolves({ SecretString: JSON.stringify({ INGEST_TOKEN: TOKEN_VALUE }) });
      const short = new SecretsManagerSecrets({
        client: new SecretsManagerClient({ region: 'eu-west-1' }),
        secretId: SECRET_ID,
        ttlSeconds: 10,
        now: () => clock,
      });
      await short.get('INGEST_TOKEN');
      clock += 9_999;
      await short.get('INGEST_TOKEN');
      const withinTtl = smMock.commandCalls(GetSecretValueCommand).length;
      clock += 1;

      // Act
      await short.get('INGEST_TOKEN');

      // Assess
      expect(withinTtl).toBe(1);
      expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    });

    it('should share one fetch between concurrent gets', async () => {
      // Prepare
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      smMock.on(GetSecretValueCommand).callsFake(async () => {
        await gate;
        return { SecretString: JSON.stringify({ A: 'value-a', B: 'value-b' }) };
      });

      // Act
      const pending = [secrets.get('A'), secrets.get('B'), secrets.get('A')];
      release();
      const values = await Promise.all(pending);

      // Assess
      expect(values).toEqual(['value-a', 'value-b', 'value-a']);
      expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    });

    it('should throw a PermanentError naming a missing secret, without any value', async () => {
      // Prepare
      smMock
        .on(GetSecretValueCommand)
        .resolves({ SecretString: JSON.stringify({ INGEST_TOKEN: TOKEN_VALUE }) });

      // Act
      const error = await caught(secrets.get('SLACK_TOKEN'));

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toContain('"SLACK_TOKEN"');
      expect(error.message).toContain(SECRET_ID);
      expect(error.message).not.toContain(TOKEN_VALUE);
    });

    it('should treat an empty or non-string value as missing', async () => {
      // Prepare
      smMock
        .on(GetSecretValueCommand)
        .resolves({ SecretString: JSON.stringify({ EMPTY: '', NUMBER: 42, NESTED: { v: TOKEN_VALUE } }) });

      // Act
      const errors = await Promise.all(
        ['EMPTY', 'NUMBER', 'NESTED'].map((name) => caught(secrets.get(name))),
      );

      // Assess
      for (const error of errors) {
        expect(error).toBeInstanceOf(PermanentError);
        expect(error.message).not.toContain(TOKEN_VALUE);
      }
    });

    it.each([
      ['invalid JSON that quotes the value', `{"INGEST_TOKEN": "${TOKEN_VALUE}"`],
      ['a JSON array', JSON.stringify([TOKEN_VALUE])],
      ['a JSON string', JSON.stringify(TOKEN_VALUE)],
      ['JSON null', 'null'],
      ['a plain string', TOKEN_VALUE],
    ])(
      'should throw a PermanentError asking for a JSON object when the secret is %s, never quoting it',
      async (_, text) => {
        // Prepare
        smMock.on(GetSecretValueCommand).resolves({ SecretString: text });

        // Act
        const error = await caught(secrets.get('INGEST_TOKEN'));

        // Assess
        expect(error).toBeInstanceOf(PermanentError);
        expect(error.message).toContain('is not a JSON object');
        expect(error.message).not.toContain(TOKEN_VALUE);
        expect(String((error as { cause?: unknown }).cause ?? '')).not.toContain(TOKEN_VALUE);
      },
    );

    it('should throw a PermanentError for a binary secret (no SecretString)', async () => {
      // Prepare
      smMock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });

      // Act
      const error = await caught(secrets.get('INGEST_TOKEN'));

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
    });

    it('should throw a PermanentError when the secret does not exist', async () => {
      // Prepare
      smMock
        .on(GetSecretValueCommand)
        .rejects(awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret."));

      // Act
      const error = await caught(secrets.get('INGEST_TOKEN'));

      // Assess
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toContain('does not exist');
      expect(error.message).toContain(SECRET_ID);
    });

    it.each(['ThrottlingException', 'InternalServiceError', 'AccessDeniedException', 'TimeoutError'])(
      'should throw a RetryableError for %s',
      async (name) => {
        // Prepare
        smMock.on(GetSecretValueCommand).rejects(awsError(name));

        // Act
        const error = await caught(secrets.get('INGEST_TOKEN'));

        // Assess
        expect(error).toBeInstanceOf(RetryableError);
        expect(error.message).toContain(name);
      },
    );

    it('should not cache a failed fetch: the next get asks again', async () => {
      // Prepare
      smMock
        .on(GetSecretValueCommand)
        .rejectsOnce(awsError('ThrottlingException'))
        .resolves({ SecretString: JSON.stringify({ INGEST_TOKEN: TOKEN_VALUE }) });
      const first = await caught(secrets.get('INGEST_TOKEN'));

      // Act
      const value = await secrets.get('INGEST_TOKEN');

      // Assess
      expect(first).toBeInstanceOf(RetryableError);
      expect(value).toBe(TOKEN_VALUE);
      expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    });
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

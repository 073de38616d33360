import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Relay, startRelay } from '../../lib/local/runtime.ts';
import { LocalSecrets } from '../../lib/secrets.ts';
import { makeNotification, postNotification } from '../support/notifications.ts';

/**
 * The ingest token's secrets file becomes unreadable while the relay runs: ingest answers 503
 * (Alertmanager keeps the notification), and the answer, which an unauthenticated caller reads,
 * does not say where the file is.
 */
describe('Local runtime: an unreadable secrets file', () => {
  let dir: string;
  let relay: Relay | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-secrets-file-'));
  });

  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('should answer 503 without the path of the file to a caller with a guessed token', async () => {
    // Prepare: a directory where the file should be, so reading it fails (EISDIR)
    const file = join(dir, 'hidden-secrets-location.json');
    await mkdir(file);
    relay = await startRelay({
      config: {
        ingest: { tokenSecret: 'INGEST_TOKEN' },
        destinations: [{ name: 'stdout', sink: 'console' }],
      },
      secrets: new LocalSecrets({ env: { RELAY_SECRETS_FILE: file } }),
      dataDir: join(dir, 'data'),
      port: 0,
    });

    // Act
    const response = await postNotification(relay.url, makeNotification({}), { token: 'a-guess' });

    // Assess
    expect(response.status).toBe(503);
    expect(response.body).toEqual({
      error: 'cannot verify the token right now',
      details: ['the ingest token secret could not be read; the relay logged why'],
    });
    expect(JSON.stringify(response.body)).not.toContain('hidden-secrets-location');
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYLOADS_DIR } from '../support/notifications.ts';
import { runScript } from '../support/run-script.ts';

const CONFIG = `destinations:
  - name: stdout
    sink: console
  - name: db-team
    sink: webhook
    url: https://hooks.example/db
    matchers: ['team="db"']
`;

describe('Command: npm run preview', () => {
  let dir: string;
  const payload = new URL('am-0.25-firing.json', PAYLOADS_DIR).pathname;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-preview-'));
    await writeFile(join(dir, 'relay-test.yaml'), CONFIG);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('should say which config and payload are missing and where it looked, not only the usage', async () => {
    // Act: a directory without relay.yaml, RELAY_CONFIG not set.
    const result = await runScript('scripts/preview.ts', ['--destination', 'stdout'], { cwd: dir });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      `no config: --config was not given, RELAY_CONFIG is not set, and there is no relay.yaml in ${dir}.`,
    );
    expect(result.stderr).toContain('no payload: give the file of an Alertmanager webhook body');
    expect(result.stderr).toContain(
      '\n  npm run preview -- --config path/to/relay.yaml --destination stdout FILE.json\n',
    );
  });

  it('should take the config RELAY_CONFIG names, as npm start does', async () => {
    // Act
    const result = await runScript('scripts/preview.ts', [payload], {
      cwd: dir,
      env: { RELAY_CONFIG: 'relay-test.yaml' },
    });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^== stdout \(console\): 1 alert\(s\)$/m);
  });

  it('should list the destinations the payload did not match, and why', async () => {
    // Act
    const result = await runScript('scripts/preview.ts', ['--config', 'relay-test.yaml', payload], {
      cwd: dir,
    });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "Nothing for these destinations: no alert passes the destination's matchers.\n" +
        '== db-team (webhook): team="db" fails for the only alert: no team label (1)\n',
    );
  });
});

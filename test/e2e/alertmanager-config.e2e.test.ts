import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, run, runScript } from '../support/run-script.ts';

/** The stdout of a run that must succeed; a failed run throws with what it said. */
function stdoutOf({ code, signal, stdout, stderr }: RunResult): string {
  if (code !== 0) throw new Error(`exited with code ${code} (signal ${signal}):\n${stderr}${stdout}`);
  return stdout;
}

/** What `npm run alertmanager-config` prints is accepted by the real amtool (Debian's, 0.25). */
describe('Command: alertmanager-config with amtool check-config', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-amconfig-'));
    await writeFile(
      join(dir, 'relay.yaml'),
      'ingest:\n  tokenSecret: INGEST_TOKEN\ndestinations:\n  - name: stdout\n    sink: console\n',
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function printed(args: string[], relayConfig?: string): Promise<string> {
    return stdoutOf(
      await runScript('scripts/alertmanager-config.ts', args, {
        cwd: dir,
        env: relayConfig ? { RELAY_CONFIG: relayConfig } : {},
      }),
    );
  }

  async function checkConfig(text: string, name: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    return stdoutOf(await run('amtool', ['check-config', file], { env: process.env }));
  }

  it('should print a stage receiver with a bearer credentials_file that amtool accepts', async () => {
    // Prepare
    const text = await printed(
      ['--url', 'https://abc123.execute-api.eu-west-1.amazonaws.com/alertmanager'],
      join(dir, 'relay.yaml'),
    );

    // Act
    const result = await checkConfig(text, 'stage.yml');

    // Assess
    expect(result).toContain('SUCCESS');
    expect(result).toContain('1 receivers');
    expect(text).toContain('credentials_file: /etc/alertmanager/secrets/alertmanager-relay-token');
    expect(text).toContain('send_resolved: true');
  });

  it('should print the local relay receiver that amtool accepts', async () => {
    // Prepare
    const text = await printed(['--local']);

    // Act
    const result = await checkConfig(text, 'local.yml');

    // Assess
    expect(result).toContain('SUCCESS');
    expect(text).toContain('url: http://127.0.0.1:9099/alertmanager');
  });
});

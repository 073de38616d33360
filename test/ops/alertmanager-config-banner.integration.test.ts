import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/load.ts';
import { banner } from '../../lib/local/banner.ts';
import { type ManagedProcess, relayUrl, runScript, spawnRelay } from '../support/run-script.ts';

const WITH_TOKEN_AND_WATCHDOG = [
  'ingest:',
  '  tokenSecret: INGEST_TOKEN',
  'watchdog:',
  '  destinations: [out]',
  '  alertname: DeadMansSwitch',
  'destinations:',
  '  - name: out',
  '    sink: console',
  '',
].join('\n');

/**
 * npm start's banner shows the Alertmanager config `npm run alertmanager-config -- --local`
 * prints, character for character (issue 23): max_alerts, the route, the watchdog's route, the
 * token's credentials_file.
 */
describe("npm start's banner and npm run alertmanager-config -- --local", () => {
  let dir: string;
  const processes: ManagedProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-banner-'));
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop(2_000)));
    await rm(dir, { recursive: true, force: true });
  });

  async function amconfig(config: string, env: NodeJS.ProcessEnv): Promise<string> {
    const result = await runScript('scripts/alertmanager-config.ts', ['--local'], {
      cwd: dir,
      env: { RELAY_CONFIG: config, HOME: dir, ...env },
    });
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  }

  it('should print the same config in the running relay’s banner as the command does for its HOST and PORT', async () => {
    // Prepare
    const config = join(dir, 'relay.yaml');
    await writeFile(config, WITH_TOKEN_AND_WATCHDOG);
    const relay = spawnRelay({
      cwd: dir,
      env: { RELAY_DATA_DIR: join(dir, 'data'), RELAY_CONFIG: config, PORT: '0', INGEST_TOKEN: 'token-1' },
    });
    processes.push(relay);
    const url = await relayUrl(relay);
    await relay.waitForLine(/^ +credentials_file: /);

    // Act
    const printed = await amconfig(config, { HOST: '127.0.0.1', PORT: new URL(url).port });

    // Assess
    expect(printed).toContain('max_alerts: 0');
    expect(printed).toContain('matchers: [\'alertname="DeadMansSwitch"\']');
    expect(printed).toContain('credentials_file: ');
    expect(relay.stdout()).toContain(`prints the same):\n\n${printed}`);
  });

  it.each([
    [
      'no token, no watchdog',
      'destinations:\n  - { name: out, sink: console }\n',
      { HOST: 'localhost', PORT: '9099' },
    ],
    ['a token and a watchdog', WITH_TOKEN_AND_WATCHDOG, { HOST: '::1', PORT: '9100' }],
  ])('should end the banner with exactly what the command prints: %s', async (_, yaml, env) => {
    // Prepare
    const config = join(dir, 'relay.yaml');
    await writeFile(config, yaml);
    const loaded = loadConfig({ env: { RELAY_CONFIG: config } });
    const url = `http://${env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST}:${env.PORT}`;

    // Act
    const printed = await amconfig(config, env);
    const text = banner({
      url,
      host: env.HOST,
      source: loaded.source,
      config: loaded.config,
      dataDir: dir,
      warnings: [],
    });

    // Assess
    expect(printed).toContain(`- url: ${url}/alertmanager\n`);
    expect(text.endsWith(`prints the same):\n\n${printed}`)).toBe(true);
  });
});

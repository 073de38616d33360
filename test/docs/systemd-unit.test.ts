import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { available, SYSTEMD_ANALYZE } from '../support/optional-binary.ts';
import { REPO_ROOT, run } from '../support/run-script.ts';

/** docs/alertmanager-relay.service: the relay under systemd, as docs/operations.md installs it. */

const UNIT_PATH = join(REPO_ROOT, 'docs/alertmanager-relay.service');
/** Where docs/operations.md has the repository checked out. */
const INSTALLED_AT = '/opt/alertmanager-relay';

/** The unit's settings by section, each key with every value it is given, in order. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = new Map();
      sections.set(header[1], section);
      continue;
    }
    const setting = /^(\w+)=(.*)$/.exec(line);
    if (!setting || !section) throw new Error(`not a unit line: ${line}`);
    section.set(setting[1], [...(section.get(setting[1]) ?? []), setting[2]]);
  }
  return sections;
}

const unit = () => parseUnit(readFileSync(UNIT_PATH, 'utf8'));
const service = () => unit().get('Service') ?? new Map<string, string[]>();
const one = (key: string) => {
  const values = service().get(key) ?? [];
  if (values.length !== 1) throw new Error(`[Service] ${key} is set ${values.length} times`);
  return values[0];
};
const environment = () =>
  new Map((service().get('Environment') ?? []).map((pair) => pair.split('=', 2) as [string, string]));

describe('File: docs/alertmanager-relay.service', () => {
  it("should run the repository's Node on the script `npm start` runs, so SIGTERM reaches the relay", () => {
    // Prepare
    const { scripts } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

    // Act
    const [program, ...args] = one('ExecStart').split(' ');

    // Assess
    expect(program).toBe(`${INSTALLED_AT}/node_modules/.bin/node`);
    expect(one('WorkingDirectory')).toBe(INSTALLED_AT);
    expect(scripts.start).toBe(`exec node ${args.join(' ')}`);
    expect(one('ExecStart')).not.toMatch(/\bnpm\b/);
    expect(one('KillSignal')).toBe('SIGTERM');
    // SIGTERM to the main process only; SIGKILL to whatever is left once TimeoutStopSec is over.
    expect(one('KillMode')).toBe('mixed');
    expect(one('TimeoutStopSec')).toBe('15');
    expect(one('Restart')).toBe('on-failure');
  });

  it('should not restart on the exit code lib/local/main.ts gives a config error', () => {
    // Prepare
    const main = readFileSync(join(REPO_ROOT, 'lib/local/main.ts'), 'utf8');

    // Act
    const prevented = one('RestartPreventExitStatus');

    // Assess
    expect(main).toContain(`return ${prevented};`);
  });

  it('should set only variables the relay reads, the data directory being the state directory it may write', () => {
    // Prepare
    const readers = ['lib/local/main.ts', 'lib/config/load.ts', 'lib/secrets.ts'].map((file) =>
      readFileSync(join(REPO_ROOT, file), 'utf8'),
    );

    // Act
    const env = environment();

    // Assess
    expect([...env.keys()].sort()).toEqual(
      ['HOST', 'LOG_LEVEL', 'PORT', 'RELAY_CONFIG', 'RELAY_DATA_DIR', 'RELAY_SECRETS_FILE'].sort(),
    );
    for (const name of env.keys())
      expect(
        readers.some((source) => source.includes(`env.${name}`)),
        `${name} is read by main.ts, load.ts or secrets.ts`,
      ).toBe(true);
    expect(env.get('RELAY_DATA_DIR')).toBe(`/var/lib/${one('StateDirectory')}`);
    expect(one('ReadWritePaths').split(' ')).toEqual([env.get('RELAY_DATA_DIR')]);
    expect(env.get('HOST')).toBe('127.0.0.1');
  });

  it('should run as a user of its own with the hardening issue 23 asks for', () => {
    // Assess
    expect(one('User')).toBe('alertmanager-relay');
    expect(one('Group')).toBe('alertmanager-relay');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe('');
    // V8's JIT needs writable, executable memory.
    expect(service().has('MemoryDenyWriteExecute')).toBe(false);
    expect(unit().get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  describe.runIf(available(SYSTEMD_ANALYZE, 'systemd-analyze verify on docs/alertmanager-relay.service'))(
    'with systemd-analyze',
    () => {
      let dir: string;

      beforeAll(async () => {
        dir = await mkdtemp(join(tmpdir(), 'relay-unit-'));
      });

      afterAll(async () => {
        if (dir) await rm(dir, { recursive: true, force: true });
      });

      it('should pass systemd-analyze verify, installed where this checkout is', async () => {
        // Prepare: verify checks that ExecStart's program exists, so point the unit at this checkout.
        const file = join(dir, 'alertmanager-relay.service');
        await writeFile(file, readFileSync(UNIT_PATH, 'utf8').replaceAll(INSTALLED_AT, REPO_ROOT));

        // Act
        const result = await run(SYSTEMD_ANALYZE.path, ['verify', file]);

        // Assess: an unknown key or a bad value is only a warning on stderr, with exit code 0.
        expect(result.stderr + result.stdout).toBe('');
        expect(result.code).toBe(0);
      });
    },
  );
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MatcherParseError, parseMatcher } from '../../lib/alertmanager/matchers.ts';
import { bundledConfig } from '../../lib/config/bundled.ts';
import {
  ConfigError,
  DEFAULT_CONFIG,
  loadConfig,
  parseConfig,
  validateConfig,
} from '../../lib/config/load.ts';
import { sinks } from '../../lib/sinks/registry.ts';

/** The ConfigError a call throws (fails the test when it does not throw one). */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

/** The message the matcher parser gives for `input`. */
function matcherMessage(input: string): string {
  try {
    parseMatcher(input);
  } catch (error) {
    expect(error).toBeInstanceOf(MatcherParseError);
    return (error as Error).message;
  }
  throw new Error(`expected ${input} not to parse`);
}

const VALID = `
ingest:
  tokenSecret: RELAY_TOKEN
  previousTokenSecret: RELAY_TOKEN_PREVIOUS
destinations:
  - name: ops
    sink: console
    matchers: ['severity=~"critical|warning"', 'team!="sandbox"']
  - name: hook
    sink: webhook
    url: https://hooks.example.com/alertmanager
    signingSecret: HOOK_SIGNING_KEY
`;

describe('Function: loadConfig', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-config-'));
    // A bundled config (set in a Lambda bundle) would win over everything under test here.
    vi.stubEnv('RELAY_BUNDLED_CONFIG', '');
  });

  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should read the file RELAY_CONFIG names', () => {
    // Prepare
    const path = join(dir, 'custom.yaml');
    writeFileSync(path, VALID);
    writeFileSync(join(dir, 'relay.yaml'), 'destinations: [{ name: local, sink: console }]\n');

    // Act
    const { config, source } = loadConfig({ env: { RELAY_CONFIG: path }, cwd: dir });

    // Assess
    expect(source).toBe(path);
    expect(config.ingest).toEqual({
      tokenSecret: 'RELAY_TOKEN',
      previousTokenSecret: 'RELAY_TOKEN_PREVIOUS',
    });
    expect(config.destinations.map((d) => d.name)).toEqual(['ops', 'hook']);
    expect(config.destinations[0].matchers).toEqual(['severity=~"critical|warning"', 'team!="sandbox"']);
  });

  it('should resolve a relative RELAY_CONFIG against the working directory', () => {
    // Prepare
    writeFileSync(join(dir, 'custom.yaml'), VALID);

    // Act
    const { source } = loadConfig({ env: { RELAY_CONFIG: 'custom.yaml' }, cwd: dir });

    // Assess
    expect(source).toBe(join(dir, 'custom.yaml'));
  });

  it('should read ./relay.yaml when RELAY_CONFIG is not set', () => {
    // Prepare
    writeFileSync(join(dir, 'relay.yaml'), 'destinations: [{ name: local, sink: console }]\n');

    // Act
    const { config, source } = loadConfig({ env: {}, cwd: dir });

    // Assess
    expect(source).toBe(join(dir, 'relay.yaml'));
    expect(config).toEqual({ ingest: {}, destinations: [{ name: 'local', sink: 'console' }] });
  });

  it('should fall back to the built-in default: one console destination named stdout', () => {
    // Prepare
    const env = {};

    // Act
    const { config, source } = loadConfig({ env, cwd: dir });

    // Assess
    expect(source).toBe('built-in default');
    expect(config).toEqual({ ingest: {}, destinations: [{ name: 'stdout', sink: 'console' }] });
    expect(config).not.toBe(DEFAULT_CONFIG);
  });

  it('should fail with the path when the RELAY_CONFIG file does not exist, not fall back', () => {
    // Prepare
    const path = join(dir, 'missing.yaml');
    writeFileSync(join(dir, 'relay.yaml'), 'destinations: [{ name: local, sink: console }]\n');

    // Act
    const error = configError(() => loadConfig({ env: { RELAY_CONFIG: path }, cwd: dir }));

    // Assess
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain(path);
    expect(error.problems[0]).toContain('does not exist');
    expect(error.message).toContain(path);
  });

  it('should name the file in the error of an invalid relay.yaml', () => {
    // Prepare
    writeFileSync(join(dir, 'relay.yaml'), 'destinations: [{ name: local, sink: slak }]\n');

    // Act
    const error = configError(() => loadConfig({ env: {}, cwd: dir }));

    // Assess
    expect(error.source).toBe(join(dir, 'relay.yaml'));
    expect(error.message).toContain(join(dir, 'relay.yaml'));
    expect(error.problems).toEqual([expect.stringMatching(/^destinations\[0\]\.sink: unknown sink "slak"/)]);
  });

  it('should ignore RELAY_BUNDLED_CONFIG: only a Lambda bundle reads it (lib/config/bundled.ts)', () => {
    // Prepare
    vi.stubEnv('RELAY_BUNDLED_CONFIG', JSON.stringify({ destinations: [{ name: 'b', sink: 'console' }] }));

    // Act
    const { source } = loadConfig({ env: {}, cwd: dir });

    // Assess
    expect(source).toBe('built-in default');
  });
});

describe('Function: bundledConfig', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('should read the config the build injected', () => {
    // Prepare
    vi.stubEnv('RELAY_BUNDLED_CONFIG', JSON.stringify({ destinations: [{ name: 'b', sink: 'console' }] }));

    // Act
    const config = bundledConfig();

    // Assess
    expect(config).toEqual({ ingest: {}, destinations: [{ name: 'b', sink: 'console' }] });
  });

  it('should say how to build when the bundle carries no config', () => {
    // Prepare
    vi.stubEnv('RELAY_BUNDLED_CONFIG', '');

    // Act
    const error = configError(() => bundledConfig());

    // Assess
    expect(error.problems[0]).toMatch(/npm run build/);
  });
});

describe('Function: parseConfig', () => {
  it('should accept a valid config and default ingest to no token', () => {
    // Prepare
    const text = 'destinations:\n  - name: ops\n    sink: console\n    format: json\n';

    // Act
    const config = parseConfig(text, 'relay.yaml');

    // Assess
    expect(config).toEqual({ ingest: {}, destinations: [{ name: 'ops', sink: 'console', format: 'json' }] });
  });

  it('should refuse a template that does not parse, naming the destination, key, line and column', () => {
    // Prepare
    const text = [
      'destinations:',
      '  - name: pager',
      '    sink: opsgenie',
      '    apiKeySecret: OPSGENIE_API_KEY',
      '    templates:',
      '      summary: "{{ commonLabels.alertname }} {% if %}"',
    ].join('\n');

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(
      /^destinations\[0\]: .*"pager".*templates\.summary: line 1, column \d+/,
    );
  });

  it("should report a bad matcher with its path and the matcher parser's message", () => {
    // Prepare
    const text = [
      'destinations:',
      '  - name: first',
      '    sink: console',
      '  - name: second',
      '    sink: console',
      '    matchers:',
      `      - 'severity="critical'`,
      `      - 'team="web"'`,
    ].join('\n');

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    const message = matcherMessage('severity="critical');
    expect(message).toContain('unterminated quoted value');
    expect(error.problems).toEqual([`destinations[1].matchers[0]: ${message}`]);
  });

  it('should report an invalid regular expression in a matcher at its index', () => {
    // Prepare
    const text =
      'destinations:\n  - name: a\n    sink: console\n    matchers: [\'a="b"\', \'pod=~"(web"\']\n';

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toEqual([`destinations[0].matchers[1]: ${matcherMessage('pod=~"(web"')}`]);
  });

  it('should report an unknown sink and list the known ones', () => {
    // Prepare
    const text = 'destinations:\n  - name: a\n    sink: console\n  - name: b\n    sink: slak\n';

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^destinations\[1\]\.sink: unknown sink "slak"/);
    expect(error.problems[0]).toContain('console');
    expect(error.problems[0]).toContain('webhook');
  });

  it.each([
    [
      'at the top level',
      'destination: []\ndestinations: [{ name: a, sink: console }]\n',
      'destination: unknown field',
    ],
    [
      'in ingest',
      'ingest: { token: RELAY_TOKEN }\ndestinations: [{ name: a, sink: console }]\n',
      'ingest.token: unknown field',
    ],
    [
      "in a destination (the sink's own schema)",
      'destinations:\n  - { name: a, sink: console }\n  - { name: b, sink: console, fil: /tmp/x }\n',
      'destinations[1].fil: unknown field',
    ],
    [
      'in a webhook destination',
      'destinations:\n  - { name: a, sink: webhook, url: "https://x.example/", header: {} }\n',
      'destinations[0].header: unknown field',
    ],
  ])('should report an unknown field %s', (_where, text, problem) => {
    // Prepare & Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toEqual([problem]);
  });

  it('should report a missing required field of a sink with its path', () => {
    // Prepare
    const text = 'destinations:\n  - { name: a, sink: console }\n  - { name: hook, sink: webhook }\n';

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toEqual(['destinations[1].url: is required']);
  });

  it('should report duplicate destination names, naming the first one', () => {
    // Prepare
    const text =
      'destinations:\n  - { name: ops, sink: console }\n  - { name: x, sink: console }\n  - { name: ops, sink: console }\n';

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toEqual(['destinations[2].name: "ops" is already used by destinations[0]']);
  });

  it.each([
    ['a Standard Webhooks key', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+/=='],
    ['a Slack token', 'xoxb-1234567890-0987654321-AbCdEf'],
    ['a phrase with spaces', 'my secret value'],
    ['a URL', 'https://user:pw@example.com'],
  ])('should refuse %s in a ...Secret field of a destination', (_name, value) => {
    // Prepare
    const text = `destinations:\n  - name: hook\n    sink: webhook\n    url: https://x.example/\n    signingSecret: ${JSON.stringify(value)}\n`;

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toEqual([
      expect.stringMatching(/^destinations\[0\]\.signingSecret: must be the NAME of a secret/),
    ]);
    expect(error.message).not.toContain(value);
  });

  it.each(['tokenSecret', 'previousTokenSecret'])('should refuse a token value in ingest.%s', (field) => {
    // Prepare
    const text = `ingest:\n  ${field}: "Bearer abc.def-ghi"\ndestinations: [{ name: a, sink: console }]\n`;

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(new RegExp(`^ingest\\.${field}: `));
  });

  it('should report a YAML syntax error with its line number', () => {
    // Prepare
    const text = ['destinations:', '  - name: a', '    sink: console', '   matchers: [', ''].join('\n');

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems.length).toBeGreaterThan(0);
    expect(error.problems[0]).toMatch(/^line 4: \S/);
    expect(error.source).toBe('relay.yaml');
  });

  it('should report a duplicate YAML key with its line number', () => {
    // Prepare
    const text = ['destinations:', '  - name: a', '    sink: console', '    name: b', ''].join('\n');

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toEqual([expect.stringMatching(/^line 4: .*/)]);
  });

  it('should require at least one destination in an empty file', () => {
    // Prepare
    const text = '# nothing yet\n';

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toEqual(['destinations: is required']);
  });

  it('should report a destination name that cannot go into a queue group id', () => {
    // Prepare
    const text = 'destinations: [{ name: "ops team", sink: console }]\n';

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^destinations\[0\]\.name: /);
  });

  it('should report every problem of a config at once', () => {
    // Prepare
    const text = [
      'destinations:',
      "  - { name: a, sink: console, matchers: ['x=\"'] }",
      '  - { name: a, sink: nope }',
      '  - { name: c, sink: webhook, url: "https://x.example/", signingSecret: "a-b" }',
      '',
    ].join('\n');

    // Act
    const error = configError(() => parseConfig(text, 'relay.yaml'));

    // Assess
    expect(error.problems).toHaveLength(4);
    expect(error.problems.map((p) => p.slice(0, p.indexOf(':')))).toEqual([
      'destinations[0].matchers[0]',
      'destinations[1].sink',
      'destinations[1].name',
      'destinations[2].signingSecret',
    ]);
  });
});

describe('Function: validateConfig', () => {
  it('should report a wrong type at its path', () => {
    // Prepare
    const value = { destinations: [{ name: 'a', sink: 'console', matchers: 'severity="critical"' }] };

    // Act
    const error = configError(() => validateConfig(value, 'test'));

    // Assess
    expect(error.problems).toEqual([expect.stringMatching(/^destinations\[0\]\.matchers: must be array/)]);
  });
});

describe('File: relay.example.yaml', () => {
  it('should be a valid config that shows every sink the relay knows', () => {
    // Prepare
    const text = readFileSync(new URL('../../relay.example.yaml', import.meta.url), 'utf8');

    // Act
    const config = parseConfig(text, 'relay.example.yaml');

    // Assess
    expect(new Set(config.destinations.map((d) => d.sink))).toEqual(new Set(sinks.map((s) => s.name)));
    expect(config.ingest.tokenSecret).toBe('INGEST_TOKEN');
  });
});

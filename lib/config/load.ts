import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { parseDocument } from 'yaml';
import { MatcherParseError, parseMatcher } from '../alertmanager/matchers.ts';
import { findSink, sinks } from '../sinks/registry.ts';
import { templateProblems } from '../templates/destination.ts';
import { watchdogProblems } from '../watchdog/config.ts';
import { ConfigError } from './config-error.ts';
import { commonDestinationFields, relayConfigSchema, secretNameSchema } from './schema.ts';
import type { RelayConfig } from './types.ts';

export { ConfigError };

/** Used when neither RELAY_CONFIG nor ./relay.yaml exists: one console destination, no token. */
export const DEFAULT_CONFIG: RelayConfig = {
  ingest: {},
  destinations: [{ name: 'stdout', sink: 'console' }],
};

/**
 * Loads the configuration: RELAY_CONFIG names a YAML file; else ./relay.yaml if it exists;
 * else the built-in default. (A Lambda reads the config the build validated and bundled:
 * lib/config/bundled.ts.)
 *
 * @example
 * const { config, source } = loadConfig(); // throws ConfigError listing every problem
 */
export function loadConfig(options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): {
  config: RelayConfig;
  source: string;
} {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const named = env.RELAY_CONFIG;
  if (named) {
    const path = resolve(cwd, named);
    if (!existsSync(path)) throw new ConfigError(path, [`RELAY_CONFIG names ${path}, which does not exist`]);
    return { config: parseConfig(readFileSync(path, 'utf8'), path), source: path };
  }
  const local = resolve(cwd, 'relay.yaml');
  if (existsSync(local)) return { config: parseConfig(readFileSync(local, 'utf8'), local), source: local };
  return {
    config: validateConfig(structuredClone(DEFAULT_CONFIG), 'built-in default'),
    source: 'built-in default',
  };
}

/** Parses and validates YAML text; `source` names it in errors. */
export function parseConfig(text: string, source: string): RelayConfig {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      source,
      document.errors.map((e) => `line ${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`),
    );
  }
  return validateConfig(document.toJS() ?? {}, source);
}

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
let validators: { common: ValidateFunction; bySink: Map<string, ValidateFunction> } | undefined;

// Compiled on first use, not at import: the ingest Lambda imports this module but gets a
// config the build already validated.
function getValidators() {
  validators ??= {
    common: ajv.compile(relayConfigSchema),
    bySink: new Map(sinks.map((sink) => [sink.name, ajv.compile(destinationSchema(sink.configSchema))])),
  };
  return validators;
}

function destinationSchema(sinkSchema: Record<string, unknown>): Record<string, unknown> {
  const properties = { ...(sinkSchema.properties as Record<string, unknown> | undefined) };
  for (const field of commonDestinationFields) properties[field] = true;
  return { ...sinkSchema, type: 'object', properties };
}

/** Validates an already parsed config object. */
export function validateConfig(value: unknown, source: string): RelayConfig {
  const { common, bySink } = getValidators();
  if (!common(value))
    throw new ConfigError(
      source,
      (common.errors ?? []).map((e) => describe(e, '')),
    );
  const config = value as RelayConfig;
  config.ingest ??= {};
  const problems: string[] = [];
  const seen = new Map<string, number>();
  config.destinations.forEach((destination, i) => {
    const at = `destinations[${i}]`;
    const sink = findSink(destination.sink);
    if (!sink) {
      problems.push(
        `${at}.sink: unknown sink "${destination.sink}" (known: ${sinks.map((s) => s.name).join(', ')})`,
      );
    } else {
      const validate = bySink.get(sink.name) as ValidateFunction;
      const { templates } = sink;
      if (!validate(destination)) problems.push(...(validate.errors ?? []).map((e) => describe(e, at)));
      // A template that does not parse fails here, at start and at build, with its line and
      // column: never at 3 a.m. in a delivery.
      else if (templates) problems.push(...templateProblems(destination, templates, at));
    }
    for (const [field, fieldValue] of Object.entries(destination)) {
      if (field.endsWith('Secret') && !new RegExp(secretNameSchema.pattern).test(String(fieldValue))) {
        problems.push(`${at}.${field}: must be the NAME of a secret (letters, digits, _), not its value`);
      }
    }
    (destination.matchers ?? []).forEach((matcher, j) => {
      try {
        parseMatcher(matcher);
      } catch (error) {
        if (!(error instanceof MatcherParseError)) throw error;
        problems.push(`${at}.matchers[${j}]: ${(error as Error).message}`);
      }
    });
    const first = seen.get(destination.name);
    if (first !== undefined)
      problems.push(`${at}.name: "${destination.name}" is already used by destinations[${first}]`);
    else seen.set(destination.name, i);
  });
  problems.push(...watchdogProblems(config.watchdog, config.destinations));
  if (problems.length > 0) throw new ConfigError(source, problems);
  return config;
}

/** `/destinations/1/url` + "must match ..." -> `destinations[1].url: must match ...` */
function describe(error: ErrorObject, prefix: string): string {
  let path = prefix;
  for (const segment of error.instancePath.split('/').slice(1)) {
    path += /^\d+$/.test(segment) ? `[${segment}]` : `${path ? '.' : ''}${segment}`;
  }
  if (error.keyword === 'required') {
    return `${path ? `${path}.` : ''}${error.params.missingProperty}: is required`;
  }
  if (error.keyword === 'additionalProperties') {
    return `${path ? `${path}.` : ''}${error.params.additionalProperty}: unknown field`;
  }
  if (error.keyword === 'enum') {
    return `${path || '(top level)'}: must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`;
  }
  return `${path || '(top level)'}: ${error.message}`;
}

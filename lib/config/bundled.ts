import { ConfigError } from './config-error.ts';
import type { RelayConfig } from './types.ts';

/**
 * The config inside a Lambda bundle: `npm run build` validated relay.yaml against every
 * sink's schema and injected it with esbuild's define. Reading it here, not through
 * loadConfig, keeps the sink registry (every vendor's code) out of each function's bundle.
 */
export function bundledConfig(): RelayConfig {
  // Written out literally: esbuild's define replaces exactly this expression.
  const text = process.env.RELAY_BUNDLED_CONFIG;
  if (!text) {
    throw new ConfigError('bundle', [
      'RELAY_BUNDLED_CONFIG is empty: build the functions with `npm run build`, which validates relay.yaml and bundles it',
    ]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError('bundle', [`RELAY_BUNDLED_CONFIG is not JSON: ${(error as Error).message}`]);
  }
  const config = value as RelayConfig;
  if (!Array.isArray(config?.destinations)) throw new ConfigError('bundle', ['destinations: is required']);
  config.ingest ??= {};
  return config;
}

/**
 * When `npm run build` built this bundle (ISO 8601), injected with esbuild's define like the
 * config: the watchdog function tells its deployment by it (lib/watchdog/deployment.ts).
 */
export function bundledBuildTime(): string {
  // Written out literally: esbuild's define replaces exactly this expression.
  const text = process.env.RELAY_BUILT_AT;
  if (!text || Number.isNaN(Date.parse(text))) {
    throw new ConfigError('bundle', [
      `RELAY_BUILT_AT is ${text ? `not a time: ${JSON.stringify(text.slice(0, 40))}` : 'empty'}: build the functions with \`npm run build\``,
    ]);
  }
  return new Date(text).toISOString();
}

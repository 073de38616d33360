import type { RelayConfig } from '../config/types.ts';

/**
 * What makes a config unfit to deploy (as opposed to package, which anyone may do offline
 * to read the template): the API Gateway URL is public, so ingest must have a token.
 * `args` are the build's arguments; `--deploy` marks a build for `sls deploy`.
 */
export function deployRefusal(config: RelayConfig, args: readonly string[]): string | undefined {
  if (!args.includes('--deploy')) return undefined;
  if (config.ingest.tokenSecret) return undefined;
  return 'ingest.tokenSecret: is required to deploy: the API Gateway URL is public, so Alertmanager must send a bearer token';
}

import type { RelayConfig } from '../config/types.ts';
import { destinationTimeoutProblem } from '../delivery/policy.ts';
import { INFRA, type InfraConstants } from './constants.ts';

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

/**
 * What makes a config unfit to build at all: a destination whose vendor timeout cannot finish
 * inside the sink function's timeout with the margin the relay keeps for itself (the record
 * handler caps every call by the time left, so such a timeout would only ever be cut short).
 */
export function buildProblems(config: RelayConfig, constants: InfraConstants = INFRA): string[] {
  return config.destinations.flatMap((destination) => {
    const problem = destinationTimeoutProblem(
      { name: destination.name, timeoutSeconds: destination.timeoutSeconds as number | undefined },
      constants.sink.timeoutSeconds,
    );
    return problem ? [`destinations: ${problem}`] : [];
  });
}

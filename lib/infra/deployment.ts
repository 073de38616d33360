import type { DeploymentConfig } from '../config/schema.ts';
import type { RelayConfig } from '../config/types.ts';
import { INFRA, type InfraConstants } from './constants.ts';

/** What one sink's function and queue are sized to. */
export interface SinkDeployment {
  maximumConcurrency: number;
  memoryMb: number;
}

/**
 * The stack as relay.yaml sizes it: only the sinks its destinations use (in registry order),
 * each sink's concurrency and memory, ingest's throttling and reserved concurrency, and the
 * state table's point-in-time recovery. Defaults come from lib/infra/constants.ts.
 */
export interface DeploymentSettings {
  sinks: string[];
  sink: Record<string, SinkDeployment>;
  ingest: { rateLimit: number; burstLimit: number; reservedConcurrency: number };
  pointInTimeRecovery: boolean;
}

/** Thrown for a relay.yaml the build cannot turn into a stack; `problems` name each path. */
export class DeploymentConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'DeploymentConfigError';
    this.problems = problems;
  }
}

function sinkDefaults(sink: string, constants: InfraConstants, needsRenderer = true): SinkDeployment {
  return {
    maximumConcurrency: constants.sink.maximumConcurrency,
    memoryMb: needsRenderer
      ? (constants.sink.memoryMbBySink[sink] ?? constants.sink.memoryMb)
      : constants.sink.memoryMb,
  };
}

/**
 * The memory a sink's extra share is for (memoryMbBySink: the Slack renderer) is only needed
 * when a destination draws graphs; without one the sink gets the default, like every other.
 */
function drawsGraphs(config: RelayConfig, sink: string): boolean {
  return config.destinations.some(
    (destination) => destination.sink === sink && destination.graph !== undefined,
  );
}

/** Every sink with the defaults: what the unit tests of the generators use. */
export function defaultDeployment(
  sinks: readonly string[],
  constants: InfraConstants = INFRA,
): DeploymentSettings {
  return {
    sinks: [...sinks],
    sink: Object.fromEntries(sinks.map((sink) => [sink, sinkDefaults(sink, constants)])),
    ingest: { ...constants.ingest.throttle, reservedConcurrency: constants.ingest.reservedConcurrency },
    pointInTimeRecovery: constants.stateTable.pointInTimeRecovery,
  };
}

/**
 * The deployment of a validated config. `registry` is every sink the relay knows, in the
 * order the stack lists them. Throws DeploymentConfigError for a `sinks:` entry that names
 * no sink, or one no destination uses (it would size nothing).
 *
 * @example deploymentSettings(config, sinks.map((sink) => sink.name)).sinks // ['webhook']
 */
export function deploymentSettings(
  config: RelayConfig,
  registry: readonly string[],
  constants: InfraConstants = INFRA,
): DeploymentSettings {
  const deployment = config as RelayConfig & DeploymentConfig;
  const used = new Set(config.destinations.map((destination) => destination.sink));
  const sinks = registry.filter((sink) => used.has(sink));
  const problems: string[] = [];
  for (const name of Object.keys(deployment.sinks ?? {})) {
    if (!registry.includes(name)) {
      problems.push(`sinks.${name}: unknown sink (known: ${registry.join(', ')})`);
    } else if (!used.has(name)) {
      problems.push(`sinks.${name}: no destination uses this sink, so it is not deployed`);
    }
  }
  const throttle = { ...constants.ingest.throttle, ...deployment.ingest?.throttle };
  if (throttle.burstLimit < throttle.rateLimit) {
    problems.push(
      `ingest.throttle.burstLimit: ${throttle.burstLimit} is below the rate limit ${throttle.rateLimit}; ` +
        'the bucket could not hold one second of the steady rate',
    );
  }
  if (problems.length > 0) throw new DeploymentConfigError(problems);
  const sink: Record<string, SinkDeployment> = {};
  for (const name of sinks) {
    sink[name] = { ...sinkDefaults(name, constants, drawsGraphs(config, name)), ...deployment.sinks?.[name] };
  }
  return {
    sinks,
    sink,
    ingest: {
      ...throttle,
      reservedConcurrency: deployment.ingest?.reservedConcurrency ?? constants.ingest.reservedConcurrency,
    },
    pointInTimeRecovery: deployment.state?.pointInTimeRecovery ?? constants.stateTable.pointInTimeRecovery,
  };
}

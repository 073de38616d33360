import type { DeploymentConfig } from '../config/schema.ts';
import { type SecretGrants, secretGrants } from '../config/secrets.ts';
import type { RelayConfig } from '../config/types.ts';
import { resolveWatchdog } from '../watchdog/config.ts';
import { INFRA, type InfraConstants } from './constants.ts';

/** What one sink's function and queue are sized to. */
export interface SinkDeployment {
  maximumConcurrency: number;
  memoryMb: number;
}

/**
 * The stack as relay.yaml sizes it: only the sinks its destinations use (in registry order),
 * each sink's concurrency and memory, ingest's reserved concurrency (undefined: none) and the
 * retention of the HTTP API's access log, and the state table's point-in-time recovery.
 * Defaults come from lib/infra/constants.ts.
 */
export interface DeploymentSettings {
  sinks: string[];
  sink: Record<string, SinkDeployment>;
  ingest: { reservedConcurrency: number | undefined; accessLogRetentionDays: number };
  pointInTimeRecovery: boolean;
  /** The secret names each function may read (lib/config/secrets.ts); absent: none. */
  secrets?: SecretGrants;
  /** With a `watchdog:` block: its scheduled function, its alarm and ingest's access to its record. */
  watchdog?: WatchdogStack;
}

/** What the stack needs to know of the `watchdog:` block. */
export interface WatchdogStack {
  /** The sinks of the destinations the page goes to (registry order): the queues it may send to. */
  sinks: string[];
  silentAfterSeconds: number;
}

/** The watchdog part of a deployment; undefined without a `watchdog:` block. */
export function watchdogStack(config: RelayConfig, sinks: readonly string[]): WatchdogStack | undefined {
  const watchdog = resolveWatchdog(config.watchdog);
  if (!watchdog) return undefined;
  const paged = new Set(
    config.destinations.filter((d) => watchdog.destinations.includes(d.name)).map((d) => d.sink),
  );
  return { sinks: sinks.filter((sink) => paged.has(sink)), silentAfterSeconds: watchdog.silentAfterSeconds };
}

/**
 * relay.yaml's `ingest.reservedConcurrency` as a number to reserve, or undefined for none
 * (`none` or 0: 0 would be Lambda's "reserve nothing and run nothing", never what anyone means).
 *
 * @example reservation('none') // undefined
 */
export function reservation(value: number | 'none' | undefined, constants: InfraConstants = INFRA) {
  if (value === undefined) return constants.ingest.reservedConcurrency;
  return value === 'none' || value === 0 ? undefined : value;
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
    ingest: {
      reservedConcurrency: constants.ingest.reservedConcurrency,
      accessLogRetentionDays: constants.ingest.accessLogRetentionDays,
    },
    pointInTimeRecovery: constants.stateTable.pointInTimeRecovery,
  };
}

/**
 * The deployment of a validated config. `registry` is every sink the relay knows, in the
 * order the stack lists them. Throws DeploymentConfigError for a `sinks:` entry that names
 * no sink, or one no destination uses (it would size nothing), and for the removed
 * `ingest.throttle`.
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
  if (deployment.ingest?.throttle !== undefined) {
    problems.push(
      'ingest.throttle: removed; delete it. A stage throttle answers 429 before the bearer token is checked, ' +
        'and Alertmanager drops a 429, so anyone with the URL could make it lose notifications. The ingest ' +
        "function's reserved concurrency (ingest.reservedConcurrency) bounds a flood instead, with a 5xx " +
        'that Alertmanager retries (docs/operations.md, "Security model of the endpoint")',
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
      reservedConcurrency: reservation(deployment.ingest?.reservedConcurrency, constants),
      accessLogRetentionDays:
        deployment.ingest?.accessLogRetentionDays ?? constants.ingest.accessLogRetentionDays,
    },
    pointInTimeRecovery: deployment.state?.pointInTimeRecovery ?? constants.stateTable.pointInTimeRecovery,
    secrets: secretGrants(config, sinks),
    ...(config.watchdog ? { watchdog: watchdogStack(config, sinks) } : {}),
  };
}

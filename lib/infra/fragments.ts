import { alarmIds, alarms } from './alarms.ts';
import type { ServerlessFragment } from './cloudformation.ts';
import { INFRA, type InfraConstants } from './constants.ts';
import { dashboardGenerator } from './dashboard.ts';
import { type DeploymentSettings, defaultDeployment } from './deployment.ts';
import type { FragmentGenerator } from './fragment-generator.ts';
import { ingestFunction, sinkFunction, watchdogFunction } from './functions.ts';
import { functionNames, INGEST_FUNCTION, sinkNames, WATCHDOG_FUNCTION } from './names.ts';
import { sinkQueues } from './queues.ts';
import { sharedResources } from './shared-resources.ts';

/** Per sink: its FIFO queue, FIFO DLQ, Lambda function (fed by the queue) and execution role. */
export const sinkPipelines: FragmentGenerator = (sinks, constants, deployment) => {
  const fragment: ServerlessFragment = { functions: {}, resources: {}, outputs: {} };
  for (const names of sinks) {
    const queues = sinkQueues(names, constants);
    const { function: definition, role } = sinkFunction(names, constants, deployment);
    Object.assign(fragment.resources, queues.resources, { [names.roleLogicalId]: role });
    Object.assign(fragment.outputs, queues.outputs);
    fragment.functions[names.key] = definition;
  }
  return fragment;
};

/** The ingest function, allowed to send to the queue of every deployed sink. */
export const ingest: FragmentGenerator = (sinks, constants, deployment) => {
  const names = functionNames(INGEST_FUNCTION);
  const { function: definition, role } = ingestFunction(names, sinks, constants, deployment);
  return { functions: { [names.key]: definition }, resources: { [names.roleLogicalId]: role }, outputs: {} };
};

/**
 * The watchdog's scheduled check, only for a relay.yaml with a `watchdog:` block: allowed to send
 * to the queues of the sinks its destinations use.
 */
export const watchdog: FragmentGenerator = (sinks, constants, deployment) => {
  if (!deployment.watchdog) return { functions: {}, resources: {}, outputs: {} };
  const paged = new Set(deployment.watchdog.sinks);
  const names = functionNames(WATCHDOG_FUNCTION);
  const { function: definition, role } = watchdogFunction(
    names,
    sinks.filter((sink) => paged.has(sink.sink)),
    constants,
  );
  return { functions: { [names.key]: definition }, resources: { [names.roleLogicalId]: role }, outputs: {} };
};

/** Per-sink alarms and the stage's dashboard (which lists the alarms) come last. */
export const GENERATORS: readonly FragmentGenerator[] = [
  sinkPipelines,
  ingest,
  watchdog,
  sharedResources,
  alarms,
  dashboardGenerator(alarmIds),
];

/**
 * Everything serverless.yml pulls in with `${file(./.build/serverless/<name>.json)}`: for the
 * sinks of a deployment (lib/infra/deployment.ts: the ones the config uses), or for a plain
 * list of sink names with the default sizing. Throws on a bad sink name or when two
 * generators claim the same key.
 *
 * @example generateFragments(deploymentSettings(config, sinks.map((sink) => sink.name)))
 */
export function generateFragments(
  deploymentOrSinks: DeploymentSettings | readonly string[],
  constants: InfraConstants = INFRA,
  generators: readonly FragmentGenerator[] = GENERATORS,
): ServerlessFragment {
  const deployment = isSinkList(deploymentOrSinks)
    ? defaultDeployment(deploymentOrSinks, constants)
    : deploymentOrSinks;
  const sinkList = deployment.sinks;
  if (new Set(sinkList).size !== sinkList.length)
    throw new Error(`duplicate sink names in ${sinkList.join(', ')}`);
  const names = sinkList.map(sinkNames);
  const merged: ServerlessFragment = { functions: {}, resources: {}, outputs: {} };
  for (const generate of generators) {
    const fragment = generate(names, constants, deployment);
    for (const section of ['functions', 'resources', 'outputs'] as const) {
      for (const key of Object.keys(fragment[section])) {
        if (key in merged[section]) throw new Error(`two generators define ${section}.${key}`);
      }
      Object.assign(merged[section], fragment[section]);
    }
  }
  return merged;
}

function isSinkList(value: DeploymentSettings | readonly string[]): value is readonly string[] {
  return Array.isArray(value);
}

/**
 * The files scripts/build.ts writes to .build/serverless/: `functions.json` is a map for
 * `functions:`, `resources.json` a `{ Resources, Outputs }` object for `resources:`.
 */
export function fragmentFiles(fragment: ServerlessFragment): Record<string, unknown> {
  return {
    'functions.json': fragment.functions,
    'resources.json': { Resources: fragment.resources, Outputs: fragment.outputs },
  };
}

export type { FragmentGenerator } from './fragment-generator.ts';

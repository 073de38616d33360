import type { ServerlessFragment } from './cloudformation.ts';
import type { InfraConstants } from './constants.ts';
import type { DeploymentSettings } from './deployment.ts';
import type { SinkNames } from './names.ts';

/**
 * One concern of the stack, generated from the sinks the config uses and how relay.yaml sizes
 * them. A CloudWatch dashboard or per-sink alarms are one more generator in GENERATORS.
 */
export type FragmentGenerator = (
  sinks: readonly SinkNames[],
  constants: InfraConstants,
  deployment: DeploymentSettings,
) => ServerlessFragment;

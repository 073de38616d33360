import type { RelayConfig } from '../config/types.ts';
import { destinationTimeoutProblem } from '../delivery/policy.ts';
import { INFRA, type InfraConstants } from './constants.ts';
import type { DeploymentSettings } from './deployment.ts';

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
 * What makes a config unfit to build for AWS at all, each problem naming the limit it breaks:
 * - a destination whose vendor timeout cannot finish inside the sink function's timeout with the
 *   margin the relay keeps for itself (the record handler caps every call by the time left, so
 *   such a timeout would only ever be cut short);
 * - a console destination with `file:`: a Lambda function can write only to /tmp, which is not
 *   kept between invocations, so every delivery would fail and be dead-lettered
 *   (https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html).
 */
export function buildProblems(config: RelayConfig, constants: InfraConstants = INFRA): string[] {
  return config.destinations.flatMap((destination, i) => {
    const problems: string[] = [];
    const problem = destinationTimeoutProblem(
      { name: destination.name, timeoutSeconds: destination.timeoutSeconds as number | undefined },
      constants.sink.timeoutSeconds,
    );
    if (problem) problems.push(`destinations: ${problem}`);
    if (destination.sink === 'console' && destination.file !== undefined) {
      problems.push(
        `destinations[${i}].file: a console destination cannot write a file on AWS: the Lambda filesystem is ` +
          `read-only except /tmp, which is lost between invocations, so "${destination.name}" would dead-letter ` +
          'every notification. Remove file: for the AWS build (it works under npm start); the console sink ' +
          "writes to the function's CloudWatch log either way",
      );
    }
    return problems;
  });
}

/** Lambda's limit on a function name: https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html */
export const FUNCTION_NAME_MAX_LENGTH = 64;

/**
 * osls names each function `<service>-<stage>-<key>`; Lambda refuses a name over 64 characters,
 * but only at deploy, after packaging passed. `functionKeys` are the stack's functions (ingest
 * and the deployed sinks). Empty when every name fits.
 *
 * @example stageProblems('alertmanager-relay', 'a'.repeat(40), ['ingest', 'googlechat'])
 * // ['stage "aaaa...": the function name "alertmanager-relay-aaaa...-googlechat" is 70 characters ...']
 */
export function stageProblems(service: string, stage: string, functionKeys: readonly string[]): string[] {
  const longest = [...functionKeys].sort((a, b) => b.length - a.length)[0];
  if (longest === undefined) return [];
  const name = `${service}-${stage}-${longest}`;
  if (name.length <= FUNCTION_NAME_MAX_LENGTH) return [];
  const room = FUNCTION_NAME_MAX_LENGTH - `${service}--${longest}`.length;
  return [
    `stage "${stage}": the function name "${name}" is ${name.length} characters; Lambda allows ` +
      `${FUNCTION_NAME_MAX_LENGTH} (the name is <service>-<stage>-<function>, and "${longest}" is this ` +
      `stack's longest function), so deploying would fail. Use a stage name of at most ${room} characters.`,
  ];
}

/**
 * What the account must allow for ingest's reservation: Lambda keeps 100 of the account's
 * concurrency unreserved, so reserving N needs a quota of N + 100 (an account at the usual 1,000
 * can reserve up to 900; a new account may start at 10, where even 1 fails). Undefined without a
 * reservation. The build prints it; the quota itself is only known to the account
 * (`aws lambda get-account-settings`).
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
 */
export function reservationRequirement(
  deployment: DeploymentSettings,
  constants: InfraConstants = INFRA,
): string | undefined {
  const reserved = deployment.ingest.reservedConcurrency;
  if (reserved === undefined) return undefined;
  const floor = constants.ingest.unreservedConcurrencyFloor;
  return (
    `ingest.reservedConcurrency: ${reserved} needs the account's Lambda concurrency quota to be at least ` +
    `${reserved + floor} (Lambda keeps ${floor} unreserved; new accounts can start at 10). Check it with ` +
    '`aws lambda get-account-settings --query AccountLimit.ConcurrentExecutions`; if it is lower, ask for an ' +
    'increase (Service Quotas, "Concurrent executions") or set ingest.reservedConcurrency: none'
  );
}

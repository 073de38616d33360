import {
  type CommandRunner,
  readStackOutputs,
  runCommand,
  type StackOutputs,
  type Stage,
  stackName,
} from './stack.ts';

/**
 * The operating commands (alertmanager-config, dlq, smoke) go to a deployed stage unless given
 * `--local`. A user of `npm start` who forgot `--local` then gets an AWS error; these helpers
 * tell "AWS was not reached at all" (no CLI, no credentials, no such stack) from other failures,
 * and word the hint that gives the same command with `--local`.
 */

/**
 * Why a deployed stage's stack outputs could not be read. `no-cli`, `credentials` and `no-stack`
 * mean the stage was not reached at all, which is what a user of `npm start` who forgot `--local`
 * sees; the message then says so and shows the command with `--local`.
 */
export class StageLookupError extends Error {
  readonly problem: 'no-cli' | 'credentials' | 'no-stack' | 'no-output' | 'other';

  constructor(message: string, problem: StageLookupError['problem'], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StageLookupError';
    this.problem = problem;
  }
}

/** Whether `error` is a StageLookupError for a stage that was not reached at all. */
export function stageNotReached(
  error: unknown,
): error is StageLookupError & { problem: 'no-cli' | 'credentials' | 'no-stack' } {
  return error instanceof StageLookupError && ['no-cli', 'credentials', 'no-stack'].includes(error.problem);
}

/**
 * What the AWS CLI prints when it has no credentials or AWS refuses them (v1 and v2: none found,
 * an unknown profile, an expired SSO session or session token, an unknown key or a wrong secret).
 */
const NO_CREDENTIALS =
  /Unable to locate credentials|config profile \(.*\) could not be found|NoCredentialProviders|Error when retrieving credentials|SSO session|Token has expired|ExpiredToken|InvalidClientTokenId|security token included in the request is (invalid|expired)|SignatureDoesNotMatch/i;
/** CloudFormation's answer for a stack that is not there: `Stack with id <name> does not exist`. */
const NO_STACK = /Stack with id \S+ does not exist/;

/**
 * The stack outputs of `stage`, read with the AWS CLI (lib/ops/stack.ts). A failure is a
 * StageLookupError that tells a missing CLI, missing credentials and a missing stack apart;
 * `wanted` says what the outputs are read for (`the stage's webhook URL`).
 */
export async function readStageOutputs(
  stage: Stage,
  wanted: string,
  run: CommandRunner = runCommand,
): Promise<StackOutputs> {
  const stack = stackName(stage);
  const where = stage.region ? `in ${stage.region}` : 'in the default region';
  let raw: unknown;
  try {
    return await readStackOutputs(stage, (command, args) =>
      run(command, args).catch((error: unknown) => {
        raw = error;
        throw error;
      }),
    );
  } catch (error) {
    const said = (raw as { stderr?: string } | undefined)?.stderr?.trim() ?? '';
    const firstLine = said.split('\n').find((line) => line.trim() !== '') ?? '';
    if ((raw as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new StageLookupError(
        `the AWS CLI (aws) is not installed: it reads the outputs of stack ${stack}, ${wanted}`,
        'no-cli',
        { cause: error },
      );
    }
    if (NO_CREDENTIALS.test(said)) {
      throw new StageLookupError(
        `no usable AWS credentials to read stack ${stack} ${where} (the AWS CLI said: ${firstLine})`,
        'credentials',
        { cause: error },
      );
    }
    if (NO_STACK.test(said)) {
      throw new StageLookupError(
        `stack ${stack} does not exist ${where}: stage ${stage.stage} is not deployed there`,
        'no-stack',
        { cause: error },
      );
    }
    throw new StageLookupError((error as Error).message, 'other', { cause: error });
  }
}

/**
 * Error names with which the AWS SDK says it has no credentials, or that AWS refused the ones it
 * has (expired, unknown key, wrong secret), rather than that something was not allowed or not found.
 * https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/setting-credentials-node.html
 */
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
  'TokenProviderError',
]);

/** Whether `error` (from an AWS SDK call) means there are no usable credentials. */
export function isCredentialsError(error: unknown): boolean {
  return CREDENTIAL_ERRORS.has((error as Error | undefined)?.name ?? '');
}

/** The first words of what to do for a deployed stage, by why it was not reached (each tool ends the sentence). */
export const STAGE_ADVICE = {
  'no-cli': 'For a deployed stage, install the AWS CLI v2 (it reads the stack outputs)',
  credentials:
    'For a deployed stage, set up AWS credentials (AWS_PROFILE, `aws configure` or `aws sso login`)',
  'no-stack': 'For a deployed stage, name it and its region as deployed (--stage S --region R)',
} as const;

/**
 * `message`, then the way to the relay `npm start` runs (`localCommand`: the same command with
 * `--local` and the user's other flags, shell-quoted) and `stageAdvice`, the way to a stage.
 *
 * @example suggestLocal('no usable AWS credentials ...', 'npm run smoke -- --local', 'For a deployed stage, ...')
 */
export function suggestLocal(message: string, localCommand: string, stageAdvice: string): string {
  return `${message}\n\nFor the relay \`npm start\` runs on this machine, add --local:\n  ${localCommand}\n${stageAdvice}`;
}

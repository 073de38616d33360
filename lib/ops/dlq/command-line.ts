import { STAGE_ADVICE, suggestLocal } from '../aws-hint.ts';
import { shellQuote } from '../shell-quote.ts';
import { DeadLetterQueueError } from './dead-letters.ts';

/**
 * Which dead-letter queues a `npm run dlq` command works on, as the user said it: the flags are
 * repeated in every command the tool suggests, so a hint can be pasted as it is (a redrive hint
 * without the `--local` the user listed with would go to AWS instead).
 */
export interface DlqTarget {
  local?: boolean;
  dataDir?: string;
  stage?: string;
  region?: string;
  table?: string;
}

/** A dlq command as the user gave it: where it works, and the other flags a suggestion repeats. */
export interface DlqInvocation {
  command: string;
  target: DlqTarget;
  /** `--sink`, `--limit`, `--rate`, `--wide` as given (never `--yes`: a suggestion should ask). */
  args: string[];
}

/** The DlqInvocation of `npm run dlq -- <command>` with its parsed flags (node:util parseArgs). */
export function dlqInvocation(
  command: string,
  values: {
    local?: boolean;
    'data-dir'?: string;
    stage?: string;
    region?: string;
    table?: string;
    sink?: string;
    limit?: string;
    rate?: string;
    wide?: boolean;
  },
): DlqInvocation {
  const given = (flag: string, value: string | undefined) => (value !== undefined ? [flag, value] : []);
  return {
    command,
    target: {
      ...(values.local ? { local: true } : {}),
      ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
      ...(values.stage !== undefined ? { stage: values.stage } : {}),
      ...(values.region !== undefined ? { region: values.region } : {}),
      ...(values.table !== undefined ? { table: values.table } : {}),
    },
    args: [
      ...given('--sink', values.sink),
      ...given('--limit', values.limit),
      ...given('--rate', values.rate),
      ...(values.wide ? ['--wide'] : []),
    ],
  };
}

/** The flags that select `target`, in a fixed order, only those the user gave. */
export function targetFlags(target: DlqTarget): string[] {
  if (target.local)
    return ['--local', ...(target.dataDir !== undefined ? ['--data-dir', target.dataDir] : [])];
  return [
    ...(target.stage !== undefined ? ['--stage', target.stage] : []),
    ...(target.region !== undefined ? ['--region', target.region] : []),
    ...(target.table !== undefined ? ['--table', target.table] : []),
  ];
}

/**
 * A `npm run dlq` command line for `target`, shell-quoted.
 *
 * @example dlqCommandLine('redrive', { local: true, dataDir: '/srv/relay' }, ['--sink', 'webhook'])
 * // 'npm run dlq -- redrive --local --data-dir /srv/relay --sink webhook'
 */
export function dlqCommandLine(command: string, target: DlqTarget, args: readonly string[] = []): string {
  return ['npm', 'run', 'dlq', '--', command, ...targetFlags(target), ...args].map(shellQuote).join(' ');
}

/**
 * A deployed stage could not be reached at all: no usable AWS credentials, or no stack of that
 * stage in the region. `npm start`'s queue may well be what the user meant, so the tool says so.
 */
export class StageUnreachableError extends DeadLetterQueueError {
  /** `credentials`: none, or AWS refused them; `no-stage`: no queue of the stage in the region. */
  readonly problem: 'credentials' | 'no-stage';

  constructor(message: string, problem: 'credentials' | 'no-stage') {
    super(message);
    this.name = 'StageUnreachableError';
    this.problem = problem;
  }
}

/**
 * What to print for an error that ended a dlq command. A stage that could not be reached gets
 * the way to the local relay (the same command with `--local`) and to a stage; anything else is
 * its message.
 */
export function explainDlqFailure(error: unknown, invocation: DlqInvocation): string {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof StageUnreachableError)) return message;
  const local = dlqCommandLine(invocation.command, { local: true }, invocation.args);
  const stage =
    error.problem === 'credentials'
      ? `${STAGE_ADVICE.credentials} and run it again.`
      : 'For a deployed stage, name it and its region as deployed: --stage S --region R.';
  return suggestLocal(message, local, stage);
}

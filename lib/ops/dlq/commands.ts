import { type DlqTarget, dlqCommandLine } from './command-line.ts';
import {
  type DeadLetter,
  DeadLetterQueueError,
  type DeadLetterQueues,
  type RedriveOutlook,
  readDeadLetter,
  redriveOutlook,
} from './dead-letters.ts';
import { formatTable } from './table.ts';

/** What `npm run dlq -- <command>` does, over either backend; `print` gets whole lines. */
export interface CommandIo {
  print(text: string): void;
  /** Asks a yes/no question; true for yes. */
  confirm(question: string): Promise<boolean>;
}

const REASON_WIDTH = 100;

/** Dead letters judged against their group state before a redrive, at most. */
const REDRIVE_JUDGE_LIMIT = 10_000;

function alertColumn(letter: DeadLetter): string {
  if (letter.alertCount === 0) return '-';
  const names = letter.alertNames.join(', ') || '(no alertname)';
  return `${names} (${letter.alertCount})`;
}

function outlookColumn(outlook: RedriveOutlook | undefined): string {
  if (!outlook) return '-';
  if (outlook.state === 'superseded') return `superseded by ${outlook.by}`;
  if (outlook.state === 'applied') return 'already applied';
  if (outlook.state === 'pending') return 'pending';
  return '?';
}

/**
 * The table of one sink's dead letters; `outlooks` (same order) add what a redrive would do
 * with each, judged against its group's state.
 */
export function formatDeadLetters(
  letters: readonly DeadLetter[],
  options: { wide?: boolean; outlooks?: readonly RedriveOutlook[] } = {},
): string {
  return formatTable(
    [
      'DESTINATION',
      'GROUP KEY',
      'STATUS',
      'GROUP STATE',
      'ALERTS',
      'CODE',
      'FIRST FAILURE',
      'ATTEMPTS',
      'REASON',
    ],
    letters.map((letter, i) => [
      letter.destination,
      letter.groupKey,
      letter.status,
      outlookColumn(options.outlooks?.[i]),
      alertColumn(letter),
      letter.statusCode ?? '-',
      letter.firstFailureAt ?? '-',
      letter.attempts ?? '-',
      letter.reason,
    ]),
    {
      maxWidth: [
        undefined,
        options.wide ? undefined : 60,
        undefined,
        undefined,
        50,
        undefined,
        undefined,
        undefined,
        options.wide ? undefined : REASON_WIDTH,
      ],
    },
  );
}

async function sinksOf(queues: DeadLetterQueues, sink: string | undefined): Promise<string[]> {
  const known = await queues.sinks();
  if (sink === undefined) return known;
  if (!known.includes(sink)) {
    throw new DeadLetterQueueError(
      `unknown sink "${sink}" in ${queues.description} (known: ${known.join(', ')})`,
    );
  }
  return [sink];
}

/**
 * `dlq list [--sink S]`: each DLQ's depth, then each waiting message, nothing removed, and the
 * redrive command for what it found, with the flags (`target`) the list was run with.
 */
export async function listCommand(
  queues: DeadLetterQueues,
  io: CommandIo,
  options: { sink?: string; limit?: number; wide?: boolean; target?: DlqTarget } = {},
): Promise<void> {
  const sinks = await sinksOf(queues, options.sink);
  const depths = await Promise.all(sinks.map(async (sink) => [sink, await queues.depth(sink)] as const));
  io.print(`Dead-letter queues (${queues.description})`);
  io.print(
    formatTable(
      ['SINK', 'DLQ DEPTH'],
      depths.map(([sink, depth]) => [sink, String(depth)]),
    ),
  );
  for (const [sink, depth] of depths) {
    if (depth === 0) continue;
    const letters = (await queues.peek(sink, options.limit ?? 50)).map(readDeadLetter);
    const outlooks = await Promise.all(letters.map((letter) => redriveOutlook(queues, letter)));
    io.print('');
    io.print(
      `${sink}: ${depth} message${depth === 1 ? '' : 's'}${letters.length < depth ? ` (showing ${letters.length})` : ''}`,
    );
    io.print(formatDeadLetters(letters, { wide: options.wide, outlooks }));
    const superseded = outlooks.filter((outlook) => outlook.state === 'superseded').length;
    if (superseded > 0) io.print(supersededNote(sink, superseded, letters.length));
  }
  const waiting = depths.filter(([, depth]) => depth > 0).map(([sink]) => sink);
  if (waiting.length > 0) {
    const target = options.target ?? {};
    io.print('');
    io.print('Fix the reason first (token, channel, vendor outage), then:');
    for (const sink of waiting) io.print(`  ${dlqCommandLine('redrive', target, ['--sink', sink])}`);
  }
}

/** `dlq redrive --sink S [--rate N]`: back to the sink's queue, with progress until done. */
export async function redriveCommand(
  queues: DeadLetterQueues,
  io: CommandIo,
  options: { sink: string; ratePerSecond?: number },
): Promise<boolean> {
  const [sink] = await sinksOf(queues, options.sink);
  const depth = await queues.depth(sink);
  if (depth === 0) {
    io.print(`${sink}: the DLQ is empty, nothing to redrive`);
    return true;
  }
  io.print(
    `${sink}: redriving ${depth} message${depth === 1 ? '' : 's'} to the sink's queue` +
      `${options.ratePerSecond ? ` at up to ${options.ratePerSecond}/s` : ''} (${queues.description})`,
  );
  // Judged before the move: once moved, the relay may apply them at any moment. Only where the
  // group state can be read (peeking SQS would hold the messages back from the move task).
  const letters = queues.appliedGroup
    ? (await queues.peek(sink, Math.min(depth, REDRIVE_JUDGE_LIMIT))).map(readDeadLetter)
    : [];
  const outlooks = await Promise.all(letters.map((letter) => redriveOutlook(queues, letter)));
  const result = await queues.redrive(sink, {
    ratePerSecond: options.ratePerSecond,
    onProgress: (progress) =>
      io.print(
        `  ${progress.status}: moved ${progress.moved}${progress.total !== undefined ? ` of ${progress.total}` : ''}`,
      ),
  });
  if (result.status !== 'completed') {
    io.print(`${sink}: redrive ${result.status}${result.failureReason ? `: ${result.failureReason}` : ''}`);
    return false;
  }
  const count = (state: RedriveOutlook['state']) => outlooks.filter((o) => o.state === state).length;
  io.print(`${sink}: done.`);
  if (outlooks.some((outlook) => outlook.state !== 'unknown')) {
    io.print(
      `  ${count('superseded')} superseded (a newer notification of their group was applied first), ` +
        `${count('applied')} already applied (skipped as duplicates), ${count('pending')} to apply`,
    );
    if (count('superseded') > 0) io.print(supersededNote(sink, count('superseded'), letters.length));
  } else {
    io.print(
      '  The relay skips what its group has already applied and, on lifecycle sinks, what a newer notification superseded (metric Superseded).',
    );
  }
  return true;
}

/** `dlq purge --sink S [--yes]`: deletes the DLQ's messages after a confirmation. */
export async function purgeCommand(
  queues: DeadLetterQueues,
  io: CommandIo,
  options: { sink: string; yes?: boolean },
): Promise<boolean> {
  const [sink] = await sinksOf(queues, options.sink);
  const depth = await queues.depth(sink);
  if (depth === 0) {
    io.print(`${sink}: the DLQ is empty, nothing to purge`);
    return true;
  }
  const question = `Delete ${depth} message${depth === 1 ? '' : 's'} from ${sink}'s DLQ (${queues.description})? They cannot be redriven afterwards.`;
  if (!options.yes && !(await io.confirm(question))) {
    io.print('Nothing deleted.');
    return false;
  }
  const purged = await queues.purge(sink);
  io.print(`${sink}: deleted ${purged} message${purged === 1 ? '' : 's'}`);
  return true;
}

/** What happens to superseded dead letters, in one line. */
function supersededNote(sink: string, superseded: number, of: number): string {
  return (
    `  ${sink}: ${superseded} of ${of} superseded by a newer notification of their group: a sink that shows ` +
    "the group's state (Slack, PagerDuty, Sentry, ...) skips them (metric Superseded) and reopens nothing; " +
    'an event-log sink (webhook, console) delivers them marked as superseded.'
  );
}

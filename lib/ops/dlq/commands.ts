import {
  type DeadLetter,
  DeadLetterQueueError,
  type DeadLetterQueues,
  readDeadLetter,
} from './dead-letters.ts';
import { formatTable } from './table.ts';

/** What `npm run dlq -- <command>` does, over either backend; `print` gets whole lines. */
export interface CommandIo {
  print(text: string): void;
  /** Asks a yes/no question; true for yes. */
  confirm(question: string): Promise<boolean>;
}

const REASON_WIDTH = 100;

function alertColumn(letter: DeadLetter): string {
  if (letter.alertCount === 0) return '-';
  const names = letter.alertNames.join(', ') || '(no alertname)';
  return `${names} (${letter.alertCount})`;
}

/** The table of one sink's dead letters. */
export function formatDeadLetters(letters: readonly DeadLetter[], options: { wide?: boolean } = {}): string {
  return formatTable(
    ['DESTINATION', 'GROUP KEY', 'STATUS', 'ALERTS', 'CODE', 'FIRST FAILURE', 'ATTEMPTS', 'REASON'],
    letters.map((letter) => [
      letter.destination,
      letter.groupKey,
      letter.status,
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

/** `dlq list [--sink S]`: each DLQ's depth, then each waiting message, nothing removed. */
export async function listCommand(
  queues: DeadLetterQueues,
  io: CommandIo,
  options: { sink?: string; limit?: number; wide?: boolean } = {},
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
    io.print('');
    io.print(
      `${sink}: ${depth} message${depth === 1 ? '' : 's'}${letters.length < depth ? ` (showing ${letters.length})` : ''}`,
    );
    io.print(formatDeadLetters(letters, { wide: options.wide }));
  }
  const total = depths.reduce((sum, [, depth]) => sum + depth, 0);
  if (total > 0) {
    io.print('');
    io.print(
      'Fix the reason first (token, channel, vendor outage), then: npm run dlq -- redrive --sink <sink>',
    );
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
  io.print(
    `${sink}: done. Already delivered notifications are skipped by the relay's idempotency record, not sent twice.`,
  );
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

import { type AppliedGroup, judge } from '../../delivery/group-state.ts';
import { DLQ_ATTRIBUTES, type QueueMessage } from '../../queue/message.ts';

/** A message as a DLQ holds it: the queue message body and the String attributes the record handler set. */
export interface RawDeadLetter {
  messageId: string;
  body: string;
  attributes: Record<string, string>;
  /** Epoch ms the message entered the DLQ (SQS SentTimestamp), when known. */
  sentTimestamp?: number;
}

/** What `dlq list` shows of one dead-lettered message. */
export interface DeadLetter {
  messageId: string;
  destination: string;
  groupKey: string;
  /** `firing` / `resolved`, or `?` when the body could not be read. */
  status: string;
  /** Distinct alertname labels, in order of appearance. */
  alertNames: string[];
  alertCount: number;
  reason: string;
  statusCode?: string;
  firstFailureAt?: string;
  attempts?: string;
  errorType?: string;
  /** When ingest accepted it; with `idempotencyKey`, what its group's state is compared with. */
  receivedAt?: string;
  idempotencyKey?: string;
  /** The storm whose backfill this was (lib/chat/storm/backfill.ts), judged by its own rule. */
  backfill?: string;
}

/**
 * What a redrive of a dead letter would do, judged against its group's state (the rules of
 * lib/delivery/group-state.ts): `superseded` (a newer notification of the group was applied:
 * a lifecycle sink skips it, an event-log sink delivers it marked), `applied` (the same content
 * is already the group's state: skipped as a duplicate), or `pending` (it would be applied).
 */
export type RedriveOutlook =
  | { state: 'superseded'; by: string }
  | { state: 'applied' }
  | { state: 'pending' }
  | { state: 'unknown' };

/**
 * Where the dead-letter queues live: the embedded node:sqlite queue (lib/ops/dlq/local.ts) or SQS
 * (lib/ops/dlq/aws.ts). The commands in lib/ops/dlq/commands.ts work on either.
 */
export interface DeadLetterQueues {
  /** `local: .relay/relay.db` or `aws: eu-west-1, stage prod`. */
  readonly description: string;
  /** Sinks whose DLQ exists there. */
  sinks(): Promise<string[]>;
  /** Messages waiting in the sink's DLQ. */
  depth(sink: string): Promise<number>;
  /** Up to `limit` messages of the sink's DLQ, oldest first, without removing them. */
  peek(sink: string, limit: number): Promise<RawDeadLetter[]>;
  /** Moves the DLQ's messages back to the sink's queue, reporting progress until done. */
  redrive(
    sink: string,
    options: { ratePerSecond?: number; onProgress?: (progress: RedriveProgress) => void },
  ): Promise<RedriveProgress>;
  /** Deletes every message of the sink's DLQ; returns how many there were (approximate on SQS). */
  purge(sink: string): Promise<number>;
  /**
   * The last notification applied to a destination's alert group, from the relay's state store,
   * when this backend can read it; without it, list and redrive cannot say what is superseded.
   */
  appliedGroup?(destination: string, groupKey: string): Promise<AppliedGroup | undefined>;
}

/** Judges a dead letter against its group's state (see RedriveOutlook). */
export async function redriveOutlook(queues: DeadLetterQueues, letter: DeadLetter): Promise<RedriveOutlook> {
  if (!queues.appliedGroup || !letter.receivedAt || !letter.idempotencyKey || letter.groupKey === '?') {
    return { state: 'unknown' };
  }
  const applied = await queues.appliedGroup(letter.destination, letter.groupKey);
  const verdict = judge(
    { idempotencyKey: letter.idempotencyKey, receivedAt: letter.receivedAt, backfill: letter.backfill },
    applied,
  );
  if (verdict.action === 'superseded') return { state: 'superseded', by: verdict.by };
  if (verdict.action === 'duplicate') return { state: 'applied' };
  return { state: 'pending' };
}

export interface RedriveProgress {
  moved: number;
  /** How many there were to move, when known. */
  total?: number;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  failureReason?: string;
}

/** Thrown for what a person must fix (unknown sink, no local data, a move task already running). */
export class DeadLetterQueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeadLetterQueueError';
  }
}

/**
 * Reads a dead-lettered message for a person. Tolerates a body that is not a queue message
 * (the record handler dead-letters those too, with the reason "malformed queue message").
 */
export function readDeadLetter(raw: RawDeadLetter): DeadLetter {
  let message: Partial<QueueMessage> | undefined;
  try {
    message = JSON.parse(raw.body) as Partial<QueueMessage>;
  } catch {
    message = undefined;
  }
  const alerts = Array.isArray(message?.notification?.alerts) ? message.notification.alerts : [];
  const names: string[] = [];
  for (const alert of alerts) {
    const name = alert?.labels?.alertname;
    if (typeof name === 'string' && !names.includes(name)) names.push(name);
  }
  const attribute = (name: string) => raw.attributes[name] || undefined;
  return {
    messageId: raw.messageId,
    destination: attribute(DLQ_ATTRIBUTES.destination) ?? message?.destination ?? 'unknown',
    groupKey: typeof message?.notification?.groupKey === 'string' ? message.notification.groupKey : '?',
    status: typeof message?.notification?.status === 'string' ? message.notification.status : '?',
    alertNames: names,
    alertCount: alerts.length,
    reason: attribute(DLQ_ATTRIBUTES.reason) ?? '(no reason recorded)',
    statusCode: attribute(DLQ_ATTRIBUTES.statusCode),
    firstFailureAt: attribute(DLQ_ATTRIBUTES.firstFailureAt),
    attempts: attribute(DLQ_ATTRIBUTES.attempts),
    errorType: attribute(DLQ_ATTRIBUTES.errorType),
    receivedAt: typeof message?.receivedAt === 'string' ? message.receivedAt : undefined,
    idempotencyKey: typeof message?.idempotencyKey === 'string' ? message.idempotencyKey : undefined,
    ...(typeof message?.backfill === 'string' ? { backfill: message.backfill } : {}),
  };
}

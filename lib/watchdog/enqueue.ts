import type { DestinationConfig } from '../config/types.ts';
import { packBatches } from '../queue/batches.ts';
import { messageGroupId, queueDeduplicationId } from '../queue/idempotency.ts';
import { buildMessage, serializeMessage } from '../queue/message.ts';
import type { Enqueuer, OutgoingMessage } from '../queue/types.ts';
import type { WatchdogEnqueue, WatchdogPage } from './checker.ts';

/**
 * The watchdog's enqueue: a page becomes one ordinary queue message per named destination,
 * on its sink's queue (SQS FIFO on AWS, the embedded queue locally), so from there it is a
 * delivery like any other: the record handler, the sink, retries, the DLQ. The named
 * destinations get it whatever their `matchers`: naming them in `watchdog.destinations` is
 * the routing.
 *
 * Every enqueue of one transition sends the same messages: the content (built from the
 * silence), `receivedAt` (the claim's time), the idempotency key (from the content) and the
 * queue deduplication id (the key and the transition's `dedupKey`, where ingest uses its
 * request id) are all the same, so the queue drops a resend within its 5-minute window and
 * the record handler skips a later one as a duplicate of its group's last applied notification.
 */

/** Some queue did not take a page's message; the checker leaves the claim for the next check. */
export class WatchdogEnqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchdogEnqueueError';
  }
}

/** One queue message of a page. */
export interface WatchdogMessage {
  sink: string;
  destination: string;
  message: OutgoingMessage;
}

/**
 * The queue messages of `page`, one per named destination (the synthetic notification is a
 * few KiB: always one part). Throws for a name that is not a configured destination (the
 * config check refuses such a config).
 */
export function watchdogMessages(
  page: WatchdogPage,
  destinations: readonly DestinationConfig[],
): WatchdogMessage[] {
  return page.destinations.map((name, i) => {
    const destination = destinations.find((d) => d.name === name);
    if (!destination) throw new WatchdogEnqueueError(`watchdog destination "${name}" is not configured`);
    const message = buildMessage(destination.name, destination.sink, page.notification, page.receivedAt, {
      index: 1,
      count: 1,
    });
    return {
      sink: destination.sink,
      destination: destination.name,
      message: {
        id: `w${i}`,
        body: serializeMessage(message),
        groupId: messageGroupId(destination.name, page.notification.groupKey),
        deduplicationId: queueDeduplicationId(message.idempotencyKey, page.dedupKey),
      },
    };
  });
}

/**
 * A WatchdogEnqueue over the relay's Enqueuer (LocalEnqueuer under `npm start`, SqsEnqueuer
 * on AWS): each sink's messages in SendMessageBatch calls, entries a call reports as failed sent
 * once more, and a WatchdogEnqueueError naming the sinks that still refused.
 *
 * @example
 * const enqueue = createWatchdogEnqueue({ destinations: config.destinations, enqueuer });
 */
export function createWatchdogEnqueue(options: {
  destinations: readonly DestinationConfig[];
  enqueuer: Enqueuer;
}): WatchdogEnqueue {
  return async (page) => {
    const bySink = new Map<string, OutgoingMessage[]>();
    for (const { sink, message } of watchdogMessages(page, options.destinations)) {
      const messages = bySink.get(sink);
      if (messages) messages.push(message);
      else bySink.set(sink, [message]);
    }
    const refused: string[] = [];
    await Promise.all(
      [...bySink].flatMap(([sink, messages]) =>
        packBatches(messages).map(async (batch) => {
          let pending = batch;
          let reason = '';
          for (let attempt = 1; attempt <= 2 && pending.length > 0; attempt++) {
            try {
              const { failed } = await options.enqueuer.sendBatch(sink, pending);
              const failedIds = new Set(failed.map((f) => f.id));
              pending = pending.filter((m) => failedIds.has(m.id));
              reason = failed[0]?.reason ?? '';
            } catch (error) {
              reason = (error as Error).name || 'send failed';
            }
          }
          if (pending.length > 0) refused.push(`${sink} (${reason})`);
        }),
      ),
    );
    if (refused.length > 0)
      throw new WatchdogEnqueueError(
        `the watchdog's ${page.transition} was not accepted by the queue of ${refused.join(', ')}`,
      );
  };
}

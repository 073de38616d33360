import { PermanentError } from '../../delivery/errors.ts';
import { drain, postJson, statusError } from '../../delivery/http.ts';
import { type StepJournal, stepJournal } from '../../delivery/journal.ts';
import type { Delivery, DeliveryPipeline, Sink } from '../../delivery/sink.ts';
import { runStorm, scopedJournal } from '../../digest/run.ts';
import { seenGroup } from '../../digest/seen.ts';
import { renderDeliveryTemplates, type TemplateSpec } from '../../templates/destination.ts';
import {
  DEFAULT_GOOGLECHAT_TIMEOUT_SECONDS,
  GOOGLECHAT_SPACE_WRITES_PER_MINUTE,
  GOOGLECHAT_TEMPLATES,
  type GoogleChatDestination,
  googlechatConfigSchema,
} from './config.ts';
import { CHAT_DIGEST_LISTED, chatDigest, stormRequestId } from './digest.ts';
import { oversize } from './limits.ts';
import { buildMessages, type ChatMessage, messageRequestId, splitRequestId } from './message.ts';
import { awaitSpaceSlot } from './pacing.ts';

export type { GoogleChatDestination } from './config.ts';

/**
 * Google Chat sink: posts each notification into the space through its incoming webhook
 * (spaces.messages.create, https://developers.google.com/workspace/chat/quickstart/webhooks),
 * every notification of a group as a reply in the group's thread (in as many messages as
 * Chat's 4,096-character text limit needs, ./limits.ts). Posts are paced to the space's write
 * quota through the queue (pacing.ts) and made at most once per accepted message: Chat's
 * `requestId` returns the first message when a retry posts again. Its config: ./config.ts; the
 * messages: ./message.ts.
 */

/** Replies into the thread named by thread.threadKey, or starts it when it does not exist yet. */
export const MESSAGE_REPLY_OPTION = 'REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD';

export interface GoogleChatSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
}

/** What the sink needs from the webhook URL in the secret. */
interface WebhookUrl {
  url: URL;
  space: string;
  /** The key and token, never to be shown. */
  secrets: string[];
}

/** The parts of Chat's answer the sink logs. */
interface CreatedMessage {
  name?: string;
  thread?: { name?: string };
}

export function createGoogleChatSink(
  options: GoogleChatSinkOptions = {},
): Sink<GoogleChatDestination> & { templates: TemplateSpec } {
  // Read at each call: a test's virtual clock replaces Date.now after the sink is made.
  const now = options.now ?? (() => Date.now());

  return {
    name: 'googlechat',
    kind: 'lifecycle',
    configSchema: googlechatConfigSchema,
    preview: {
      secret: (_field, token) =>
        `https://chat.invalid/v1/spaces/PREVIEW/messages?key=${token}&token=${token}`,
      answer: () => ({
        status: 200,
        body: { name: 'spaces/PREVIEW/messages/1', thread: { name: 'spaces/PREVIEW/threads/1' } },
      }),
    },
    templates: GOOGLECHAT_TEMPLATES,

    describe(destination) {
      const share = destination.writesPerMinute ?? GOOGLECHAT_SPACE_WRITES_PER_MINUTE;
      return [`one thread per alert group; at most ${share} messages a minute into the space`];
    },

    async deliver(delivery: Delivery<GoogleChatDestination>, pipeline?: DeliveryPipeline): Promise<void> {
      const { destination, notification, logger } = delivery;
      const webhook = parseWebhookUrl(
        (await delivery.secrets.get(destination.webhookUrlSecret)).trim(),
        destination.webhookUrlSecret,
      );
      const writesPerMinute = destination.writesPerMinute ?? GOOGLECHAT_SPACE_WRITES_PER_MINUTE;

      /**
       * Posts `message` at its turn in the space (reserved once in `steps`), as `requestId`;
       * `position` says which message of the notification it is, for the log.
       */
      async function send(
        message: ChatMessage,
        requestId: string,
        steps: StepJournal,
        position?: { message: number; of: number },
      ): Promise<{ postedAt: string; message?: string }> {
        const refused = oversize(message);
        if (refused) {
          // buildMessages and chatDigest keep every message within Chat's limits; only a bug gets here.
          throw new PermanentError(`googlechat message not posted: ${refused}`);
        }
        const body = JSON.stringify(message);
        await awaitSpaceSlot({
          journal: steps,
          state: delivery.state,
          space: webhook.space,
          now,
          writesPerMinute,
        });
        const url = new URL(webhook.url.href);
        url.searchParams.delete('threadKey');
        url.searchParams.set('messageReplyOption', MESSAGE_REPLY_OPTION);
        url.searchParams.set('requestId', requestId);
        const label = `googlechat ${url.host}`;
        const timeoutSeconds = destination.timeoutSeconds ?? DEFAULT_GOOGLECHAT_TIMEOUT_SECONDS;
        const started = performance.now();
        const response = await postJson(url, body, { label, timeoutSeconds, fetch: options.fetch });
        if (response.status < 200 || response.status >= 300) {
          throw await statusError(response, {
            label,
            redactions: [...webhook.secrets, url.search, webhook.url.search],
            now: now(),
            redirectHint: 'set the webhook URL Chat gave when the webhook was added to the space',
            permanentHint: permanentHint,
          });
        }
        const created = parseCreated(await drain(response));
        logger.info('googlechat message posted', {
          space: webhook.space,
          message: created.name,
          thread: created.thread?.name,
          status: notification.status,
          alerts: notification.alerts.length,
          ...position,
          attempt: delivery.attempt,
          durationMs: Math.round(performance.now() - started),
        });
        return {
          postedAt: new Date(now()).toISOString(),
          ...(created.name ? { message: created.name } : {}),
        };
      }

      const journal = stepJournal(delivery);
      // In a storm a new group is folded into the destination's digest instead (lib/digest/run.ts).
      // A webhook cannot edit a message: each state of the digest is a new message in the storm's thread.
      const { groupId, seen, markSeen } = await seenGroup(delivery, 'gchatgroup', now);
      const showDigest = async (
        view: Parameters<typeof chatDigest>[1],
        totals: Parameters<typeof chatDigest>[2],
        steps: StepJournal,
      ) => {
        const { value } = await steps.once('message', () =>
          send(chatDigest(destination.name, view, totals), stormRequestId(destination.name, view), steps),
        );
        return value;
      };
      const storm = await runStorm({
        pipeline,
        delivery,
        journal,
        groupId,
        known: seen,
        newMessage: !seen,
        now,
        vendor: 'Google Chat',
        listed: CHAT_DIGEST_LISTED,
        publisher: {
          async post(view, steps) {
            const posted = await showDigest(view.storm, view.totals, steps);
            return { postedAt: posted.postedAt };
          },
          async show(view, _message, steps) {
            await showDigest(view.storm, view.totals, steps);
          },
        },
      });
      if (!storm.own) return;

      const { values, notes } = renderDeliveryTemplates(delivery, GOOGLECHAT_TEMPLATES, { now: now() });
      const messages = buildMessages(notification, destination.name, delivery.part, {
        title: values.title,
        text: values.text,
        notes,
      });
      const firstRequestId = messageRequestId(
        destination.name,
        delivery.idempotencyKey,
        delivery.receivedAt,
        delivery.part,
      );
      // In order, each at its own turn in the space (reserved once per message) and at most once:
      // a retry goes on from the first message not posted. The first message keeps the journal
      // steps and requestId a delivery had before notifications were split into several messages.
      for (const [i, message] of messages.entries()) {
        const steps = i === 0 ? journal : scopedJournal(journal, `message${i + 1}`);
        await steps.once('post', () =>
          send(message, splitRequestId(firstRequestId, i + 1), steps, {
            message: i + 1,
            of: messages.length,
          }),
        );
      }
      // Storm mode tells a group it has seen (its later notifications keep going to its thread).
      await markSeen();
      await storm.after?.();
    },
  };
}

export const googlechatSink = createGoogleChatSink();

function permanentHint(status: number): string | undefined {
  if (status === 401 || status === 403)
    return ': the webhook key or token is not accepted (was the webhook removed? add it again and update the secret)';
  if (status === 404)
    return ': no such space or webhook (was it deleted? add the webhook again and update the secret)';
  return undefined;
}

/**
 * The webhook URL from the secret, checked without quoting it: http(s), a
 * `/spaces/<space>/messages` path, and the `key` and `token` Chat puts in every webhook URL.
 */
export function parseWebhookUrl(raw: string, secretName: string): WebhookUrl {
  const refuse = (why: string) =>
    new PermanentError(`googlechat webhook URL in secret "${secretName}" ${why}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse('is not an http(s) URL');
  if (url.username || url.password) throw refuse('must not carry user credentials');
  const space = /\/spaces\/([^/]+)\/messages$/.exec(url.pathname)?.[1];
  if (!space)
    throw refuse('is not a space webhook (expected .../v1/spaces/<space>/messages?key=...&token=...)');
  const key = url.searchParams.get('key');
  const token = url.searchParams.get('token');
  if (!key || !token) throw refuse('lacks its key or token (copy the whole URL Chat shows for the webhook)');
  return { url, space: decodeURIComponent(space), secrets: [key, token, decodeURIComponent(token)] };
}

function parseCreated(text: string): CreatedMessage {
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== 'object') return {};
    const { name, thread } = value as { name?: unknown; thread?: { name?: unknown } };
    return {
      ...(typeof name === 'string' ? { name } : {}),
      ...(typeof thread?.name === 'string' ? { thread: { name: thread.name } } : {}),
    };
  } catch {
    return {};
  }
}

import type { ChatAdapter } from '../../chat/adapter.ts';
import { chatSink } from '../../chat/stage.ts';
import { PermanentError } from '../../delivery/errors.ts';
import { drain, postJson, statusError } from '../../delivery/http.ts';
import type { Sink } from '../../delivery/sink.ts';
import { checkedHttpUrl } from '../../delivery/vendor-url.ts';
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
import { spaceBudget } from './pacing.ts';

export type { GoogleChatDestination } from './config.ts';

/**
 * Google Chat sink: posts each notification into the space through its incoming webhook
 * (spaces.messages.create, https://developers.google.com/workspace/chat/quickstart/webhooks),
 * every notification of a group as replies in the group's thread (its threadKey, in the
 * message). A webhook can neither edit nor delete, so the chat stage (lib/chat/stage.ts) posts
 * every message anew, paced to the space's write quota (pacing.ts); Chat's `requestId` returns
 * the first message when a retry posts again. Its config: ./config.ts; the messages: ./message.ts.
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

/** The Google Chat adapter of the chat stage. */
export function googlechatAdapter(
  options: GoogleChatSinkOptions = {},
): ChatAdapter<GoogleChatDestination, ChatMessage> {
  const now = options.now ?? (() => Date.now());
  return {
    name: 'googlechat',
    vendor: 'Google Chat',
    configSchema: googlechatConfigSchema,
    templates: GOOGLECHAT_TEMPLATES,
    can: { edit: false, remove: false, thread: false },
    groupRecord: 'gchatgroup',
    digestListed: CHAT_DIGEST_LISTED,
    preview: {
      secret: (_field, token) =>
        `https://chat.invalid/v1/spaces/PREVIEW/messages?key=${token}&token=${token}`,
      answer: () => ({
        status: 200,
        body: { name: 'spaces/PREVIEW/messages/1', thread: { name: 'spaces/PREVIEW/threads/1' } },
      }),
    },

    describe(destination) {
      const share = destination.writesPerMinute ?? GOOGLECHAT_SPACE_WRITES_PER_MINUTE;
      return [`one thread per alert group; at most ${share} messages a minute into the space`];
    },

    async connect(delivery) {
      const { destination, logger } = delivery;
      const webhook = parseWebhookUrl(
        await delivery.secrets.get(destination.webhookUrlSecret),
        destination.webhookUrlSecret,
      );
      // The first message keeps the requestId a delivery had before messages were split.
      const firstRequestId = messageRequestId(
        destination.name,
        delivery.idempotencyKey,
        delivery.receivedAt,
        delivery.part,
      );
      return {
        budget: spaceBudget(webhook.space, destination.writesPerMinute ?? GOOGLECHAT_SPACE_WRITES_PER_MINUTE),
        label: `googlechat ${webhook.url.host}`,
        async post(message, { index, digest }) {
          const refused = oversize(message);
          // buildMessages and chatDigest keep every message within Chat's limits; only a bug gets here.
          if (refused) throw new PermanentError(`googlechat message not posted: ${refused}`);
          const url = new URL(webhook.url.href);
          url.searchParams.delete('threadKey');
          url.searchParams.set('messageReplyOption', MESSAGE_REPLY_OPTION);
          url.searchParams.set(
            'requestId',
            digest
              ? stormRequestId(destination.name, digest.storm)
              : splitRequestId(firstRequestId, (index ?? 0) + 1),
          );
          const label = `googlechat ${url.host}`;
          const timeoutSeconds = destination.timeoutSeconds ?? DEFAULT_GOOGLECHAT_TIMEOUT_SECONDS;
          const response = await postJson(url, JSON.stringify(message), {
            label,
            timeoutSeconds,
            fetch: options.fetch,
          });
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
            ...(index === undefined ? { digest: true } : { position: index + 1 }),
          });
          return {};
        },
      };
    },

    render: ({ destination, notification, part, templated }) =>
      buildMessages(notification, destination.name, part, templated),

    digest: (view, destination) => chatDigest(destination.name, view.storm, view.totals),
  };
}

export function createGoogleChatSink(options: GoogleChatSinkOptions = {}): Sink<GoogleChatDestination> {
  return chatSink(googlechatAdapter(options), { now: options.now });
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
  const what = `googlechat webhook URL in secret "${secretName}"`;
  const refuse = (why: string) => new PermanentError(`${what} ${why}`);
  const url = checkedHttpUrl(raw, what);
  const space = /\/spaces\/([^/]+)\/messages$/.exec(url.pathname)?.[1];
  if (!space)
    throw refuse('is not a space webhook (expected .../v1/spaces/<space>/messages?key=...&token=...)');
  const key = url.searchParams.get('key');
  const token = url.searchParams.get('token');
  if (!key || !token) throw refuse('lacks its key or token (copy the whole URL Chat shows for the webhook)');
  return { url, space: decodeURIComponent(space), secrets: [key, token, decodeURIComponent(token)] };
}

/** The parts of Chat's answer the sink logs. */
interface CreatedMessage {
  name?: string;
  thread?: { name?: string };
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

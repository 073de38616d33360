import { ALERTMANAGER_LINKS, type LinkBuilders } from '../../alertmanager/links.ts';
import type { ChatAdapter } from '../../chat/adapter.ts';
import { chatSink } from '../../chat/stage.ts';
import type { Sink } from '../../delivery/sink.ts';
import {
  DEFAULT_DISCORD_TIMEOUT_SECONDS,
  DISCORD_BURST,
  DISCORD_REQUESTS_PER_MINUTE,
  DISCORD_TEMPLATES,
  type DiscordDestination,
  discordConfigSchema,
} from './config.ts';
import { DISCORD_DIGEST_LISTED, discordDigest } from './digest.ts';
import { buildDiscordMessages, type DiscordMessage } from './embeds.ts';
import { DISCORD_ERRORS, DiscordWebhook, discordErrorCode } from './webhook-api.ts';

export type { DiscordDestination } from './config.ts';

/**
 * Discord sink: one message per alert group, posted through a channel webhook and edited as
 * the group changes; red while firing, green once resolved. When the group fires again after
 * it resolved, it gets a new message (the resolved one stays as the record of the last
 * incident). The chat stage (lib/chat/stage.ts) does the rest: the group's message ids, the
 * journal, the webhook's pace, storm mode. Its config: ./config.ts; the embeds: ./embeds.ts;
 * the calls: ./webhook-api.ts.
 *
 * What a journal cannot cover: an execute whose answer was lost (a timeout after Discord
 * created the message) is posted again on the retry, because a webhook cannot list the
 * channel's messages to find it.
 */

export interface DiscordSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  links?: LinkBuilders;
  /** Embed characters per message (tests of the splitting). */
  maxChars?: number;
}

/** The Discord adapter of the chat stage. */
export function discordAdapter(
  options: DiscordSinkOptions = {},
): ChatAdapter<DiscordDestination, DiscordMessage> {
  const now = options.now ?? (() => Date.now());
  const links = options.links ?? ALERTMANAGER_LINKS;
  return {
    name: 'discord',
    vendor: 'Discord',
    configSchema: discordConfigSchema,
    templates: DISCORD_TEMPLATES,
    can: { edit: true, remove: true, thread: false },
    groupRecord: 'discordgroup',
    digestListed: DISCORD_DIGEST_LISTED,
    preview: {
      secret: (_field, token) => `https://discord.invalid/api/webhooks/0/${token}`,
      answer: () => ({ status: 200, body: { id: '1000000000000000001' } }),
    },

    async connect(delivery) {
      const { destination } = delivery;
      const webhook = new DiscordWebhook(await delivery.secrets.get(destination.webhookUrlSecret), {
        timeoutSeconds: destination.timeoutSeconds ?? DEFAULT_DISCORD_TIMEOUT_SECONDS,
        fetch: options.fetch,
        now,
        secretName: destination.webhookUrlSecret,
      });
      const perMinute = destination.requestsPerMinute ?? DISCORD_REQUESTS_PER_MINUTE;
      return {
        budget: {
          key: `discordpace#${webhook.id}`,
          pace: { burst: DISCORD_BURST, intervalMs: Math.ceil(60_000 / perMinute) },
          what: 'Discord webhook pacing',
        },
        label: webhook.label,
        post: async (message) => {
          const id = await webhook.execute(message);
          return id ? { id } : {};
        },
        async edit(id, message) {
          try {
            await webhook.edit(id, message);
            return 'edited';
          } catch (error) {
            if (discordErrorCode(error) !== DISCORD_ERRORS.unknownMessage) throw error;
            return 'gone';
          }
        },
        remove: (id) => webhook.remove(id),
      };
    },

    render: ({ notification, part, templated }) =>
      buildDiscordMessages(notification, {
        links,
        part,
        maxChars: options.maxChars,
        templated,
      }),

    digest: (view) => discordDigest(view.storm, view.totals),
  };
}

export function createDiscordSink(options: DiscordSinkOptions = {}): Sink<DiscordDestination> {
  return chatSink(discordAdapter(options), { now: options.now });
}

export const discordSink = createDiscordSink();

import { stormConfigSchema } from '../../chat/storm/config.ts';
import { secretNameSchema } from '../../config/schema.ts';
import type { DestinationFromSchema } from '../../config/types.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';

/**
 * A Discord destination's own fields: the JSON schema the config loader checks, and the type
 * derived from it (plus the common name, sink and matchers), written once.
 */

export const DEFAULT_DISCORD_TIMEOUT_SECONDS = 10;
/**
 * The relay's own pace per webhook: Discord answers a webhook's burst of 5 and then about one
 * call every 2 s, 30 a minute per channel (its X-RateLimit headers); past that a 429.
 */
export const DISCORD_REQUESTS_PER_MINUTE = 30;
export const DISCORD_BURST = 5;

export const discordConfigSchema = {
  type: 'object',
  properties: {
    webhookUrlSecret: {
      ...secretNameSchema,
      // The URL carries the webhook's token in its path: whoever has it can post as the webhook.
      description:
        'NAME of the secret holding the webhook URL, https://discord.com/api/webhooks/<id>/<token> (Server Settings > Integrations > Webhooks > Copy Webhook URL)',
    },
    timeoutSeconds: {
      type: 'number',
      minimum: 1,
      maximum: 60,
      default: DEFAULT_DISCORD_TIMEOUT_SECONDS,
    },
    /**
     * Calls a minute the relay makes to the webhook once its burst of 5 is used (posts, edits,
     * deletes, shared by every function). Default 30, Discord's per-channel rate for webhooks.
     */
    requestsPerMinute: {
      type: 'integer',
      minimum: 1,
      maximum: 300,
      default: DISCORD_REQUESTS_PER_MINUTE,
    },
    /** Storm mode (docs/sinks/discord.md#storms): `false` turns it off. */
    storm: stormConfigSchema,
    /** Liquid templates (docs/templates.md): `title` is the embed's title, `text` its description. */
    templates: {
      type: 'object',
      properties: { title: templateSourceSchema, text: templateSourceSchema },
      additionalProperties: false,
    },
  },
  required: ['webhookUrlSecret'],
  additionalProperties: false,
} as const;

/** A Discord destination as the sink reads it (a defaulted field stays optional; the sink applies it). */
export type DiscordDestination = DestinationFromSchema<typeof discordConfigSchema>;

/** Discord renders Markdown in embeds: `title` replaces the title, `text` the summary and alert lines. */
export const DISCORD_TEMPLATES: TemplateSpec = { keys: ['title', 'text'], format: 'markdown' };

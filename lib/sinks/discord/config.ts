import { secretNameSchema } from '../../config/schema.ts';
import type { DestinationFromSchema } from '../../config/types.ts';
import { stormConfigSchema } from '../../digest/config.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';

/**
 * A Discord destination's own fields: the JSON schema the config loader checks, and the type
 * derived from it (plus the common name, sink and matchers), written once.
 */

export const DEFAULT_DISCORD_TIMEOUT_SECONDS = 10;

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

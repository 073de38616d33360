import { stormConfigSchema } from '../../chat/storm/config.ts';
import { secretNameSchema } from '../../config/schema.ts';
import type { DestinationFromSchema } from '../../config/types.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';
import { mattermostFormat } from './render.ts';

/** A Mattermost destination's fields: the JSON schema the config loader checks, and the type derived from it. */
export const DEFAULT_MATTERMOST_TIMEOUT_SECONDS = 10;
/**
 * The relay's pace per channel, after a burst of 10: Mattermost's rate limit (System Console >
 * Rate Limiting, off by default) allows 10 requests a second (burst 100) per client address; half
 * of that leaves room for whatever else shares the address.
 */
export const MATTERMOST_PER_MINUTE = 300;
export const MATTERMOST_BURST = 10;

export const mattermostConfigSchema = {
  type: 'object',
  properties: {
    /** The server's address (its Site URL): http(s), no credentials, query or `..`; a path prefix is kept. */
    baseUrl: {
      type: 'string',
      maxLength: 500,
      pattern: '^https?://[A-Za-z0-9.\\-]+(:[0-9]{1,5})?(/[A-Za-z0-9_~\\-][A-Za-z0-9._~\\-]*)*/?$',
    },
    /** NAME of the secret holding the bot's access token (System Console > Integrations > Bot Accounts). */
    tokenSecret: secretNameSchema,
    /** The channel's id (26 characters; the channel's View Info shows it), not its name. */
    channelId: { type: 'string', pattern: '^[a-z0-9]{26}$' },
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 60, default: DEFAULT_MATTERMOST_TIMEOUT_SECONDS },
    /** Calls a minute into the channel after a burst of 10 (posts, edits, deletes), shared by every function. */
    requestsPerMinute: { type: 'integer', minimum: 1, maximum: 6000, default: MATTERMOST_PER_MINUTE },
    /** Storm mode (docs/sinks/mattermost.md#storms): `false` turns it off. */
    storm: stormConfigSchema,
    /** Liquid templates (docs/templates.md): `title` is the post's first line, `text` replaces the alert lines. */
    templates: {
      type: 'object',
      properties: { title: templateSourceSchema, text: templateSourceSchema },
      additionalProperties: false,
    },
  },
  required: ['baseUrl', 'tokenSecret', 'channelId'],
  additionalProperties: false,
} as const;

/** A Mattermost destination as the sink reads it (a defaulted field stays optional; the sink applies it). */
export type MattermostDestination = DestinationFromSchema<typeof mattermostConfigSchema>;

/** Mattermost renders Markdown: values escaped for it, mentions and channel links broken (./render.ts). */
export const MATTERMOST_TEMPLATES: TemplateSpec = { keys: ['title', 'text'], format: mattermostFormat };

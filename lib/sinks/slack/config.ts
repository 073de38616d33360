import { stormConfigSchema } from '../../chat/storm/config.ts';
import { secretNameSchema } from '../../config/schema.ts';
import type { DestinationFromSchema } from '../../config/types.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';
import { graphConfigSchema } from './graph/config.ts';

/**
 * A Slack destination's own fields: the JSON schema the config loader checks, and the
 * TypeScript type derived from it (plus the common name, sink and matchers), written once.
 */

export const DEFAULT_SLACK_BASE_URL = 'https://slack.com/api';
export const DEFAULT_SLACK_TIMEOUT_SECONDS = 10;

/** The destination's schema; `graph` is the graph module's own schema of its `graph:` block. */
export const slackConfigSchema = {
  type: 'object',
  properties: {
    tokenSecret: {
      ...secretNameSchema,
      description: 'NAME of the secret holding the bot token',
    },
    channel: {
      type: 'string',
      // Public (C), private (G) and DM (D) conversation IDs; a #name is refused on purpose:
      // names change, IDs do not.
      pattern: '^[CGD][A-Z0-9]{8,12}$',
      description: 'channel ID such as C0123456789 (channel details > About), not #name',
    },
    // Web API base URL.
    baseUrl: {
      type: 'string',
      pattern: '^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$',
      default: DEFAULT_SLACK_BASE_URL,
    },
    update: { enum: ['edit', 'thread', 'both'], default: 'both' },
    newMessageAfterResolve: { type: 'boolean', default: true },
    contextLabels: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 8 },
    fieldLabels: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 10 },
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 60, default: DEFAULT_SLACK_TIMEOUT_SECONDS },
    graph: graphConfigSchema,
    /**
     * Liquid templates (docs/templates.md): `title` is the header (plain text, rendered with the
     * text format), `text` the summary section (mrkdwn).
     */
    templates: {
      type: 'object',
      properties: { title: templateSourceSchema, text: templateSourceSchema },
      additionalProperties: false,
    },
    /** Storm mode (lib/chat/storm): one live digest instead of a message per new group when many fire at once. */
    storm: stormConfigSchema,
  },
  required: ['tokenSecret', 'channel'],
  additionalProperties: false,
} as const;

/** A Slack destination as the sink reads it (a field with a default stays optional; the sink applies it). */
export type SlackDestination = DestinationFromSchema<typeof slackConfigSchema>;

/**
 * What the config loader checks of `templates:` on a Slack destination: both keys parse as
 * mrkdwn, the stricter of the two formats (no value where mrkdwn reads a link target). The
 * header is plain_text, so the sink renders `title` with the text format.
 */
export const SLACK_TEMPLATES: TemplateSpec = {
  keys: ['title', 'text'],
  format: 'mrkdwn',
  // The header block is plain_text: Slack shows it as typed, so it renders with the text format.
  keyFormats: { title: 'text' },
};

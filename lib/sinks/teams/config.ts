import { secretNameSchema } from '../../config/schema.ts';
import type { DestinationFromSchema } from '../../config/types.ts';
import { stormConfigSchema } from '../../digest/config.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';

/**
 * A Microsoft Teams destination's own fields: the JSON schema the config loader checks, and
 * the type derived from it (plus the common name, sink and matchers), written once.
 */

export const DEFAULT_TEAMS_TIMEOUT_SECONDS = 10;

export const teamsConfigSchema = {
  type: 'object',
  properties: {
    webhookUrlSecret: {
      ...secretNameSchema,
      // The URL's `sig` query parameter is the credential: whoever has the URL can post.
      description:
        'NAME of the secret holding the URL of a Teams workflow started by "When a Teams webhook request is received"',
    },
    timeoutSeconds: {
      type: 'number',
      minimum: 1,
      maximum: 60,
      default: DEFAULT_TEAMS_TIMEOUT_SECONDS,
    },
    /** Storm mode (docs/sinks/teams.md#storms): `false` turns it off. */
    storm: stormConfigSchema,
    /** Liquid templates (docs/templates.md): `title` is the card's heading, `text` its body. */
    templates: {
      type: 'object',
      properties: { title: templateSourceSchema, text: templateSourceSchema },
      additionalProperties: false,
    },
  },
  required: ['webhookUrlSecret'],
  additionalProperties: false,
} as const;

/** A Teams destination as the sink reads it (a defaulted field stays optional; the sink applies it). */
export type TeamsDestination = DestinationFromSchema<typeof teamsConfigSchema>;

/** Teams renders Markdown in TextBlocks: `title` replaces the heading, `text` the summary and alert lines. */
export const TEAMS_TEMPLATES: TemplateSpec = { keys: ['title', 'text'], format: 'markdown' };

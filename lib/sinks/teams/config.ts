import { stormConfigSchema } from '../../chat/storm/config.ts';
import { secretNameSchema } from '../../config/schema.ts';
import type { DestinationFromSchema } from '../../config/types.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';

/**
 * A Microsoft Teams destination's own fields: the JSON schema the config loader checks, and
 * the type derived from it (plus the common name, sink and matchers), written once.
 */

export const DEFAULT_TEAMS_TIMEOUT_SECONDS = 10;
/**
 * The relay's own pace per workflow: a burst of 4, then one post every 2 s. Microsoft documents
 * no fixed rate for a workflow's webhook trigger (Power Automate throttles a flow by its owner's
 * licence); this stays under the 4 a second Teams connectors allowed, and a 429 still waits.
 */
export const TEAMS_REQUESTS_PER_MINUTE = 30;
export const TEAMS_BURST = 4;

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
    /**
     * Posts a minute the relay makes to the workflow once its burst of 4 is used, shared by
     * every function. Default 30; raise it when the flow's licence allows more.
     */
    requestsPerMinute: {
      type: 'integer',
      minimum: 1,
      maximum: 600,
      default: TEAMS_REQUESTS_PER_MINUTE,
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

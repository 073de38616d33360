import { stormConfigSchema } from '../../chat/storm/config.ts';
import { secretNameSchema } from '../../config/schema.ts';
import type { DestinationFromSchema } from '../../config/types.ts';
import { type TemplateSpec, templateSourceSchema } from '../../templates/destination.ts';
import { googleChatFormat } from './text.ts';

/**
 * A Google Chat destination's own fields: the JSON schema the config loader checks, and the
 * TypeScript type derived from it (plus the common name, sink and matchers), written once.
 */

/** Whole-request timeout when `timeoutSeconds` is not set. */
export const DEFAULT_GOOGLECHAT_TIMEOUT_SECONDS = 10;

/**
 * Google Chat allows 60 writes per 60 seconds per space, shared by every app and webhook
 * posting there (https://developers.google.com/workspace/chat/limits, "Per-space quotas").
 */
export const GOOGLECHAT_SPACE_WRITES_PER_MINUTE = 60;

export const googlechatConfigSchema = {
  type: 'object',
  properties: {
    /**
     * NAME of the secret holding the space's incoming webhook URL
     * (https://chat.googleapis.com/v1/spaces/<space>/messages?key=...&token=...): the key and
     * token in it let anyone post to the space, so it lives with the secrets.
     */
    webhookUrlSecret: {
      ...secretNameSchema,
      description: "NAME of the secret holding the space's incoming webhook URL",
    },
    /**
     * The share of the space's write quota the relay may use. Lower it when other apps post to
     * the same space heavily. Default 60 (all of it).
     */
    writesPerMinute: {
      type: 'integer',
      minimum: 1,
      maximum: GOOGLECHAT_SPACE_WRITES_PER_MINUTE,
      default: GOOGLECHAT_SPACE_WRITES_PER_MINUTE,
    },
    /** Whole-request timeout. Default 10. */
    timeoutSeconds: {
      type: 'number',
      minimum: 1,
      maximum: 60,
      default: DEFAULT_GOOGLECHAT_TIMEOUT_SECONDS,
    },
    /** Storm mode (docs/sinks/googlechat.md#storms): `false` turns it off. */
    storm: stormConfigSchema,
    /** Liquid templates (docs/templates.md): `title` is the first line, `text` the alert list. */
    templates: {
      type: 'object',
      properties: { title: templateSourceSchema, text: templateSourceSchema },
      additionalProperties: false,
    },
  },
  required: ['webhookUrlSecret'],
  additionalProperties: false,
} as const;

/** A Google Chat destination: one space, through its incoming webhook. */
export type GoogleChatDestination = DestinationFromSchema<typeof googlechatConfigSchema>;

/** Chat's text formatting: `title` replaces the headline, `text` the alert lines. */
export const GOOGLECHAT_TEMPLATES: TemplateSpec = { keys: ['title', 'text'], format: googleChatFormat };

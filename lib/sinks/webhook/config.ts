import type { DestinationFromSchema } from '../../config/types.ts';
import type { TemplatedDestination, TemplateSpec } from '../../templates/destination.ts';
import { templateSourceSchema } from '../../templates/destination.ts';
import { jsonFormat, type OutputFormat, textFormat } from '../../templates/formats.ts';

/** Whole-request timeout (connect, headers and body) when `timeoutSeconds` is not set. */
export const DEFAULT_TIMEOUT_SECONDS = 10;

// RFC 9110 token: what a header name may contain.
const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

// RFC 9110 media-type: token/token, then `; name=token` or `; name="quoted"` parameters. No
// braces: the config compiles it with the body's templates, so it must be text to Liquid.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = `^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\r\\n{}%]*"))*$`;

/** The Content-Type of a templated body when `templates.contentType` is not set. */
export const DEFAULT_TEMPLATE_CONTENT_TYPE = 'application/json';

/** The webhook destination's own fields (draft 2020-12; `name`, `sink`, `matchers` are common). */
export const webhookConfigSchema = {
  type: 'object',
  properties: {
    /** http(s) URL to POST to. Treated as a secret-bearing value: never logged or put in errors. */
    url: {
      type: 'string',
      // No user-info: credentials in a URL end up in logs and fetch refuses them anyway.
      pattern: '^https?://[^\\s/?#@]+(?:[/?#]\\S*)?$',
      description: 'http(s) URL the notification is POSTed to',
    },
    /** NAME of the secret holding the signing key (see decodeSigningSecret for the value format). */
    signingSecret: {
      type: 'string',
      minLength: 1,
      description: 'NAME of the secret holding the Standard Webhooks signing key (whsec_<base64>)',
    },
    /** Whole-request timeout (connect, headers and body). Default 10. */
    timeoutSeconds: { type: 'number', minimum: 1, maximum: 120, default: DEFAULT_TIMEOUT_SECONDS },
    /** Extra static headers. The relay's own headers (content-type, user-agent, webhook-*) win. */
    headers: {
      type: 'object',
      propertyNames: { type: 'string', pattern: HEADER_NAME },
      additionalProperties: { type: 'string', pattern: '^[^\\r\\n\\u0000]*$' },
    },
    /**
     * Liquid templates (docs/templates.md): `body` replaces the whole request body, sent with
     * `contentType` (default application/json, where the body must render to valid JSON).
     */
    templates: {
      type: 'object',
      properties: {
        body: templateSourceSchema,
        contentType: {
          type: 'string',
          // type/subtype and parameters (RFC 9110 media-type): a header value, never a template.
          pattern: MEDIA_TYPE,
          maxLength: 200,
          description: 'Content-Type of a templated body (default application/json)',
        },
      },
      additionalProperties: false,
    },
  },
  required: ['url'],
  additionalProperties: false,
} as const;

/**
 * Generic webhook destination: POSTs the notification (this destination's alerts only) as JSON,
 * signed per Standard Webhooks 1.0 when a signing secret is configured.
 */
export type WebhookDestination = DestinationFromSchema<typeof webhookConfigSchema>;

/** `templates.contentType`, or the default (application/json). */
export function templateContentType(destination: { templates?: unknown }): string {
  const templates = destination.templates as { contentType?: unknown } | undefined;
  return typeof templates?.contentType === 'string' ? templates.contentType : DEFAULT_TEMPLATE_CONTENT_TYPE;
}

/** application/json or any `+json` type (application/cloudevents+json): the body must be JSON. */
export function isJsonContentType(contentType: string): boolean {
  const essence = contentType.split(';')[0].trim().toLowerCase();
  return essence === 'application/json' || /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]*\+json$/.test(essence);
}

/**
 * The webhook's templates: `body`, the whole request body, as JSON (values escaped as the inside
 * of JSON strings, the result must parse) when the content type is JSON, else as plain text;
 * `contentType` is the header for it, a media type the schema checks, not a template.
 */
export const WEBHOOK_TEMPLATES: TemplateSpec = {
  keys: ['body', 'contentType'],
  format: (destination: TemplatedDestination): OutputFormat =>
    isJsonContentType(templateContentType(destination)) ? jsonFormat : textFormat,
};

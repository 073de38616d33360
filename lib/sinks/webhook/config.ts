import type { DestinationFromSchema } from '../../config/types.ts';

/** Whole-request timeout (connect, headers and body) when `timeoutSeconds` is not set. */
export const DEFAULT_TIMEOUT_SECONDS = 10;

// RFC 9110 token: what a header name may contain.
const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

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
  },
  required: ['url'],
  additionalProperties: false,
} as const;

/**
 * Generic webhook destination: POSTs the notification (this destination's alerts only) as JSON,
 * signed per Standard Webhooks 1.0 when a signing secret is configured.
 */
export type WebhookDestination = DestinationFromSchema<typeof webhookConfigSchema>;

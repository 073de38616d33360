/** A secret's NAME: an environment variable name locally, a key of the JSON secret on AWS. */
export const secretNameSchema = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } as const;

/**
 * The common part of the relay's configuration. Each destination's own fields are checked
 * against its sink's `configSchema` (lib/sinks/<sink>/config.ts) by lib/config/load.ts.
 */
export const relayConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['destinations'],
  properties: {
    ingest: {
      type: 'object',
      additionalProperties: false,
      properties: {
        tokenSecret: secretNameSchema,
        previousTokenSecret: secretNameSchema,
      },
    },
    destinations: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'sink'],
        properties: {
          // Names go into SQS message group ids, log fields and metric dimensions.
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' },
          sink: { type: 'string' },
          matchers: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
} as const;

/** Fields every destination has, whatever its sink. */
export const commonDestinationFields = ['name', 'sink', 'matchers'] as const;

/**
 * `storm:` on a chat destination: when more than `threshold` new alert groups start within
 * `window` seconds, new groups stop getting a message of their own and are folded into one
 * digest message per destination, kept edited; the storm is over once `cooldown` seconds went
 * by under the threshold. The defaults suit a busy on-call channel.
 */

export const STORM_DEFAULTS = {
  /** More than this many new groups within `window` start a storm. */
  threshold: 10,
  windowSeconds: 60,
  cooldownSeconds: 300,
  afterwards: 'summary',
} as const;

/** The JSON schema of `storm:`, for a chat sink's config schema. `false` turns storm mode off. */
export const stormConfigSchema = {
  oneOf: [
    { const: false },
    {
      type: 'object',
      properties: {
        threshold: { type: 'integer', minimum: 1, maximum: 10_000, default: STORM_DEFAULTS.threshold },
        window: { type: 'integer', minimum: 10, maximum: 3600, default: STORM_DEFAULTS.windowSeconds },
        cooldown: { type: 'integer', minimum: 30, maximum: 86_400, default: STORM_DEFAULTS.cooldownSeconds },
        afterwards: { enum: ['summary', 'backfill'], default: STORM_DEFAULTS.afterwards },
      },
      additionalProperties: false,
    },
  ],
} as const;

/** A storm configuration with every default applied. */
export interface StormSettings {
  threshold: number;
  windowMs: number;
  cooldownMs: number;
  afterwards: 'summary' | 'backfill';
}

/**
 * The settings of a destination's `storm:` (undefined or `{}`: the defaults; `false`: off).
 *
 * @example
 * stormSettings({ threshold: 20 }) // { threshold: 20, windowMs: 60_000, cooldownMs: 300_000, afterwards: 'summary' }
 */
export function stormSettings(
  storm:
    | false
    | { threshold?: number; window?: number; cooldown?: number; afterwards?: 'summary' | 'backfill' }
    | undefined,
): StormSettings | undefined {
  if (storm === false) return undefined;
  return {
    threshold: storm?.threshold ?? STORM_DEFAULTS.threshold,
    windowMs: (storm?.window ?? STORM_DEFAULTS.windowSeconds) * 1000,
    cooldownMs: (storm?.cooldown ?? STORM_DEFAULTS.cooldownSeconds) * 1000,
    afterwards: storm?.afterwards ?? STORM_DEFAULTS.afterwards,
  };
}

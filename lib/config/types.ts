import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { WatchdogConfig } from '../watchdog/config.ts';
import type { MetricsConfig } from './schema.ts';

/** The relay's configuration, as loaded from relay.yaml (see relay.example.yaml). */
export interface RelayConfig {
  ingest: IngestConfig;
  destinations: DestinationConfig[];
  /** Page when Alertmanager's always-firing alert stops arriving (docs/watchdog.md). */
  watchdog?: WatchdogConfig;
  /** `npm start`'s GET /metrics: its bearer token and its own listener (docs/configuration.md). */
  metrics?: MetricsConfig;
}

export interface IngestConfig {
  /** NAME of the secret holding the bearer token Alertmanager sends. */
  tokenSecret?: string;
  /** NAME of the secret holding the previous token, accepted during a rotation. */
  previousTokenSecret?: string;
}

/** One configured instance of a sink. Sink-specific fields are checked by that sink's schema. */
export interface DestinationConfig {
  name: string;
  sink: string;
  /** Alertmanager matchers, ANDed: `severity=~"critical|page"`. None: every alert. */
  matchers?: string[];
  [field: string]: unknown;
}

/** The fields every destination has whatever its sink, checked by the common schema. */
export type CommonDestinationConfig = Pick<DestinationConfig, 'name' | 'sink' | 'matchers'>;

/**
 * A sink's destination type, derived from its config schema (written `as const`) so the schema
 * and the type cannot drift apart. A property with a `default` stays optional: the loader
 * validates without filling defaults in, so the sink applies them.
 *
 * @example
 * export const webhookConfigSchema = { type: 'object', properties: { url: { type: 'string' } }, ... } as const;
 * export type WebhookDestination = DestinationFromSchema<typeof webhookConfigSchema>;
 */
export type DestinationFromSchema<S extends JSONSchema> = CommonDestinationConfig &
  FromSchema<S, { keepDefaultedPropertiesOptional: true }>;

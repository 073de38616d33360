import type { DestinationConfig, RelayConfig } from './types.ts';

/**
 * Which secret NAMES each part of the relay reads, from the config alone: a field whose name
 * ends in `Secret` holds a secret's name, at any depth (Slack's `graph:` block has its own).
 * On AWS the build grants each function exactly these (lib/infra/functions.ts) and the function
 * fetches them together (lib/secrets.ts).
 */

/** Every secret name one destination's config holds, sorted, each once. */
export function destinationSecretNames(destination: DestinationConfig): string[] {
  const names = new Set<string>();
  collect(destination, names);
  return [...names].sort();
}

/** The names ingest reads: the bearer token and, during a rotation, the previous one. */
export function ingestSecretNames(config: RelayConfig): string[] {
  const { tokenSecret, previousTokenSecret } = config.ingest ?? {};
  return [...new Set([tokenSecret, previousTokenSecret].filter((name): name is string => !!name))].sort();
}

/** The names the function of one sink reads: those of every destination of that sink. */
export function sinkSecretNames(config: RelayConfig, sink: string): string[] {
  const names = new Set<string>();
  for (const destination of config.destinations) {
    if (destination.sink === sink) collect(destination, names);
  }
  return [...names].sort();
}

/** Which secret names each function of a stack may read: what the build grants (lib/infra). */
export interface SecretGrants {
  ingest: string[];
  /** By sink name. */
  sink: Record<string, string[]>;
}

/** The grants of the functions of `sinks` (the deployed ones) and ingest. */
export function secretGrants(config: RelayConfig, sinks: readonly string[]): SecretGrants {
  return {
    ingest: ingestSecretNames(config),
    sink: Object.fromEntries(sinks.map((sink) => [sink, sinkSecretNames(config, sink)])),
  };
}

function collect(value: unknown, names: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collect(item, names);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [field, fieldValue] of Object.entries(value)) {
    if (field.endsWith('Secret') && typeof fieldValue === 'string' && fieldValue !== '')
      names.add(fieldValue);
    else collect(fieldValue, names);
  }
}

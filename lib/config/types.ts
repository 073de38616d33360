/** The relay's configuration, as loaded from relay.yaml (see relay.example.yaml). */
export interface RelayConfig {
  ingest: IngestConfig;
  destinations: DestinationConfig[];
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

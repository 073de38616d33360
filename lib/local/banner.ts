import type { RelayConfig } from '../config/types.ts';
import { alertmanagerConfigFor, localTarget } from '../ops/alertmanager-config.ts';
import { findSink } from '../sinks/registry.ts';

/** Hosts the relay may listen on without an ingest token: nothing off this machine can reach them. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1'
  );
}

/** Refuses a listen address that is reachable from elsewhere when no token protects it. */
export function checkListenAddress(config: RelayConfig, host: string): string | undefined {
  if (config.ingest.tokenSecret || isLoopback(host)) return undefined;
  return (
    `refusing to listen on ${host} without an ingest token: anyone who can reach it could post alerts. ` +
    'Set ingest.tokenSecret in the config (and that secret), or listen on 127.0.0.1.'
  );
}

/**
 * What `npm start` prints: where it listens, what it loaded, and the Alertmanager config to paste,
 * exactly what `npm run alertmanager-config -- --local` prints with the same HOST and the port the
 * relay listens on (one function makes both: alertmanagerConfigFor).
 */
export function banner(options: {
  url: string;
  /** HOST as npm start read it (the receiver's URL says it as given: `localhost` stays so); default the URL's. */
  host?: string;
  /** Where GET /metrics is served; default `${url}/metrics`. */
  metricsUrl?: string;
  source: string;
  config: RelayConfig;
  dataDir: string;
  warnings: string[];
}): string {
  const { config } = options;
  const listening = new URL(options.url);
  const metricsUrl = options.metricsUrl ?? `${options.url}/metrics`;
  const lines = [
    `alertmanager-relay listening on ${options.url}`,
    `  config:  ${options.source}`,
    `  queue:   node:sqlite in ${options.dataDir}`,
    `  ingest:  ${config.ingest.tokenSecret ? `Bearer token from secret ${config.ingest.tokenSecret}${config.ingest.previousTokenSecret ? ` (previous: ${config.ingest.previousTokenSecret})` : ''}` : 'no token (loopback only)'}`,
    `  metrics: ${metricsUrl}${config.metrics?.bearerTokenSecret ? ` (Bearer token from secret ${config.metrics.bearerTokenSecret})` : ''}`,
    '  destinations:',
  ];
  for (const destination of config.destinations) {
    const matchers = destination.matchers?.length ? destination.matchers.join(', ') : 'every alert';
    lines.push(`    - ${destination.name} (${destination.sink}): ${matchers}`);
    for (const note of findSink(destination.sink)?.describe?.(destination) ?? [])
      lines.push(`        ${note}`);
  }
  for (const warning of options.warnings) lines.push(`  warning: ${warning}`);
  const target = localTarget({ HOST: options.host ?? listening.hostname, PORT: listening.port });
  lines.push(
    '',
    'Alertmanager config (alertmanager.yml; `npm run alertmanager-config -- --local` prints the same):',
    '',
  );
  return `${lines.join('\n')}\n${alertmanagerConfigFor(target, config)}`;
}

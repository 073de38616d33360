import type { RelayConfig } from '../config/types.ts';
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

/** What `npm start` prints: where it listens, what it loaded, and the receiver block to paste into Alertmanager. */
export function banner(options: {
  url: string;
  source: string;
  config: RelayConfig;
  dataDir: string;
  warnings: string[];
}): string {
  const { config } = options;
  const lines = [
    `alertmanager-relay listening on ${options.url}`,
    `  config:  ${options.source}`,
    `  queue:   node:sqlite in ${options.dataDir}`,
    `  ingest:  ${config.ingest.tokenSecret ? `Bearer token from secret ${config.ingest.tokenSecret}${config.ingest.previousTokenSecret ? ` (previous: ${config.ingest.previousTokenSecret})` : ''}` : 'no token (loopback only)'}`,
    '  destinations:',
  ];
  for (const destination of config.destinations) {
    const matchers = destination.matchers?.length ? destination.matchers.join(', ') : 'every alert';
    lines.push(`    - ${destination.name} (${destination.sink}): ${matchers}`);
    for (const note of findSink(destination.sink)?.describe?.(destination) ?? [])
      lines.push(`        ${note}`);
  }
  for (const warning of options.warnings) lines.push(`  warning: ${warning}`);
  lines.push(
    '',
    'Alertmanager receiver (alertmanager.yml):',
    '  receivers:',
    '    - name: relay',
    '      webhook_configs:',
    `        - url: ${options.url}/alertmanager`,
    '          send_resolved: true',
  );
  if (config.ingest.tokenSecret) {
    lines.push(
      '          http_config:',
      '            authorization:',
      '              type: Bearer',
      `              credentials_file: /etc/alertmanager/secrets/alertmanager-relay-token # a file holding the value of ${config.ingest.tokenSecret}`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

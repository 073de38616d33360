import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Matcher } from '../alertmanager/matchers.ts';
import { validateNotification } from '../alertmanager/schema.ts';
import type { Alert, Notification } from '../alertmanager/types.ts';
import type { DestinationConfig, RelayConfig } from '../config/types.ts';
import type { Delivery, SecretReader, Sink, SinkLogger } from '../delivery/sink.ts';
import { compileRoutes, routeNotification } from '../ingest/routing.ts';
import { findSink } from '../sinks/registry.ts';
import type { StateStore } from '../state/store.ts';
import { shellQuote } from './shell-quote.ts';

/**
 * `npm run preview`: what each destination a notification routes to would send, sending
 * nothing. Each sink's own `deliver` runs against an intercepting fetch that records the
 * request and answers like the vendor (200 with a plausible body), an in-memory state store,
 * and secrets that are placeholders, so nothing real is read and no socket is opened. Secret
 * placeholders are masked back to `<SECRET NAME>` wherever they show up (URL, headers, body).
 */

/** One request a sink made. */
export interface PreviewRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What one destination would send. */
export interface DestinationPreview {
  destination: string;
  sink: string;
  alerts: number;
  requests: PreviewRequest[];
  /** What a sink that prints (preview.printing) would print. */
  printed: string[];
  /** Set when the sink refused (a PermanentError, a bug): the message, masked. */
  error?: string;
  /** Log lines at warn or above (a template that failed). */
  warnings: string[];
}

const MARKER = 'PREVIEW_SECRET_';

/**
 * A placeholder for a secret, shaped like what the sink expects in it (a workflow URL, a
 * webhook URL, a DSN: the sink's own `preview.secret`), with the marker where the credential
 * would be.
 */
export function placeholderSecret(sink: string, field: string, name: string): string {
  const token = `${MARKER}${name}`;
  return findSink(sink)?.preview?.secret?.(field, token) ?? token;
}

/** `text` with every secret placeholder as `<SECRET NAME>`. */
export function maskSecrets(text: string): string {
  return text.replace(new RegExp(`${MARKER}([A-Za-z0-9_]+)`, 'g'), '<SECRET $1>');
}

function secretsFor(destination: DestinationConfig): SecretReader {
  const fields = new Map(
    Object.entries(destination)
      .filter(([field, value]) => field.endsWith('Secret') && typeof value === 'string')
      .map(([field, value]) => [value as string, field]),
  );
  return {
    async get(name) {
      return placeholderSecret(destination.sink, fields.get(name) ?? '', name);
    },
  };
}

function memoryStore(): StateStore {
  const items = new Map<string, object>();
  return {
    async get<T extends object>(key: string) {
      return items.get(key) as T | undefined;
    },
    async put(key, value) {
      items.set(key, structuredClone(value));
    },
    async delete(key) {
      items.delete(key);
    },
  };
}

/** A plausible successful answer from the vendor of `sink` to a request for `url` (the sink's own `preview.answer`). */
export function vendorAnswer(sink: string, url: URL, method = 'GET'): { status: number; body: unknown } {
  return findSink(sink)?.preview?.answer?.(url, method) ?? { status: 200, body: '' };
}

function headersOf(init: RequestInit | undefined): Record<string, string> {
  return Object.fromEntries(new Headers(init?.headers).entries());
}

async function bodyOf(init: RequestInit | undefined): Promise<string> {
  const body = init?.body;
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  return new Response(body).text();
}

function previewLogger(warnings: string[]): SinkLogger {
  const keep = (level: string) => (message: string, extra?: Record<string, unknown>) =>
    void warnings.push(maskSecrets(`${level}: ${message}${extra ? ` ${JSON.stringify(extra)}` : ''}`));
  return { debug: () => {}, info: () => {}, warn: keep('warn'), error: keep('error') };
}

/**
 * Runs every destination `notification` routes to (or only `options.destination`) against
 * an intercepting fetch. `globalThis.fetch` is replaced for the duration and restored.
 */
export async function previewNotification(
  config: RelayConfig,
  notification: Notification,
  options: { destination?: string; now?: () => number } = {},
): Promise<DestinationPreview[]> {
  const routes = compileRoutes({
    ...config,
    destinations: config.destinations.filter(
      (d) => options.destination === undefined || d.name === options.destination,
    ),
  });
  const previews: DestinationPreview[] = [];
  const original = globalThis.fetch;
  let current: { sink: string; requests: PreviewRequest[] } = { sink: '', requests: [] };
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    current.requests.push({
      method: init?.method ?? (input instanceof Request ? input.method : 'GET'),
      url: url.href,
      headers: headersOf(init),
      body: await bodyOf(init),
    });
    const answer = vendorAnswer(current.sink, url, init?.method ?? 'GET');
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    return new Response(answer.status === 204 ? null : text, {
      status: answer.status,
      headers: { 'content-type': 'application/json' },
    });
  };
  try {
    for (const { destination, notification: share } of routeNotification(notification, routes)) {
      const printed: string[] = [];
      const warnings: string[] = [];
      const requests: PreviewRequest[] = [];
      current = { sink: destination.sink, requests };
      // A sink that prints prints into the preview instead (and appends to no file).
      const found = findSink(destination.sink);
      const sink: Sink | undefined = found?.preview?.printing?.((text) => void printed.push(text)) ?? found;
      const delivery: Delivery = {
        destination,
        notification: share,
        idempotencyKey: 'preview',
        part: { index: 1, count: 1 },
        receivedAt: new Date(options.now?.() ?? Date.now()).toISOString(),
        attempt: 1,
        secrets: secretsFor(destination),
        state: memoryStore(),
        logger: previewLogger(warnings),
        count: () => {},
      };
      let error: string | undefined;
      try {
        if (!sink) throw new Error(`unknown sink "${destination.sink}"`);
        // Nothing is sent, so nothing waits for a vendor's pace, and nothing is put back on a queue.
        await sink.deliver(delivery, { preview: true, backfill: async () => undefined });
      } catch (thrown) {
        error = maskSecrets((thrown as Error).message);
      }
      previews.push({
        destination: destination.name,
        sink: destination.sink,
        alerts: share.alerts.length,
        requests: requests.map((r) => ({
          method: r.method,
          url: maskSecrets(r.url),
          headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, maskSecrets(v)])),
          body: maskSecrets(r.body),
        })),
        printed: printed.map(maskSecrets),
        ...(error === undefined ? {} : { error }),
        warnings,
      });
    }
  } finally {
    globalThis.fetch = original;
  }
  return previews;
}

function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** The preview as text for a terminal; `unmatched` (unmatchedDestinations) are listed after what is sent. */
export function formatPreview(
  previews: readonly DestinationPreview[],
  unmatched: readonly UnmatchedDestination[] = [],
): string {
  const out: string[] = [];
  if (previews.length === 0) out.push('The notification routes to no destination: nothing would be sent.');
  for (const preview of previews) {
    out.push(`== ${preview.destination} (${preview.sink}): ${preview.alerts} alert(s)`);
    for (const line of preview.printed) out.push(`prints: ${line.trimEnd()}`);
    for (const [i, request] of preview.requests.entries()) {
      out.push(`-- request ${i + 1} of ${preview.requests.length}`, `${request.method} ${request.url}`);
      for (const [name, value] of Object.entries(request.headers)) out.push(`${name}: ${value}`);
      if (request.body !== '') out.push('', prettyBody(request.body));
      const explained = findSink(preview.sink)?.preview?.explain?.(request.body) ?? [];
      if (explained.length > 0) out.push('', ...explained);
    }
    for (const warning of preview.warnings) out.push(warning);
    if (preview.error) out.push(`the sink refused: ${preview.error}`);
    else if (preview.requests.length === 0 && preview.printed.length === 0)
      out.push('the sink sends nothing for this notification (it made no request and printed nothing)');
    out.push('');
  }
  if (unmatched.length > 0) {
    if (previews.length === 0) out.push('');
    out.push("Nothing for these destinations: no alert passes the destination's matchers.");
    for (const { destination, sink, reason } of unmatched) out.push(`== ${destination} (${sink}): ${reason}`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

/** A destination the notification does not route to, and why. */
export interface UnmatchedDestination {
  destination: string;
  sink: string;
  /** Which matcher turned away how many alerts, and the label values they had. */
  reason: string;
}

/**
 * The destinations (or only `options.destination`) that get nothing of `notification`, each with
 * the reason: routing is by the destination's matchers alone (lib/ingest/routing.ts), so the
 * reason names each matcher that turned alerts away, how many, and the values of its label.
 */
export function unmatchedDestinations(
  config: RelayConfig,
  notification: Notification,
  options: { destination?: string } = {},
): UnmatchedDestination[] {
  const routes = compileRoutes({
    ...config,
    destinations: config.destinations.filter(
      (d) => options.destination === undefined || d.name === options.destination,
    ),
  });
  const unmatched: UnmatchedDestination[] = [];
  for (const route of routes) {
    if (routeNotification(notification, [route]).length > 0) continue;
    unmatched.push({
      destination: route.destination.name,
      sink: route.destination.sink,
      reason: whyUnmatched(route.matchers, notification.alerts),
    });
  }
  return unmatched;
}

function whyUnmatched(matchers: readonly Matcher[], alerts: readonly Alert[]): string {
  if (alerts.length === 0) return 'the notification has no alerts';
  const failures: string[] = [];
  for (const matcher of matchers) {
    const turnedAway = alerts.filter((alert) => !matcher.matches(labelOf(alert, matcher.name)));
    if (turnedAway.length === 0) continue;
    const which =
      alerts.length === 1
        ? 'the only alert'
        : turnedAway.length === alerts.length
          ? `all ${alerts.length} alerts`
          : `${turnedAway.length} of ${alerts.length} alerts`;
    failures.push(`${matcher} fails for ${which}: ${labelValues(matcher.name, turnedAway)}`);
  }
  return failures.length === 1
    ? failures[0]
    : `no alert passes every matcher. ${failures.map((failure) => `${failure}.`).join(' ')}`;
}

/** An alert's label by own property only, as the matchers read it (lib/alertmanager/matchers.ts). */
function labelOf(alert: Alert, name: string): string | undefined {
  return Object.hasOwn(alert.labels, name) ? alert.labels[name] : undefined;
}

/**
 * The values of label `name` among `alerts` with how many alerts have each, most frequent first, at most three, each quoted
 * and cut to 60 characters: label values come from the alert's author and are printed to a
 * terminal (JSON quoting escapes control characters).
 */
function labelValues(name: string, alerts: readonly Alert[]): string {
  const counts = new Map<string | undefined, number>();
  for (const alert of alerts) {
    const value = labelOf(alert, name);
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  const shown = sorted.slice(0, 3).map(([value, count]) => {
    const what =
      value === undefined
        ? `no ${name} label`
        : `${name}=${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value)}`;
    return `${what} (${count})`;
  });
  if (sorted.length > 3) shown.push(`${sorted.length - 3} other value(s)`);
  return shown.join(', ');
}

/** Parses a payload file's text: a webhook v4 body, or an error naming the problems. */
export function parsePayload(text: string): Notification {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`the payload is not JSON: ${(error as Error).message}`);
  }
  const checked = validateNotification(value);
  if (!checked.ok)
    throw new Error(
      `the payload is not an Alertmanager webhook v4 body:\n${checked.problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`,
    );
  return checked.notification;
}

/** `npm run preview`'s usage line. */
export const PREVIEW_USAGE = 'usage: npm run preview -- [--config relay.yaml] [--destination NAME] FILE.json';

/** A payload that ships with the repository, suggested when none was given (npm run runs in the repo root). */
const EXAMPLE_PAYLOAD = 'events/alertmanager/am-0.25-firing.json';

/** What preview works on, once its arguments are complete. */
export interface PreviewArguments {
  /** The config file: --config, else RELAY_CONFIG, else ./relay.yaml (as npm start finds it). */
  configPath: string;
  payloadPath: string;
  destination?: string;
}

/**
 * preview's arguments, or what is missing and how to give it: the config (looked for as `npm
 * start` does: --config, else the file RELAY_CONFIG names, else ./relay.yaml) and the payload
 * file. The message ends with the command to run, repeating what the user gave, and the usage.
 */
export function previewArguments(options: {
  config?: string;
  destination?: string;
  positionals: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}): { ok: true; arguments: PreviewArguments } | { ok: false; message: string } {
  const problems: string[] = [];
  const example = existsSync(resolve(options.cwd, EXAMPLE_PAYLOAD)) ? EXAMPLE_PAYLOAD : 'FILE.json';
  let configPath: string | undefined;
  if (options.config !== undefined) {
    configPath = resolve(options.cwd, options.config);
    if (!existsSync(configPath)) problems.push(`--config ${options.config}: there is no file ${configPath}`);
  } else if (options.env.RELAY_CONFIG) {
    configPath = resolve(options.cwd, options.env.RELAY_CONFIG);
    if (!existsSync(configPath)) problems.push(`RELAY_CONFIG names ${configPath}, which does not exist`);
  } else if (existsSync(resolve(options.cwd, 'relay.yaml'))) {
    configPath = resolve(options.cwd, 'relay.yaml');
  } else {
    problems.push(
      `no config: --config was not given, RELAY_CONFIG is not set, and there is no relay.yaml in ${options.cwd}. ` +
        'preview shows what your destinations would send, so it needs the relay.yaml that lists them',
    );
  }
  const [payloadPath, ...extra] = options.positionals;
  if (payloadPath === undefined) {
    problems.push(
      'no payload: give the file of an Alertmanager webhook body (JSON, as Alertmanager POSTs it) as the last ' +
        'argument (the files under events/alertmanager/ of this repository are such bodies)',
    );
  } else if (!existsSync(resolve(options.cwd, payloadPath))) {
    problems.push(`payload ${payloadPath}: there is no file ${resolve(options.cwd, payloadPath)}`);
  } else if (extra.length > 0) {
    problems.push(
      `one payload file at a time, got ${options.positionals.length}: ${options.positionals.map(shellQuote).join(' ')}`,
    );
  }
  if (problems.length === 0)
    return {
      ok: true,
      arguments: {
        configPath: configPath as string,
        payloadPath: payloadPath as string,
        ...(options.destination !== undefined ? { destination: options.destination } : {}),
      },
    };
  const command = [
    'npm',
    'run',
    'preview',
    '--',
    // A config found as npm start finds it needs no flag; one that is missing, a path to fill in.
    ...(configPath === undefined || !existsSync(configPath)
      ? ['--config', 'path/to/relay.yaml']
      : options.config !== undefined
        ? ['--config', options.config]
        : []),
    ...(options.destination !== undefined ? ['--destination', options.destination] : []),
    payloadPath !== undefined && existsSync(resolve(options.cwd, payloadPath)) ? payloadPath : example,
  ]
    .map(shellQuote)
    .join(' ');
  return {
    ok: false,
    message: `${problems.map((problem) => `${problem}.`).join('\n')}\n\nFor example:\n  ${command}\n\n${PREVIEW_USAGE}`,
  };
}

import type { Alert, Notification } from '../alertmanager/types.ts';
import { ConfigError } from '../config/config-error.ts';
import { type TemplateData, templateAlert, templateData } from './data.ts';
import { type CompiledTemplate, compileTemplate, renderTemplate, TemplateParseError } from './engine.ts';
import { type OutputFormat, type OutputFormatName, outputFormat } from './formats.ts';

/**
 * `templates:` on a destination: a map from the keys its sink documents (`title`, `text`,
 * `summary`, ...) to Liquid source. Parsed when the config is validated, so a template that
 * does not parse stops `npm start` and `npm run build` with where it is wrong; rendered per
 * delivery, and a render that fails falls back to the sink's own rendering with a note.
 */

/** The JSON schema of one template's source, for a sink's config schema. */
export const templateSourceSchema = { type: 'string', minLength: 1, maxLength: 20_000 } as const;

/** What a sink says about its templates: the keys it takes and the format they render into. */
export interface TemplateSpec {
  readonly keys: readonly string[];
  /** The format, or how a destination picks it (the webhook body: JSON or text by contentType). */
  readonly format: OutputFormat | OutputFormatName | ((destination: TemplatedDestination) => OutputFormat);
  /** Keys whose vendor field has another format than the rest (ilert: a plain-text summary). */
  readonly keyFormats?: Readonly<Record<string, OutputFormat | OutputFormatName>>;
}

/** The fields of a destination compiling its templates reads. */
export interface TemplatedDestination {
  name: string;
  sink: string;
  templates?: unknown;
  [field: string]: unknown;
}

/** A destination's parsed templates, by key. */
export interface DestinationTemplates {
  readonly destination: string;
  readonly format: OutputFormat;
  readonly byKey: ReadonlyMap<string, CompiledTemplate>;
}

/** The format `spec` gives `destination`. */
export function specFormat(spec: TemplateSpec, destination: TemplatedDestination): OutputFormat {
  return typeof spec.format === 'function' ? spec.format(destination) : outputFormat(spec.format);
}

/**
 * Parses every template of `destination`. Throws a ConfigError listing each problem with the
 * destination, the key, the line and the column; returns undefined when it has no templates.
 *
 * @example
 * compileDestinationTemplates(
 *   { name: 'ops', sink: 'teams', templates: { title: '{{ status | upcase }}' } },
 *   ['title', 'text'],
 *   'markdown',
 * )
 */
export function compileDestinationTemplates(
  destination: TemplatedDestination,
  allowedKeys: readonly string[],
  format: OutputFormat | OutputFormatName,
  keyFormats: Readonly<Record<string, OutputFormat | OutputFormatName>> = {},
): DestinationTemplates | undefined {
  const { templates } = destination;
  if (templates === undefined) return undefined;
  const where = `destination "${destination.name}" (${destination.sink})`;
  if (typeof templates !== 'object' || templates === null || Array.isArray(templates))
    throw new ConfigError(where, [`${where} templates: must be a map of ${allowedKeys.join(', ')}`]);
  const resolved = outputFormat(format);
  const problems: string[] = [];
  const byKey = new Map<string, CompiledTemplate>();
  for (const [key, source] of Object.entries(templates)) {
    const at = `${where} templates.${key}`;
    if (!allowedKeys.includes(key)) {
      const known = allowedKeys.length > 0 ? allowedKeys.join(', ') : 'none';
      problems.push(`${at}: unknown template key (${destination.sink} takes ${known})`);
      continue;
    }
    if (typeof source !== 'string' || source === '') {
      problems.push(`${at}: must be a non-empty string of Liquid`);
      continue;
    }
    try {
      byKey.set(key, compileTemplate(source, key in keyFormats ? outputFormat(keyFormats[key]) : resolved));
    } catch (error) {
      if (!(error instanceof TemplateParseError)) throw error;
      problems.push(`${at}: ${error.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(where, problems);
  return { destination: destination.name, format: resolved, byKey };
}

/**
 * The problems of a destination's templates for the config loader, each prefixed with `at`
 * (`destinations[2]`), empty when they all parse.
 */
export function templateProblems(
  destination: TemplatedDestination,
  spec: TemplateSpec,
  at: string,
): string[] {
  try {
    compileDestinationTemplates(destination, spec.keys, specFormat(spec, destination), spec.keyFormats);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((problem) => `${at}: ${problem}`);
  }
}

const cache = new WeakMap<object, DestinationTemplates | Error | undefined>();

/**
 * The destination's parsed templates for a delivery, parsed once per destination object. The
 * config was validated, so this does not throw; should it fail anyway (a config that skipped
 * validation), the error is returned and every key falls back.
 */
export function destinationTemplates(
  destination: TemplatedDestination,
  spec: TemplateSpec,
): DestinationTemplates | Error | undefined {
  if (cache.has(destination)) return cache.get(destination);
  let compiled: DestinationTemplates | Error | undefined;
  try {
    compiled = compileDestinationTemplates(
      destination,
      spec.keys,
      specFormat(spec, destination),
      spec.keyFormats,
    );
  } catch (error) {
    compiled = error as Error;
  }
  cache.set(destination, compiled);
  return compiled;
}

/** Where a sink reports a template that failed: the delivery's logger and metric counter. */
export interface TemplateReporter {
  logger: { warn(message: string, extra?: Record<string, unknown>): void };
  /** The delivery's counter; `TemplateFailed` is counted with the destination's dimensions. */
  count?(name: string, value?: number): void;
}

/** What rendering a destination's templates gave: the rendered keys and a note per failure. */
export interface RenderedTemplates {
  /** Rendered text by key; a key without a template, or whose template failed, is absent. */
  values: Partial<Record<string, string>>;
  /** One line per failed template, already escaped for the format, to show in the message. */
  notes: string[];
}

const REASON_CHARS = 160;

/**
 * Renders the templates of `keys` over `data`. A template that fails or runs over a limit is
 * left out (the sink renders that part as it does without templates), logged, counted as
 * `TemplateFailed`, and gives a one-line note for the message, so the alert is never lost.
 */
export function renderDestinationTemplates(
  destination: TemplatedDestination,
  spec: TemplateSpec,
  data: Record<string, unknown>,
  reporter: TemplateReporter,
  options: { now?: number } = {},
): RenderedTemplates {
  const compiled = destinationTemplates(destination, spec);
  const values: Partial<Record<string, string>> = {};
  const notes: string[] = [];
  if (compiled === undefined) return { values, notes };
  const format = compiled instanceof Error ? specFormat(spec, destination) : compiled.format;
  const fail = (key: string, reason: string) => {
    const short = reason.length > REASON_CHARS ? `${reason.slice(0, REASON_CHARS - 1)}…` : reason;
    reporter.logger.warn('template failed; the default rendering is used', {
      destination: destination.name,
      template: key,
      reason: short,
    });
    reporter.count?.('TemplateFailed');
    notes.push(format.escape(`(template "${key}" failed: ${short}; showing the default)`));
  };
  if (compiled instanceof Error) {
    // A config that skipped validation: its first problem says what (the destination, key, line and column).
    const reason =
      compiled instanceof ConfigError
        ? (compiled.problems[0] ?? compiled.message)
        : compiled.message.split('\n')[0];
    for (const key of Object.keys(destination.templates as object)) fail(key, reason);
    return { values, notes };
  }
  for (const [key, template] of compiled.byKey) {
    try {
      values[key] = renderTemplate(template, data, options);
    } catch (error) {
      fail(key, (error as Error).message);
    }
  }
  return { values, notes };
}

/** One delivery's template data, kept while its notification lives. */
interface SharedData {
  destination: TemplatedDestination;
  part: { index: number; count: number };
  alerts: readonly Alert[];
  length: number;
  data: Readonly<TemplateData>;
  /** Each alert's data in `data.alerts`, by the notification's alert: a per-alert render reuses it. */
  byAlert: Map<Alert, TemplateData['alerts'][number]>;
}

const shared = new WeakMap<Notification, SharedData[]>();

/** `value` and everything in it frozen: the data is shared by every render of a delivery. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const field of Object.values(value)) deepFreeze(field);
  }
  return value;
}

/**
 * The template data of a delivery, built once and shared by every render of it: a sink that
 * renders once per alert (Sentry, Sysdig, ilert events, Opsgenie and PagerDuty per alert) would
 * otherwise build every alert's data, silence URLs included, for each alert, which is quadratic
 * in the group's size. Keyed by the notification object (its alerts unchanged), the destination
 * and the part; frozen, so no render can change what the next one sees.
 */
function deliveryData(
  notification: Notification,
  destination: TemplatedDestination,
  part: { index: number; count: number },
): SharedData {
  let entries = shared.get(notification);
  if (!entries) {
    entries = [];
    shared.set(notification, entries);
  }
  const found = entries.find(
    (entry) =>
      entry.destination === destination &&
      entry.part.index === part.index &&
      entry.part.count === part.count &&
      entry.alerts === notification.alerts &&
      entry.length === notification.alerts.length,
  );
  if (found) return found;
  const data = deepFreeze(templateData(notification, destination, { part: { ...part } }));
  const byAlert = new Map(notification.alerts.map((alert, i) => [alert, data.alerts[i]]));
  // An entry for a notification whose alerts were replaced or changed length is stale: drop it.
  const fresh = entries.filter(
    (entry) => entry.alerts === notification.alerts && entry.length === notification.alerts.length,
  );
  const entry = {
    destination,
    part: { ...part },
    alerts: notification.alerts,
    length: notification.alerts.length,
    data,
    byAlert,
  };
  fresh.push(entry);
  shared.set(notification, fresh);
  return entry;
}

/**
 * A delivery's templates rendered over its notification (one `alert` of it for sinks that make
 * a call per alert), reported to the delivery: what every sink calls. The notification's data
 * is built once per delivery (deliveryData) and only the alert's own part per call, so a sink
 * calling this for each of N alerts does O(N) work, not O(N²); a destination without templates
 * builds nothing.
 *
 * @example renderDeliveryTemplates(delivery, PAGERDUTY_TEMPLATES, { now: now(), alert })
 */
export function renderDeliveryTemplates(
  delivery: TemplateReporter & {
    destination: TemplatedDestination;
    notification: Notification;
    part: { index: number; count: number };
  },
  spec: TemplateSpec,
  options: { now?: number; alert?: Alert } = {},
): RenderedTemplates {
  const { destination, notification, part } = delivery;
  // Nothing to render: no data to build (most destinations have no templates).
  if (destinationTemplates(destination, spec) === undefined) return { values: {}, notes: [] };
  const { data: base, byAlert } = deliveryData(notification, destination, part);
  const { alert } = options;
  const data = alert ? { ...base, alert: byAlert.get(alert) ?? templateAlert(alert, notification) } : base;
  return renderDestinationTemplates(destination, spec, data as Record<string, unknown>, delivery, {
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
}

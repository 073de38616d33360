import { appendFile as fsAppendFile } from 'node:fs/promises';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import type { DestinationConfig } from '../../config/types.ts';
import { PermanentError, RetryableError } from '../../delivery/errors.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';

/**
 * Console sink: prints each alert as one line, for trying the relay out (`npm start`) and
 * for a Lambda whose log group is the destination. Optionally also appends JSON lines to a
 * file, which tests and scripts can tail.
 */
export interface ConsoleDestination extends DestinationConfig {
  /** Also append one JSON line per alert to this file (created if missing; its directory is not). */
  file?: string;
  /** `text` (default): one readable line per alert. `json`: the same JSON lines the file gets. */
  format?: 'text' | 'json';
}

export interface ConsoleSinkOptions {
  /** Receives everything for one notification in a single call. Default: process.stdout. */
  write?: (text: string) => void | Promise<void>;
  appendFile?: (path: string, data: string) => Promise<void>;
  now?: () => Date;
}

/** One line of the `file` (and of `format: json`): one alert with the context to find it again. */
export interface ConsoleRecord {
  time: string;
  destination: string;
  idempotencyKey: string;
  groupKey: string;
  receiver: string;
  /** The notification's status; the alert's own is in `alert.status`. */
  status: Notification['status'];
  truncatedAlerts: number;
  part: { index: number; count: number };
  receivedAt: string;
  /** null only for a notification that came with no alerts at all. */
  alert: Alert | null;
}

const SUMMARY_MAX_CHARS = 300;

// A missing directory or a read-only path will not fix itself; a full disk might.
const PERMANENT_FS_CODES = new Set([
  'EACCES',
  'EPERM',
  'ENOENT',
  'ENOTDIR',
  'EISDIR',
  'EROFS',
  'ENAMETOOLONG',
]);

const configSchema = {
  type: 'object',
  properties: {
    file: { type: 'string', minLength: 1, description: 'also append one JSON line per alert to this file' },
    format: { type: 'string', enum: ['text', 'json'], default: 'text' },
  },
  additionalProperties: false,
} as const;

export function createConsoleSink(options: ConsoleSinkOptions = {}): Sink<ConsoleDestination> {
  const write = options.write ?? writeStdout;
  const appendFile = options.appendFile ?? ((path: string, data: string) => fsAppendFile(path, data, 'utf8'));
  const now = options.now ?? (() => new Date());

  return {
    name: 'console',
    configSchema,

    describe(destination) {
      return destination.file ? [`also appending JSON lines to ${destination.file}`] : [];
    },

    async deliver(delivery: Delivery<ConsoleDestination>): Promise<void> {
      const { destination } = delivery;
      const records = consoleRecords(delivery, now());
      const jsonLines = records.map((record) => `${JSON.stringify(record)}\n`).join('');

      // The file first: it is the part that can fail for good, and then nothing is printed
      // for a message that is about to be dead-lettered.
      if (destination.file) {
        try {
          await appendFile(destination.file, jsonLines);
        } catch (error) {
          throw fileError(error, destination.file);
        }
      }

      await write(destination.format === 'json' ? jsonLines : formatNotification(delivery));
    },
  };
}

export const consoleSink: Sink<ConsoleDestination> = createConsoleSink();

/**
 * The readable lines for one delivery, newline-terminated:
 * `[FIRING] HighLatency severity=critical  Pod web-1 unhealthy  {instance="a:9100", job="node"}  dest=stdout group={}:{alertname="HighLatency"}`
 * plus a `[TRUNCATED]` line when Alertmanager's max_alerts dropped some, so that is never hidden.
 */
export function formatNotification(delivery: Delivery<ConsoleDestination>): string {
  const { notification, part } = delivery;
  const where = [
    `dest=${oneLine(delivery.destination.name)}`,
    `group=${oneLine(notification.groupKey)}`,
    ...(part.count > 1 ? [`part=${part.index}/${part.count}`] : []),
  ].join(' ');

  const lines = notification.alerts.map((alert) => `${formatAlert(alert)}  ${where}`);
  if (lines.length === 0) {
    lines.push(`[${oneLine(notification.status).toUpperCase()}] (no alerts)  ${where}`);
  }
  const truncated = notification.truncatedAlerts ?? 0;
  if (truncated > 0) {
    const noun = truncated === 1 ? 'alert was' : 'alerts were';
    lines.push(`[TRUNCATED] ${truncated} more ${noun} cut off by Alertmanager (max_alerts)  ${where}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `[FIRING] HighLatency severity=critical  Pod web-1 unhealthy  {instance="a:9100", job="node"}` */
export function formatAlert(alert: Alert): string {
  const { alertname, severity, ...others } = alert.labels ?? {};
  let head = `[${oneLine(alert.status ?? 'unknown').toUpperCase()}] ${alertname ? oneLine(alertname) : '(no alertname)'}`;
  if (severity) head += ` severity=${oneLine(severity)}`;

  const parts = [head];
  const summary = oneLine(alert.annotations?.summary || alert.annotations?.description || '');
  if (summary) parts.push(clip(summary, SUMMARY_MAX_CHARS));
  const labels = Object.keys(others)
    .sort()
    .map((name) => `${oneLine(name)}=${quoteLabelValue(others[name])}`);
  if (labels.length > 0) parts.push(`{${labels.join(', ')}}`);
  return parts.join('  ');
}

export function consoleRecords(delivery: Delivery<ConsoleDestination>, time: Date): ConsoleRecord[] {
  const { notification } = delivery;
  const base = {
    time: time.toISOString(),
    destination: delivery.destination.name,
    idempotencyKey: delivery.idempotencyKey,
    groupKey: notification.groupKey,
    receiver: notification.receiver,
    status: notification.status,
    truncatedAlerts: notification.truncatedAlerts ?? 0,
    part: delivery.part,
    receivedAt: delivery.receivedAt,
  };
  const alerts = notification.alerts.length > 0 ? notification.alerts : [null];
  return alerts.map((alert) => ({ ...base, alert }));
}

// Labels and annotations are attacker-adjacent text (anyone who can push an alert): a
// newline in one must not forge a second log line, nor an escape sequence recolour a terminal.
function oneLine(value: unknown): string {
  return (
    String(value)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

// Prometheus's own escaping, so the output can be pasted into a selector.
function quoteLabelValue(value: unknown): string {
  const escaped = String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `"${oneLine(escaped)}"`;
}

function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

function fileError(error: unknown, file: string): Error {
  const code = (error as { code?: unknown } | null)?.code;
  const reason = typeof code === 'string' ? code : 'write failed';
  const message = `console sink could not append to ${file} (${reason})`;
  return typeof code === 'string' && PERMANENT_FS_CODES.has(code)
    ? new PermanentError(message, { cause: error })
    : new RetryableError(message, { cause: error });
}

// Resolve once the data is handed to the OS, so a failed write surfaces as a failed delivery.
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolve()));
  });
}

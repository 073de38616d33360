import { appendFile as fsAppendFile } from 'node:fs/promises';
import { beforeVendorCall } from '../../delivery/deadline.ts';
import { PermanentError, RetryableError } from '../../delivery/errors.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import { type ConsoleDestination, consoleConfigSchema } from './config.ts';
import { consoleRecords, formatNotification } from './format.ts';

export { type ConsoleDestination, consoleConfigSchema } from './config.ts';

/**
 * Console sink: prints each alert as one line, for trying the relay out (`npm start`) and
 * for a Lambda whose log group is the destination. Optionally also appends JSON lines to a
 * file, which tests and scripts can tail. Its config: ./config.ts.
 */

export interface ConsoleSinkOptions {
  /** Receives everything for one notification in a single call. Default: process.stdout. */
  write?: (text: string) => void | Promise<void>;
  appendFile?: (path: string, data: string) => Promise<void>;
  now?: () => Date;
}

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

export function createConsoleSink(options: ConsoleSinkOptions = {}): Sink<ConsoleDestination> {
  const write = options.write ?? writeStdout;
  const appendFile = options.appendFile ?? ((path: string, data: string) => fsAppendFile(path, data, 'utf8'));
  const now = options.now ?? (() => new Date());

  return {
    name: 'console',
    kind: 'event-log',
    configSchema: consoleConfigSchema,
    preview: {
      // In a preview the console prints into the preview, and appends to no file.
      printing: (write) => createConsoleSink({ write, appendFile: async () => undefined }),
    },

    describe(destination) {
      return destination.file ? [`also appending JSON lines to ${destination.file}`] : [];
    },

    async deliver(delivery: Delivery<ConsoleDestination>): Promise<void> {
      const { destination } = delivery;
      const { superseded } = delivery;
      const records = consoleRecords(delivery, now()).map((record) =>
        superseded ? { ...record, superseded } : record,
      );
      const jsonLines = records.map((record) => `${jsonLine(record)}\n`).join('');
      // Writing is this sink's vendor call: from a message's second receive the record handler
      // writes its crash marker first, so a console that keeps crashing the process is
      // dead-lettered with a reason like any sink (lib/delivery/deadline.ts).
      await beforeVendorCall();

      // The file first: it is the part that can fail for good, and then nothing is printed
      // for a message that is about to be dead-lettered.
      if (destination.file) {
        try {
          await appendFile(destination.file, jsonLines);
        } catch (error) {
          throw fileError(error, destination.file);
        }
      }

      const text = formatNotification(delivery);
      await write(
        destination.format === 'json' ? jsonLines : superseded ? markSuperseded(text, superseded.by) : text,
      );
    },
  };
}

export const consoleSink: Sink<ConsoleDestination> = createConsoleSink();

// JSON.stringify escapes C0 controls but leaves DEL, C1 (U+009B alone starts a CSI sequence),
// the bidi controls and U+2028/U+2029 raw: in a terminal they act. As \u escapes they are the
// same JSON value.
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** One JSON line, the data as it came, with nothing a terminal acts on. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(
    JSON_UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Each printed line says it is history: a newer notification of its group was applied first. */
function markSuperseded(text: string, by: string): string {
  return text.replace(/^(?=.)/gm, `[SUPERSEDED by ${by}] `);
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

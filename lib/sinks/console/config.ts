import type { DestinationFromSchema } from '../../config/types.ts';

/** The console destination's own fields (draft 2020-12; `name`, `sink`, `matchers` are common). */
export const consoleConfigSchema = {
  type: 'object',
  properties: {
    /** Also append one JSON line per alert to this file (created if missing; its directory is not). */
    file: { type: 'string', minLength: 1, description: 'also append one JSON line per alert to this file' },
    /** `text` (default): one readable line per alert. `json`: the same JSON lines the file gets. */
    format: { type: 'string', enum: ['text', 'json'], default: 'text' },
  },
  additionalProperties: false,
} as const;

/** A console destination: prints each alert as one line, optionally also to a JSON-lines file. */
export type ConsoleDestination = DestinationFromSchema<typeof consoleConfigSchema>;

import { markdown, markdownLink } from '../format/markdown.ts';
import { mrkdwn, mrkdwnLink } from '../format/mrkdwn.ts';
import { terminal } from '../format/terminal.ts';
import { safeHttpUrl } from '../format/url.ts';

/**
 * The output formats a template renders into. A format says how a value from the notification
 * is escaped so that it stays text in the destination (`escape`), how the relay's own links
 * are written (`link`), the link syntax in which no value may take part (`linkTargets`), and
 * how a whole rendering is checked (`check`).
 *
 * The built-in formats escape with lib/format; a sink with an escaping rule of its own (Google
 * Chat's look-alikes) passes its own format object, so nothing of a sink moves here.
 */
export interface OutputFormat {
  /** Named in errors and docs: `mrkdwn`, `markdown`, `text`, `json`, `googlechat`. */
  readonly name: string;
  /** Alert text (any string) as inert text of this format. */
  escape(value: string): string;
  /** Markup for a link to `url` when it passes safeHttpUrl, else undefined (the label is escaped). */
  link(url: string | undefined, label: string): string | undefined;
  /**
   * The link syntax of the format, by the text that opens a link target: `](` for Markdown
   * (`[text](url)`, `![alt](url)`, references, `<url>` autolinks), `<` alone for `<url|text>`
   * tokens (Slack mrkdwn, Google Chat); empty for none. A template whose values land inside a
   * link of that syntax, or continue a bare URL the template writes, fails validation (and a
   * render that gets there anyway fails): links from alert data come from `| link` (links.ts).
   */
  readonly linkTargets: readonly string[];
  /** Throws when a whole rendering is not acceptable (a JSON body that does not parse). */
  check?(output: string): void;
}

/** Slack mrkdwn: `&`, `<`, `>` as entities, mentions broken (lib/format/mrkdwn.ts). */
export const mrkdwnFormat: OutputFormat = {
  name: 'mrkdwn',
  escape: mrkdwn,
  link: (url, label) => mrkdwnLink(url, label),
  linkTargets: ['<'],
};

/** CommonMark and its chat dialects (ilert, Teams, Discord): every markup character backslashed. */
export const markdownFormat: OutputFormat = {
  name: 'markdown',
  escape: markdown,
  link: (url, label) => markdownLink(url, label),
  linkTargets: ['](', '<'],
};

/** Plain text, terminal-safe: no escape sequence, control or bidi character (lib/format/terminal.ts). */
export const textFormat: OutputFormat = {
  name: 'text',
  escape: (value) => terminal(value, { multiline: true }),
  // Plain text has no link markup: the URL itself, checked.
  link: (url) => safeHttpUrl(url),
  linkTargets: [],
};

/**
 * A JSON document (the webhook sink's body): a value is escaped as the inside of a JSON
 * string, so the template writes the quotes (`"name": "{{ labels.alertname }}"`), and the
 * whole rendering must parse.
 */
export const jsonFormat: OutputFormat = {
  name: 'json',
  escape: (value) => JSON.stringify(value).slice(1, -1),
  link: (url) => {
    const safe = safeHttpUrl(url);
    return safe === undefined ? undefined : JSON.stringify(safe).slice(1, -1);
  },
  linkTargets: [],
  check(output) {
    try {
      JSON.parse(output);
    } catch {
      // JSON.parse's message quotes the text around the error, which holds alert content.
      throw new Error('the rendered body is not valid JSON');
    }
  },
};

/** The built-in formats by name. */
export const OUTPUT_FORMATS = {
  mrkdwn: mrkdwnFormat,
  markdown: markdownFormat,
  text: textFormat,
  json: jsonFormat,
} as const satisfies Record<string, OutputFormat>;

export type OutputFormatName = keyof typeof OUTPUT_FORMATS;

/** `format` itself, or the built-in format of that name. */
export function outputFormat(format: OutputFormat | OutputFormatName): OutputFormat {
  return typeof format === 'string' ? OUTPUT_FORMATS[format] : format;
}

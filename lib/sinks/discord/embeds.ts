import { labelNames } from '../../alertmanager/labels.ts';
import type { LinkBuilders } from '../../alertmanager/links.ts';
import { alertIdentity, alertnameOf, defaultTitle } from '../../alertmanager/title.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { markdown, markdownLink } from '../../format/markdown.ts';
import { terminal } from '../../format/terminal.ts';
import { fitRendered } from '../../templates/fit.ts';

/**
 * What a Discord message of an alert group looks like: embeds, coloured by status, within
 * Discord's limits. Pure: the same notification always gives the same messages, so an edit
 * after a retry is the same edit. Limits from Discord's message resource ("Embed Limits") and
 * its execute-webhook endpoint: https://discord.com/developers/docs/resources/message#embed-object-embed-limits
 */

export const DISCORD_LIMITS = {
  /** `content` of a message. */
  content: 2000,
  embedsPerMessage: 10,
  /** title + description + field names and values + footer + author name, across all embeds of a message. */
  embedCharsPerMessage: 6000,
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
} as const;

/** Alertmanager's own Discord colours (notify/discord): red while firing, green once resolved. */
export const DISCORD_COLORS = { firing: 0x992d22, resolved: 0x2ecc71 } as const;

/** Past this many alerts a group is listed compactly: who and since when, no summary or links. */
export const COMPACT_AFTER_ALERTS = 20;

// Labels shown as fields (those every alert of the group shares), the rest are in each alert line.
const MAX_LABEL_FIELDS = 10;
const FIELD_VALUE_CHARS = 120;
const SUMMARY_CHARS = 600;
const LINE_CHARS = 1000;
// A link's URL in the header (three of them) and in an alert line.
const LINK_CHARS = 700;
// Kept free in a continuation's first embed for its title, "alerts 41-80 of 200 (continued)".
const CONTINUATION_TITLE_CHARS = DISCORD_LIMITS.title;

export interface DiscordEmbed {
  title?: string;
  description?: string;
  url?: string;
  color: number;
  fields?: { name: string; value: string; inline: boolean }[];
  footer?: { text: string };
  timestamp?: string;
}

/** The JSON body of an execute or edit: never a ping, whatever the text says. */
export interface DiscordMessage {
  content: string;
  embeds: DiscordEmbed[];
  allowed_mentions: { parse: [] };
}

export interface EmbedOptions {
  links: LinkBuilders;
  /** Set when ingest split the notification to fit a queue message. */
  part?: { index: number; count: number };
  /** Embed characters per message, for tests of the splitting; never above Discord's 6000. */
  maxChars?: number;
  /**
   * The destination's rendered templates (Markdown, values already escaped): `title` replaces
   * the title, `text` the summary, description and alert lines (one message); `notes` are
   * templates that failed, shown in the description.
   */
  templated?: { title?: string; text?: string; notes?: string[] };
}

/** Longest templated text in the header's description, leaving room for notes and links. */
export const TEMPLATED_TEXT_CHARS = 3000;
const utf16 = (text: string) => text.length;

/** Alert text as Discord markdown on one line: no control or bidi characters, no markup, no mention. */
export function discordText(raw: string): string {
  return markdown(terminal(raw));
}

/**
 * `raw` escaped, cut so the escaped text (with its ellipsis) holds at most `max` characters.
 * The cut is on the raw text, so it never splits an escape or a surrogate pair.
 */
export function discordTextWithin(raw: string, max: number): string {
  const full = discordText(raw);
  if (full.length <= max) return full;
  const chars = Array.from(terminal(raw));
  let keep = Math.min(chars.length, max);
  for (;;) {
    const cut = `${discordText(chars.slice(0, keep).join(''))}…`;
    if (cut.length <= max || keep === 0) return keep === 0 ? '…' : cut;
    keep = Math.max(0, keep - Math.max(1, Math.ceil((cut.length - max) / 2)));
  }
}

/** The characters Discord counts against the 6000 of a message. */
export function embedChars(embed: DiscordEmbed): number {
  let total =
    (embed.title?.length ?? 0) + (embed.description?.length ?? 0) + (embed.footer?.text.length ?? 0);
  for (const field of embed.fields ?? []) total += field.name.length + field.value.length;
  return total;
}

function validTime(value: string | undefined): number | undefined {
  if (!value || value.startsWith('0001-01-01')) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Discord renders `<t:epoch:R>` as "5 minutes ago" in the reader's own locale. */
function discordTime(value: string): string | undefined {
  const ms = validTime(value);
  return ms === undefined ? undefined : `<t:${Math.floor(ms / 1000)}:R>`;
}

function alertLine(alert: Alert, notification: Notification, links: LinkBuilders): string {
  const compact = notification.alerts.length > COMPACT_AFTER_ALERTS;
  const parts = [
    `${alert.status === 'firing' ? '🔴' : '🟢'} **${discordTextWithin(alertIdentity(alert, notification), compact ? 150 : 300)}**`,
  ];
  const summary = alert.annotations.summary ?? alert.annotations.description;
  if (summary && !compact) parts.push(discordTextWithin(summary, 400));
  const when = alert.status === 'firing' ? discordTime(alert.startsAt) : discordTime(alert.endsAt);
  if (when) parts.push(alert.status === 'firing' ? `since ${when}` : `resolved ${when}`);
  const line = parts.join(' · ');
  if (compact) return line;
  // Links only while the line stays short: a long URL must not crowd out the alerts after it.
  const urls = [
    markdownLink(alert.generatorURL, 'graph', LINK_CHARS),
    markdownLink(links.runbookUrl(alert), 'runbook', LINK_CHARS),
    alert.status === 'firing'
      ? markdownLink(links.silenceUrl(notification, alert), 'silence', LINK_CHARS)
      : undefined,
  ].filter((u): u is string => u !== undefined);
  const linked = urls.length > 0 ? `${line} · ${urls.join(' ')}` : line;
  return linked.length <= LINE_CHARS ? linked : line;
}

function footerText(notification: Notification, part: EmbedOptions['part']): string {
  const firing = notification.alerts.filter((a) => a.status === 'firing').length;
  const texts = [`${firing} firing, ${notification.alerts.length - firing} resolved`];
  if (part && part.count > 1) texts.push(`part ${part.index} of ${part.count}`);
  texts.push('alertmanager-relay');
  return texts.join(' · ');
}

function headerEmbed(notification: Notification, options: EmbedOptions, color: number): DiscordEmbed {
  const first = notification.alerts.find((a) => a.status === 'firing') ?? notification.alerts[0];
  const about: string[] = [];
  const templated = options.templated ?? {};
  const summary = notification.commonAnnotations.summary;
  const description = notification.commonAnnotations.description;
  // A templated text goes first, cut to what the rest of the embed leaves (added below).
  if (templated.text === undefined) {
    if (summary) about.push(`**${discordTextWithin(summary, SUMMARY_CHARS)}**`);
    if (description) about.push(discordTextWithin(description, SUMMARY_CHARS));
  }
  for (const note of templated.notes ?? []) about.push(fitRendered(note, 300, utf16));
  const truncated = notification.truncatedAlerts ?? 0;
  if (truncated > 0) {
    about.push(
      `⚠️ Alertmanager left out ${truncated} more alert${truncated === 1 ? '' : 's'} of this group (max_alerts)`,
    );
  }
  if (options.part && options.part.count > 1) {
    about.push(
      `Part ${options.part.index} of ${options.part.count}: the relay split this large notification; the other parts are separate messages.`,
    );
  }
  const buttons = [
    first ? markdownLink(first.generatorURL, 'Graph', LINK_CHARS) : undefined,
    markdownLink(
      notification.commonAnnotations.runbook_url ?? (first ? options.links.runbookUrl(first) : undefined),
      'Runbook',
      LINK_CHARS,
    ),
    notification.status === 'firing'
      ? markdownLink(options.links.silenceUrl(notification), 'Silence', LINK_CHARS)
      : undefined,
  ].filter((u): u is string => u !== undefined);
  if (buttons.length > 0) about.push(buttons.join(' · '));

  const fields = labelNames(notification.commonLabels)
    .filter((name) => name !== 'alertname')
    .slice(0, MAX_LABEL_FIELDS)
    .map((name) => ({
      name: discordTextWithin(name, 60),
      value: discordTextWithin(notification.commonLabels[name], FIELD_VALUE_CHARS) || '\u200b',
      inline: true,
    }));
  // Shared labels beyond what a message holds are named in a last field, not dropped unsaid.
  const allLabels = Object.keys(notification.commonLabels).filter((name) => name !== 'alertname').length;
  if (allLabels > fields.length) {
    fields.push({
      name: 'more labels',
      value: `${allLabels - fields.length} more shared labels`,
      inline: false,
    });
  }
  const emoji = notification.status === 'firing' ? '🔥' : '✅';
  const started = notification.alerts.map((a) => validTime(a.startsAt)).filter((t) => t !== undefined);
  const ended = notification.alerts.map((a) => validTime(a.endsAt)).filter((t) => t !== undefined);
  const at =
    notification.status === 'resolved' && ended.length > 0 ? Math.max(...ended) : Math.min(...started);
  return {
    title:
      templated.title !== undefined
        ? fitRendered(templated.title, DISCORD_LIMITS.title, utf16)
        : `${emoji} ${discordTextWithin(defaultTitle(notification), DISCORD_LIMITS.title - 3)}`,
    ...(about.length > 0 ? { description: about.join('\n') } : {}),
    color,
    ...(fields.length > 0 ? { fields } : {}),
    footer: { text: footerText(notification, options.part) },
    ...(Number.isFinite(at) ? { timestamp: new Date(at).toISOString() } : {}),
  };
}

/**
 * The header with the templated text at the top of its description, cut to what the embed's
 * description (4096) and the message's characters (6000) leave after the rest.
 */
function withTemplatedText(header: DiscordEmbed, options: EmbedOptions, maxChars: number): DiscordEmbed {
  const text = options.templated?.text;
  if (text === undefined) return header;
  const rest = header.description ?? '';
  const separator = rest === '' ? 0 : 1;
  const room = Math.min(
    TEMPLATED_TEXT_CHARS,
    DISCORD_LIMITS.description - rest.length - separator,
    maxChars - embedChars(header) - separator,
  );
  const fitted = fitRendered(text, Math.max(1, room), utf16);
  return { ...header, description: rest === '' ? fitted : `${fitted}\n${rest}` };
}

/**
 * The messages of a group: the first holds the header embed (title, summary, links, shared
 * labels as fields) and as many alert lines as fit; alerts that do not fit within 10 embeds
 * and 6000 characters continue in further messages, never dropped.
 */
export function buildDiscordMessages(notification: Notification, options: EmbedOptions): DiscordMessage[] {
  const maxChars = Math.min(
    options.maxChars ?? DISCORD_LIMITS.embedCharsPerMessage,
    DISCORD_LIMITS.embedCharsPerMessage,
  );
  const color = notification.status === 'firing' ? DISCORD_COLORS.firing : DISCORD_COLORS.resolved;
  const ordered = [...notification.alerts].sort((a, b) =>
    a.status === b.status ? 0 : a.status === 'firing' ? -1 : 1,
  );
  // A templated text lists the alerts itself: one message.
  const lines =
    options.templated?.text !== undefined
      ? []
      : ordered.map((alert) => alertLine(alert, notification, options.links));

  interface Packed {
    embeds: DiscordEmbed[];
    chars: number;
    /** Index of the first alert line in this message, and how many. */
    from: number;
    count: number;
  }
  const header = withTemplatedText(headerEmbed(notification, options, color), options, maxChars);
  const messages: Packed[] = [{ embeds: [header], chars: embedChars(header), from: 0, count: 0 }];
  for (const [index, line] of lines.entries()) {
    let message = messages[messages.length - 1];
    let embed = message.embeds[message.embeds.length - 1];
    const joined = embed.description ? `${embed.description}\n${line}` : line;
    const grow = joined.length - (embed.description?.length ?? 0);
    if (joined.length <= DISCORD_LIMITS.description && message.chars + grow <= maxChars) {
      embed.description = joined;
      message.chars += grow;
    } else if (
      message.embeds.length < DISCORD_LIMITS.embedsPerMessage &&
      message.chars + line.length <= maxChars
    ) {
      embed = { color, description: line };
      message.embeds.push(embed);
      message.chars += line.length;
    } else {
      embed = { color, description: line };
      message = { embeds: [embed], chars: line.length + CONTINUATION_TITLE_CHARS, from: index, count: 0 };
      messages.push(message);
    }
    message.count++;
  }

  const name = alertnameOf(notification);
  return messages.map((message, i) => {
    if (i > 0) {
      const label = `${name}: alerts ${message.from + 1}-${message.from + message.count} of ${lines.length} (continued)`;
      message.embeds[0].title = discordTextWithin(label, CONTINUATION_TITLE_CHARS);
    }
    return { content: '', embeds: message.embeds, allowed_mentions: { parse: [] } };
  });
}

import type { LinkBuilders } from '../../alertmanager/links.ts';
import { alertIdentity, alertnameOf, defaultTitle } from '../../alertmanager/title.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { backfillNote, digestList, digestTime, type StormState } from '../../chat/storm/storm.ts';
import type { DigestTotals } from '../../chat/storm/tally.ts';
import { cutChars } from '../../format/cut.ts';
import { markdown, markdownLink } from '../../format/markdown.ts';
import { neutraliseMentions } from '../../format/mentions.ts';
import { terminal } from '../../format/terminal.ts';
import { codePoints, fitRendered } from '../../templates/fit.ts';
import type { OutputFormat } from '../../templates/formats.ts';

/**
 * A Mattermost post of an alert group, pure (the same notification gives the same posts, so a
 * retried edit is the same edit): the text is the `message` (Markdown); the colour is a message
 * attachment's `color` (Mattermost colours only attachments), which also holds the shared
 * labels, the group's links and the counts.
 *
 * The limit, declared once: a `message` holds 16,383 runes (model.PostMessageMaxRunesV2,
 * counted with utf8.RuneCountInString: code points). Attachments are `props`, limited as a
 * whole to 800,000 runes of JSON (PostPropsMaxRunes), far above what one attachment here holds.
 */
export const MATTERMOST_MESSAGE_RUNES = 16_383;

/** Alertmanager's Discord red and green; a firing warning is orange. */
export const MATTERMOST_COLORS = { firing: '#992d22', warning: '#e67e22', resolved: '#2ecc71' } as const;

export type MattermostAttachment = { fallback: string; color: string; text?: string; footer: string };
/** A post's body, without its channel and thread. */
export type MattermostPost = { message: string; props: { attachments: MattermostAttachment[] } };

/** Past this many alerts a group is listed compactly: who and since when, no summary or links. */
export const COMPACT_AFTER_ALERTS = 20;
/** Groups the storm digest lists by name. */
export const MATTERMOST_DIGEST_LISTED = 10;
// Kept free in every post for a continuation's heading ("#### HighLatency: alerts 41-80 of 200 (continued)").
const HEADING_RUNES = 200;

// Mattermost reads `.@here` and `-@all` as mentions (it trims `.-_:` off a word), `~town-square` as a
// channel link and `#word` as a hashtag: a zero-width space after the sigil breaks each. It autolinks
// `mailto:`, `tel:` and the schemes an admin adds: a zero-width space after the colon.
const SIGIL = /(^|[^\p{L}\p{N}])([@~#])(?=[\p{L}\p{N}_.-])/gu;
const SCHEME = /([A-Za-z][A-Za-z0-9+.-]*:)(?=[^\s\d\u200b])/g;
const guard = (text: string) => text.replace(SIGIL, '$1$2\u200b').replace(SCHEME, '$1\u200b');

/** Alert text as Mattermost Markdown on one line: no markup, link, mention, channel link or hashtag. */
export const mattermostText = (raw: string): string => guard(markdown(terminal(raw)));

/** `raw` cut to `max` code points before escaping (an escape is never split), then escaped. */
const textWithin = (raw: string, max: number) => mattermostText(cutChars(terminal(raw), max));

/** `[label](url)` for a URL that passes safeHttpUrl, else undefined. */
export const mattermostLink = (url: string | undefined, label: string) => markdownLink(url, label, 700);

/** Templates (docs/templates.md): values escaped as mattermostText does, links only through `| link`. */
export const mattermostFormat: OutputFormat = {
  name: 'mattermost',
  escape: (value) => guard(markdown(value)),
  link: mattermostLink,
  linkTargets: ['](', '<'],
};

export interface RenderOptions {
  links: LinkBuilders;
  part: { index: number; count: number };
  /** Rendered templates (values escaped): `title` replaces the title, `text` the summary and alert lines. */
  templated: { title?: string; text?: string; notes: string[] };
  /** Runes per message, for tests of the splitting; never above Mattermost's. */
  maxRunes?: number;
}

function alertLine(alert: Alert, notification: Notification, links: LinkBuilders): string {
  const compact = notification.alerts.length > COMPACT_AFTER_ALERTS;
  const firing = alert.status === 'firing';
  const who = textWithin(alertIdentity(alert, notification), compact ? 150 : 300);
  const parts = [`${firing ? '🔴' : '🟢'} **${who}**`];
  const summary = alert.annotations.summary ?? alert.annotations.description;
  if (summary && !compact) parts.push(textWithin(summary, 400));
  // Alertmanager's zero time (0001-01-01) is before 1970, as is anything that does not parse (NaN).
  const at = Date.parse(firing ? alert.startsAt : alert.endsAt);
  if (at > 0) parts.push(`${firing ? 'since' : 'resolved'} ${digestTime(at)}`);
  const urls = [
    mattermostLink(alert.generatorURL, 'graph'),
    mattermostLink(links.runbookUrl(alert), 'runbook'),
    firing ? mattermostLink(links.silenceUrl(notification, alert), 'silence') : undefined,
  ].filter((u) => u !== undefined);
  if (urls.length > 0 && !compact) parts.push(urls.join(' '));
  return parts.join(' · ');
}

/** The first post's lines before the alerts: title, summary, notes. */
function header(notification: Notification, { templated, part }: RenderOptions): string {
  const title =
    templated.title !== undefined
      ? fitRendered(templated.title.replace(/\s*\n\s*/g, ' '), 1000)
      : `${notification.status === 'firing' ? '🔥' : '✅'} ${textWithin(defaultTitle(notification), 300)}`;
  const lines = [`#### ${title}`];
  const { summary, description } = notification.commonAnnotations;
  if (templated.text === undefined && summary) lines.push(`**${textWithin(summary, 600)}**`);
  if (templated.text === undefined && description) lines.push(textWithin(description, 600));
  lines.push(...templated.notes.map((note) => fitRendered(note, 300)));
  const left = notification.truncatedAlerts ?? 0;
  if (left > 0) lines.push(`⚠️ Alertmanager left out ${left} more alert(s) of this group (max_alerts)`);
  if (part.count > 1) lines.push(`Part ${part.index} of ${part.count} of a notification the relay split.`);
  return lines.join('\n');
}

/** The first post's attachment text: the shared labels and the group's links. */
function details(notification: Notification, links: LinkBuilders): string {
  const first = notification.alerts.find((a) => a.status === 'firing') ?? notification.alerts[0];
  const labels = Object.entries(notification.commonLabels)
    .filter(([name]) => name !== 'alertname')
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const shown = labels.slice(0, 10).map(([name, v]) => `**${textWithin(name, 60)}** ${textWithin(v, 120)}`);
  if (labels.length > 10) shown.push(`${labels.length - 10} more shared labels`);
  const runbook = notification.commonAnnotations.runbook_url ?? (first && links.runbookUrl(first));
  const buttons = [
    mattermostLink(first?.generatorURL, 'Graph'),
    mattermostLink(runbook, 'Runbook'),
    notification.status === 'firing' ? mattermostLink(links.silenceUrl(notification), 'Silence') : undefined,
  ].filter((b) => b !== undefined);
  return [shown.join(' · '), buttons.join(' · ')].filter((t) => t !== '').join('\n');
}

/** A post of the group: `message`, and an attachment with the colour, `text` and the counts. */
function post(message: string, notification: Notification, part: RenderOptions['part'], text = '') {
  const firing = notification.alerts.filter((a) => a.status === 'firing').length;
  const counts = `${firing} firing, ${notification.alerts.length - firing} resolved · `;
  const ofParts = part.count > 1 ? `part ${part.index} of ${part.count} · ` : '';
  const warning = notification.commonLabels.severity === 'warning';
  const color = notification.status === 'resolved' ? 'resolved' : warning ? 'warning' : 'firing';
  const attachment: MattermostAttachment = {
    // Shown in notifications as plain text: one line, mentioning no one.
    fallback: guard(neutraliseMentions(cutChars(terminal(defaultTitle(notification)), 300))),
    color: MATTERMOST_COLORS[color],
    ...(text === '' ? {} : { text }),
    footer: `${counts}${ofParts}alertmanager-relay`,
  };
  return { message, props: { attachments: [attachment] } };
}

/**
 * The posts of a group: the first holds the title, summary, notes and as many alert lines as
 * fit; the rest continue in further posts (replies in its thread), never dropped. Only a single
 * line longer than a whole post (a huge templated text) is cut.
 */
export function renderPosts(notification: Notification, options: RenderOptions): MattermostPost[] {
  const room = Math.min(options.maxRunes ?? Infinity, MATTERMOST_MESSAGE_RUNES) - HEADING_RUNES;
  const head = header(notification, options);
  const { text } = options.templated;
  const firingFirst = (a: Alert) => (a.status === 'firing' ? 0 : 1);
  const alerts = [...notification.alerts].sort((a, b) => firingFirst(a) - firingFirst(b));
  // A templated text lists the alerts itself, in the first post.
  const lines =
    text === undefined
      ? alerts.map((alert) => alertLine(alert, notification, options.links))
      : [fitRendered(text, Math.max(1, room - codePoints(head) - 2))];
  const chunks = [{ text: head, runes: codePoints(head), from: 0, count: 0 }];
  for (const [index, line] of lines.entries()) {
    const fitted = fitRendered(line, room - 2);
    if (chunks[chunks.length - 1].runes + codePoints(fitted) + 2 > room)
      chunks.push({ text: '', runes: 0, from: index, count: 0 });
    const chunk = chunks[chunks.length - 1];
    const joined = `${chunk.count === 0 ? '\n\n' : '\n'}${fitted}`;
    chunk.text += joined;
    chunk.runes += codePoints(joined);
    chunk.count++;
  }
  const name = textWithin(alertnameOf(notification), 50);
  return chunks.map(({ text, from, count }, i) =>
    i === 0
      ? post(text, notification, options.part, details(notification, options.links))
      : post(
          `#### ${name}: alerts ${from + 1}-${from + count} of ${lines.length} (continued)${text}`,
          notification,
          options.part,
        ),
  );
}

/** The storm digest as one post: posted once per storm and destination, then edited. */
export function mattermostDigest(storm: StormState, totals: DigestTotals): MattermostPost {
  const over = storm.endedAt !== undefined;
  const note = backfillNote(storm, totals, 'post');
  const began = `Began ${digestTime(storm.startedAt)}`;
  const head = over
    ? `#### ✅ Alert storm over\n**${totals.groups} groups, ${totals.firingGroups} still firing.** ${began}, calm since ${digestTime(storm.endedAt as number)}.${note ? ` ${note}.` : ''}`
    : `#### 🚨 Alert storm\n**${totals.groups} new groups, ${totals.firing} alerts firing.** ${began}. New groups are counted here instead of getting a post each.`;
  const rows = totals.rows.map(([alertname, severity, firing, resolved]) => {
    const sev = severity ? ` (${textWithin(severity, 40)})` : '';
    return `**${textWithin(alertname || 'no alertname', 120)}**${sev}: ${firing} firing, ${resolved} resolved`;
  });
  const { heading, groups } = digestList(storm, totals);
  const listed = groups.map((group: { title: string; link?: string; status?: string }) => {
    const link = mattermostLink(group.link, 'graph');
    return `${group.status === 'resolved' ? '🟢' : '🔴'} ${textWithin(group.title, 150)}${link ? ` · ${link}` : ''}`;
  });
  const lines = ['', ...rows, '', `**${heading}**`, ...listed];
  let [message, runes] = [head, codePoints(head)];
  for (const [i, line] of lines.entries()) {
    runes += codePoints(line) + 1;
    // Past the limit (thousands of alertnames) the rest is left out, and said so.
    if (runes + 40 > MATTERMOST_MESSAGE_RUNES) {
      message += `\n… and ${lines.length - i} more lines`;
      break;
    }
    message += `\n${line}`;
  }
  const attachment = {
    fallback: over ? 'Alert storm over' : 'Alert storm',
    color: MATTERMOST_COLORS[over && totals.firingGroups === 0 ? 'resolved' : 'firing'],
    footer: `${totals.firing} firing, ${totals.resolved} resolved alerts in ${totals.groups} groups`,
  };
  return { message, props: { attachments: [attachment] } };
}

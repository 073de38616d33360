import type { LinkBuilders } from '../../alertmanager/links.ts';
import { alertIdentity, alertnameOf, defaultTitle } from '../../alertmanager/title.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { markdown, markdownLink } from '../../format/markdown.ts';
import { terminal } from '../../format/terminal.ts';
import { safeHttpUrl } from '../../format/url.ts';
import { fitRendered, jsonBytes } from '../../templates/fit.ts';

/**
 * What a Teams message of an alert group looks like: an Adaptive Card 1.4 in the attachments
 * of a `message`, the body a Teams workflow ("When a Teams webhook request is received" ->
 * "Post card in a chat or channel") posts as it came. Pure: the same notification always gives
 * the same cards.
 *
 * Teams refuses a message over about 28 KB ("Request Entity Too Large", the Teams connector's
 * documented message size limit, https://learn.microsoft.com/en-us/connectors/teams/#known-issues-and-limitations),
 * and it measures the posted message, not our JSON, so a card is kept to 24 KB of JSON and a
 * large group is split into several cards, each a message of its own, every alert in one of
 * them. Markdown is rendered in TextBlock text and in a FactSet's titles and values
 * (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format),
 * so every value from the notification is escaped with `markdown()`.
 */

export const TEAMS_LIMITS = {
  /** Teams' documented limit for a posted message. */
  messageBytes: 28 * 1024,
  /** What the relay allows one card's message (JSON, UTF-8), leaving room for what Teams adds. */
  cardBytes: 24 * 1024,
} as const;

/** Past this many alerts a group is listed compactly: who and since when, no summary or links. */
export const COMPACT_AFTER_ALERTS = 20;

const CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
const LINK_CHARS = 1000;
// Room kept in every card for what is added after packing: a continuation's heading label or
// the first card's "continues in N more cards" line.
const RESERVED_BYTES = 400;

/** An Adaptive Card element or action, as JSON. */
export type CardElement = Record<string, unknown>;

export interface AdaptiveCard {
  $schema: string;
  type: 'AdaptiveCard';
  version: '1.4';
  body: CardElement[];
  actions?: CardElement[];
  msteams: { width: 'Full' };
}

/** The body of one POST to the workflow's URL. */
export interface TeamsMessage {
  type: 'message';
  attachments: {
    contentType: 'application/vnd.microsoft.card.adaptive';
    contentUrl: null;
    content: AdaptiveCard;
  }[];
}

export interface CardOptions {
  links: LinkBuilders;
  /** Set when ingest split the notification to fit a queue message. */
  part?: { index: number; count: number };
  /** Bytes of JSON per message, for tests of the splitting; never above TEAMS_LIMITS.cardBytes. */
  maxBytes?: number;
  /**
   * The destination's rendered templates (Markdown, values already escaped): `title` replaces
   * the heading, `text` the summary, description and alert lines (one card); `notes` are
   * templates that failed, shown as notices.
   */
  templated?: { title?: string; text?: string; notes?: string[] };
}

/** Longest templated heading, in characters. */
export const TEMPLATED_TITLE_CHARS = 250;
/** Longest templated text, in bytes of JSON: leaves room in one card for the facts, notices and buttons. */
export const TEMPLATED_TEXT_BYTES = 14 * 1024;

/** Alert text as Teams markdown: no control or bidi characters, no markup, link or mention. */
export function teamsText(raw: string, maxChars: number): string {
  const chars = Array.from(terminal(raw));
  return chars.length <= maxChars
    ? markdown(chars.join(''))
    : `${markdown(chars.slice(0, maxChars - 1).join(''))}…`;
}

function utc(value: string): string | undefined {
  if (!value || value.startsWith('0001-01-01')) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function alertLine(alert: Alert, notification: Notification, links: LinkBuilders): string {
  const compact = notification.alerts.length > COMPACT_AFTER_ALERTS;
  const parts = [
    `${alert.status === 'firing' ? '🔴' : '🟢'} **${teamsText(alertIdentity(alert, notification), compact ? 150 : 300)}**`,
  ];
  const summary = alert.annotations.summary ?? alert.annotations.description;
  if (summary && !compact) parts.push(teamsText(summary, 400));
  const when = alert.status === 'firing' ? utc(alert.startsAt) : utc(alert.endsAt);
  if (when) parts.push(alert.status === 'firing' ? `since ${when}` : `resolved ${when}`);
  if (!compact) {
    const urls = [
      markdownLink(alert.generatorURL, 'graph', LINK_CHARS),
      markdownLink(links.runbookUrl(alert), 'runbook', LINK_CHARS),
      alert.status === 'firing'
        ? markdownLink(links.silenceUrl(notification, alert), 'silence', LINK_CHARS)
        : undefined,
    ].filter((u): u is string => u !== undefined);
    if (urls.length > 0) parts.push(urls.join(' '));
  }
  return parts.join(' · ');
}

const text = (value: string, extra: CardElement = {}): CardElement => ({
  type: 'TextBlock',
  text: value,
  wrap: true,
  ...extra,
});

function heading(title: string, status: Notification['status']): CardElement {
  return {
    type: 'Container',
    style: status === 'firing' ? 'attention' : 'good',
    bleed: true,
    items: [
      text(title, {
        size: 'Large',
        weight: 'Bolder',
        color: status === 'firing' ? 'Attention' : 'Good',
      }),
    ],
  };
}

function actions(notification: Notification, links: LinkBuilders): CardElement[] {
  const first = notification.alerts.find((a) => a.status === 'firing') ?? notification.alerts[0];
  const found: CardElement[] = [];
  const button = (title: string, url: string | undefined) => {
    const safe = safeHttpUrl(url, { maxLength: LINK_CHARS });
    if (safe) found.push({ type: 'Action.OpenUrl', title, url: safe });
  };
  if (first) button('Graph', first.generatorURL);
  button(
    'Runbook',
    notification.commonAnnotations.runbook_url ?? (first ? links.runbookUrl(first) : undefined),
  );
  // The labels every alert shares select the whole group.
  if (notification.status === 'firing') button('Silence', links.silenceUrl(notification));
  return found;
}

/** One Adaptive Card (1.4, full width) as the body of a post to the workflow. */
export function card(body: CardElement[], cardActions: CardElement[] = []): TeamsMessage {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: CARD_SCHEMA,
          type: 'AdaptiveCard',
          version: '1.4',
          body,
          ...(cardActions.length > 0 ? { actions: cardActions } : {}),
          msteams: { width: 'Full' },
        },
      },
    ],
  };
}

/** Bytes of a message as sent. */
export function messageBytes(message: TeamsMessage): number {
  return Buffer.byteLength(JSON.stringify(message));
}

/**
 * The cards of a group, one message each: the first with the status colour, the summary, the
 * shared labels as a fact set, one line per alert and buttons for graph, runbook and silence;
 * alerts that do not fit continue in further cards ("alerts 41-80 of 200"), never dropped.
 */
export function buildTeamsMessages(notification: Notification, options: CardOptions): TeamsMessage[] {
  const maxBytes = Math.min(options.maxBytes ?? TEAMS_LIMITS.cardBytes, TEAMS_LIMITS.cardBytes);
  const { status } = notification;
  const emoji = status === 'firing' ? '🔥' : '✅';
  const firing = notification.alerts.filter((a) => a.status === 'firing').length;

  const templated = options.templated ?? {};
  const title =
    templated.title !== undefined
      ? fitRendered(templated.title, TEMPLATED_TITLE_CHARS)
      : `${emoji} ${teamsText(defaultTitle(notification), 250)}`;
  const top: CardElement[] = [heading(title, status)];
  const { summary, description } = notification.commonAnnotations;
  // A templated text goes under the heading, cut below once the rest of the card is known.
  if (templated.text === undefined) {
    if (summary) top.push(text(`**${teamsText(summary, 1000)}**`));
    if (description) top.push(text(teamsText(description, 1500)));
  }
  const notices: string[] = [...(templated.notes ?? [])];
  const truncated = notification.truncatedAlerts ?? 0;
  if (truncated > 0) {
    notices.push(
      `⚠️ Alertmanager left out ${truncated} more alert${truncated === 1 ? '' : 's'} of this group (max_alerts).`,
    );
  }
  if (options.part && options.part.count > 1) {
    notices.push(
      `Part ${options.part.index} of ${options.part.count}: the relay split this large notification; the other parts are cards of their own.`,
    );
  }
  for (const notice of notices) top.push(text(notice, { isSubtle: true }));
  const facts = Object.keys(notification.commonLabels)
    .sort()
    .map((name) => ({ title: teamsText(name, 100), value: teamsText(notification.commonLabels[name], 300) }));
  if (facts.length > 0) top.push({ type: 'FactSet', facts });
  const started = notification.alerts
    .map((a) => utc(a.startsAt))
    .filter((t): t is string => Boolean(t))
    .sort();
  const ended = notification.alerts
    .map((a) => utc(a.endsAt))
    .filter((t): t is string => Boolean(t))
    .sort();
  const when = [
    `${firing} firing, ${notification.alerts.length - firing} resolved`,
    started[0] && `started ${started[0]}`,
    status === 'resolved' && ended.length > 0 && `resolved ${ended[ended.length - 1]}`,
  ].filter((t): t is string => Boolean(t));
  const footer = text(when.join(' · '), { isSubtle: true, size: 'Small' });
  const buttons = actions(notification, options.links);
  if (templated.text !== undefined) {
    const room = maxBytes - RESERVED_BYTES - messageBytes(card([...top, footer], buttons));
    top.splice(
      1,
      0,
      text(fitRendered(templated.text, Math.max(16, Math.min(TEMPLATED_TEXT_BYTES, room)), jsonBytes)),
    );
  }

  // Firing first: what needs a person now.
  const ordered = [...notification.alerts].sort((a, b) =>
    a.status === b.status ? 0 : a.status === 'firing' ? -1 : 1,
  );
  // A templated text lists the alerts itself: one card.
  const lines =
    templated.text !== undefined
      ? []
      : ordered.map((alert) => text(alertLine(alert, notification, options.links), { spacing: 'Small' }));

  // Lines go into a card while its JSON stays within the budget, less room for what is only
  // known once all are packed (a continuation's heading, "continues in 3 more cards"). A line
  // always fits an empty card.
  const name = teamsText(alertnameOf(notification), 200);
  const continuationHeading = (label: string) => heading(`${emoji} ${name}: ${label}`, status);
  const budget = maxBytes - RESERVED_BYTES;
  const cards: { fixed: CardElement[]; lines: CardElement[]; from: number }[] = [];
  let current = { fixed: top, lines: [] as CardElement[], from: 0 };
  const size = (c: typeof current, extra: CardElement) =>
    messageBytes(card([...c.fixed, ...c.lines, extra, footer], cards.length === 0 ? buttons : []));
  for (const [index, line] of lines.entries()) {
    if (current.lines.length > 0 && size(current, line) > budget) {
      cards.push(current);
      current = { fixed: [continuationHeading('')], lines: [], from: index };
    }
    current.lines.push(line);
  }
  cards.push(current);

  return cards.map((c, i) => {
    if (i === 0) {
      const more =
        cards.length > 1
          ? [
              text(
                `${lines.length - c.lines.length} more alerts continue in ${cards.length - 1} more card${cards.length === 2 ? '' : 's'}.`,
                { isSubtle: true },
              ),
            ]
          : [];
      return card([...c.fixed, ...c.lines, ...more, footer], buttons);
    }
    const label = `alerts ${c.from + 1}-${c.from + c.lines.length} of ${lines.length} (continued, card ${i + 1} of ${cards.length})`;
    return card([continuationHeading(label), ...c.lines, footer], []);
  });
}

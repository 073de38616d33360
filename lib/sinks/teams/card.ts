import { labelNames } from '../../alertmanager/labels.ts';
import type { LinkBuilders } from '../../alertmanager/links.ts';
import { alertIdentity, alertnameOf, defaultTitle } from '../../alertmanager/title.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { cutChars } from '../../format/cut.ts';
import { markdown, markdownLink } from '../../format/markdown.ts';
import { terminal } from '../../format/terminal.ts';
import { safeHttpUrl } from '../../format/url.ts';
import { codePoints, fitRendered, jsonBytes } from '../../templates/fit.ts';
import { TEAMS_CARD_BUDGET_BYTES, teamsMessageBytes } from './limits.ts';

/**
 * What a Teams message of an alert group looks like: an Adaptive Card 1.4 in the attachments
 * of a `message`, the body a Teams workflow ("When a Teams webhook request is received" ->
 * "Post card in a chat or channel") posts as it came. Pure: the same notification always gives
 * the same cards.
 *
 * Teams refuses a message over 28 KiB, after the workflow answered 202 (./limits.ts). Each
 * card's whole message, facts and buttons included, is measured and kept within
 * TEAMS_CARD_BUDGET_BYTES: a large group is split, not cut. The shared labels (a fact set)
 * and the alert lines flow over into further cards, each a message of its own, marked
 * "continued, card 2 of 3"; every label and every alert is in one of them. Only a single label
 * too long for a card of its own is cut, per field. Markdown is rendered in TextBlock text and
 * in a FactSet's titles and values
 * (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format),
 * so every value from the notification is escaped with `markdown()`; and Teams refuses a
 * TextBlock without text, so a block whose text is blank is left out.
 */

/** Past this many alerts a group is listed compactly: who and since when, no summary or links. */
export const COMPACT_AFTER_ALERTS = 20;

const CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
const LINK_CHARS = 1000;
// Room a templated text leaves in the first card for the line saying how many more follow.
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
  /** Bytes per message, for tests of the splitting; never above TEAMS_CARD_BUDGET_BYTES. */
  maxBytes?: number;
  /**
   * The destination's rendered templates (Markdown, values already escaped): `title` replaces
   * the heading, `text` the summary, description and alert lines; `notes` are templates that
   * failed, shown as notices. One that rendered blank shows the default instead.
   */
  templated?: { title?: string; text?: string; notes?: string[] };
}

/** Longest templated heading, in characters. */
export const TEMPLATED_TITLE_CHARS = 250;
/** Longest templated text, in bytes of JSON: leaves room in the first card for notices and buttons. */
export const TEMPLATED_TEXT_BYTES = 14 * 1024;

/** Alert text as Teams markdown: no control or bidi characters, no markup, link or mention. */
export function teamsText(raw: string, maxChars: number): string {
  // Cut before escaping: an escape is never split.
  return markdown(cutChars(terminal(raw), maxChars));
}

/** Text that would show nothing: Teams refuses a TextBlock without text. */
const blank = (value: string): boolean => value.trim() === '';

/** A rendered template, or undefined when it rendered nothing to show. */
const shown = (value: string | undefined): string | undefined =>
  value === undefined || blank(value) ? undefined : value;

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
  const summary = teamsText(alert.annotations.summary ?? alert.annotations.description ?? '', 400);
  if (!compact && !blank(summary)) parts.push(summary);
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

/** The elements without a TextBlock whose text is blank, at any depth. */
function withoutBlankText(elements: CardElement[]): CardElement[] {
  return elements
    .filter((e) => !(e.type === 'TextBlock' && (typeof e.text !== 'string' || blank(e.text))))
    .map((e) => (Array.isArray(e.items) ? { ...e, items: withoutBlankText(e.items as CardElement[]) } : e));
}

/**
 * One Adaptive Card (1.4, full width) as the body of a post to the workflow. A TextBlock whose
 * text is blank is left out: Teams fails the run for it.
 */
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
          body: withoutBlankText(body),
          ...(cardActions.length > 0 ? { actions: cardActions } : {}),
          msteams: { width: 'Full' },
        },
      },
    ],
  };
}

/** A label as a fact, each field cut to `maxChars` (before escaping). */
interface Fact {
  title: string;
  value: string;
}

/** The facts and alert lines that went into one card, and how many of each came before. */
interface Chunk {
  facts: Fact[];
  lines: CardElement[];
  factFrom: number;
  lineFrom: number;
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/**
 * "labels 31-60 of 60, alerts 1-40 of 300 (continued, card 2 of 5)": what a continuation card
 * holds. Given the totals for every count it is the longest any card's label can be.
 */
function continuedLabel(
  facts: [from: number, count: number, total: number],
  lines: [from: number, count: number, total: number],
  index: number,
  count: number,
): string {
  const range = (what: string, [from, n, total]: [number, number, number]) =>
    n > 0 ? `${what} ${from + 1}-${from + n} of ${total}` : undefined;
  const held = [range('labels', facts), range('alerts', lines)].filter((p) => p !== undefined);
  return `${held.join(', ')} (continued, card ${index} of ${count})`;
}

/** "30 more labels and 260 more alerts continue in 4 more cards.", on the first card. */
function moreNote(facts: number, lines: number, cards: number): string {
  const rest = [facts > 0 && plural(facts, 'more label'), lines > 0 && plural(lines, 'more alert')];
  return `${rest.filter(Boolean).join(' and ')} continue in ${plural(cards, 'more card')}.`;
}

/**
 * The cards of a group, one message each: the first with the status colour, the summary, the
 * shared labels as a fact set, one line per alert and buttons for graph, runbook and silence.
 * Labels and alerts that do not fit continue in further cards ("labels 31-60 of 60, alerts
 * 1-40 of 300 (continued, card 2 of 5)"), never dropped; every card's message stays within
 * TEAMS_CARD_BUDGET_BYTES.
 */
export function buildTeamsMessages(notification: Notification, options: CardOptions): TeamsMessage[] {
  const maxBytes = Math.min(options.maxBytes ?? TEAMS_CARD_BUDGET_BYTES, TEAMS_CARD_BUDGET_BYTES);
  const fits = (message: TeamsMessage) => teamsMessageBytes(message) <= maxBytes;
  const { status } = notification;
  const emoji = status === 'firing' ? '🔥' : '✅';
  const firing = notification.alerts.filter((a) => a.status === 'firing').length;

  // A template that rendered nothing to show leaves its block to the default.
  const templated = options.templated ?? {};
  const templatedTitle = shown(templated.title);
  const templatedText = shown(templated.text);
  const title =
    templatedTitle !== undefined
      ? fitRendered(templatedTitle, TEMPLATED_TITLE_CHARS)
      : `${emoji} ${teamsText(defaultTitle(notification), 250)}`;
  const top: CardElement[] = [heading(title, status)];
  // A templated text goes under the heading, cut below once the rest of the card is known.
  if (templatedText === undefined) {
    const summary = teamsText(notification.commonAnnotations.summary ?? '', 1000);
    if (!blank(summary)) top.push(text(`**${summary}**`));
    top.push(text(teamsText(notification.commonAnnotations.description ?? '', 1500)));
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
  if (templatedText !== undefined) {
    const room = maxBytes - RESERVED_BYTES - teamsMessageBytes(card([...top, footer], buttons));
    top.splice(
      1,
      0,
      text(fitRendered(templatedText, Math.max(16, Math.min(TEMPLATED_TEXT_BYTES, room)), jsonBytes)),
    );
  }

  // Firing first: what needs a person now.
  const ordered = [...notification.alerts].sort((a, b) =>
    a.status === b.status ? 0 : a.status === 'firing' ? -1 : 1,
  );
  // A templated text lists the alerts itself.
  const lines =
    templatedText !== undefined
      ? []
      : ordered.map((alert) => text(alertLine(alert, notification, options.links), { spacing: 'Small' }));
  const factNames = labelNames(notification.commonLabels);

  // While packing, each card carries the longest label or note it can end up with (its real
  // one is only known once all are packed), so swapping in the real one never makes it larger.
  const factCount = factNames.length;
  const lineCount = lines.length;
  const mostCards = factCount + lineCount + 1;
  const name = teamsText(alertnameOf(notification), 200);
  const continuationHeading = (label: string) => heading(`${emoji} ${name}: ${label}`, status);
  const longestHeading = continuationHeading(
    continuedLabel([factCount - 1, 1, factCount], [lineCount - 1, 1, lineCount], mostCards, mostCards),
  );
  const longestNote = text(moreNote(factCount, lineCount, mostCards), { isSubtle: true });
  const bodyOf = (fixed: CardElement[], chunk: Chunk, extra: CardElement[]): CardElement[] => [
    ...fixed,
    ...(chunk.facts.length > 0 ? [{ type: 'FactSet', facts: chunk.facts }] : []),
    ...chunk.lines,
    ...extra,
    footer,
  ];
  const draft = (chunk: Chunk, first: boolean): TeamsMessage =>
    first ? card(bodyOf(top, chunk, [longestNote]), buttons) : card(bodyOf([longestHeading], chunk, []));

  // A label too long for a card of its own is cut, per field, to the most that fits one.
  const fact = (label: string, maxChars: number): Fact => ({
    title: teamsText(label, maxChars),
    value: teamsText(notification.commonLabels[label], maxChars),
  });
  const alone = (f: Fact) => fits(draft({ facts: [f], lines: [], factFrom: 0, lineFrom: 0 }, false));
  const facts = factNames.map((label) => {
    const whole = fact(label, Number.POSITIVE_INFINITY);
    if (alone(whole)) return whole;
    let low = 1;
    let high = Math.max(codePoints(label), codePoints(notification.commonLabels[label]));
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (alone(fact(label, mid))) low = mid;
      else high = mid - 1;
    }
    return fact(label, low);
  });

  // Facts, then lines, go into a card while its whole message stays within the budget; what
  // does not fit starts the next card. The first card may hold none (its summary, notices and
  // templated text come first); a continuation always holds at least one.
  const chunks: Chunk[] = [];
  let current: Chunk = { facts: [], lines: [], factFrom: 0, lineFrom: 0 };
  const place = (put: (c: Chunk) => void, undo: (c: Chunk) => void) => {
    put(current);
    const first = chunks.length === 0;
    const empty = current.facts.length + current.lines.length === 1;
    if (fits(draft(current, first)) || (!first && empty)) return;
    undo(current);
    chunks.push(current);
    current = {
      facts: [],
      lines: [],
      factFrom: current.factFrom + current.facts.length,
      lineFrom: current.lineFrom + current.lines.length,
    };
    put(current);
  };
  for (const f of facts)
    place(
      (c) => c.facts.push(f),
      (c) => c.facts.pop(),
    );
  for (const line of lines)
    place(
      (c) => c.lines.push(line),
      (c) => c.lines.pop(),
    );
  chunks.push(current);

  const count = chunks.length;
  return chunks.map((chunk, i) => {
    if (i === 0) {
      const more =
        count > 1
          ? [
              text(moreNote(factCount - chunk.facts.length, lineCount - chunk.lines.length, count - 1), {
                isSubtle: true,
              }),
            ]
          : [];
      return card(bodyOf(top, chunk, more), buttons);
    }
    const label = continuedLabel(
      [chunk.factFrom, chunk.facts.length, factCount],
      [chunk.lineFrom, chunk.lines.length, lineCount],
      i + 1,
      count,
    );
    return card(bodyOf([continuationHeading(label)], chunk, []));
  });
}

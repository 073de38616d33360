import type {
  ActionsBlock,
  Button,
  ContextBlock,
  HeaderBlock,
  KnownBlock,
  MrkdwnElement,
  SectionBlock,
} from '@slack/types';
import type { LinkBuilders } from '../../alertmanager/links.ts';
import { alertIdentity, alertnameOf, defaultTitle } from '../../alertmanager/title.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { cutChars } from '../../format/cut.ts';
import { mrkdwn as escapeText, mrkdwnLink } from '../../format/mrkdwn.ts';
import { safeHttpUrl } from '../../format/url.ts';
import { fitRendered } from '../../templates/fit.ts';

/**
 * Block Kit for one alert group: what the Slack message of a group looks like. Pure: the
 * same notification always gives the same blocks, so an edit after a retry is the same edit.
 * Limits from https://docs.slack.dev/reference/block-kit/blocks (header, section, context,
 * actions) and https://docs.slack.dev/reference/methods/chat.postMessage (50 blocks).
 */

export const BLOCK_LIMITS = {
  blocksPerMessage: 50,
  headerText: 150,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  url: 3000,
  /** chat.postMessage truncates `text` past 40,000; notifications show far less. */
  fallbackText: 3000,
  /**
   * All the text of a message's blocks together, in UTF-16 code units, plus
   * `blockOverhead` per block. Undocumented: Slack answered msg_blocks_too_long from about
   * 13,200 characters in https://github.com/slackapi/bolt-js/issues/2509 and at 11,341 in
   * https://github.com/slackapi/bolt-js/issues/2867 (Slack speaks of 12,000 "with a buffer
   * for block containers"), so we stay well below; a message Slack still refuses is split
   * smaller (shrunkTextBudget), never dead-lettered.
   */
  messageTextChars: 10000,
  /** What each block costs of `messageTextChars` besides its text: its share of the containers. */
  blockOverhead: 40,
  /** The smallest text budget a msg_blocks_too_long answer halves down to. */
  minMessageTextChars: 2500,
} as const;

/**
 * How many times a message Slack refuses as msg_blocks_too_long can be split smaller: the text
 * budget halves from `messageTextChars` down to `minMessageTextChars` (10,000, 5,000, 2,500).
 */
export const TEXT_BUDGET_SHRINKS = Math.ceil(
  Math.log2(BLOCK_LIMITS.messageTextChars / BLOCK_LIMITS.minMessageTextChars),
);

/**
 * The text budget per message after `shrink` refusals (the chat stage's ChatRender.shrink):
 * undefined (the full budget) at 0, then half of it per step, never below `minMessageTextChars`.
 */
export function shrunkTextBudget(shrink: number): number | undefined {
  if (shrink <= 0) return undefined;
  return Math.max(BLOCK_LIMITS.minMessageTextChars, Math.floor(BLOCK_LIMITS.messageTextChars / 2 ** shrink));
}

// "N more alerts continue in the thread" and a continuation's own heading.
const CONTINUE_NOTICE_CHARS = 200;

/**
 * What blocks cost of the message text budget: the UTF-16 code units of every `text`
 * (header, section text and fields, context, button labels), as JavaScript and Slack's
 * servers count string length, plus `blockOverhead` per block.
 */
export function blockTextLength(blocks: readonly Block[]): number {
  let total = blocks.length * BLOCK_LIMITS.blockOverhead;
  const visit = (value: unknown, key?: string): void => {
    if (typeof value === 'string') {
      if (key === 'text') total += value.length;
      return;
    }
    if (Array.isArray(value)) for (const item of value) visit(item);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, k);
  };
  visit(blocks);
  return total;
}

/** A Block Kit block of a message (the relay builds header, section, context and actions blocks). */
export type Block = KnownBlock;

export interface SlackMessage {
  /** The notification fallback (what a phone's lock screen shows). */
  text: string;
  blocks: Block[];
}

export interface GroupMessage {
  /** The group's message (posted, then edited). */
  main: SlackMessage;
  /** Alerts that did not fit in the main message, as thread replies, in order. */
  continuations: SlackMessage[];
}

export interface BlockOptions {
  /** Labels shown in the context line (default cluster, namespace, instance). */
  contextLabels?: readonly string[];
  /** Labels shown as fields when every alert of the group has them (default severity, cluster, namespace, job, service). */
  fieldLabels?: readonly string[];
  links: LinkBuilders;
  /** Set when ingest split the notification to fit a queue message. */
  part?: { index: number; count: number };
  /** Blocks per message, for tests of the splitting; never above Slack's 50. */
  maxBlocks?: number;
  /** Text budget per message (see blockTextLength), for tests and after msg_blocks_too_long; never above messageTextChars. */
  maxChars?: number;
  /**
   * The destination's rendered templates: `title` replaces the header (plain text, values
   * cleaned by the text format), `text` the summary section (mrkdwn, values escaped); `notes`
   * are the one-line notes of templates that failed (mrkdwn, escaped), shown as notices.
   */
  templated?: { title?: string; text?: string; notes?: readonly string[] };
}

export const DEFAULT_CONTEXT_LABELS = ['cluster', 'namespace', 'instance'] as const;
export const DEFAULT_FIELD_LABELS = ['severity', 'cluster', 'namespace', 'job', 'service'] as const;

const FIRING_EMOJI = ':red_circle:';
const RESOLVED_EMOJI = ':large_green_circle:';

/**
 * Alert text as mrkdwn: `&`, `<`, `>` escaped and word-initial `@` defused, so no mention or
 * link can come from it (lib/format/mrkdwn.ts).
 */
export function escapeMrkdwn(text: string): string {
  return escapeText(text);
}

/**
 * `text` as mrkdwn of at most `max` characters (code points): cut first, so the cut never ends
 * inside an entity (`&am…`), then escaped; cut shorter while the escape's growth (`&` is 5
 * characters escaped) takes it past `max`. The longest cut that fits, found by bisection.
 */
function cutEscaped(text: string, max: number): string {
  const fits = (escaped: string) => Array.from(escaped).length <= max;
  const whole = escapeMrkdwn(text);
  if (fits(whole)) return whole;
  if (max < 1) return '';
  // Below its length, cutChars(text, n) keeps n - 1 characters and "…": n = 1 is "…" alone,
  // which fits. Not capped at `max`: the escape drops control characters, too.
  let low = 1;
  let high = Array.from(text).length - 1;
  while (low < high) {
    const n = Math.ceil((low + high) / 2);
    if (fits(escapeMrkdwn(cutChars(text, n)))) low = n;
    else high = n - 1;
  }
  return high < 1 ? '…' : escapeMrkdwn(cutChars(text, low));
}

function counts(notification: Notification): { firing: number; resolved: number } {
  const firing = notification.alerts.filter((a) => a.status === 'firing').length;
  return { firing, resolved: notification.alerts.length - firing };
}

function isZeroTime(value: string): boolean {
  return !value || value.startsWith('0001-01-01');
}

/** Slack renders `<!date^epoch^format|fallback>` in the reader's own time zone. */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeMrkdwn(iso);
  const fallback = `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${fallback}>`;
}

/** When the group started firing: the earliest startsAt. */
export function startedAt(notification: Notification): string | undefined {
  const times = notification.alerts
    .map((a) => a.startsAt)
    .filter((t) => !isZeroTime(t) && !Number.isNaN(Date.parse(t)));
  return times.sort((a, b) => Date.parse(a) - Date.parse(b))[0];
}

/** When the group resolved: the latest endsAt, for a resolved group. */
export function resolvedAt(notification: Notification): string | undefined {
  if (notification.status !== 'resolved') return undefined;
  const times = notification.alerts
    .map((a) => a.endsAt)
    .filter((t) => !isZeroTime(t) && !Number.isNaN(Date.parse(t)));
  return times.sort((a, b) => Date.parse(b) - Date.parse(a))[0];
}

function summaryOf(notification: Notification): { summary?: string; description?: string } {
  const first = notification.alerts[0]?.annotations ?? {};
  const single = notification.alerts.length === 1;
  return {
    summary: notification.commonAnnotations.summary ?? (single ? first.summary : undefined),
    description: notification.commonAnnotations.description ?? (single ? first.description : undefined),
  };
}

/** The URL as it may go into a button: http(s), no credentials, encoded, within Slack's 3000. */
function buttonUrl(url: string | undefined): string | undefined {
  return safeHttpUrl(url, { maxLength: BLOCK_LIMITS.url });
}

/** `<url|text>` from a validated URL, or undefined. */
function link(url: string | undefined, text: string): string | undefined {
  return mrkdwnLink(url, text, BLOCK_LIMITS.url);
}

/** Past this many alerts a group is listed compactly: who and since when, no summary or links. */
export const COMPACT_AFTER_ALERTS = 20;

function alertLine(alert: Alert, notification: Notification, links: LinkBuilders): string {
  const emoji = alert.status === 'firing' ? FIRING_EMOJI : RESOLVED_EMOJI;
  const compact = notification.alerts.length > COMPACT_AFTER_ALERTS;
  const parts = [
    `${emoji} *${escapeMrkdwn(cutChars(alertIdentity(alert, notification), compact ? 150 : 300))}*`,
  ];
  const summary = alert.annotations.summary ?? alert.annotations.description;
  if (summary && notification.alerts.length > 1 && !compact) parts.push(escapeMrkdwn(cutChars(summary, 500)));
  const when =
    alert.status === 'firing' ? `since ${slackDate(alert.startsAt)}` : `resolved ${slackDate(alert.endsAt)}`;
  parts.push(when);
  if (compact) return parts.join(' · ').replace(/\s*\n\s*/g, ' ');
  const urls: string[] = [];
  const graph = link(alert.generatorURL, 'graph');
  if (graph) urls.push(graph);
  const runbook = links.runbookUrl(alert);
  const runbookLink = runbook !== notification.commonAnnotations.runbook_url && link(runbook, 'runbook');
  if (runbookLink) urls.push(runbookLink);
  if (alert.status === 'firing') {
    const silence = link(links.silenceUrl(notification, alert), 'silence');
    if (silence) urls.push(silence);
  }
  // One alert, one line: the section packing counts alerts by lines.
  let line = parts.join(' · ').replace(/\s*\n\s*/g, ' ');
  // A link is added whole or not at all: a line cut to fit a section must never cut a link.
  for (const url of urls) {
    if (line.length + 3 + url.length <= BLOCK_LIMITS.sectionText) line = `${line} · ${url}`;
  }
  return line;
}

/** Packs lines into mrkdwn sections of at most 3000 characters each (one line never spans two). */
export function packLines(lines: readonly string[], max: number = BLOCK_LIMITS.sectionText): string[] {
  const sections: string[] = [];
  let current = '';
  for (const raw of lines) {
    const line = cutChars(raw, max);
    if (current && current.length + 1 + line.length > max) {
      sections.push(current);
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) sections.push(current);
  return sections;
}

// verbatim: Slack then does not auto-link bare URLs, channel names or mentions in the text
// (https://docs.slack.dev/reference/block-kit/composition-objects/text-object): alert content
// stays plain text, and the only links are the <url|text> ones the relay builds from checked URLs.
const mrkdwn = (text: string): MrkdwnElement => ({ type: 'mrkdwn', text, verbatim: true });
const section = (text: string): SectionBlock => ({ type: 'section', text: mrkdwn(text) });
const context = (texts: readonly string[]): ContextBlock => ({
  type: 'context',
  elements: texts.slice(0, BLOCK_LIMITS.contextElements).map(mrkdwn),
});

function actions(notification: Notification, links: LinkBuilders): ActionsBlock | undefined {
  const first = notification.alerts.find((a) => a.status === 'firing') ?? notification.alerts[0];
  if (!first) return undefined;
  const buttons: Button[] = [];
  const button = (text: string, raw: string | undefined, actionId: string) => {
    const url = buttonUrl(raw);
    if (url) buttons.push({ type: 'button', text: { type: 'plain_text', text }, url, action_id: actionId });
  };
  button('Graph', first.generatorURL, 'graph');
  button('Runbook', notification.commonAnnotations.runbook_url ?? links.runbookUrl(first), 'runbook');
  if (notification.status === 'firing') {
    // The labels every alert shares select the whole group; a single alert's own labels select just it.
    const target = notification.alerts.length === 1 ? first : { ...first, labels: notification.commonLabels };
    button('Silence', links.silenceUrl(notification, target), 'silence');
  }
  return buttons.length > 0 ? { type: 'actions', elements: buttons } : undefined;
}

/**
 * The group's message: header, summary, key labels as fields, the alerts (one line each),
 * a truncation notice, a context line, and buttons (graph, runbook, silence). Alerts that
 * would push it past 50 blocks continue in `continuations`, never dropped.
 */
export function buildGroupMessage(notification: Notification, options: BlockOptions): GroupMessage {
  const maxBlocks = Math.min(
    options.maxBlocks ?? BLOCK_LIMITS.blocksPerMessage,
    BLOCK_LIMITS.blocksPerMessage,
  );
  const maxChars = Math.min(options.maxChars ?? BLOCK_LIMITS.messageTextChars, BLOCK_LIMITS.messageTextChars);
  const { firing, resolved } = counts(notification);
  const emoji = notification.status === 'firing' ? ':fire:' : ':white_check_mark:';
  const head = defaultTitle(notification);
  const { summary, description } = summaryOf(notification);

  const templated = options.templated ?? {};
  // A header must not be empty (Slack refuses it): a title rendering to nothing keeps the default.
  const oneLine = templated.title?.replace(/\s*\n\s*/g, ' ').trim();
  const templatedTitle = oneLine ? fitRendered(oneLine, BLOCK_LIMITS.headerText) : undefined;
  const header: HeaderBlock = {
    type: 'header',
    text: {
      type: 'plain_text',
      text: templatedTitle ?? cutChars(`${emoji} ${head}`, BLOCK_LIMITS.headerText),
      emoji: true,
    },
  };
  const top: Block[] = [header];
  if (templated.text !== undefined) {
    if (templated.text.trim()) top.push(section(fitRendered(templated.text, BLOCK_LIMITS.sectionText)));
  } else {
    // Each part cut before it is escaped, the description in what the summary leaves.
    const limit = BLOCK_LIMITS.sectionText;
    const bold = summary ? `*${cutEscaped(summary, limit - 2)}*` : undefined;
    const left = limit - (bold ? Array.from(bold).length + 1 : 0);
    const about = [bold, description && left > 1 ? cutEscaped(description, left) : undefined].filter(Boolean);
    if (about.length > 0) top.push(section(about.join('\n')));
  }

  const fieldLabels = options.fieldLabels ?? DEFAULT_FIELD_LABELS;
  const fields = fieldLabels
    .filter((name) => notification.commonLabels[name] !== undefined)
    .slice(0, BLOCK_LIMITS.fields)
    .map((name) =>
      // Well under the 2000 a field may hold: the whole message shares one text budget.
      mrkdwn(
        cutChars(
          `*${escapeMrkdwn(name)}*\n${escapeMrkdwn(cutChars(notification.commonLabels[name], 300))}`,
          400,
        ),
      ),
    );
  if (fields.length > 0) top.push({ type: 'section', fields });

  const bottom: Block[] = [];
  const notices: string[] = [...(templated.notes ?? [])];
  const truncated = notification.truncatedAlerts ?? 0;
  if (truncated > 0) {
    notices.push(
      `:warning: Alertmanager left out ${truncated} more alert${truncated === 1 ? '' : 's'} of this group (max_alerts): see ${link(notification.externalURL, 'Alertmanager') ?? 'Alertmanager'}`,
    );
  }
  if (options.part && options.part.count > 1) {
    notices.push(
      `Part ${options.part.index} of ${options.part.count}: the relay split this large notification; the other parts follow in the thread.`,
    );
  }
  const contextLabels = options.contextLabels ?? DEFAULT_CONTEXT_LABELS;
  const where = contextLabels
    .filter((name) => notification.commonLabels[name] !== undefined)
    .map(
      (name) => `${escapeMrkdwn(name)}: *${escapeMrkdwn(cutChars(notification.commonLabels[name], 200))}*`,
    );
  const started = startedAt(notification);
  const ended = resolvedAt(notification);
  const when = [started && `Started ${slackDate(started)}`, ended && `Resolved ${slackDate(ended)}`].filter(
    (t): t is string => Boolean(t),
  );
  const tally = notification.alerts.length > 1 ? [`${firing} firing, ${resolved} resolved`] : [];
  const contextTexts = [...where, ...tally, ...when];
  if (contextTexts.length > 0) bottom.push(context(contextTexts));
  const buttons = actions(notification, options.links);
  if (buttons) bottom.push(buttons);
  const noticeBlocks = notices.map((text) => context([cutChars(text, BLOCK_LIMITS.sectionText)]));

  // Firing first: what needs a person now.
  const ordered = [...notification.alerts].sort((a, b) =>
    a.status === b.status ? 0 : a.status === 'firing' ? -1 : 1,
  );
  const lines =
    notification.alerts.length > 1 || !summary
      ? ordered.map((a) => alertLine(a, notification, options.links))
      : [];
  const sections = packLines(lines);

  // Sections go into a message while both its block count and its text budget allow; one
  // block and a little text are kept for "continued in the thread" when they do not all fit.
  const fixedChars = blockTextLength([...top, ...noticeBlocks, ...bottom]);
  const cost = (text: string) => text.length + BLOCK_LIMITS.blockOverhead;
  const take = (from: number, blocksLeft: number, charsLeft: number): number => {
    let n = 0;
    let chars = 0;
    while (from + n < sections.length && n < blocksLeft && chars + cost(sections[from + n]) <= charsLeft) {
      chars += cost(sections[from + n]);
      n++;
    }
    return n;
  };
  const room = maxBlocks - top.length - bottom.length - noticeBlocks.length;
  const budget = maxChars - fixedChars;
  let inMainCount = take(0, room, budget);
  if (inMainCount < sections.length) inMainCount = take(0, room - 1, budget - CONTINUE_NOTICE_CHARS);
  const inMain = sections.slice(0, inMainCount);
  const rest = sections.slice(inMainCount);
  const shownAlerts = inMain.reduce((n, s) => n + s.split('\n').length, 0);
  const blocks = [...top, ...inMain.map(section)];
  if (rest.length > 0) {
    blocks.push(
      context([
        `${lines.length - shownAlerts} more alert${lines.length - shownAlerts === 1 ? '' : 's'} continue in the thread :thread:`,
      ]),
    );
  }
  blocks.push(...noticeBlocks, ...bottom);

  // The fallback is mrkdwn too (chat.postMessage's `text`), shown in notifications.
  // A templated title is plain text (the text format cleaned its values): escaped here for mrkdwn.
  const fallback = [templatedTitle ?? head, summary].filter(Boolean).join(': ');
  const main = { text: cutEscaped(fallback, BLOCK_LIMITS.fallbackText), blocks };

  const continuations: SlackMessage[] = [];
  let from = shownAlerts;
  for (let i = 0; i < rest.length; ) {
    // At least one section per reply: a section alone is within every limit.
    const n = Math.max(1, take(inMainCount + i, maxBlocks - 1, maxChars - CONTINUE_NOTICE_CHARS));
    const chunk = rest.slice(i, i + n);
    i += n;
    const count = chunk.reduce((k, s) => k + s.split('\n').length, 0);
    const label = `${alertnameOf(notification)}: alerts ${from + 1}-${from + count} of ${lines.length} (continued)`;
    continuations.push({
      text: cutEscaped(label, BLOCK_LIMITS.fallbackText),
      blocks: [context([escapeMrkdwn(label)]), ...chunk.map(section)],
    });
    from += count;
  }
  return { main, continuations };
}

/** A plain thread reply: one line of mrkdwn (already escaped by its caller), with the same text as its notification fallback. */
export function threadReply(text: string): SlackMessage {
  const clipped = cutChars(text, BLOCK_LIMITS.sectionText);
  return { text: clipped, blocks: [section(clipped)] };
}

import { createHash } from 'node:crypto';
import { labelNames, labelValues } from '../../alertmanager/labels.ts';
import { generatorUrl, runbookUrl, silenceUrl } from '../../alertmanager/links.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { cutChars } from '../../format/cut.ts';
import { fitRendered } from '../../templates/fit.ts';
import { chatLength, MAX_TEXT_CHARS, oversize } from './limits.ts';
import { chatLink, chatText } from './text.ts';

/**
 * The Google Chat message for a notification: the pure part of the sink (no I/O).
 *
 * Text formatting, not cards: a text message shows inline like a person's message and in
 * mobile notifications as it is, and its only markup (`*bold*`, `<url|text>`) has one
 * escaping rule (text.ts). A card would hide the alerts behind "sent a card" in a
 * notification and needs a second escaping scheme (its HTML subset) for the same text.
 */

/** One alert's line: labels and a summary are useful; a 10 kB annotation is not, in a chat. */
export const MAX_ALERT_LINE_CHARS = 500;
/**
 * An alert line longer than this (two long links, a 3,000-character generatorURL) puts its links
 * on lines of their own, so each line fits a continuation message with its headline.
 */
export const MAX_LINKED_LINE_CHARS = 3000;
/** Longest group title in a headline (and a continuation's templated title), in characters. */
const GROUP_TITLE_CHARS = 300;

/** The body of spaces.messages.create as the webhook takes it. */
export interface ChatMessage {
  text: string;
  thread: { threadKey: string };
}

/** Where a delivery is in a notification the relay split to fit a queue message. */
export interface PartInfo {
  index: number;
  count: number;
}

/**
 * The destination's rendered templates (values already escaped with chatText): `title`
 * replaces the headline, `text` the alert lines; `notes` are templates that failed.
 */
export interface TemplatedParts {
  title?: string;
  text?: string;
  notes?: string[];
}

/** Longest templated headline, in characters. */
export const TEMPLATED_TITLE_CHARS = 1000;

/**
 * The thread of a group in a space: every notification of the group replies into it
 * (`messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`). Derived from the destination
 * and the groupKey, hashed: a groupKey carries label values, and a thread key is visible to
 * anyone who can read the space's messages through the API. Chat takes up to 4,000 characters.
 */
export function groupThreadKey(destination: string, groupKey: string): string {
  const hash = createHash('sha256').update(`${destination}\u0000${groupKey}`).digest('hex');
  return `alertmanager-relay-${hash.slice(0, 40)}`;
}

/**
 * Chat's `requestId`: "Specifying an existing request ID returns the message created with that
 * ID instead of creating a new message". One per accepted message (destination, idempotency
 * key, receivedAt, part), so a retry after a lost answer does not post twice.
 */
export function messageRequestId(
  destination: string,
  idempotencyKey: string,
  receivedAt: string,
  part: PartInfo,
): string {
  const hash = createHash('sha256')
    .update(`${destination}\u0000${idempotencyKey}\u0000${receivedAt}\u0000${part.index}`)
    .digest('hex');
  return `alertmanager-relay-${hash.slice(0, 40)}`;
}

/**
 * Chat's `requestId` of message `index` (from 1) of a delivery whose first message has
 * `first`: the first keeps `first` (what a delivery posted before messages were split, so a
 * retry of it is still recognised), the others a hash of it and their index.
 *
 * @example
 * splitRequestId(first, 1) // first
 * splitRequestId(first, 2) // 'alertmanager-relay-<40 hex>'
 */
export function splitRequestId(first: string, index: number): string {
  if (index <= 1) return first;
  const hash = createHash('sha256').update(`${first}\u0000${index}`).digest('hex');
  return `alertmanager-relay-${hash.slice(0, 40)}`;
}

/**
 * The messages for one notification (or one part of it): a headline with the status, the
 * group and the common summary, one line per alert, then notes and links. Every value from the
 * notification goes through chatText; links only through chatLink.
 *
 * Nothing is left out for size: when the text would pass Chat's limits (limits.ts) the alerts
 * go on in further messages of the same thread, each with a short headline marked
 * `(continued, message k of n)` (and the first `(message 1 of n)`), after the relay's own
 * `part i of n` when it split the notification for the queue. Read in order, the messages are
 * the one message the notification would be without the limit. Only single fields are cut, as
 * before: an alert's line at MAX_ALERT_LINE_CHARS, a templated line longer than a message.
 *
 * @example
 * buildMessages(firing, 'ops-chat')[0].text
 * // '🔥 *[FIRING:2] HighLatency* — Latency high\n• *HighLatency* instance=web-0:9100 — ...\n<http://am/#/silences/new?...|Silence>'
 */
export function buildMessages(
  notification: Notification,
  destination: string,
  part: PartInfo = { index: 1, count: 1 },
  templated: TemplatedParts = {},
): ChatMessage[] {
  const firing = notification.alerts.filter((a) => a.status === 'firing');
  const resolved = notification.alerts.filter((a) => a.status !== 'firing');
  const head = (index: number, count: number): string => {
    if (templated.title !== undefined) {
      if (count === 1) return fitRendered(templated.title, TEMPLATED_TITLE_CHARS);
      const title = fitRendered(templated.title, index === 1 ? TEMPLATED_TITLE_CHARS : GROUP_TITLE_CHARS);
      return `${title}${marker(part, index, count)}`;
    }
    return headline(notification, firing.length, marker(part, index, count), index === 1);
  };

  const lines =
    templated.text !== undefined
      ? templated.text === ''
        ? []
        : templated.text.split('\n')
      : [...firing, ...resolved].flatMap((alert) => alertLines(alert, notification));
  const notes: string[] = [...(templated.notes ?? []).map((note) => `_${note}_`)];
  const truncated = notification.truncatedAlerts ?? 0;
  if (truncated > 0)
    notes.push(`_Alertmanager left ${truncated} more alert(s) of this group out of the notification._`);
  const footer = links(notification, firing);

  const thread = { threadKey: groupThreadKey(destination, notification.groupKey) };
  const tail = [...notes, footer].filter(Boolean);
  return split([...lines, ...tail], head, thread).map((text) => ({ text, thread }));
}

/**
 * `lines` in as few messages as Chat's limits allow, in order, each message opened by
 * `head(index, count)`. A line never opens a continuation blank, and a line too long for a
 * message of its own is cut to fit (alert lines never are: MAX_LINKED_LINE_CHARS).
 */
function split(
  lines: readonly string[],
  head: (index: number, count: number) => string,
  thread: ChatMessage['thread'],
): string[] {
  // The headlines say the count, which the packing decides: pack with the headlines of a
  // count, from 1 up, until the packing needs no more messages than that. The count only grows
  // and there is at most one message per line, so this ends (in practice at the first or second
  // try). Fewer messages than assumed get the shorter headlines of their own count: still fits.
  for (let count = 1; ; ) {
    const messages = pack(lines, (index) => head(index, count), thread);
    if (messages.length <= count)
      return messages.map((body, i) => [head(i + 1, messages.length), ...body].join('\n'));
    count = messages.length;
  }
}

/** Greedy: each line into the current message while it fits, else into a new one. */
function pack(
  lines: readonly string[],
  head: (index: number) => string,
  thread: ChatMessage['thread'],
): string[][] {
  const fits = (index: number, body: readonly string[]) =>
    oversize({ text: [head(index), ...body].join('\n'), thread }) === undefined;
  const messages: string[][] = [[]];
  for (const line of lines) {
    let current = messages[messages.length - 1];
    if (current.length > 0 && !fits(messages.length, [...current, line])) {
      current = [];
      messages.push(current);
    }
    if (current.length === 0 && messages.length > 1 && line.trim() === '') continue;
    if (current.length === 0 && !fits(messages.length, [line])) {
      const room = MAX_TEXT_CHARS - chatLength(head(messages.length)) - 1;
      current.push(fitRendered(line, Math.max(1, room), chatLength));
      continue;
    }
    current.push(line);
  }
  return messages;
}

/** ` _(part i of n, continued, message k of m)_`, or '' for the only message of a notification the relay did not split. */
function marker(part: PartInfo, index: number, count: number): string {
  const notes: string[] = [];
  if (part.count > 1) notes.push(`part ${part.index} of ${part.count}`);
  if (count > 1)
    notes.push(index === 1 ? `message 1 of ${count}` : `continued, message ${index} of ${count}`);
  return notes.length > 0 ? ` _(${notes.join(', ')})_` : '';
}

function headline(notification: Notification, firingCount: number, mark: string, first: boolean): string {
  const isFiring = notification.status === 'firing';
  const status = isFiring ? `FIRING:${firingCount}` : 'RESOLVED';
  const group = labelValues(notification.groupLabels).join(' ');
  const title = chatText(cutChars(`[${status}] ${group}`.trim(), GROUP_TITLE_CHARS));
  const summary = first ? notification.commonAnnotations?.summary : undefined;
  return `${isFiring ? '🔥' : '✅'} *${title}*${mark}${summary ? ` — ${chatText(cutChars(summary, 500))}` : ''}`;
}

/**
 * An alert's line: its name, labels, summary and links. A line longer than MAX_LINKED_LINE_CHARS
 * (its links are long) is the text, then each link on a line of its own.
 */
function alertLines(alert: Alert, notification: Notification): string[] {
  const name = alert.labels.alertname ?? 'alert';
  const identity = labelNames(alert.labels)
    .filter((k) => k !== 'alertname' && notification.groupLabels?.[k] === undefined)
    .map((k) => `${k}=${alert.labels[k]}`)
    .join(' ');
  const text = alert.annotations?.summary ?? alert.annotations?.description ?? '';
  const body = cutChars([identity, text].filter(Boolean).join(' — '), MAX_ALERT_LINE_CHARS);
  const mark = alert.status === 'firing' ? '•' : '✓';
  const runbook = chatLink(runbookUrl(alert), 'runbook');
  const graph = chatLink(generatorUrl(alert), 'graph');
  const extra = [graph, runbook].filter((link) => link !== undefined);
  const line = `${mark} *${chatText(cutChars(name, 200))}*${body ? ` ${chatText(body)}` : ''}`;
  const whole = extra.length > 0 ? `${line} (${extra.join(' ')})` : line;
  return chatLength(whole) <= MAX_LINKED_LINE_CHARS
    ? [whole]
    : [line, ...extra.map((link) => `   ↳ ${link}`)];
}

function links(notification: Notification, firing: readonly Alert[]): string {
  if (firing.length === 0) return '';
  return chatLink(silenceUrl(notification), 'Silence this group') ?? '';
}

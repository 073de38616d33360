import { createHash } from 'node:crypto';
import { generatorUrl, runbookUrl, silenceUrl } from '../../alertmanager/links.ts';
import type { Alert, Notification } from '../../alertmanager/types.ts';
import { cutChars } from '../../format/cut.ts';
import { fitRendered } from '../../templates/fit.ts';
import { chatLink, chatText } from './text.ts';

/**
 * The Google Chat message for a notification: the pure part of the sink (no I/O).
 *
 * Text formatting, not cards: a text message shows inline like a person's message and in
 * mobile notifications as it is, and its only markup (`*bold*`, `<url|text>`) has one
 * escaping rule (text.ts). A card would hide the alerts behind "sent a card" in a
 * notification and needs a second escaping scheme (its HTML subset) for the same text.
 */

/**
 * "The maximum message size, including text and cards, is 32,000 bytes"
 * (spaces.messages.create). The text is kept under it with room for the JSON around it.
 */
export const MAX_MESSAGE_BYTES = 32_000;
const MAX_TEXT_BYTES = 30_000;
/** One alert's line: labels and a summary are useful; a 10 kB annotation is not, in a chat. */
export const MAX_ALERT_LINE_CHARS = 500;
/** Alerts listed by name before "... and N more". */
export const MAX_ALERT_LINES = 40;

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
const utf8 = (text: string) => Buffer.byteLength(text);

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
 * The message for one notification (or one part of it): a headline with the status, the
 * group and the common summary, one line per alert, then links. Every value from the
 * notification goes through chatText; links only through chatLink.
 *
 * @example
 * buildMessage(firing, 'ops-chat').text
 * // '🔥 *[FIRING:2] HighLatency* — Latency high\n• *HighLatency* instance=web-0:9100 — ...\n<http://am/#/silences/new?...|Silence>'
 */
export function buildMessage(
  notification: Notification,
  destination: string,
  part: PartInfo = { index: 1, count: 1 },
  templated: TemplatedParts = {},
): ChatMessage {
  const firing = notification.alerts.filter((a) => a.status === 'firing');
  const resolved = notification.alerts.filter((a) => a.status !== 'firing');
  const head =
    templated.title !== undefined
      ? fitRendered(templated.title, TEMPLATED_TITLE_CHARS)
      : headline(notification, firing.length, part);

  const lines =
    templated.text !== undefined
      ? []
      : [...firing, ...resolved].map((alert) => alertLine(alert, notification));
  const footer = links(notification, firing);
  const notes: string[] = [...(templated.notes ?? []).map((note) => `_${note}_`)];
  const truncated = notification.truncatedAlerts ?? 0;
  if (truncated > 0)
    notes.push(`_Alertmanager left ${truncated} more alert(s) of this group out of the notification._`);

  // Fit: alert lines go in while the text stays under the limit; the rest are counted.
  const fixed = [head, ...notes, footer].filter(Boolean).join('\n');
  const shown: string[] = [];
  let bytes = Buffer.byteLength(fixed);
  for (const line of lines.slice(0, MAX_ALERT_LINES)) {
    const size = Buffer.byteLength(line) + 1;
    if (bytes + size + 120 > MAX_TEXT_BYTES) break;
    shown.push(line);
    bytes += size;
  }
  if (templated.text !== undefined) {
    // The templated text lists the alerts itself, cut to what the message leaves.
    shown.push(fitRendered(templated.text, Math.max(16, MAX_TEXT_BYTES - bytes - 120), utf8));
  }
  const hidden = lines.length - (templated.text !== undefined ? 0 : shown.length);
  const more =
    hidden > 0 ? [`_… and ${hidden} more alert(s) not listed here; Alertmanager has all of them._`] : [];
  const text = [head, ...shown, ...more, ...notes, footer].filter(Boolean).join('\n');
  return { text, thread: { threadKey: groupThreadKey(destination, notification.groupKey) } };
}

function headline(notification: Notification, firingCount: number, part: PartInfo): string {
  const isFiring = notification.status === 'firing';
  const status = isFiring ? `FIRING:${firingCount}` : 'RESOLVED';
  const group = Object.keys(notification.groupLabels ?? {})
    .sort()
    .map((k) => notification.groupLabels[k])
    .join(' ');
  const title = chatText(cutChars(`[${status}] ${group}`.trim(), 300));
  const summary = notification.commonAnnotations?.summary;
  const partNote = part.count > 1 ? ` _(part ${part.index} of ${part.count})_` : '';
  return `${isFiring ? '🔥' : '✅'} *${title}*${partNote}${summary ? ` — ${chatText(cutChars(summary, 500))}` : ''}`;
}

function alertLine(alert: Alert, notification: Notification): string {
  const name = alert.labels.alertname ?? 'alert';
  const identity = Object.keys(alert.labels)
    .filter((k) => k !== 'alertname' && notification.groupLabels?.[k] === undefined)
    .sort()
    .map((k) => `${k}=${alert.labels[k]}`)
    .join(' ');
  const text = alert.annotations?.summary ?? alert.annotations?.description ?? '';
  const body = cutChars([identity, text].filter(Boolean).join(' — '), MAX_ALERT_LINE_CHARS);
  const mark = alert.status === 'firing' ? '•' : '✓';
  const runbook = chatLink(runbookUrl(alert), 'runbook');
  const graph = chatLink(generatorUrl(alert), 'graph');
  const extra = [graph, runbook].filter(Boolean).join(' ');
  return `${mark} *${chatText(cutChars(name, 200))}*${body ? ` ${chatText(body)}` : ''}${extra ? ` (${extra})` : ''}`;
}

function links(notification: Notification, firing: readonly Alert[]): string {
  if (firing.length === 0) return '';
  return chatLink(silenceUrl(notification), 'Silence this group') ?? '';
}

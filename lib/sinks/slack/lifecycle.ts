import { alertIdentity } from '../../alertmanager/title.ts';
import type { Notification } from '../../alertmanager/types.ts';
import type { ChatGroupRecord, ChatPrevious, ChatUpdates } from '../../chat/adapter.ts';
import { cutChars } from '../../format/cut.ts';
import { escapeMrkdwn, resolvedAt } from './blocks.ts';
import type { SlackDestination } from './config.ts';

/**
 * What a later notification does to its group's Slack message, as the chat stage asks it
 * (lib/chat/stage.ts): how the destination's `update:` and `newMessageAfterResolve` read, the
 * one line for the thread saying what changed, and the group records Slack wrote before it was
 * on the stage.
 */

/** The destination's `update:` (`edit`, `thread` or `both`), as its schema lists them. */
export type UpdateMode = NonNullable<SlackDestination['update']>;

/**
 * `update: both` (default) edits the message and replies in its thread, `edit` only edits,
 * `thread` only replies (the message stays as first posted); a group that fires again after it
 * resolved gets a new message unless `newMessageAfterResolve: false`.
 */
export function slackUpdates(
  destination: Pick<SlackDestination, 'update' | 'newMessageAfterResolve'>,
): ChatUpdates {
  const update: UpdateMode = destination.update ?? 'both';
  return {
    edit: update !== 'thread',
    reply: update !== 'edit',
    newAfterResolve: destination.newMessageAfterResolve ?? true,
  };
}

/** The group record as Slack kept it before the chat stage (`slackgroup#<destination>#<hash>`). */
export interface SlackGroupRecord {
  channel: string;
  ts: string;
  status: 'firing' | 'resolved';
  /** fingerprint -> status as of the last notification, to say what changed. */
  alerts: Record<string, 'firing' | 'resolved'>;
  postedAt: string;
  updatedAt: string;
}

/**
 * A group record of the shape Slack wrote before the chat stage, read as the stage's (its one
 * message, in its channel); undefined for a record in the stage's shape.
 */
export function fromSlackGroupRecord(stored: object): ChatGroupRecord | undefined {
  const old = stored as Partial<SlackGroupRecord> & { messages?: unknown };
  if (old.messages !== undefined || typeof old.ts !== 'string' || typeof old.channel !== 'string')
    return undefined;
  return {
    messages: [old.ts],
    where: old.channel,
    ...(old.status ? { status: old.status } : {}),
    alerts: old.alerts ?? {},
    ...(old.updatedAt ? { updatedAt: old.updatedAt } : {}),
  };
}

/**
 * The one-line thread reply for a later notification, as mrkdwn with every label value
 * escaped: new alerts, resolved alerts, all resolved, or "still firing" for a repeat. Undefined when nothing changed and nothing fires
 * (a resolved group told again that it is resolved).
 */
export function describeChange(group: ChatPrevious, notification: Notification): string | undefined {
  const names = (alerts: Notification['alerts']) => {
    const shown = alerts.slice(0, 5).map((a) => alertIdentity(a, notification));
    const more = alerts.length > shown.length ? ` and ${alerts.length - shown.length} more` : '';
    // Label values are alert content: escaped after the cut, so no entity is cut in half.
    return escapeMrkdwn(cutChars(`${shown.join('; ')}${more}`, 1500));
  };
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

  if (notification.status === 'resolved') {
    if (group.status === 'resolved') return undefined;
    const when = resolvedAt(notification);
    const at = when
      ? ` at ${new Date(Date.parse(when)).toISOString().slice(0, 16).replace('T', ' ')} UTC`
      : '';
    return `:white_check_mark: All ${plural(notification.alerts.length, 'alert')} resolved${at}.`;
  }
  const fresh = notification.alerts.filter(
    (a) => a.status === 'firing' && group.alerts[a.fingerprint] !== 'firing',
  );
  const gone = notification.alerts.filter(
    (a) => a.status === 'resolved' && group.alerts[a.fingerprint] !== 'resolved',
  );
  const firingCount = notification.alerts.filter((a) => a.status === 'firing').length;
  const parts: string[] = [];
  if (fresh.length > 0) parts.push(`:red_circle: ${plural(fresh.length, 'new alert')}: ${names(fresh)}`);
  if (gone.length > 0)
    parts.push(`:large_green_circle: ${plural(gone.length, 'alert')} resolved: ${names(gone)}`);
  if (parts.length === 0) return `:repeat: Still firing: ${plural(firingCount, 'alert')}.`;
  return `${parts.join('. ')}. Now ${firingCount} firing.`;
}

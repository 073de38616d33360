import { alertIdentity } from '../../alertmanager/title.ts';
import type { Notification } from '../../alertmanager/types.ts';
import { cutChars } from '../../format/cut.ts';
import { escapeMrkdwn, resolvedAt } from './blocks.ts';
import type { SlackDestination } from './config.ts';

/**
 * What a notification does to its group's Slack message: post a new one, edit the one the
 * group has, reply in its thread, attach a graph. Decided once per delivery from the group's
 * record in the state store, then frozen in the delivery's step journal so a retry carries out
 * the same plan even though the group record has moved on.
 */

/** The destination's `update:` (`edit`, `thread` or `both`), as its schema lists them. */
export type UpdateMode = NonNullable<SlackDestination['update']>;

/** The group's message, per destination + groupKey in the state store. */
export interface GroupRecord {
  channel: string;
  ts: string;
  status: 'firing' | 'resolved';
  /** fingerprint -> status as of the last notification, to say what changed. */
  alerts: Record<string, 'firing' | 'resolved'>;
  postedAt: string;
  updatedAt: string;
}

export interface LifecyclePlan {
  /** `new`: post a message for the group; `edit`: chat.update the existing one; `none`: leave it. */
  message: 'new' | 'edit' | 'none';
  /** The existing message (edit or thread reply target); absent for `new`. */
  target?: { channel: string; ts: string };
  /** One line for the thread, saying what changed. */
  reply?: string;
  /** Render and upload a graph into the thread. */
  graph: boolean;
}

export interface PlanOptions {
  update: UpdateMode;
  newMessageAfterResolve: boolean;
  graph: boolean;
}

/**
 * Decides the lifecycle step for one notification.
 *
 * @example
 * planDelivery(undefined, firing, opts)   // { message: 'new', graph: true }
 * planDelivery(group, resolved, opts)     // { message: 'edit', reply: ':white_check_mark: All 2 alerts resolved ...' }
 */
export function planDelivery(
  group: GroupRecord | undefined,
  notification: Notification,
  options: PlanOptions,
): LifecyclePlan {
  const firing = notification.status === 'firing';
  const startsOver = group?.status === 'resolved' && firing && options.newMessageAfterResolve;
  if (!group || startsOver) {
    return { message: 'new', graph: firing && options.graph };
  }
  const target = { channel: group.channel, ts: group.ts };
  const message = options.update === 'thread' ? 'none' : 'edit';
  const reply = options.update === 'edit' ? undefined : describeChange(group, notification);
  return { message, target, ...(reply ? { reply } : {}), graph: false };
}

/**
 * The one-line thread reply for a later notification, as mrkdwn with every label value
 * escaped: new alerts, resolved alerts, all resolved, or "still firing" for a repeat. Undefined when nothing changed and nothing fires
 * (a resolved group told again that it is resolved).
 */
export function describeChange(
  group: Pick<GroupRecord, 'alerts' | 'status'>,
  notification: Notification,
): string | undefined {
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

/** The group record after this notification. */
export function nextGroupRecord(
  previous: GroupRecord | undefined,
  notification: Notification,
  message: { channel: string; ts: string },
  now: Date,
): GroupRecord {
  const alerts: GroupRecord['alerts'] = {};
  for (const alert of notification.alerts) alerts[alert.fingerprint] = alert.status;
  return {
    channel: message.channel,
    ts: message.ts,
    status: notification.status,
    alerts,
    postedAt: previous && previous.ts === message.ts ? previous.postedAt : now.toISOString(),
    updatedAt: now.toISOString(),
  };
}

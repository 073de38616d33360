import type { Notification } from '../../../lib/alertmanager/types.ts';
import { makeNotification } from '../notifications.ts';

/**
 * Text anyone who can push an alert can put in front of a person: chat mentions and links,
 * markdown links, terminal escapes and a right-to-left override. The kit delivers a
 * notification full of it to every sink and records what the vendor received, so escaping
 * can be asserted per sink.
 */
export const HOSTILE_TEXT = {
  slackBroadcast: '<!channel>',
  slackLink: '<https://evil.example|click here>',
  mention: '@here',
  markdownLink: '[reset your password](https://evil.example/login)',
  terminalEscape: '\u001b[2J\u001b[31mred',
  rightToLeftOverride: '\u202Eexe.txt',
} as const;

/** Every hostile string, space-separated. */
export const HOSTILE = Object.values(HOSTILE_TEXT).join(' ');

/** One alert whose labels, annotations and group carry every hostile string. */
export function hostileNotification(status: 'firing' | 'resolved' = 'firing'): Notification {
  const notification = makeNotification({
    count: 1,
    status,
    groupKey: `{}:{alertname="Hostile ${HOSTILE}"}`,
    labels: () => ({ alertname: `Hostile ${HOSTILE}`, team: HOSTILE, severity: 'critical' }),
  });
  notification.alerts[0].annotations = { summary: HOSTILE, description: HOSTILE };
  notification.groupLabels = { alertname: `Hostile ${HOSTILE}` };
  notification.commonLabels = { alertname: `Hostile ${HOSTILE}`, team: HOSTILE, severity: 'critical' };
  notification.commonAnnotations = { summary: HOSTILE };
  return notification;
}

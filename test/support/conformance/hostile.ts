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
  slackHere: '<!here|here>',
  slackUser: '<@U0123ABCD>',
  slackChannel: '<#C0123ABCD>',
  slackGroup: '<!subteam^S0123ABCD>',
  slackLink: '<https://evil.example|click here>',
  mention: '@here',
  everyone: '@everyone',
  markdownLink: '[reset your password](https://evil.example/login)',
  markdownImage: '![x](https://evil.example/x.png)',
  markup: '**bold** _it_ `code` # heading',
  terminalEscape: '\u001b[2J\u001b[31mred',
  osc: '\u001b]0;pwned\u0007\u001b]8;;https://evil.example\u001b\\link\u001b]8;;\u001b\\',
  c1: '\u009b2J',
  rightToLeftOverride: '\u202Eexe.txt',
  isolate: '\u2066x\u2069\u200e',
} as const;

/** Every hostile string, space-separated. */
export const HOSTILE = Object.values(HOSTILE_TEXT).join(' ');

/**
 * URLs on hosts the relay may link to, each carrying an attempt to close the link and open
 * another to ATTACKER_HOST (evil.example) with a mention: what a crafted generatorURL,
 * externalURL or runbook_url looks like.
 */
export const HOSTILE_URLS = {
  generatorURL:
    'https://prometheus.example/graph?g0.expr=up#> <!channel> <https://evil.example/phish|Open the graph',
  externalURL: 'https://alertmanager.example/#/alerts?x=> <!here> <https://evil.example|x>',
  runbookURL: 'https://runbook.example/r?x=<https://evil.example|run>)[y](https://evil.example)',
} as const;

/** One alert whose labels, annotations, URLs, receiver and group carry every hostile string. */
export function hostileNotification(status: 'firing' | 'resolved' = 'firing'): Notification {
  const labels = {
    alertname: `Hostile ${HOSTILE}`,
    team: HOSTILE,
    severity: 'critical',
    instance: `web-0:9100 ${HOSTILE}`,
    [`label_${'x'.repeat(3)}`]: HOSTILE,
  };
  const notification = makeNotification({
    count: 1,
    status,
    groupKey: `{}:{alertname="Hostile ${HOSTILE}"}`,
    labels: () => labels,
  });
  const annotations = {
    summary: HOSTILE,
    description: HOSTILE,
    runbook_url: HOSTILE_URLS.runbookURL,
    dashboard: HOSTILE,
  };
  notification.alerts[0].annotations = annotations;
  notification.alerts[0].generatorURL = HOSTILE_URLS.generatorURL;
  notification.externalURL = HOSTILE_URLS.externalURL;
  notification.receiver = `relay ${HOSTILE}`;
  notification.groupLabels = { alertname: `Hostile ${HOSTILE}` };
  notification.commonLabels = labels;
  notification.commonAnnotations = { summary: HOSTILE, runbook_url: HOSTILE_URLS.runbookURL };
  // Makes the sinks that say so link to externalURL.
  notification.truncatedAlerts = 2;
  return notification;
}

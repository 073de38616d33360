import type { Notification } from '../../../lib/alertmanager/types.ts';
import { safeHttpUrl } from '../../../lib/format/url.ts';
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

/** The host every hostile link points to: no link in a delivery may lead there. */
export const ATTACKER_HOST = 'evil.example';

// C0 except tab and newline, DEL, C1 (ESC starts every terminal sequence), and the bidi controls.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

const BARE_MENTION = /(?:^|[^\p{L}\p{N}_.+-])@(?:channel|here|everyone)\b/iu;

function codePoint(c: string): string {
  return `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

function linkProblem(url: string, untrustedHosts: readonly string[]): string | undefined {
  const safe = safeHttpUrl(url);
  if (safe !== url) return `link to ${url.slice(0, 80)} that is not a checked http(s) URL`;
  if (untrustedHosts.includes(new URL(safe).hostname)) return `link to ${url.slice(0, 80)}`;
  return undefined;
}

/**
 * What a plain-text field (Sentry's message, PagerDuty's summary, Sysdig's description,
 * Opsgenie's message) must not carry from alert content: a control character, an escape
 * sequence or a bidi control. A bare URL shows as itself there, so it can pass no address off
 * as another, and these vendors ping nobody for an `@`: neither is a violation.
 */
export function plainTextViolations(text: string): string[] {
  const found: string[] = [];
  for (const [c] of text.matchAll(new RegExp(CONTROLS, 'gu'))) found.push(`control ${codePoint(c)}`);
  return found;
}

/**
 * What a Markdown field (ilert's details, Teams, Discord) would make of alert content that the
 * relay did not mean: a link or image whose target is not a checked http(s) URL or points to
 * the attacker, an autolink, raw HTML, a bare URL to the attacker (chat apps auto-link it), an
 * unbroken mention, a control or bidi character. The relay's own links (`[text](checked URL)`
 * to a trusted host) are allowed; backslash-escaped characters are text.
 */
export function markdownViolations(
  text: string,
  untrustedHosts: readonly string[] = [ATTACKER_HOST],
): string[] {
  const found = plainTextViolations(text);
  // Escaped characters are text: drop them, and the relay's own links, before looking.
  let rest = text.replace(/\\[\s\S]/g, ' ');
  rest = rest.replace(/!?\[([^\]]*)\]\(([^)\s]*)\)/g, (whole, _label: string, url: string) => {
    const problem = linkProblem(url, untrustedHosts);
    if (problem) found.push(`${whole.startsWith('!') ? 'image' : 'markdown'} ${problem}`);
    return ' ';
  });
  for (const [whole] of rest.matchAll(/\]\(/g)) found.push(`unescaped link opener ${whole}`);
  // Discord's timestamp markup (`<t:1795258800:R>`) is the relay's own: digits only.
  rest = rest.replace(/<t:\d+(?::[tTdDfFR])?>/g, ' ');
  for (const [whole] of rest.matchAll(/<[A-Za-z][A-Za-z0-9+.-]*:[^<>\s]*>?/g))
    found.push(`autolink ${whole.slice(0, 60)}`);
  for (const [whole] of rest.matchAll(/<[A-Za-z!/?][^<>]*>?/g)) found.push(`html ${whole.slice(0, 60)}`);
  for (const [, host] of rest.matchAll(/[A-Za-z][A-Za-z0-9+.-]*:\/\/([^\s/?#<>()[\]\\]+)/g))
    if (untrustedHosts.includes(host.toLowerCase())) found.push(`bare link to ${host}`);
  const mention = BARE_MENTION.exec(text);
  if (mention) found.push(`bare mention ${mention[0].trim()}`);
  return found;
}

/** Every string in a JSON value (keys too), for a check over a vendor body. */
export function jsonStrings(value: unknown): string[] {
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object')
      for (const [key, item] of Object.entries(v)) {
        out.push(key);
        visit(item);
      }
  };
  visit(value);
  return out;
}

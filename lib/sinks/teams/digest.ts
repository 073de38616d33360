import { backfillNote, digestList, digestTime, type StormState } from '../../chat/storm/storm.ts';
import type { DigestTotals } from '../../chat/storm/tally.ts';
import { markdownLink } from '../../format/markdown.ts';
import { type CardElement, card, type TeamsMessage, teamsText } from './card.ts';
import { TEAMS_CARD_BUDGET_BYTES, teamsMessageBytes } from './limits.ts';

/**
 * The storm digest as one Adaptive Card. A Teams workflow cannot edit a card it posted, so each
 * state of the digest is a new card (at most one per digest interval), the latest one wins, and
 * the last is the final summary. Alertnames, severities and group titles are alert content,
 * escaped as Markdown; the only links are the groups' checked generatorURLs.
 */

/** Groups listed by name (newest, or still firing at the end). */
export const TEAMS_DIGEST_LISTED = 10;
const DIGEST_ROWS = 25;
const LINK_CHARS = 500;

const block = (text: string, extra: CardElement = {}): CardElement => ({
  type: 'TextBlock',
  text,
  wrap: true,
  ...extra,
});

/** The digest card for `storm` with `totals`. */
export function teamsDigest(storm: StormState, totals: DigestTotals): TeamsMessage {
  const over = storm.endedAt !== undefined;
  const note = backfillNote(storm, totals, 'card');
  const calm = over && totals.firingGroups === 0;
  const head = over
    ? `✅ Alert storm over: ${totals.groups} groups, ${totals.firingGroups} still firing`
    : `🚨 Alert storm: ${totals.groups} new groups, ${totals.firing} alerts firing`;
  const when = over
    ? `Began ${digestTime(storm.startedAt)}, calm since ${digestTime(storm.endedAt as number)}. This is the storm's final summary.${note ? ` ${note}.` : ''}`
    : `Began ${digestTime(storm.startedAt)}. New groups are counted here instead of getting a card each; a newer digest card replaces this one.`;
  const rows = totals.rows.slice(0, DIGEST_ROWS).map(([alertname, severity, firing, resolved]) => {
    const sev = severity ? ` (${teamsText(severity, 40)})` : '';
    return `- **${teamsText(alertname || 'no alertname', 120)}**${sev}: ${firing} firing, ${resolved} resolved`;
  });
  if (totals.rows.length > DIGEST_ROWS)
    rows.push(`- … and ${totals.rows.length - DIGEST_ROWS} more alertnames`);
  const { heading, groups: listed } = digestList(storm, totals);
  const listHead = `**${heading}**`;
  const groups = listed.map((group: { title: string; link?: string; status?: string }) => {
    const link = markdownLink(group.link, 'graph', LINK_CHARS);
    return `- ${group.status === 'resolved' ? '🟢' : '🔴'} ${teamsText(group.title, 150)}${link ? ` · ${link}` : ''}`;
  });
  const body = (withRows: boolean): CardElement[] => [
    {
      type: 'Container',
      style: calm ? 'good' : 'attention',
      bleed: true,
      items: [block(head, { size: 'Large', weight: 'Bolder', color: calm ? 'Good' : 'Attention' })],
    },
    block(when, { isSubtle: true }),
    ...(withRows && rows.length > 0 ? [block(rows.join('\n'))] : []),
    block(listHead),
    ...(groups.length > 0 ? [block(groups.join('\n'))] : []),
    block(`${totals.firing} firing, ${totals.resolved} resolved alerts in ${totals.groups} groups`, {
      isSubtle: true,
    }),
  ];
  const message = card(body(true));
  // 25 rows and 10 groups of bounded length stay far below the card limit; checked all the same.
  return teamsMessageBytes(message) > TEAMS_CARD_BUDGET_BYTES ? card(body(false)) : message;
}

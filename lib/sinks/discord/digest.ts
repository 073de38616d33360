import { backfillNote, digestList, digestTime, type StormState } from '../../chat/storm/storm.ts';
import type { DigestTotals } from '../../chat/storm/tally.ts';
import { markdownLink } from '../../format/markdown.ts';
import { DISCORD_COLORS, DISCORD_LIMITS, type DiscordMessage, discordTextWithin } from './embeds.ts';

/**
 * The storm digest as one Discord embed: posted once per storm and destination, then edited to
 * its latest counts and, when the storm is calm, to its final summary. Alertnames, severities
 * and group titles are alert content, escaped as Markdown; the only links are the groups'
 * checked generatorURLs.
 */

/** Groups listed by name (newest, or still firing at the end). */
export const DISCORD_DIGEST_LISTED = 10;
const DIGEST_ROWS = 25;
const LINK_CHARS = 500;

/** The digest message for `storm` with `totals`. */
export function discordDigest(storm: StormState, totals: DigestTotals): DiscordMessage {
  const over = storm.endedAt !== undefined;
  const note = backfillNote(storm, totals, 'message');
  const head = over
    ? `✅ **${totals.groups} groups, ${totals.firingGroups} still firing.** Began ${digestTime(storm.startedAt)}, calm since ${digestTime(storm.endedAt as number)}.${note ? ` ${note}.` : ''}`
    : `🚨 **${totals.groups} new groups, ${totals.firing} alerts firing.** Began ${digestTime(storm.startedAt)}. New groups are counted here instead of getting a message each.`;
  const rows = totals.rows.slice(0, DIGEST_ROWS).map(([alertname, severity, firing, resolved]) => {
    const name = discordTextWithin(alertname || 'no alertname', 120);
    const sev = severity ? ` (${discordTextWithin(severity, 40)})` : '';
    return `**${name}**${sev}: ${firing} firing, ${resolved} resolved`;
  });
  if (totals.rows.length > DIGEST_ROWS)
    rows.push(`… and ${totals.rows.length - DIGEST_ROWS} more alertnames`);
  const { heading, groups: listed } = digestList(storm, totals);
  const listHead = `**${heading}**`;
  const groups = listed.map((group: { title: string; link?: string; status?: string }) => {
    const link = markdownLink(group.link, 'graph', LINK_CHARS);
    return `${group.status === 'resolved' ? '🟢' : '🔴'} ${discordTextWithin(group.title, 150)}${link ? ` · ${link}` : ''}`;
  });
  const lines = [head, '', ...rows, '', listHead, ...groups];
  let description = '';
  for (const line of lines) {
    if (description.length + line.length + 1 > DISCORD_LIMITS.description - 2) break;
    description += `${line}\n`;
  }
  return {
    content: '',
    embeds: [
      {
        title: over ? 'Alert storm over' : 'Alert storm',
        description: description.trimEnd(),
        color: over && totals.firingGroups === 0 ? DISCORD_COLORS.resolved : DISCORD_COLORS.firing,
        footer: {
          text: `${totals.firing} firing, ${totals.resolved} resolved alerts in ${totals.groups} groups`,
        },
      },
    ],
    allowed_mentions: { parse: [] },
  };
}

import type { KnownBlock } from '@slack/types';
import { backfillNote, digestList, type StormState } from '../../chat/storm/storm.ts';
import type { DigestTotals } from '../../chat/storm/tally.ts';
import { cutChars } from '../../format/cut.ts';
import { mrkdwn as escapeText, mrkdwnLink } from '../../format/mrkdwn.ts';
import { BLOCK_LIMITS, packLines, type SlackMessage, slackDate } from './blocks.ts';

/**
 * The storm digest as Block Kit: one message per destination while a storm lasts, edited to
 * its latest counts, then to its final summary. Every alert of the storm is in the counts;
 * alertnames, severities and group titles are alert content, escaped as mrkdwn; the only
 * links are the groups' checked generatorURLs.
 */

/** Groups listed by name (newest, or still firing at the end). */
export const DIGEST_LISTED = 10;
/** Rows of the alertname x severity table. */
const DIGEST_ROWS = 25;

const verbatim = (text: string) => ({ type: 'mrkdwn' as const, text, verbatim: true });

/** The digest message for `storm` with `totals`. */
export function digestMessage(storm: StormState, totals: DigestTotals): SlackMessage {
  const over = storm.endedAt !== undefined;
  const note = backfillNote(storm, totals, 'message');
  const head = over
    ? `:white_check_mark: Alert storm over: ${totals.groups} groups, ${totals.firingGroups} still firing`
    : `:rotating_light: Alert storm: ${totals.groups} new groups, ${totals.firing} alerts firing`;
  const when = over
    ? `Began ${slackDate(new Date(storm.startedAt).toISOString())}, calm since ${slackDate(new Date(storm.endedAt as number).toISOString())}${note ? `. ${note}, at the channel's pace.` : ''}`
    : `Began ${slackDate(new Date(storm.startedAt).toISOString())}. New groups are counted here instead of getting a message each.`;
  const rows = totals.rows.slice(0, DIGEST_ROWS).map(([alertname, severity, firing, resolved]) => {
    const name = escapeText(cutChars(alertname || 'no alertname', 120));
    const sev = severity ? ` (${escapeText(cutChars(severity, 40))})` : '';
    return `*${name}*${sev}: ${firing} firing, ${resolved} resolved`;
  });
  if (totals.rows.length > DIGEST_ROWS)
    rows.push(`… and ${totals.rows.length - DIGEST_ROWS} more alertnames`);
  const groupLine = (group: { title: string; link?: string; at: number; status?: string }) => {
    const emoji = group.status === 'resolved' ? ':large_green_circle:' : ':red_circle:';
    const link = mrkdwnLink(group.link, 'graph', BLOCK_LIMITS.url);
    return `${emoji} ${escapeText(cutChars(group.title, 150))}${link ? ` · ${link}` : ''}`;
  };
  const { heading, groups: listed } = digestList(storm, totals);
  const listHead = `*${heading}*`;
  const blocks: KnownBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: cutChars(over ? 'Alert storm over' : 'Alert storm', 150) },
    },
    { type: 'section', text: verbatim(cutChars(head, BLOCK_LIMITS.sectionText)) },
    { type: 'context', elements: [verbatim(cutChars(when, BLOCK_LIMITS.sectionText))] },
    ...packLines(rows).map((text) => ({ type: 'section' as const, text: verbatim(text) })),
    ...packLines([listHead, ...listed.map(groupLine)]).map((text) => ({
      type: 'section' as const,
      text: verbatim(text),
    })),
    {
      type: 'context',
      elements: [
        verbatim(`${totals.firing} firing, ${totals.resolved} resolved alerts in ${totals.groups} groups`),
      ],
    },
  ];
  return { text: head, blocks: blocks.slice(0, BLOCK_LIMITS.blocksPerMessage) };
}

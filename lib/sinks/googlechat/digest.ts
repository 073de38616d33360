import { createHash } from 'node:crypto';
import { backfillNote, digestList, digestTime, type StormState } from '../../chat/storm/storm.ts';
import type { DigestTotals } from '../../chat/storm/tally.ts';
import { cutChars } from '../../format/cut.ts';
import { oversize } from './limits.ts';
import type { ChatMessage } from './message.ts';
import { chatLink, chatText } from './text.ts';

/**
 * The storm digest as a Google Chat text message. An incoming webhook cannot edit what it
 * posted, so each state of the digest is a new message (at most one per digest interval) in a
 * thread of the storm's own, the latest one wins, and the last is the final summary. Alertnames,
 * severities and group titles are alert content, escaped with chatText; the only links are the
 * groups' checked generatorURLs.
 */

/** Groups listed by name (newest, or still firing at the end). */
export const CHAT_DIGEST_LISTED = 10;
const DIGEST_ROWS = 25;

/** The thread every digest message of a storm goes to. */
export function stormThreadKey(destination: string, stormId: string): string {
  const hash = createHash('sha256').update(`${destination}\u0000storm\u0000${stormId}`).digest('hex');
  return `alertmanager-relay-storm-${hash.slice(0, 40)}`;
}

/** Chat's `requestId` of one state of the digest: posting the same state twice returns the first message. */
export function stormRequestId(destination: string, storm: StormState): string {
  const state = `${storm.id}\u0000${storm.revision}\u0000${storm.endedAt ?? 'live'}`;
  const hash = createHash('sha256').update(`${destination}\u0000storm\u0000${state}`).digest('hex');
  return `alertmanager-relay-${hash.slice(0, 40)}`;
}

/**
 * The digest message for `storm` with `totals`, in the storm's thread of `destination`. It is
 * one message within Chat's limits (limits.ts): when the rows and groups would pass them, the
 * last groups, then the last rows, give way to a line that counts them.
 */
export function chatDigest(destination: string, storm: StormState, totals: DigestTotals): ChatMessage {
  const over = storm.endedAt !== undefined;
  const note = backfillNote(storm, totals, 'thread');
  const head = over
    ? `✅ *Alert storm over: ${totals.groups} groups, ${totals.firingGroups} still firing*`
    : `🚨 *Alert storm: ${totals.groups} new groups, ${totals.firing} alerts firing*`;
  const when = over
    ? `Began ${digestTime(storm.startedAt)}, calm since ${digestTime(storm.endedAt as number)}. This is the storm's final summary.${note ? ` ${note}.` : ''}`
    : `Began ${digestTime(storm.startedAt)}. New groups are counted here instead of getting a thread each; a newer digest message in this thread replaces this one.`;
  const rows = totals.rows.slice(0, DIGEST_ROWS).map(([alertname, severity, firing, resolved]) => {
    const sev = severity ? ` (${chatText(cutChars(severity, 40))})` : '';
    return `• *${chatText(cutChars(alertname || 'no alertname', 120))}*${sev}: ${firing} firing, ${resolved} resolved`;
  });
  const { heading, groups: listed } = digestList(storm, totals);
  const listHead = `*${heading}*`;
  const groups = listed.map((group: { title: string; link?: string; status?: string }) => {
    const link = chatLink(group.link, 'graph');
    return `${group.status === 'resolved' ? '🟢' : '🔴'} ${chatText(cutChars(group.title, 150))}${link ? ` · ${link}` : ''}`;
  });
  const thread = { threadKey: stormThreadKey(destination, storm.id) };
  const message = (shownRows: number, shownGroups: number): ChatMessage => {
    const moreRows = totals.rows.length - shownRows;
    const moreGroups = groups.length - shownGroups;
    const text = [
      head,
      when,
      '',
      ...rows.slice(0, shownRows),
      ...(moreRows > 0 ? [`… and ${moreRows} more alertnames`] : []),
      '',
      listHead,
      ...groups.slice(0, shownGroups),
      ...(moreGroups > 0 ? [`… and ${moreGroups} more groups not listed here`] : []),
      '',
      `${totals.firing} firing, ${totals.resolved} resolved alerts in ${totals.groups} groups`,
    ].join('\n');
    return { text, thread };
  };
  let shownRows = rows.length;
  let shownGroups = groups.length;
  while (oversize(message(shownRows, shownGroups)) !== undefined && shownRows + shownGroups > 0) {
    if (shownGroups > 0) shownGroups--;
    else shownRows--;
  }
  return message(shownRows, shownGroups);
}

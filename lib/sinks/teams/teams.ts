import { createHash } from 'node:crypto';
import { ALERTMANAGER_LINKS, type LinkBuilders } from '../../alertmanager/links.ts';
import { PermanentError } from '../../delivery/errors.ts';
import { drain, postJson, statusError, urlSecrets } from '../../delivery/http.ts';
import { type StepJournal, stepJournal } from '../../delivery/journal.ts';
import { awaitSlot } from '../../delivery/pacing.ts';
import type { Delivery, Sink } from '../../delivery/sink.ts';
import { runStorm } from '../../digest/run.ts';
import { seenGroup } from '../../digest/seen.ts';
import { renderDeliveryTemplates, type TemplateSpec } from '../../templates/destination.ts';
import { buildTeamsMessages, type TeamsMessage } from './card.ts';
import {
  DEFAULT_TEAMS_TIMEOUT_SECONDS,
  TEAMS_BURST,
  TEAMS_REQUESTS_PER_MINUTE,
  TEAMS_TEMPLATES,
  type TeamsDestination,
  teamsConfigSchema,
} from './config.ts';
import { TEAMS_DIGEST_LISTED, teamsDigest } from './digest.ts';

export type { TeamsDestination } from './config.ts';

/**
 * Microsoft Teams sink: posts each notification as Adaptive Cards to a Teams workflow started
 * by "When a Teams webhook request is received" (Office 365 connectors, the old incoming
 * webhooks, are retired). A workflow cannot edit or thread what it posted, so a firing
 * notification is one card and its resolve another. Its config: ./config.ts; the cards:
 * ./card.ts.
 *
 * The workflow answers 202 Accepted once the run is queued, before Teams has the card: a
 * card Teams refuses (too large, not a valid card) fails in the workflow's run history, not
 * here. So the cards are kept within Teams' limits and checked by the tests against them.
 * Each card is a step of the delivery's journal: a retry posts only the cards that were not
 * accepted yet.
 */

export interface TeamsSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  links?: LinkBuilders;
  /** Bytes per card (tests of the splitting). */
  maxBytes?: number;
}

export function createTeamsSink(
  options: TeamsSinkOptions = {},
): Sink<TeamsDestination> & { templates: TemplateSpec } {
  // Read at each call: a test's virtual clock replaces Date.now after the sink is made.
  const now = options.now ?? (() => Date.now());
  const links = options.links ?? ALERTMANAGER_LINKS;

  return {
    name: 'teams',
    kind: 'lifecycle',
    configSchema: teamsConfigSchema,
    templates: TEAMS_TEMPLATES,

    async deliver(delivery: Delivery<TeamsDestination>): Promise<void> {
      const { destination, notification, logger } = delivery;
      const secretName = destination.webhookUrlSecret;
      const raw = (await delivery.secrets.get(secretName)).trim();
      const url = workflowUrl(raw, secretName);
      const label = `teams ${url.host}`;
      const timeoutSeconds = destination.timeoutSeconds ?? DEFAULT_TEAMS_TIMEOUT_SECONDS;
      const journal = stepJournal(delivery);

      const pace = {
        burst: TEAMS_BURST,
        intervalMs: Math.ceil(60_000 / (destination.requestsPerMinute ?? TEAMS_REQUESTS_PER_MINUTE)),
      };
      // The workflow's budget, by its URL without the signature (which is the secret).
      const paceKey = `teamspace#${createHash('sha256').update(`${url.origin}${url.pathname}`).digest('hex').slice(0, 40)}`;

      /**
       * Posts one message to the workflow at call `step`'s turn in its budget
       * (lib/delivery/pacing.ts); anything but a 2xx is thrown as the classified error.
       */
      async function postCard(
        message: TeamsMessage,
        steps: StepJournal,
        step: string,
      ): Promise<{ status: number; postedAt: string }> {
        await awaitSlot({
          journal: steps,
          step: `pace:${step}`,
          state: delivery.state,
          key: paceKey,
          pace,
          now,
          what: 'Teams workflow pacing',
        });
        const response = await postJson(url, JSON.stringify(message), {
          label,
          timeoutSeconds,
          fetch: options.fetch,
        });
        if (response.status < 200 || response.status >= 300) {
          throw await statusError(response, {
            label,
            redactions: [raw, ...urlSecrets(url)],
            now: now(),
            redirectHint: `put the workflow's final URL in ${secretName}`,
            permanentHint: (status) =>
              status === 401 || status === 403 || status === 404
                ? `: the workflow was deleted or turned off, or its URL's signature is wrong; put the workflow's current URL in ${secretName}`
                : undefined,
          });
        }
        await drain(response);
        return { status: response.status, postedAt: new Date(now()).toISOString() };
      }

      // In a storm a new group is folded into the destination's digest instead (lib/digest/run.ts).
      // A workflow cannot edit a card: each state of the digest is a new card, the latest wins.
      const { groupId, seen, markSeen } = await seenGroup(delivery, 'teamsgroup', now);
      const storm = await runStorm({
        delivery,
        journal,
        groupId,
        known: seen,
        newMessage: !seen,
        now,
        vendor: 'Teams',
        listed: TEAMS_DIGEST_LISTED,
        publisher: {
          async post(view, steps) {
            const { value } = await steps.once('card', () =>
              postCard(teamsDigest(view.storm, view.totals), steps, 'card'),
            );
            return { postedAt: value.postedAt };
          },
          async show(view, _message, steps) {
            await steps.once('card', () => postCard(teamsDigest(view.storm, view.totals), steps, 'card'));
          },
        },
      });
      if (!storm.own) return;

      const { values, notes } = renderDeliveryTemplates(delivery, TEAMS_TEMPLATES, { now: now() });
      const messages = buildTeamsMessages(notification, {
        links,
        part: delivery.part,
        maxBytes: options.maxBytes,
        templated: { title: values.title, text: values.text, notes },
      });
      let posted = 0;
      for (const [index, message] of messages.entries()) {
        const { ran } = await journal.once(`card:${index + 1}`, () =>
          postCard(message, journal, `card:${index + 1}`),
        );
        if (ran) posted++;
      }
      // Storm mode tells a group it has seen (its later notifications keep their own cards).
      await markSeen();
      logger.info('teams cards delivered', {
        host: url.host,
        status: notification.status,
        cards: messages.length,
        posted,
        attempt: delivery.attempt,
      });
      await storm.after?.();
    },
  };
}

export const teamsSink = createTeamsSink();

/** The workflow's URL from the secret, checked; errors name the secret, never its value. */
function workflowUrl(raw: string, secretName: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PermanentError(`teams: the secret ${secretName} does not hold a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PermanentError(`teams: the URL in ${secretName} is not http(s)`);
  }
  if (url.username || url.password) {
    throw new PermanentError(`teams: the URL in ${secretName} must not contain credentials`);
  }
  return url;
}

import { createHash } from 'node:crypto';
import { ALERTMANAGER_LINKS, type LinkBuilders } from '../../alertmanager/links.ts';
import type { ChatAdapter } from '../../chat/adapter.ts';
import { chatSink } from '../../chat/stage.ts';
import { drain, postJson, statusError, urlSecrets } from '../../delivery/http.ts';
import type { Sink } from '../../delivery/sink.ts';
import { checkedHttpUrl } from '../../delivery/vendor-url.ts';
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
 * webhooks, are retired). A workflow can neither edit, thread nor delete what it posted, so the
 * chat stage (lib/chat/stage.ts) posts a firing notification as its cards and its resolve as
 * others, each card a step of the delivery's journal at its turn in the workflow's budget. Its
 * config: ./config.ts; the cards: ./card.ts.
 *
 * The workflow answers 202 Accepted once the run is queued, before Teams has the card: a
 * card Teams refuses (too large, not a valid card) fails in the workflow's run history, not
 * here. So the cards are kept within Teams' limits (./limits.ts) and checked by the tests
 * against them and against Microsoft's own Adaptive Cards parser.
 */

export interface TeamsSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  links?: LinkBuilders;
  /** Bytes per card (tests of the splitting). */
  maxBytes?: number;
}

/** The Teams adapter of the chat stage. */
export function teamsAdapter(options: TeamsSinkOptions = {}): ChatAdapter<TeamsDestination, TeamsMessage> {
  const now = options.now ?? (() => Date.now());
  const links = options.links ?? ALERTMANAGER_LINKS;
  return {
    name: 'teams',
    vendor: 'Teams',
    configSchema: teamsConfigSchema,
    templates: TEAMS_TEMPLATES,
    can: { edit: false, remove: false, thread: false },
    groupRecord: 'teamsgroup',
    digestListed: TEAMS_DIGEST_LISTED,
    preview: {
      secret: (_field, token) =>
        `https://workflow.invalid/workflows/preview/triggers/manual/paths/invoke?sig=${token}`,
      answer: () => ({ status: 202, body: '' }),
    },

    async connect(delivery) {
      const { destination } = delivery;
      const secretName = destination.webhookUrlSecret;
      const raw = (await delivery.secrets.get(secretName)).trim();
      const url = workflowUrl(raw, secretName);
      const label = `teams ${url.host}`;
      const timeoutSeconds = destination.timeoutSeconds ?? DEFAULT_TEAMS_TIMEOUT_SECONDS;
      const perMinute = destination.requestsPerMinute ?? TEAMS_REQUESTS_PER_MINUTE;
      // The workflow's budget, by its URL without the signature (which is the secret).
      const workflow = createHash('sha256').update(`${url.origin}${url.pathname}`).digest('hex').slice(0, 40);
      return {
        budget: {
          key: `teamspace#${workflow}`,
          pace: { burst: TEAMS_BURST, intervalMs: Math.ceil(60_000 / perMinute) },
          what: 'Teams workflow pacing',
        },
        label,
        async post(message) {
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
          return {};
        },
      };
    },

    render: ({ notification, part, templated }) =>
      buildTeamsMessages(notification, {
        links,
        part,
        maxBytes: options.maxBytes,
        templated,
      }),

    digest: (view) => teamsDigest(view.storm, view.totals),
  };
}

export function createTeamsSink(options: TeamsSinkOptions = {}): Sink<TeamsDestination> {
  return chatSink(teamsAdapter(options), { now: options.now });
}

export const teamsSink = createTeamsSink();

/** The workflow's URL from the secret, checked; errors name the secret, never its value. */
function workflowUrl(raw: string, secretName: string): URL {
  return checkedHttpUrl(raw, `teams: the URL in secret ${secretName}`);
}

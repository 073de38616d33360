import { createHash } from 'node:crypto';
import { ALERTMANAGER_LINKS, type LinkBuilders } from '../../alertmanager/links.ts';
import type { ChatAdapter } from '../../chat/adapter.ts';
import { chatSink } from '../../chat/stage.ts';
import { PermanentError } from '../../delivery/errors.ts';
import { drain, joinUrl, RELAY_USER_AGENT, statusError, vendorFetch } from '../../delivery/http.ts';
import type { Sink } from '../../delivery/sink.ts';
import {
  DEFAULT_MATTERMOST_TIMEOUT_SECONDS,
  MATTERMOST_BURST,
  MATTERMOST_PER_MINUTE,
  MATTERMOST_TEMPLATES,
  type MattermostDestination,
  mattermostConfigSchema,
} from './config.ts';
import { MATTERMOST_DIGEST_LISTED, type MattermostPost, mattermostDigest, renderPosts } from './render.ts';

export type { MattermostDestination } from './config.ts';

/**
 * Mattermost sink: one post per alert group in a channel, by a bot's access token, edited as the
 * group changes; a group too big for one post continues in replies in its thread. The chat stage
 * (lib/chat/stage.ts) does the rest. The calls (REST API v4, server/channels/api4/post.go):
 * `POST /api/v4/posts` (201; a `root_id` that is no root post of the channel is 400
 * `api.post.create_post.root_id.app_error`); `PUT /api/v4/posts/{id}/patch` (only the fields
 * sent; `PUT /posts/{id}` blanks the others and wants `id` in the body), where a deleted post is
 * a 403 (its look-up fails as a permission error), so a 403 is checked with `GET
 * /api/v4/posts/{id}`: 404 means gone; `DELETE /api/v4/posts/{id}` (404 when deleted). Errors are
 * JSON `{id, message, detailed_error, request_id, status_code}`; a 429 carries `Retry-After` and
 * `X-RateLimit-Reset`, whole seconds (app/ratelimit.go).
 */
export interface MattermostSinkOptions {
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  links?: LinkBuilders;
  /** Runes per message (tests of the splitting). */
  maxRunes?: number;
}

const ROOT_GONE = /^api\.post\.create_post\.(channel_)?root_id\.app_error$/;
// Past the server's PostEditTimeLimit a post cannot be edited any more: the group gets a new one.
const EDIT_TIME_LIMIT = 'api.post.update_post.permissions_time_limit.app_error';

type Failure = { statusCode?: number; mattermostId?: string } | null;
const statusOf = (error: unknown) => (error as Failure)?.statusCode;
const idOf = (error: unknown) => (error as Failure)?.mattermostId ?? '';

/** `field` of a JSON body when it matches `pattern`. */
function jsonField(text: string, field: string, pattern: RegExp): string | undefined {
  try {
    const value = (JSON.parse(text) as Record<string, unknown>)[field];
    return typeof value === 'string' && pattern.test(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Calls `method path` of the destination's server; a non-2xx is thrown, classified, with Mattermost's error id. */
function caller(token: string, destination: MattermostDestination, options: MattermostSinkOptions) {
  const base = new URL(destination.baseUrl);
  const label = `mattermost ${base.host}`;
  const { tokenSecret: secret, channelId } = destination;
  const hints: Record<number, string> = {
    401: `: the token in ${secret} is wrong, expired or revoked; put a bot access token in ${secret}`,
    403: `: the bot may not post in channel ${channelId}: check channelId, add the bot to it, check ${secret}`,
    404: `: no channel ${channelId}, or no Mattermost API at ${base.host}; check channelId and baseUrl`,
  };
  const timeoutSeconds = destination.timeoutSeconds ?? DEFAULT_MATTERMOST_TIMEOUT_SECONDS;
  const headers = {
    authorization: `Bearer ${token}`,
    accept: 'application/json',
    'user-agent': RELAY_USER_AGENT,
  };
  return async (method: string, path: string, body?: unknown): Promise<string> => {
    const request =
      body === undefined
        ? { method, headers }
        : { method, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) };
    const response = await vendorFetch(joinUrl(base, `api/v4/${path}`), request, {
      label,
      timeoutSeconds,
      fetch: options.fetch,
    });
    if (response.ok) return drain(response);
    const id = jsonField(await response.clone().text(), 'id', /^[a-z0-9_.]{1,120}$/);
    // X-RateLimit-Reset (when the budget is full again) is the wait only without a Retry-After.
    const reset = Number.parseInt(response.headers.get('x-ratelimit-reset') ?? '', 10);
    const vendorSeconds = response.headers.has('retry-after') ? {} : { vendorSeconds: reset };
    const error = await statusError(response, {
      label,
      redactions: [token],
      now: (options.now ?? Date.now)(),
      redirectHint: `set baseUrl to the server's own address (its Site URL)`,
      ...(response.status === 429 && reset >= 0
        ? { rateLimit: { minSeconds: 1, defaultSeconds: 1, ...vendorSeconds } }
        : {}),
      permanentHint: (status) => hints[status],
    });
    throw Object.assign(error, id === undefined ? {} : { mattermostId: id });
  };
}

/** The Mattermost adapter of the chat stage. */
export function mattermostAdapter(
  options: MattermostSinkOptions = {},
): ChatAdapter<MattermostDestination, MattermostPost> {
  const links = options.links ?? ALERTMANAGER_LINKS;
  return {
    name: 'mattermost',
    vendor: 'Mattermost',
    configSchema: mattermostConfigSchema,
    templates: MATTERMOST_TEMPLATES,
    can: { edit: true, remove: true, thread: true },
    groupRecord: 'mattermostgroup',
    digestListed: MATTERMOST_DIGEST_LISTED,
    preview: {
      answer: (_url, method) =>
        method === 'POST'
          ? { status: 201, body: { id: 'p'.repeat(26) } }
          : { status: 200, body: { status: 'OK' } },
    },

    async connect(delivery) {
      const { destination } = delivery;
      const token = (await delivery.secrets.get(destination.tokenSecret)).trim();
      if (!/^[\x21-\x7e]+$/.test(token))
        throw new PermanentError(
          `mattermost: the secret ${destination.tokenSecret} does not hold an access token`,
        );
      const call = caller(token, destination, options);
      const { channelId } = destination;
      const create = async ({ message, props }: MattermostPost, root?: string) => {
        const answer = await call('POST', 'posts', { channel_id: channelId, message, props, root_id: root });
        return jsonField(answer, 'id', /^[a-z0-9]{26}$/);
      };
      const server = destination.baseUrl.replace(/\/+$/, '');
      const hash = createHash('sha256').update(`${server} ${channelId}`).digest('hex').slice(0, 32);
      const perMinute = destination.requestsPerMinute ?? MATTERMOST_PER_MINUTE;
      return {
        budget: {
          key: `mattermostpace#${hash}`,
          pace: { burst: MATTERMOST_BURST, intervalMs: Math.ceil(60_000 / perMinute) },
          what: 'Mattermost channel pacing',
        },
        label: `mattermost ${new URL(server).host} channel ${channelId}`,
        async post(message, { thread }) {
          // A thread whose first post was deleted is gone: this post starts the group's thread anew.
          const id = await create(message, thread).catch((error: unknown) => {
            if (thread && ROOT_GONE.test(idOf(error))) return create(message);
            throw error;
          });
          return id ? { id } : {};
        },
        async edit(id, { message, props }) {
          try {
            await call('PUT', `posts/${id}/patch`, { message, props });
            return 'edited';
          } catch (error) {
            if (statusOf(error) === 404 || idOf(error) === EDIT_TIME_LIMIT) return 'gone';
            if (statusOf(error) !== 403) throw error;
            const found = await call('GET', `posts/${id}`).then(
              () => true,
              (lookup: unknown) => (statusOf(lookup) === 404 ? false : Promise.reject(lookup)),
            );
            if (found) throw error;
            return 'gone';
          }
        },
        async remove(id) {
          await call('DELETE', `posts/${id}`).catch((error: unknown) => {
            if (statusOf(error) !== 404) throw error;
            return '';
          });
        },
      };
    },

    render: ({ notification, part, templated }) =>
      renderPosts(notification, {
        links,
        part,
        maxRunes: options.maxRunes,
        templated,
      }),
    digest: (view) => mattermostDigest(view.storm, view.totals),
  };
}

export function createMattermostSink(options: MattermostSinkOptions = {}): Sink<MattermostDestination> {
  return chatSink(mattermostAdapter(options), { now: options.now });
}

export const mattermostSink = createMattermostSink();

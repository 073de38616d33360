import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake Mattermost that enforces the part of REST API v4 the Mattermost sink relies on, as the
 * server does it (server/channels/api4/post.go, app/post.go, model/post.go, app/ratelimit.go):
 *
 * - every call needs `Authorization: Bearer <token>` of a known bot: otherwise 401
 *   `api.context.session_expired.app_error`;
 * - `POST /api/v4/posts` {channel_id, message, props?, root_id?}: 201 and the post. A channel the
 *   bot is not a member of (or that does not exist) is 403 `api.context.permissions.app_error`;
 *   a body that is not JSON, without `channel_id` or `message` (the API reference's required
 *   fields; the server itself reads a missing message as empty) is 400
 *   `api.context.invalid_body_param.app_error`; a `message` over 16,383 runes (code points) is
 *   400 `model.post.is_valid.message_length.app_error`; `props` over 800,000 runes of JSON is 400
 *   `model.post.is_valid.props.app_error`; a `root_id` that is not a post, is deleted, or is
 *   itself a reply is 400 `api.post.create_post.root_id.app_error`, one in another channel 400
 *   `api.post.create_post.channel_root_id.app_error`;
 * - `PUT /api/v4/posts/{id}/patch` {message?, props?}: 200 and the post; a post that does not
 *   exist or was deleted is 403 `api.context.permissions.app_error` (the server fails its look-up
 *   as a permission error); past `editTimeLimitMs` a new message is 400
 *   `api.post.update_post.permissions_time_limit.app_error`;
 * - `GET /api/v4/posts/{id}`: 200, or 404 `app.post.get.app_error` for a deleted one;
 * - `DELETE /api/v4/posts/{id}`: 200 `{status: "OK"}` (a root post takes its replies with it),
 *   404 for a deleted one;
 * - any other route is 404 `api.context.404.app_error`;
 * - with `rateLimit`, at most `limit` requests per `windowMs`: then 429 `limit exceeded` (text)
 *   with `Retry-After` and `X-RateLimit-Reset` (whole seconds, rounded up), and the
 *   `X-RateLimit-*` headers on every answer.
 *
 * Message attachments are checked as the server's model does (a `color` of good, warning,
 * danger or #rrggbb), and refused with 400 where the server only logs a warning.
 * Errors are JSON `{id, message, detailed_error, request_id, status_code}`.
 */

export interface FakeMattermostPost {
  id: string;
  channelId: string;
  rootId: string;
  userId: string;
  message: string;
  props: { attachments?: { color?: string; text?: string; fallback?: string; footer?: string }[] };
  createAt: number;
  deleted: boolean;
  /** Earlier versions (before each patch), oldest first. */
  edits: { message: string; props: FakeMattermostPost['props'] }[];
}

export interface FakeMattermost extends FakeServer {
  /** Posts in creation order (deleted ones too, marked). */
  readonly posts: FakeMattermostPost[];
  /** Posts still in the channel: roots and replies. */
  visible(): FakeMattermostPost[];
  /** Visible root posts (a channel's timeline without its threads). */
  roots(): FakeMattermostPost[];
  /** Visible replies in the thread of `rootId`. */
  replies(rootId: string): FakeMattermostPost[];
  /** A person deletes a post (a root takes its replies with it). */
  deletePost(id: string): void;
  /** An admin removes the bot from a channel. */
  removeFromChannel(channelId: string): void;
  readonly rateLimited: number;
}

export interface FakeMattermostOptions {
  /** Access tokens of bots, by token. */
  bots: Record<string, { userId: string }>;
  /** Channels and the user ids that are members. */
  channels: Record<string, { members: string[] }>;
  rateLimit?: { limit: number; windowMs: number };
  /** The server's PostEditTimeLimit (default -1: no limit). */
  editTimeLimitMs?: number;
  now?: () => number;
}

export const MATTERMOST_FAKE_LIMITS = { messageRunes: 16_383, propsRunes: 800_000 };

const runes = (text: string) => Array.from(text).length;
const COLOR = /^(good|warning|danger|#[0-9a-fA-F]{6})$/;

/** Why the server would refuse `props` (attachments that its model calls invalid), or undefined. */
export function mattermostPropsViolation(props: unknown): string | undefined {
  if (props === undefined) return undefined;
  if (!props || typeof props !== 'object' || Array.isArray(props)) return 'props: not an object';
  if (runes(JSON.stringify(props)) > MATTERMOST_FAKE_LIMITS.propsRunes) return 'props: too long';
  const { attachments } = props as { attachments?: unknown };
  if (attachments === undefined) return undefined;
  if (!Array.isArray(attachments)) return 'props.attachments: not an array';
  for (const [i, a] of (attachments as Record<string, unknown>[]).entries()) {
    if (!a || typeof a !== 'object') return `attachments[${i}]: not an object`;
    if (a.color !== undefined && !COLOR.test(String(a.color)))
      return `attachments[${i}].color: invalid style`;
    for (const key of ['fallback', 'text', 'footer', 'title', 'pretext'])
      if (a[key] !== undefined && typeof a[key] !== 'string') return `attachments[${i}].${key}: not a string`;
  }
  return undefined;
}

export async function startFakeMattermost(options: FakeMattermostOptions): Promise<FakeMattermost> {
  const posts: FakeMattermostPost[] = [];
  const clock = options.now ?? Date.now;
  const members = new Map(Object.entries(options.channels).map(([id, c]) => [id, new Set(c.members)]));
  const window: number[] = [];
  let rateLimited = 0;
  let next = 0;
  const newId = () => `p${(++next).toString(36).padStart(25, '0')}`;

  const appError = (status: number, id: string, message: string): FakeAnswer => ({
    status,
    body: { id, message, detailed_error: '', request_id: newId(), status_code: status },
  });
  const forbidden = () =>
    appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
  const badBody = () =>
    appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing post in request body.');
  const view = (p: FakeMattermostPost) => ({
    id: p.id,
    create_at: p.createAt,
    update_at: clock(),
    edit_at: p.edits.length > 0 ? clock() : 0,
    delete_at: 0,
    user_id: p.userId,
    channel_id: p.channelId,
    root_id: p.rootId,
    message: p.message,
    type: '',
    props: p.props,
  });
  const live = (id: string) => posts.find((p) => p.id === id && !p.deleted);
  const remove = (post: FakeMattermostPost) => {
    post.deleted = true;
    for (const reply of posts) if (reply.rootId === post.id) reply.deleted = true;
  };

  /** The rate limit's headers; a 429 when over it. */
  function limit(): { headers: Record<string, string>; refused?: FakeAnswer } {
    if (!options.rateLimit) return { headers: {} };
    const { limit: max, windowMs } = options.rateLimit;
    const t = clock();
    while (window.length > 0 && window[0] <= t - windowMs) window.shift();
    const reset = window.length > 0 ? Math.ceil((window[window.length - 1] + windowMs - t) / 1000) : 0;
    const headers = {
      'x-ratelimit-limit': String(max),
      'x-ratelimit-remaining': String(Math.max(0, max - window.length - 1)),
      'x-ratelimit-reset': String(reset),
    };
    if (window.length < max) {
      window.push(t);
      return { headers };
    }
    rateLimited++;
    const retry = Math.max(1, Math.ceil((window[0] + windowMs - t) / 1000));
    return {
      headers,
      refused: {
        status: 429,
        headers: {
          ...headers,
          'x-ratelimit-remaining': '0',
          'retry-after': String(retry),
          'content-type': 'text/plain; charset=utf-8',
        },
        body: 'limit exceeded\n',
      },
    };
  }

  /** A message the server's model refuses, or undefined. */
  function invalid(message: unknown, props: unknown): FakeAnswer | undefined {
    if (message !== undefined && typeof message !== 'string') return badBody();
    if (typeof message === 'string' && runes(message) > MATTERMOST_FAKE_LIMITS.messageRunes)
      return appError(
        400,
        'model.post.is_valid.message_length.app_error',
        'Post Message property is longer than the maximum permitted length.',
      );
    const violation = mattermostPropsViolation(props);
    return violation
      ? appError(400, 'model.post.is_valid.props.app_error', `Invalid props: ${violation}`)
      : undefined;
  }

  /** Mattermost's refusal of `request`, or its effect (run only when no scripted answer replaces it). */
  function handle(request: FakeRequest): FakeAnswer | (() => FakeAnswer) {
    const { headers, refused } = limit();
    if (refused) return refused;
    const answer = (a: FakeAnswer): FakeAnswer =>
      'status' in a ? { ...a, headers: { ...headers, ...a.headers } } : a;
    const token = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const bot = token ? options.bots[token] : undefined;
    if (!bot)
      return answer(
        appError(
          401,
          'api.context.session_expired.app_error',
          'Invalid or expired session, please login again.',
        ),
      );
    const canPost = (channelId: string) => members.get(channelId)?.has(bot.userId) === true;
    const body = request.body as Record<string, unknown> | undefined;
    const json =
      (request.headers['content-type'] ?? '').startsWith('application/json') &&
      body &&
      typeof body === 'object';

    if (request.method === 'POST' && request.path === '/api/v4/posts') {
      if (!json || typeof body.channel_id !== 'string' || typeof body.message !== 'string')
        return answer(badBody());
      if (!canPost(body.channel_id)) return answer(forbidden());
      const refusal = invalid(body.message, body.props);
      if (refusal) return answer(refusal);
      const rootId = typeof body.root_id === 'string' ? body.root_id : '';
      if (rootId !== '') {
        const root = live(rootId);
        if (root?.rootId !== '')
          return answer(appError(400, 'api.post.create_post.root_id.app_error', 'Invalid RootId parameter.'));
        if (root.channelId !== body.channel_id)
          return answer(
            appError(
              400,
              'api.post.create_post.channel_root_id.app_error',
              'Invalid ChannelId for RootId parameter.',
            ),
          );
      }
      const { channel_id: channelId, message } = body;
      return () => {
        const post: FakeMattermostPost = {
          id: newId(),
          ...{ channelId, rootId, userId: bot.userId, message, createAt: clock(), deleted: false, edits: [] },
          props: (body.props ?? {}) as FakeMattermostPost['props'],
        };
        posts.push(post);
        return answer({ status: 201, body: view(post) });
      };
    }

    const match = /^\/api\/v4\/posts\/([a-z0-9]{26})(\/patch)?$/.exec(request.path);
    if (!match)
      return answer(appError(404, 'api.context.404.app_error', 'Sorry, we could not find the page.'));
    const [, id, patch] = match;
    const post = live(id);
    if (patch && request.method === 'PUT') {
      if (!post || !canPost(post.channelId) || post.userId !== bot.userId) return answer(forbidden());
      if (!json) return answer(badBody());
      const refusal = invalid(body.message, body.props);
      if (refusal) return answer(refusal);
      const late = options.editTimeLimitMs !== undefined && clock() > post.createAt + options.editTimeLimitMs;
      if (late && body.message !== undefined)
        return answer(
          appError(
            400,
            'api.post.update_post.permissions_time_limit.app_error',
            'Post edit time limit exceeded.',
          ),
        );
      return () => {
        post.edits.push({ message: post.message, props: post.props });
        if (typeof body.message === 'string') post.message = body.message;
        if (body.props !== undefined) post.props = body.props as FakeMattermostPost['props'];
        return answer({ status: 200, body: view(post) });
      };
    }
    if (!patch && (request.method === 'GET' || request.method === 'DELETE')) {
      if (!post) return answer(appError(404, 'app.post.get.app_error', 'Unable to get the post.'));
      if (!canPost(post.channelId)) return answer(forbidden());
      if (request.method === 'GET') return () => answer({ status: 200, body: view(post) });
      return () => {
        remove(post);
        return answer({ status: 200, body: { status: 'OK' } });
      };
    }
    return answer(appError(405, 'api.context.405.app_error', 'Method not allowed.'));
  }

  // A scripted answer (respondWith) stands in for a valid request's effect; Mattermost's own
  // refusals win over the script, as a real 400 would.
  const effects = new WeakMap<FakeRequest, () => FakeAnswer>();
  const server = await startFakeServer({
    handle: (request) => {
      const decided = handle(request);
      if (typeof decided !== 'function') return decided;
      effects.set(request, decided);
      return undefined;
    },
    fallback: (request) => effects.get(request)?.() ?? { status: 500 },
  });
  const fake = Object.assign(server, {
    posts,
    visible: () => posts.filter((p) => !p.deleted),
    roots: () => posts.filter((p) => !p.deleted && p.rootId === ''),
    replies: (rootId: string) => posts.filter((p) => !p.deleted && p.rootId === rootId),
    deletePost: (id: string) => {
      const found = posts.find((p) => p.id === id);
      if (found) remove(found);
    },
    removeFromChannel: (channelId: string) => {
      members.set(channelId, new Set());
    },
  });
  Object.defineProperty(fake, 'rateLimited', { get: () => rateLimited });
  return fake as FakeMattermost;
}

import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake Google Chat incoming webhook (spaces.messages.create with the webhook's key and
 * token, https://developers.google.com/workspace/chat/api/reference/rest/v1/spaces.messages/create)
 * that enforces the documented contract: POST to /v1/spaces/<space>/messages, the webhook's
 * `key` and `token` in the query, a JSON body with `text` or `cardsV2`, at most 32,000 bytes,
 * a thread key of at most 4,000 characters, a known messageReplyOption. And what Chat does but
 * does not document: a `text` over 4,096 characters (counted in UTF-16 code units, as
 * lib/sinks/googlechat/limits.ts explains) is refused with 400 INVALID_ARGUMENT "Message is
 * longer than 4096 characters", the answer quoted in the mr-karan/calert issue 17 thread. A
 * refusal is Google's error shape `{error: {code, message, status}}` (google.rpc.Status as
 * JSON, Google's API design guide, "Errors": 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED,
 * 404 NOT_FOUND); over 60 writes in 60 seconds in a space, 429 RESOURCE_EXHAUSTED.
 *
 * It records the effect as Chat shows it: messages in threads. With
 * REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD (or REPLY_MESSAGE_OR_FAIL) a message replies into the
 * thread its thread key names (starting it if new); without an option, Chat ignores the key
 * and every message starts a thread. A `requestId` seen before returns the message it made.
 */

export const CHAT_MAX_MESSAGE_BYTES = 32_000;
/** Chat's limit on `text`, in UTF-16 code units (`String.length`). */
export const CHAT_MAX_TEXT_CHARS = 4_096;
export const CHAT_MAX_THREAD_KEY_CHARS = 4_000;
export const CHAT_SPACE_WRITES_PER_MINUTE = 60;

export interface FakeChatWebhook {
  space: string;
  key: string;
  token: string;
}

export interface FakeChatMessage {
  /** `spaces/<space>/messages/<n>` */
  name: string;
  space: string;
  /** `spaces/<space>/threads/<n>` */
  thread: string;
  threadKey?: string;
  text?: string;
  cardsV2?: unknown;
  /** When it was posted (epoch ms, the fake's clock). */
  postedAt: number;
}

export interface FakeGoogleChat extends FakeServer {
  /** The webhook URL of a space, as Chat shows it. */
  webhookUrl(webhook: FakeChatWebhook): string;
  /** Every message posted, in order. */
  readonly messages: readonly FakeChatMessage[];
  /** The messages of a thread, in order. */
  thread(name: string): FakeChatMessage[];
  /**
   * Chat's quota: once `after` more valid writes were accepted, answer the next `times` valid
   * writes with 429 RESOURCE_EXHAUSTED (not posted).
   */
  rateLimit(options: { after: number; times: number }): void;
}

const REPLY_OPTIONS = new Set([
  'MESSAGE_REPLY_OPTION_UNSPECIFIED',
  'REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD',
  'REPLY_MESSAGE_OR_FAIL',
]);

export async function startFakeGoogleChat(options: {
  webhooks: readonly FakeChatWebhook[];
  /** The space's write quota (default 60 per rolling 60 s). */
  writesPerMinute?: number;
  /** Epoch ms, for the quota's window. Default Date.now. */
  now?: () => number;
}): Promise<FakeGoogleChat> {
  const now = options.now ?? Date.now;
  const quota = options.writesPerMinute ?? CHAT_SPACE_WRITES_PER_MINUTE;
  const messages: FakeChatMessage[] = [];
  const threads = new Map<string, string>();
  const byRequestId = new Map<string, FakeChatMessage>();
  const writes = new Map<string, number[]>();
  let threadCount = 0;
  let throttle: { after: number; times: number } | undefined;

  const server = await startFakeServer({
    handle: (request) => {
      const refused = validate(request, options.webhooks);
      if (refused) return refused;
      const space = spaceOf(request);
      const repeat = byRequestId.get(`${space}#${request.query.get('requestId')}`);
      if (repeat) return { status: 200, body: resource(repeat) };
      if (throttle) {
        if (throttle.after > 0) throttle.after--;
        else {
          if (--throttle.times <= 0) throttle = undefined;
          return exhausted();
        }
      }
      const recent = (writes.get(space) ?? []).filter((at) => at > now() - 60_000);
      if (recent.length >= quota) return exhausted();
      writes.set(space, [...recent, now()]);
      return undefined;
    },
    fallback: (request) => post(request),
  });

  function post(request: FakeRequest): FakeAnswer {
    const space = spaceOf(request);
    const body = request.body as { text?: string; cardsV2?: unknown; thread?: { threadKey?: string } };
    const threadKey = body.thread?.threadKey ?? request.query.get('threadKey') ?? undefined;
    const option = request.query.get('messageReplyOption') ?? 'MESSAGE_REPLY_OPTION_UNSPECIFIED';
    const replies = option !== 'MESSAGE_REPLY_OPTION_UNSPECIFIED' && threadKey !== undefined;
    const known = replies ? threads.get(`${space}#${threadKey}`) : undefined;
    const thread = known ?? `spaces/${space}/threads/${++threadCount}`;
    if (replies && !known) threads.set(`${space}#${threadKey}`, thread);
    const message: FakeChatMessage = {
      name: `spaces/${space}/messages/${messages.length + 1}`,
      space,
      thread,
      ...(threadKey !== undefined ? { threadKey } : {}),
      ...(body.text !== undefined ? { text: body.text } : {}),
      ...(body.cardsV2 !== undefined ? { cardsV2: body.cardsV2 } : {}),
      postedAt: now(),
    };
    messages.push(message);
    const requestId = request.query.get('requestId');
    if (requestId) byRequestId.set(`${space}#${requestId}`, message);
    return { status: 200, body: resource(message) };
  }

  return Object.assign(server, {
    messages,
    webhookUrl: (webhook: FakeChatWebhook) =>
      `${server.url}/v1/spaces/${webhook.space}/messages?key=${encodeURIComponent(webhook.key)}&token=${encodeURIComponent(webhook.token)}`,
    thread: (name: string) => messages.filter((m) => m.thread === name),
    rateLimit: (limit: { after: number; times: number }) => {
      throttle = { ...limit };
    },
  });
}

function resource(message: FakeChatMessage): Record<string, unknown> {
  return {
    name: message.name,
    sender: { name: 'users/114022495153014004089', displayName: 'alertmanager', type: 'BOT' },
    text: message.text ?? '',
    thread: { name: message.thread, ...(message.threadKey ? { threadKey: message.threadKey } : {}) },
    space: { name: `spaces/${message.space}`, type: 'ROOM' },
    createTime: new Date().toISOString(),
  };
}

function googleError(status: number, code: string, message: string): FakeAnswer {
  return { status, body: { error: { code: status, message, status: code } } };
}

function exhausted(): FakeAnswer {
  return googleError(
    429,
    'RESOURCE_EXHAUSTED',
    "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per space'",
  );
}

function spaceOf(request: FakeRequest): string {
  return /^\/v1\/spaces\/([^/]+)\/messages$/.exec(request.path)?.[1] ?? '';
}

function validate(request: FakeRequest, webhooks: readonly FakeChatWebhook[]): FakeAnswer | undefined {
  const space = spaceOf(request);
  if (!space) return googleError(404, 'NOT_FOUND', 'Requested entity was not found.');
  if (request.method !== 'POST') return googleError(405, 'METHOD_NOT_ALLOWED', 'Method not allowed.');
  const inSpace = webhooks.filter((w) => w.space === space);
  if (inSpace.length === 0) return googleError(404, 'NOT_FOUND', 'Requested entity was not found.');
  const key = request.query.get('key');
  if (!key || !inSpace.some((w) => w.key === key))
    return googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.');
  if (!inSpace.some((w) => w.key === key && w.token === request.query.get('token')))
    return googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
  if (!(request.headers['content-type'] ?? '').startsWith('application/json'))
    return googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
  if (request.rawBody.byteLength > CHAT_MAX_MESSAGE_BYTES)
    return googleError(400, 'INVALID_ARGUMENT', 'Message is too large.');
  const body = request.body as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
  const text = body.text;
  if (text !== undefined && typeof text !== 'string')
    return googleError(400, 'INVALID_ARGUMENT', "Invalid value at 'message.text'");
  if (typeof text === 'string' && text.length > CHAT_MAX_TEXT_CHARS)
    return googleError(400, 'INVALID_ARGUMENT', `Message is longer than ${CHAT_MAX_TEXT_CHARS} characters`);
  if ((typeof text !== 'string' || text.trim() === '') && !Array.isArray(body.cardsV2))
    return googleError(
      400,
      'INVALID_ARGUMENT',
      'Message cannot be empty. Discarding empty create message request.',
    );
  const threadKey = (body.thread as { threadKey?: unknown } | undefined)?.threadKey;
  if (
    threadKey !== undefined &&
    (typeof threadKey !== 'string' || threadKey.length > CHAT_MAX_THREAD_KEY_CHARS)
  )
    return googleError(400, 'INVALID_ARGUMENT', "Invalid value at 'message.thread.thread_key'");
  const option = request.query.get('messageReplyOption');
  if (option !== null && !REPLY_OPTIONS.has(option))
    return googleError(400, 'INVALID_ARGUMENT', "Invalid value at 'message_reply_option'");
  return undefined;
}

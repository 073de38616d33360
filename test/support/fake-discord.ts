import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake Discord that enforces the webhook contract the Discord sink relies on, from
 * https://discord.com/developers/docs/resources/webhook (execute, edit and delete webhook
 * message), https://discord.com/developers/docs/resources/message#embed-object-embed-limits
 * and https://discord.com/developers/docs/topics/rate-limits:
 *
 * - the webhook's id and token are the path (`/api/webhooks/{id}/{token}`): an unknown id is
 *   404 `{code: 10015, message: "Unknown Webhook"}`, a wrong token 401 `{code: 50027}`;
 * - `POST` executes: 204 without `?wait=true`, 200 with the created message (its `id`) with it;
 *   `PATCH .../messages/{id}` edits and answers the message; `DELETE` answers 204; a message
 *   this webhook did not post (or that was deleted) is 404 `{code: 10008, message: "Unknown Message"}`;
 * - the body is JSON with `content` or `embeds`; content at most 2000 characters, at most 10
 *   embeds, title 256, description 4096, 25 fields (name 256, value 1024, neither empty),
 *   footer 2048, 6000 characters across the embeds of a message, http(s) URLs: otherwise
 *   400 `{code: 50035, message: "Invalid Form Body", errors}`; an empty message is 400 `{code: 50006}`;
 * - per webhook, at most `limit` requests per `windowMs`: then 429 with the JSON body
 *   `{message, retry_after (float seconds), global: false}` and `Retry-After` (whole seconds,
 *   rounded up), `X-RateLimit-*` headers on every answer.
 *
 * It records what a person would see: the messages, with each earlier version.
 */

export interface FakeDiscordEmbed {
  title?: string;
  description?: string;
  url?: string;
  color?: number;
  fields?: { name: string; value: string; inline?: boolean }[];
  footer?: { text: string };
  timestamp?: string;
}

export interface FakeDiscordMessage {
  id: string;
  webhookId: string;
  content: string;
  embeds: FakeDiscordEmbed[];
  allowedMentions: unknown;
  deleted: boolean;
  /** Earlier versions (before each edit), oldest first. */
  edits: { content: string; embeds: FakeDiscordEmbed[] }[];
}

export interface FakeDiscord extends FakeServer {
  /** Messages in posting order (deleted ones too, marked). */
  readonly messages: FakeDiscordMessage[];
  /** Messages still in the channel. */
  visible(): FakeDiscordMessage[];
  /** `http://127.0.0.1:<port>/api/webhooks/<id>/<token>`: what a person copies from Discord. */
  webhookUrl(webhook: { id: string; token: string }): string;
  /** A person deletes the message in Discord. */
  deleteMessage(id: string): void;
  /** 429s answered so far. */
  readonly rateLimited: number;
}

export interface FakeDiscordOptions {
  webhooks: { id: string; token: string }[];
  /** Requests per webhook per window before 429 (default: no limit). */
  rateLimit?: { limit: number; windowMs: number };
  /** Clock of the rate limit (epoch ms). */
  now?: () => number;
}

export const DISCORD_FAKE_LIMITS = {
  content: 2000,
  embeds: 10,
  total: 6000,
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  author: 256,
};

/** Why Discord would answer 50035 Invalid Form Body, or undefined. */
export function discordBodyViolation(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return 'body is not a JSON object';
  // biome-ignore lint/suspicious/noExplicitAny: Discord's body is loosely typed JSON, checked field by field
  const b = body as Record<string, any>;
  const L = DISCORD_FAKE_LIMITS;
  if (b.content !== undefined && typeof b.content !== 'string') return 'content: not a string';
  if (typeof b.content === 'string' && b.content.length > L.content) return `content: over ${L.content}`;
  if (b.embeds !== undefined && !Array.isArray(b.embeds)) return 'embeds: not an array';
  // biome-ignore lint/suspicious/noExplicitAny: checked field by field
  const embeds = (b.embeds ?? []) as Record<string, any>[];
  if (embeds.length > L.embeds) return `embeds: over ${L.embeds}`;
  let total = 0;
  for (const [i, e] of embeds.entries()) {
    const where = `embeds[${i}]`;
    const len = (v: unknown) => (typeof v === 'string' ? v.length : 0);
    if (len(e.title) > L.title) return `${where}.title: over ${L.title}`;
    if (len(e.description) > L.description) return `${where}.description: over ${L.description}`;
    if (e.color !== undefined && (!Number.isInteger(e.color) || e.color < 0 || e.color > 0xffffff))
      return `${where}.color: not a colour`;
    for (const key of ['url']) {
      if (e[key] !== undefined && !/^https?:\/\//.test(String(e[key]))) return `${where}.${key}: not http(s)`;
    }
    if (e.fields !== undefined) {
      if (!Array.isArray(e.fields) || e.fields.length > L.fields) return `${where}.fields: over ${L.fields}`;
      for (const [j, f] of (e.fields as Record<string, unknown>[]).entries()) {
        if (typeof f.name !== 'string' || f.name.length === 0 || f.name.length > L.fieldName)
          return `${where}.fields[${j}].name: empty or over ${L.fieldName}`;
        if (typeof f.value !== 'string' || f.value.length === 0 || f.value.length > L.fieldValue)
          return `${where}.fields[${j}].value: empty or over ${L.fieldValue}`;
        total += f.name.length + f.value.length;
      }
    }
    if (e.footer !== undefined && (typeof e.footer.text !== 'string' || e.footer.text.length > L.footer))
      return `${where}.footer.text: missing or over ${L.footer}`;
    if (e.timestamp !== undefined && Number.isNaN(Date.parse(e.timestamp)))
      return `${where}.timestamp: not ISO8601`;
    total += len(e.title) + len(e.description) + len(e.footer?.text) + len(e.author?.name);
  }
  if (total > L.total) return `embeds: ${total} characters across them (max ${L.total})`;
  return undefined;
}

export async function startFakeDiscord(options: FakeDiscordOptions): Promise<FakeDiscord> {
  const messages: FakeDiscordMessage[] = [];
  const windows = new Map<string, number[]>();
  let rateLimited = 0;
  let nextId = 1_300_000_000_000_000_000n;
  const clock = options.now ?? Date.now;

  const error = (status: number, code: number, message: string, extra: object = {}): FakeAnswer => ({
    status,
    body: { message, code, ...extra },
  });

  function rateHeaders(webhookId: string, remaining: number, resetAfter: number): Record<string, string> {
    return {
      'x-ratelimit-limit': String(options.rateLimit?.limit ?? 5),
      'x-ratelimit-remaining': String(Math.max(0, remaining)),
      'x-ratelimit-reset-after': resetAfter.toFixed(3),
      'x-ratelimit-bucket': `webhook-${webhookId}`,
    };
  }

  /** Seconds to wait (float) when over the limit; otherwise counts the request. */
  function overLimit(webhookId: string): { wait?: number; remaining: number; resetAfter: number } {
    if (!options.rateLimit) return { remaining: 5, resetAfter: 0 };
    const { limit, windowMs } = options.rateLimit;
    const t = clock();
    const recent = (windows.get(webhookId) ?? []).filter((at) => at > t - windowMs);
    windows.set(webhookId, recent);
    const resetAfter = recent.length > 0 ? (recent[0] + windowMs - t) / 1000 : windowMs / 1000;
    if (recent.length >= limit) return { wait: resetAfter, remaining: 0, resetAfter };
    recent.push(t);
    return { remaining: limit - recent.length, resetAfter };
  }

  const view = (m: FakeDiscordMessage) => ({
    id: m.id,
    type: 0,
    channel_id: '1100000000000000001',
    webhook_id: m.webhookId,
    content: m.content,
    embeds: m.embeds,
    timestamp: new Date(clock()).toISOString(),
  });

  interface Route {
    id: string;
    messageId?: string;
    target?: FakeDiscordMessage;
    headers: Record<string, string>;
  }
  const routes = new WeakMap<FakeRequest, Route>();

  /** Discord's refusals (auth, method, rate limit, body); undefined when the request is valid. */
  const check = (request: FakeRequest): FakeAnswer | undefined => {
    const match = /^\/api\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(\d+))?\/?$/.exec(request.path);
    if (!match) return { status: 404, body: { message: '404: Not Found', code: 0 } };
    const [, id, token, messageId] = match;
    const webhook = options.webhooks.find((w) => w.id === id);
    if (!webhook) return error(404, 10015, 'Unknown Webhook');
    if (webhook.token !== decodeURIComponent(token)) return error(401, 50027, 'Invalid Webhook Token');
    const method = request.method;
    if (messageId ? !['PATCH', 'DELETE', 'GET'].includes(method) : method !== 'POST')
      return error(405, 0, '405: Method Not Allowed');

    const limit = overLimit(id);
    if (limit.wait !== undefined) {
      rateLimited++;
      return {
        status: 429,
        headers: {
          'retry-after': String(Math.ceil(limit.wait)),
          'x-ratelimit-scope': 'shared',
          ...rateHeaders(id, 0, limit.wait),
        },
        body: {
          message: 'You are being rate limited.',
          retry_after: Number(limit.wait.toFixed(3)),
          global: false,
        },
      };
    }
    const headers = rateHeaders(id, limit.remaining, limit.resetAfter);
    const target = messageId
      ? messages.find((m) => m.id === messageId && m.webhookId === id && !m.deleted)
      : undefined;
    if (messageId && !target) return error(404, 10008, 'Unknown Message');
    if (method === 'POST' || method === 'PATCH') {
      if (
        !(request.headers['content-type'] ?? '').startsWith('application/json') ||
        request.body === undefined
      )
        return error(400, 50109, 'The request body contains invalid JSON.');
      const violation = discordBodyViolation(request.body);
      if (violation)
        return error(400, 50035, 'Invalid Form Body', { errors: { _errors: [{ message: violation }] } });
      // biome-ignore lint/suspicious/noExplicitAny: checked above
      const body = request.body as Record<string, any>;
      const empty = (content: unknown, embeds: unknown) =>
        !content && (!Array.isArray(embeds) || embeds.length === 0);
      const stillEmpty =
        method === 'PATCH' && target
          ? empty(body.content ?? target.content, body.embeds ?? target.embeds)
          : empty(body.content, body.embeds);
      if (stillEmpty) return error(400, 50006, 'Cannot send an empty message');
    }
    routes.set(request, { id, messageId, target, headers });
    return undefined;
  };

  /** The effect of a valid request, when no scripted answer replaced it. */
  const apply = (request: FakeRequest): FakeAnswer => {
    const route = routes.get(request);
    if (!route) return { status: 500 };
    const { id, target, headers } = route;
    if (request.method === 'DELETE' && target) {
      target.deleted = true;
      return { status: 204, headers };
    }
    if (request.method === 'GET' && target) return { status: 200, headers, body: view(target) };
    // biome-ignore lint/suspicious/noExplicitAny: checked in check()
    const body = request.body as Record<string, any>;
    const content = typeof body.content === 'string' ? body.content : undefined;
    const embeds = Array.isArray(body.embeds) ? (body.embeds as FakeDiscordEmbed[]) : undefined;
    if (request.method === 'PATCH' && target) {
      target.edits.push({ content: target.content, embeds: target.embeds });
      target.content = content ?? target.content;
      target.embeds = embeds ?? target.embeds;
      target.allowedMentions = body.allowed_mentions;
      return { status: 200, headers, body: view(target) };
    }
    nextId += 1n;
    const message: FakeDiscordMessage = {
      id: nextId.toString(),
      webhookId: id,
      content: content ?? '',
      embeds: embeds ?? [],
      allowedMentions: body.allowed_mentions,
      deleted: false,
      edits: [],
    };
    messages.push(message);
    return request.query.get('wait') === 'true'
      ? { status: 200, headers, body: view(message) }
      : { status: 204, headers };
  };

  // A scripted answer (respondWith) stands in for a valid request's effect; Discord's own
  // refusals in check() win over the script, as a real 400 would.
  const server = await startFakeServer({ handle: check, fallback: apply });
  const fake = Object.assign(server, {
    messages,
    visible: () => messages.filter((m) => !m.deleted),
    webhookUrl: (webhook: { id: string; token: string }) =>
      `${server.url}/api/webhooks/${webhook.id}/${webhook.token}`,
    deleteMessage: (id: string) => {
      const found = messages.find((m) => m.id === id);
      if (found) found.deleted = true;
    },
  });
  Object.defineProperty(fake, 'rateLimited', { get: () => rateLimited });
  return fake as FakeDiscord;
}

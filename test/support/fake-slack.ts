import { safeHttpUrl } from '../../lib/format/url.ts';
import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake Slack Web API that enforces the contract the Slack sink relies on, from
 * https://docs.slack.dev/reference/methods/ (chat.postMessage, chat.update,
 * conversations.history, conversations.replies, files.getUploadURLExternal,
 * files.completeUploadExternal) and https://docs.slack.dev/reference/block-kit/blocks:
 *
 * - `Authorization: Bearer <token>`; errors as HTTP 200 `{ok:false, error}` (not_authed,
 *   invalid_auth, channel_not_found, not_in_channel, is_archived, invalid_blocks, no_text,
 *   thread_not_found, message_not_found, invalid_arguments);
 * - channel IDs only (a `#name` is channel_not_found);
 * - Block Kit limits (50 blocks, header 150, section 3000, 10 fields of 2000, context 10
 *   elements, actions 25, button text 75, URLs 3000);
 * - more than about 1 message per second per channel (a burst of `burst`): HTTP 429 with
 *   Retry-After, as Slack's chat.postMessage special rate limit does;
 * - the two-step upload: getUploadURLExternal (filename, length) -> POST bytes to upload_url
 *   -> completeUploadExternal (files [{id,title}], channel_id, thread_ts), which shares the
 *   file as a message in the thread.
 *
 * It records what a person would see: messages, their edits, thread replies and files; and
 * in `violations`, anything in a mrkdwn text that Slack would turn into a mention or a link
 * the relay did not build from a validated URL (see mrkdwnViolations), so a test of hostile
 * content fails on it.
 */

export interface FakeSlackMessage {
  channel: string;
  ts: string;
  text?: string;
  blocks?: Record<string, unknown>[];
  threadTs?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
  files?: { id: string; title?: string }[];
  /** Earlier versions (before each chat.update), oldest first. */
  edits: { text?: string; blocks?: Record<string, unknown>[] }[];
}

export interface FakeSlackFile {
  id: string;
  filename: string;
  length: number;
  bytes?: Buffer;
  completed: boolean;
}

export interface FakeSlack extends FakeServer {
  /** Base URL of the Web API (`<url>/api`): a destination's baseUrl. */
  readonly apiUrl: string;
  readonly messages: FakeSlackMessage[];
  readonly files: Map<string, FakeSlackFile>;
  /** Top-level messages of a channel. */
  topLevel(channel: string): FakeSlackMessage[];
  /** Replies in the thread of `ts` (not the parent). */
  replies(channel: string, ts: string): FakeSlackMessage[];
  /** The next call of `method` takes effect, then the connection is reset: the caller never learns the result. */
  breakAfter(method: string): void;
  /** Answers the next call of `method` with this, without any effect. */
  failNext(method: string, answer: FakeAnswer): void;
  /** 429s answered so far. */
  readonly rateLimited: number;
  /** Mentions and foreign links found in what was posted or edited (mrkdwnViolations), with where. */
  readonly violations: string[];
}

export interface FakeSlackOptions {
  token: string;
  /** Channel IDs the app is in. */
  channels: string[];
  /** Channels that exist but the app is not in. */
  notIn?: string[];
  archived?: string[];
  /** Messages per channel back to back before the 1/s limit applies. */
  burst?: number;
  /** Retry-After seconds on a 429 (default: until the channel has room again). */
  retryAfterSeconds?: number;
  /**
   * Seconds per message once the burst is used (default 1, Slack's pace). With a shorter
   * `retryAfterSeconds` it is a Slack whose Retry-After undersells its limit: a retry at the
   * time it named can meet another 429.
   */
  intervalSeconds?: number;
  /** Clock of the rate limit (epoch ms), so a test can let time pass without sleeping. */
  now?: () => number;
  /** The block text limit of msg_blocks_too_long (default MESSAGE_BLOCKS_TEXT_LIMIT). */
  blocksTextLimit?: number;
  /** Hosts no link may point to (default: the hostile kit's attacker host, evil.example). */
  untrustedHosts?: string[];
}

const LIMITS = {
  blocks: 50,
  header: 150,
  section: 3000,
  fields: 10,
  field: 2000,
  context: 10,
  actions: 25,
  button: 75,
  url: 3000,
};

/**
 * Slack's undocumented limit on all the text of a message's blocks, in UTF-16 code units:
 * msg_blocks_too_long from about 13,200 characters in one public report
 * (https://github.com/slackapi/bolt-js/issues/2509) and at 11,341 in another
 * (https://github.com/slackapi/bolt-js/issues/2867). The fake refuses from the lower one.
 */
export const MESSAGE_BLOCKS_TEXT_LIMIT = 11_300;

/** The host the hostile-content kit puts in every link it plants. */
export const ATTACKER_HOST = 'evil.example';

/**
 * What Slack would make of a mrkdwn text that the relay did not mean: a `<!...>` broadcast or
 * user group, a `<@U...>` or `<#C...>` mention, a bare `@channel`/`@here`/`@everyone`, or a
 * `<url|text>` link whose URL is not a normalised http(s) URL (what lib/format builds) or
 * points to an untrusted host. The relay's own `<!date^...>` is allowed.
 */
export function mrkdwnViolations(
  text: string,
  untrustedHosts: readonly string[] = [ATTACKER_HOST],
): string[] {
  const found: string[] = [];
  for (const [token] of text.matchAll(/<[^>]*>?/g)) {
    const inner = token.slice(1, token.endsWith('>') ? -1 : undefined);
    if (/^!date\^\d+\^[^|<]*\|[^<]*$/.test(inner)) continue;
    if (/^[!@#]/.test(inner)) {
      found.push(`mention ${token.slice(0, 60)}`);
      continue;
    }
    const url = inner.split('|')[0];
    const safe = safeHttpUrl(url);
    if (safe !== url || untrustedHosts.includes(new URL(safe).hostname))
      found.push(`link ${token.slice(0, 80)}`);
  }
  for (const [word] of text.matchAll(/(?:^|[^\p{L}\p{N}_.+-])@(?:channel|here|everyone)\b/giu))
    found.push(`bare mention ${word.trim()}`);
  return found;
}

/** mrkdwnViolations of a message's `text` and of every mrkdwn text and button URL in its blocks. */
export function messageViolations(
  text: unknown,
  blocks: unknown,
  untrustedHosts: readonly string[] = [ATTACKER_HOST],
): string[] {
  const found = typeof text === 'string' ? mrkdwnViolations(text, untrustedHosts) : [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) for (const item of value) visit(item);
    else if (value && typeof value === 'object') {
      const object = value as Record<string, unknown>;
      if (object.type === 'mrkdwn' && typeof object.text === 'string')
        found.push(...mrkdwnViolations(object.text, untrustedHosts));
      if (object.type === 'button' && typeof object.url === 'string') {
        const safe = safeHttpUrl(object.url);
        if (safe !== object.url || untrustedHosts.includes(new URL(safe).hostname))
          found.push(`button url ${object.url.slice(0, 80)}`);
      }
      for (const v of Object.values(object)) visit(v);
    }
  };
  visit(blocks);
  return found;
}

/** The UTF-16 code units of every `text` string in the blocks. */
export function blocksTextLength(blocks: unknown): number {
  let total = 0;
  const visit = (value: unknown, key?: string): void => {
    if (typeof value === 'string') {
      if (key === 'text') total += value.length;
    } else if (Array.isArray(value)) {
      for (const item of value) visit(item);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, k);
    }
  };
  visit(blocks);
  return total;
}

/** Why Slack would answer invalid_blocks, or undefined. */
export function blockKitViolation(blocks: unknown): string | undefined {
  if (!Array.isArray(blocks)) return 'blocks is not an array';
  if (blocks.length > LIMITS.blocks) return `${blocks.length} blocks (max ${LIMITS.blocks})`;
  // biome-ignore lint/suspicious/noExplicitAny: Slack's arguments are loosely typed JSON, checked field by field
  for (const [i, block] of (blocks as Record<string, any>[]).entries()) {
    const where = `blocks[${i}] (${block?.type})`;
    switch (block?.type) {
      case 'header':
        if (block.text?.type !== 'plain_text') return `${where}: text must be plain_text`;
        if (typeof block.text.text !== 'string' || block.text.text.length === 0)
          return `${where}: empty text`;
        if ([...block.text.text].length > LIMITS.header) return `${where}: text over ${LIMITS.header}`;
        break;
      case 'section': {
        if (!block.text && !block.fields) return `${where}: needs text or fields`;
        if (block.text) {
          if (typeof block.text.text !== 'string' || block.text.text.length === 0)
            return `${where}: empty text`;
          if ([...block.text.text].length > LIMITS.section) return `${where}: text over ${LIMITS.section}`;
        }
        if (block.fields) {
          if (!Array.isArray(block.fields) || block.fields.length > LIMITS.fields)
            return `${where}: over ${LIMITS.fields} fields`;
          for (const field of block.fields)
            if ([...String(field.text)].length > LIMITS.field) return `${where}: field over ${LIMITS.field}`;
        }
        break;
      }
      case 'context':
        if (!Array.isArray(block.elements) || block.elements.length === 0) return `${where}: no elements`;
        if (block.elements.length > LIMITS.context) return `${where}: over ${LIMITS.context} elements`;
        for (const element of block.elements) if (!element.text) return `${where}: empty element`;
        break;
      case 'actions':
        if (!Array.isArray(block.elements) || block.elements.length === 0) return `${where}: no elements`;
        if (block.elements.length > LIMITS.actions) return `${where}: over ${LIMITS.actions} elements`;
        for (const element of block.elements) {
          if ([...String(element.text?.text)].length > LIMITS.button)
            return `${where}: button text over ${LIMITS.button}`;
          if (
            element.url !== undefined &&
            (String(element.url).length > LIMITS.url || !/^https?:\/\//.test(element.url))
          )
            return `${where}: bad url`;
        }
        break;
      case 'image':
      case 'divider':
        break;
      default:
        return `${where}: unknown block type`;
    }
  }
  return undefined;
}

export async function startFakeSlack(options: FakeSlackOptions): Promise<FakeSlack> {
  const messages: FakeSlackMessage[] = [];
  const files = new Map<string, FakeSlackFile>();
  const breaks = new Set<string>();
  const failures = new Map<string, FakeAnswer>();
  const pace = new Map<string, number>();
  const burst = options.burst ?? 3;
  const intervalMs = (options.intervalSeconds ?? 1) * 1000;
  let clock = Date.now() / 1000;
  let fileSeq = 0;
  let rateLimited = 0;
  const violations: string[] = [];
  const textLimit = options.blocksTextLimit ?? MESSAGE_BLOCKS_TEXT_LIMIT;
  const untrusted = options.untrustedHosts ?? [ATTACKER_HOST];
  const inspect = (method: string, a: Record<string, unknown>) => {
    for (const problem of messageViolations(a.text, a.blocks, untrusted))
      violations.push(`${method}: ${problem}`);
  };
  let server: FakeServer;

  const ok = (body: Record<string, unknown> = {}): FakeAnswer => ({
    status: 200,
    body: { ok: true, ...body },
  });
  const err = (error: string, extra: Record<string, unknown> = {}): FakeAnswer => ({
    status: 200,
    body: { ok: false, error, ...extra },
  });
  // Slack's ts: seconds.microseconds, unique per channel and increasing.
  const nextTs = () => {
    clock = Math.max(clock + 0.000001, Date.now() / 1000);
    return clock.toFixed(6);
  };

  // biome-ignore lint/suspicious/noExplicitAny: Slack's arguments are loosely typed JSON, checked field by field
  function args(request: FakeRequest): Record<string, any> | undefined {
    const type = request.headers['content-type'] ?? '';
    if (type.startsWith('application/json')) return (request.body as Record<string, unknown>) ?? {};
    if (type.startsWith('application/x-www-form-urlencoded')) {
      const form = Object.fromEntries(new URLSearchParams(request.text));
      for (const key of ['blocks', 'files', 'metadata']) {
        if (typeof form[key] === 'string') {
          try {
            (form as Record<string, unknown>)[key] = JSON.parse(form[key]);
          } catch {
            // left as text: the method's own checks refuse it
          }
        }
      }
      return form;
    }
    return undefined;
  }

  function channelError(channel: unknown): string | undefined {
    if (typeof channel !== 'string' || channel === '') return 'channel_not_found';
    if (options.archived?.includes(channel)) return 'is_archived';
    if (options.notIn?.includes(channel)) return 'not_in_channel';
    if (!options.channels.includes(channel)) return 'channel_not_found';
    return undefined;
  }

  /** GCRA per channel: `burst` back to back, then one per `intervalSeconds` (one per second). */
  function overRate(channel: string): number | undefined {
    const now = (options.now ?? Date.now)();
    const tat = Math.max(pace.get(channel) ?? 0, now);
    const early = tat - now - (burst - 1) * intervalMs;
    if (early > 0) return options.retryAfterSeconds ?? Math.max(1, Math.ceil(early / 1000));
    pace.set(channel, tat + intervalMs);
    return undefined;
  }

  const topLevel = (channel: string) => messages.filter((m) => m.channel === channel && !m.threadTs);
  const replies = (channel: string, ts: string) =>
    messages.filter((m) => m.channel === channel && m.threadTs === ts);
  const visible = (m: FakeSlackMessage, withMetadata: boolean) => ({
    type: 'message',
    ts: m.ts,
    text: m.text,
    ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
    ...(m.files ? { files: m.files } : {}),
    ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
  });
  const truthy = (value: unknown) => value === true || value === 'true' || value === '1' || value === 1;

  // biome-ignore lint/suspicious/noExplicitAny: Slack's arguments are loosely typed JSON, checked field by field
  const methods: Record<string, (a: Record<string, any>) => FakeAnswer> = {
    'chat.postMessage'(a) {
      const problem = channelError(a.channel);
      if (problem) return err(problem);
      if (a.blocks !== undefined) {
        const violation = blockKitViolation(a.blocks);
        if (violation) return err('invalid_blocks', { errors: [violation] });
        if (blocksTextLength(a.blocks) > textLimit) return err('msg_blocks_too_long');
      }
      if (!a.text && !a.blocks) return err('no_text');
      if (typeof a.text === 'string' && a.text.length > 40_000) return err('msg_too_long');
      if (a.thread_ts !== undefined && !topLevel(a.channel).some((m) => m.ts === a.thread_ts))
        return err('thread_not_found');
      if (
        a.metadata !== undefined &&
        (typeof a.metadata?.event_type !== 'string' || typeof a.metadata?.event_payload !== 'object')
      )
        return err('invalid_metadata_format');
      const wait = overRate(a.channel);
      if (wait !== undefined) {
        rateLimited++;
        return {
          status: 429,
          headers: { 'retry-after': String(wait) },
          body: { ok: false, error: 'ratelimited' },
        };
      }
      inspect('chat.postMessage', a);
      const message: FakeSlackMessage = {
        channel: a.channel,
        ts: nextTs(),
        text: a.text,
        blocks: a.blocks,
        ...(a.thread_ts ? { threadTs: a.thread_ts } : {}),
        ...(a.metadata ? { metadata: a.metadata } : {}),
        edits: [],
      };
      messages.push(message);
      return ok({ channel: message.channel, ts: message.ts, message: visible(message, false) });
    },
    'chat.update'(a) {
      const problem = channelError(a.channel);
      if (problem) return err(problem);
      const message = messages.find((m) => m.channel === a.channel && m.ts === a.ts);
      if (!message) return err('message_not_found');
      if (a.blocks !== undefined) {
        const violation = blockKitViolation(a.blocks);
        if (violation) return err('invalid_blocks', { errors: [violation] });
        if (blocksTextLength(a.blocks) > textLimit) return err('msg_blocks_too_long');
      }
      if (!a.text && !a.blocks) return err('no_text');
      inspect('chat.update', a);
      message.edits.push({ text: message.text, blocks: message.blocks });
      message.text = a.text;
      message.blocks = a.blocks;
      return ok({ channel: message.channel, ts: message.ts });
    },
    'conversations.history'(a) {
      const problem = channelError(a.channel);
      if (problem) return err(problem);
      const oldest = Number(a.oldest ?? 0);
      const found = topLevel(a.channel)
        .filter((m) => Number(m.ts) >= oldest)
        .reverse()
        .slice(0, Number(a.limit ?? 100));
      return ok({ messages: found.map((m) => visible(m, truthy(a.include_all_metadata))), has_more: false });
    },
    'conversations.replies'(a) {
      const problem = channelError(a.channel);
      if (problem) return err(problem);
      const parent = topLevel(a.channel).find((m) => m.ts === a.ts);
      if (!parent) return err('thread_not_found');
      const oldest = Number(a.oldest ?? 0);
      const thread = [parent, ...replies(a.channel, a.ts).filter((m) => Number(m.ts) >= oldest)];
      return ok({ messages: thread.map((m) => visible(m, truthy(a.include_all_metadata))), has_more: false });
    },
    'files.getUploadURLExternal'(a) {
      const length = Number(a.length);
      if (typeof a.filename !== 'string' || a.filename === '') return err('invalid_arguments');
      if (!Number.isInteger(length) || length <= 0) return err('missing_argument');
      const id = `F${String(++fileSeq).padStart(10, '0')}`;
      files.set(id, { id, filename: a.filename, length, completed: false });
      return ok({ upload_url: `${server.url}/upload/${id}`, file_id: id });
    },
    'files.completeUploadExternal'(a) {
      if (!Array.isArray(a.files) || a.files.length === 0) return err('invalid_arguments');
      for (const entry of a.files) {
        const file = files.get(entry?.id);
        if (!file?.bytes) return err('file_not_found');
      }
      if (a.channel_id !== undefined) {
        const problem = channelError(a.channel_id);
        if (problem) return err(problem);
      }
      if (a.thread_ts !== undefined && !topLevel(a.channel_id).some((m) => m.ts === a.thread_ts))
        return err('thread_not_found');
      if (a.channel_id) {
        const wait = overRate(a.channel_id);
        if (wait !== undefined) {
          rateLimited++;
          return {
            status: 429,
            headers: { 'retry-after': String(wait) },
            body: { ok: false, error: 'ratelimited' },
          };
        }
      }
      for (const entry of a.files) (files.get(entry.id) as FakeSlackFile).completed = true;
      if (a.channel_id) {
        messages.push({
          channel: a.channel_id,
          ts: nextTs(),
          ...(a.thread_ts ? { threadTs: a.thread_ts } : {}),
          files: a.files.map((f: { id: string; title?: string }) => ({ id: f.id, title: f.title })),
          edits: [],
        });
      }
      return ok({
        files: a.files.map((f: { id: string; title?: string }) => ({ id: f.id, title: f.title })),
      });
    },
  };

  server = await startFakeServer({
    handle(request) {
      if (request.method !== 'POST') return { status: 405, body: 'method not allowed' };
      const upload = /^\/upload\/(F\d+)$/.exec(request.path);
      if (upload) {
        const file = files.get(upload[1]);
        if (!file || file.completed) return { status: 404, body: 'unknown upload' };
        if (request.rawBody.byteLength !== file.length) return { status: 400, body: 'length mismatch' };
        file.bytes = request.rawBody;
        return { status: 200, body: `OK - ${file.length}` };
      }
      const match = /^\/api\/([a-zA-Z.]+)$/.exec(request.path);
      const method = match?.[1];
      if (!method || !methods[method]) return { status: 404, body: { ok: false, error: 'unknown_method' } };
      const auth = request.headers.authorization;
      if (!auth) return err('not_authed');
      if (auth !== `Bearer ${options.token}`) return err('invalid_auth');
      const a = args(request);
      if (!a) return err('invalid_form_data');
      const scripted = failures.get(method);
      if (scripted) {
        failures.delete(method);
        return scripted;
      }
      const answer = methods[method](a);
      if (breaks.has(method)) {
        breaks.delete(method);
        return { reset: true };
      }
      return answer;
    },
  });

  const fake = Object.assign(server, {
    apiUrl: `${server.url}/api`,
    messages,
    files,
    violations,
    topLevel,
    replies,
    breakAfter: (method: string) => {
      breaks.add(method);
    },
    failNext: (method: string, answer: FakeAnswer) => {
      failures.set(method, answer);
    },
  });
  Object.defineProperty(fake, 'rateLimited', { get: () => rateLimited });
  return fake as FakeSlack;
}

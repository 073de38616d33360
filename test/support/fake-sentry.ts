import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake Sentry: the ingest endpoint (`POST /api/<projectId>/envelope/`, X-Sentry-Auth) and
 * the Web API's org-level bulk issue update (`PUT /api/0/organizations/<org>/issues/`,
 * Bearer token). It enforces the contract the way Sentry answers (403 for a bad key, 400 for
 * a malformed envelope or event, 413 for an item over 1 MiB), records tag-limit violations
 * (Sentry drops such tags silently, so a test must look), groups events into issues by
 * fingerprint, reopens a resolved issue when an event arrives for it (a regression), and
 * can pretend to index events late so a resolve finds nothing at first.
 *
 * https://develop.sentry.dev/sdk/envelopes/ , https://develop.sentry.dev/sdk/data-model/event-payloads/ ,
 * https://docs.sentry.io/api/events/bulk-mutate-an-organizations-issues/
 */

export interface StoredSentryEvent {
  /** 1-based arrival order of the request that carried it. */
  seq: number;
  eventId: string;
  event: Record<string, unknown>;
  issueId: string;
}

export type IssueHistoryEntry = 'created' | 'event' | 'resolved' | 'regressed';

export interface FakeSentryIssue {
  id: string;
  /** The event fingerprint that groups events into this issue. */
  fingerprint: string[];
  status: 'unresolved' | 'resolved';
  eventIds: string[];
  /** Tags of every event, merged (what the issue search looks at). */
  tags: Record<string, string>;
  history: IssueHistoryEntry[];
  /** Searches that will still miss this issue (see `indexLag`). */
  unsearchableFor: number;
}

export interface FakeSentry extends FakeServer {
  readonly dsn: string;
  readonly publicKey: string;
  readonly projectId: string;
  readonly org: string;
  readonly token: string;
  readonly events: readonly StoredSentryEvent[];
  readonly issues: readonly FakeSentryIssue[];
  /** Contract problems that Sentry would not reject but silently repair (tags over the limits). */
  readonly violations: readonly string[];
  /** Event ids received again after Sentry already had them (dropped as duplicates). */
  readonly duplicateEventIds: readonly string[];
  /** How many resolve searches miss a newly created issue before it is "indexed". Default 0. */
  indexLag: number;
  issueFor(fingerprint: string): FakeSentryIssue | undefined;
  waitForIssues(
    condition: (issues: readonly FakeSentryIssue[]) => boolean,
    options?: { timeoutMs?: number },
  ): Promise<FakeSentryIssue[]>;
}

export const ITEM_MAX_BYTES = 1024 * 1024;
const TAG_KEY = /^[a-zA-Z0-9_.:-]{1,32}$/;
const TAG_VALUE_MAX = 200;
const LEVELS = new Set(['fatal', 'error', 'warning', 'info', 'debug']);
const EVENT_ID = /^[0-9a-f]{32}$/;

export async function startFakeSentry(
  options: { publicKey?: string; projectId?: string; org?: string; token?: string } = {},
): Promise<FakeSentry> {
  const publicKey = options.publicKey ?? 'f00dfacef00dfacef00dfacef00dface';
  const projectId = options.projectId ?? '4507001';
  const org = options.org ?? 'acme';
  const token = options.token ?? 'sntryu_fake-token-0123456789';
  const events: StoredSentryEvent[] = [];
  const issues: FakeSentryIssue[] = [];
  const violations: string[] = [];
  const duplicateEventIds: string[] = [];
  const waiters = new Set<() => void>();
  const envelopePath = `/api/${projectId}/envelope/`;
  const issuesPath = `/api/0/organizations/${org}/issues/`;

  const wake = () =>
    queueMicrotask(() => {
      for (const w of [...waiters]) w();
    });
  const reject = (status: number, detail: string): FakeAnswer => ({ status, body: { detail } });

  function checkIngest(request: FakeRequest): FakeAnswer | undefined {
    if (request.method !== 'POST') return reject(405, 'method not allowed');
    const auth = parseAuth(request.headers['x-sentry-auth'] ?? '', request.query);
    if (!auth.sentry_key) return reject(401, 'missing authorization information');
    if (auth.sentry_key !== publicKey) return reject(403, 'invalid api key');
    if (auth.sentry_version !== '7') return reject(400, `unsupported sentry_version ${auth.sentry_version}`);
    if (!auth.sentry_client) return reject(400, 'sentry_client missing');
    const parsed = parseEnvelope(request.rawBody);
    if (!('items' in parsed)) return parsed;
    for (const item of parsed.items) {
      if (item.length > ITEM_MAX_BYTES) return reject(413, `item of ${item.length} bytes is over 1 MiB`);
      if (item.type !== 'event') return reject(400, `unexpected item type ${item.type}`);
      const problem = eventProblem(item.payload, parsed.header);
      if (problem) return reject(400, problem);
    }
    return undefined;
  }

  function ingest(request: FakeRequest): FakeAnswer {
    const parsed = parseEnvelope(request.rawBody) as ParsedEnvelope;
    let id = '';
    for (const item of parsed.items) {
      const event = item.payload as Record<string, unknown>;
      const eventId = event.event_id as string;
      id = eventId;
      if (events.some((e) => e.eventId === eventId)) {
        duplicateEventIds.push(eventId);
        continue;
      }
      violations.push(...tagViolations(eventId, event.tags));
      const fingerprint = (event.fingerprint as string[] | undefined) ?? [
        '{{ default }}',
        String(event.message),
      ];
      let issue = issues.find((i) => JSON.stringify(i.fingerprint) === JSON.stringify(fingerprint));
      if (!issue) {
        issue = {
          id: String(9000 + issues.length + 1),
          fingerprint,
          status: 'unresolved',
          eventIds: [],
          tags: {},
          history: ['created'],
          unsearchableFor: fake.indexLag,
        };
        issues.push(issue);
      } else if (issue.status === 'resolved') {
        // Sentry marks a resolved issue that gets a new event as regressed and reopens it.
        issue.status = 'unresolved';
        issue.history.push('regressed');
      } else {
        issue.history.push('event');
      }
      issue.eventIds.push(eventId);
      Object.assign(issue.tags, event.tags as Record<string, string>);
      events.push({ seq: request.seq, eventId, event, issueId: issue.id });
    }
    wake();
    return { status: 200, body: { id } };
  }

  function checkResolve(request: FakeRequest): FakeAnswer | undefined {
    if (request.method !== 'PUT') return reject(405, 'method not allowed');
    // Scope per token kind: an organization token (sntrys_) authenticates but has a fixed CI
    // scope without event:write, so Sentry refuses the issue update.
    if (/^Bearer sntrys_/.test(request.headers.authorization ?? '')) {
      return reject(403, 'You do not have permission to perform this action.');
    }
    if (request.headers.authorization !== `Bearer ${token}`) {
      return reject(401, 'Invalid token');
    }
    const projects = request.query.getAll('project');
    if (projects.length === 0) return reject(400, 'project is required by this fake (scope the search)');
    if (projects.some((p) => !/^-?\d+$/.test(p))) return reject(400, 'project must be numeric ids');
    if (!projects.includes(projectId) && !projects.includes('-1')) return reject(403, 'no access to project');
    const query = request.query.get('query');
    if (query === null || parseFingerprintQuery(query) === undefined)
      return reject(
        400,
        `this fake only understands alert_fingerprint:<value>, got ${JSON.stringify(query)}`,
      );
    if (!/^application\/json\b/.test(request.headers['content-type'] ?? '')) return reject(415, 'json only');
    const body = request.body as { status?: unknown } | undefined;
    if (body?.status !== 'resolved' || Object.keys(body).length !== 1) {
      return reject(400, 'this fake only takes {"status":"resolved"}');
    }
    return undefined;
  }

  function resolve(request: FakeRequest): FakeAnswer {
    const fingerprint = parseFingerprintQuery(request.query.get('query') ?? '') as string;
    const matched = issues.filter((issue) => {
      if (issue.tags.alert_fingerprint !== fingerprint) return false;
      if (issue.unsearchableFor > 0) {
        issue.unsearchableFor--;
        return false;
      }
      return true;
    });
    if (matched.length === 0) return { status: 204 };
    for (const issue of matched) {
      if (issue.status !== 'resolved') issue.history.push('resolved');
      issue.status = 'resolved';
    }
    wake();
    return { status: 200, body: { status: 'resolved', statusDetails: {}, inbox: null } };
  }

  const server = await startFakeServer({
    handle(request) {
      if (request.path === envelopePath) return checkIngest(request);
      if (request.path === issuesPath) return checkResolve(request);
      if (request.path.startsWith('/api/0/organizations/')) return reject(404, 'organization not found');
      return reject(404, `no route ${request.path}`);
    },
    fallback(request) {
      return request.path === envelopePath ? ingest(request) : resolve(request);
    },
  });

  const fake: FakeSentry = Object.assign(server, {
    dsn: `http://${publicKey}@127.0.0.1:${server.port}/${projectId}`,
    publicKey,
    projectId,
    org,
    token,
    events,
    issues,
    violations,
    duplicateEventIds,
    indexLag: 0,
    issueFor(fingerprint: string) {
      return issues.find((issue) => issue.tags.alert_fingerprint === fingerprint);
    },
    waitForIssues(
      condition: (list: readonly FakeSentryIssue[]) => boolean,
      waitOptions: { timeoutMs?: number } = {},
    ): Promise<FakeSentryIssue[]> {
      return new Promise((done, fail) => {
        let timer: NodeJS.Timeout | undefined;
        const check = () => {
          if (!condition(issues)) return;
          waiters.delete(check);
          if (timer) clearTimeout(timer);
          done([...issues]);
        };
        if (waitOptions.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            waiters.delete(check);
            fail(
              new Error(
                `fake Sentry: condition not met after ${waitOptions.timeoutMs} ms; issues: ${JSON.stringify(issues)}`,
              ),
            );
          }, waitOptions.timeoutMs);
        }
        waiters.add(check);
        check();
      });
    },
  });
  return fake;
}

/** `Sentry sentry_key=..., sentry_version=7` (header) or the same as query parameters. */
function parseAuth(header: string, query: URLSearchParams): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of query) if (key.startsWith('sentry_')) values[key] = value;
  const match = /^Sentry\s+(.*)$/i.exec(header.trim());
  if (match) {
    for (const part of match[1].split(',')) {
      const [key, ...rest] = part.trim().split('=');
      if (key) values[key.trim()] = rest.join('=').trim();
    }
  }
  return values;
}

interface ParsedEnvelope {
  header: Record<string, unknown>;
  items: { type: unknown; length: number; payload: unknown }[];
}

function parseEnvelope(raw: Buffer): ParsedEnvelope | FakeAnswer {
  const bad = (detail: string): FakeAnswer => ({
    status: 400,
    body: { detail: `invalid envelope: ${detail}` },
  });
  let offset = raw.indexOf(0x0a);
  if (offset < 0) return bad('no newline after the envelope header');
  const header = parseJson(raw.subarray(0, offset));
  if (!isObject(header)) return bad('the envelope header is not a JSON object');
  offset++;
  const items: ParsedEnvelope['items'] = [];
  while (offset < raw.length) {
    const end = raw.indexOf(0x0a, offset);
    const headerEnd = end < 0 ? raw.length : end;
    const itemHeader = parseJson(raw.subarray(offset, headerEnd));
    if (!isObject(itemHeader)) return bad(`item ${items.length + 1} header is not a JSON object`);
    if (
      typeof itemHeader.length !== 'number' ||
      !Number.isInteger(itemHeader.length) ||
      itemHeader.length < 0
    ) {
      // Length-less items are allowed by the spec; this fake insists, because we always send it.
      return bad(`item ${items.length + 1} header has no integer length`);
    }
    const start = headerEnd + 1;
    const payloadBytes = raw.subarray(start, start + itemHeader.length);
    if (payloadBytes.length !== itemHeader.length)
      return bad(`item ${items.length + 1} is shorter than its length`);
    const payload = parseJson(payloadBytes);
    if (payload === undefined) return bad(`item ${items.length + 1} payload is not JSON`);
    items.push({ type: itemHeader.type, length: itemHeader.length, payload });
    offset = start + itemHeader.length;
    if (offset < raw.length) {
      if (raw[offset] !== 0x0a) return bad(`item ${items.length} is longer than its length`);
      offset++;
    }
  }
  if (items.length === 0) return bad('no items');
  return { header, items };
}

function eventProblem(event: unknown, envelopeHeader: Record<string, unknown>): string | undefined {
  if (!isObject(event)) return 'event is not a JSON object';
  if (typeof event.event_id !== 'string' || !EVENT_ID.test(event.event_id))
    return 'event_id must be 32 lowercase hex characters';
  if (envelopeHeader.event_id !== undefined && envelopeHeader.event_id !== event.event_id)
    return 'envelope event_id differs from the event’s';
  const ts = event.timestamp;
  if (
    !(typeof ts === 'number' && Number.isFinite(ts)) &&
    !(typeof ts === 'string' && !Number.isNaN(Date.parse(ts)))
  )
    return 'timestamp must be epoch seconds or RFC 3339';
  if (typeof event.platform !== 'string') return 'platform is required';
  if (event.level !== undefined && !LEVELS.has(event.level as string))
    return `level ${String(event.level)} is unknown`;
  if (typeof event.message !== 'string' || event.message === '') return 'this fake wants a non-empty message';
  if (!Array.isArray(event.fingerprint) || !event.fingerprint.every((f) => typeof f === 'string'))
    return 'fingerprint must be an array of strings';
  if (!isObject(event.tags) || !Object.values(event.tags).every((v) => typeof v === 'string'))
    return 'tags must be an object of strings';
  if (event.extra !== undefined && !isObject(event.extra)) return 'extra must be an object';
  for (const field of ['environment', 'release', 'server_name', 'logger'])
    if (event[field] !== undefined && typeof event[field] !== 'string') return `${field} must be a string`;
  if (
    typeof event.environment === 'string' &&
    (/[\r\n/]/.test(event.environment) || event.environment.length > 64)
  )
    return 'environment has a newline or slash or is over 64 characters';
  if (typeof event.release === 'string' && (/[\r\n\t/\\]/.test(event.release) || event.release.length > 200))
    return 'release has a newline, tab or slash or is over 200 characters';
  return undefined;
}

function tagViolations(eventId: string, tags: unknown): string[] {
  const found: string[] = [];
  for (const [key, value] of Object.entries(tags as Record<string, string>)) {
    if (!TAG_KEY.test(key))
      found.push(`${eventId}: tag key ${JSON.stringify(key)} breaks Sentry's key rules`);
    if (Array.from(value).length > TAG_VALUE_MAX)
      found.push(`${eventId}: tag ${key} value is over 200 characters`);
    if (value.includes('\n')) found.push(`${eventId}: tag ${key} value has a newline`);
    if (value === '') found.push(`${eventId}: tag ${key} value is empty`);
  }
  return found;
}

function parseFingerprintQuery(query: string): string | undefined {
  const match = /^alert_fingerprint:(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))$/.exec(query.trim());
  if (!match) return undefined;
  return match[1] !== undefined ? JSON.parse(`"${match[1]}"`) : match[2];
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

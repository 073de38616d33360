import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake Sysdig Monitor events API: `POST /api/v2/events/` with `Authorization: Bearer
 * <token>` and `{"event": {name, description?, severity?, scope?, tags?}}`, as the Sysdig SDK's
 * EventsClientV2.post_event sends it. It enforces that contract (and our own field caps) the
 * way the real API answers a bad request, records every event it accepted, and can be
 * scripted to answer 429/5xx/4xx, hang or reset.
 */

/** What the fake stored for one accepted event. */
export interface StoredSysdigEvent {
  id: string;
  /** 1-based arrival order of the request that created it. */
  seq: number;
  name: string;
  description?: string;
  severity?: number;
  scope?: string;
  tags: Record<string, string>;
}

export interface FakeSysdig extends FakeServer {
  /** Events created, in order. */
  readonly events: readonly StoredSysdigEvent[];
  /** Resolves with the events once `count` exist or `predicate` holds. */
  waitForEvents(
    condition: number | ((events: readonly StoredSysdigEvent[]) => boolean),
  ): Promise<StoredSysdigEvent[]>;
}

export const FAKE_SYSDIG_PATH = '/api/v2/events/';

/** Mirrors lib/sinks/sysdig/sysdig.ts's caps: the fake refuses what the sink should never send. */
export const FAKE_LIMITS = { name: 255, description: 4000, tagValue: 255, tagKey: 255 };

const EVENT_FIELDS = new Set(['name', 'description', 'severity', 'scope', 'tags']);

export async function startFakeSysdig(options: { token: string }): Promise<FakeSysdig> {
  const events: StoredSysdigEvent[] = [];
  const waiters = new Set<() => void>();

  const reject = (status: number, message: string): FakeAnswer => ({
    status,
    // The shape the SDK's _checkResponse reads: errors[].message / reason.
    body: { errors: [{ reason: STATUS_REASON[status] ?? 'Error', message }] },
  });

  const server = await startFakeServer({
    handle(request) {
      if (request.path !== FAKE_SYSDIG_PATH) return reject(404, `no route ${request.path}`);
      if (request.method !== 'POST') return reject(405, `${request.method} not allowed`);
      if (request.headers.authorization !== `Bearer ${options.token}`) {
        return reject(401, 'Bad credentials');
      }
      if (!/^application\/json\b/.test(request.headers['content-type'] ?? '')) {
        return reject(415, 'Content-Type must be application/json');
      }
      const problem = contractProblem(request.body);
      return problem ? reject(400, problem) : undefined;
    },
    fallback(request) {
      const event = (request.body as { event: Omit<StoredSysdigEvent, 'id' | 'seq'> }).event;
      const stored: StoredSysdigEvent = {
        id: `evt-${events.length + 1}`,
        seq: request.seq,
        ...event,
        tags: event.tags ?? {},
      };
      events.push(stored);
      // The server's `requests` list is updated after this answer is chosen: wake on the next tick.
      queueMicrotask(() => {
        for (const wake of [...waiters]) wake();
      });
      return { status: 201, body: { event: { ...stored, timestamp: Date.now() * 1000 } } };
    },
  });

  return Object.assign(server, {
    events,
    waitForEvents(condition: number | ((list: readonly StoredSysdigEvent[]) => boolean)) {
      const satisfied =
        typeof condition === 'number'
          ? (list: readonly StoredSysdigEvent[]) => list.length >= condition
          : condition;
      return new Promise<StoredSysdigEvent[]>((resolve) => {
        const check = () => {
          if (!satisfied(events)) return;
          waiters.delete(check);
          resolve([...events]);
        };
        waiters.add(check);
        check();
      });
    },
  });
}

/** The first way `body` breaks the events contract, or undefined if it is a valid event. */
export function contractProblem(body: unknown): string | undefined {
  if (!isObject(body) || !isObject(body.event)) return 'body must be {"event": {...}}';
  const event = body.event;
  for (const field of Object.keys(event)) {
    // `filter` is what v1 and the old SDK sent; v2 ignores it, leaving the event unscoped.
    if (!EVENT_FIELDS.has(field)) return `unknown field event.${field}`;
  }
  if (typeof event.name !== 'string' || event.name.trim() === '') return 'event.name is required';
  if (Array.from(event.name).length > FAKE_LIMITS.name) return 'event.name is too long';
  if (event.description !== undefined) {
    if (typeof event.description !== 'string') return 'event.description must be a string';
    if (Array.from(event.description).length > FAKE_LIMITS.description)
      return 'event.description is too long';
  }
  if (event.severity !== undefined) {
    if (
      !Number.isInteger(event.severity) ||
      (event.severity as number) < 0 ||
      (event.severity as number) > 7
    ) {
      return 'event.severity must be an integer from 0 to 7';
    }
  }
  if (event.scope !== undefined && (typeof event.scope !== 'string' || event.scope.trim() === '')) {
    return 'event.scope must be a non-empty string';
  }
  if (event.tags !== undefined) {
    if (!isObject(event.tags)) return 'event.tags must be an object of strings';
    for (const [key, value] of Object.entries(event.tags)) {
      if (typeof value !== 'string') return `event.tags.${key} must be a string`;
      if (key === '' || Array.from(key).length > FAKE_LIMITS.tagKey)
        return 'event.tags key is empty or too long';
      if (Array.from(value).length > FAKE_LIMITS.tagValue) return `event.tags.${key} is too long`;
    }
  }
  return undefined;
}

/** Parses a scope as the fake reads it (`key = "v" and key = 'v'`), or throws. */
export function parseScope(scope: string): [string, string][] {
  const clause = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?:"([^"]*)"|'([^']*)')\s*(?:and\b|$)/;
  const pairs: [string, string][] = [];
  let rest = scope;
  while (rest.trim() !== '') {
    const match = clause.exec(rest);
    if (!match) throw new Error(`not a scope: ${JSON.stringify(rest)}`);
    pairs.push([match[1], match[2] ?? match[3]]);
    rest = rest.slice(match[0].length);
  }
  return pairs;
}

const STATUS_REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  415: 'Unsupported Media Type',
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export type { FakeAnswer, FakeRequest };

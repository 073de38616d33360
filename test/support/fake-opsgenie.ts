import { randomUUID } from 'node:crypto';
import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

/**
 * A fake Opsgenie Alert API (https://docs.opsgenie.com/docs/alert-api; the same calls under
 * /jsm/ops/integration for Jira Service Management operations) that enforces the documented
 * contract: `Authorization: GenieKey <key>` with a known key (else 401), JSON bodies (400 on a
 * syntax error, 415 on another media type), and the create fields' limits (422 with
 * `{message, errors, took, requestId}`): message required and at most 130 characters, alias
 * 512, description 15,000, at most 20 tags of 50 characters, details string values with 8,000
 * characters of keys and values in total, source 100, entity 512, note 25,000, priority P1-P5.
 * A valid request gets 202 `{result: "Request will be processed", took, requestId}`.
 *
 * The effect is applied as Opsgenie applies it, after the 202: a create with the alias of an
 * open alert raises its count; otherwise it opens an alert. A close by alias closes the open
 * alert; with none open the request fails in Opsgenie's log ("Alert does not exist") and
 * nothing changes. The throttle answers 429 with X-RateLimit-State and X-RateLimit-Period-In-Sec.
 */

export const OPSGENIE_LIMITS = {
  message: 130,
  alias: 512,
  description: 15_000,
  tags: 20,
  tagChars: 50,
  detailsChars: 8_000,
  source: 100,
  entity: 512,
  note: 25_000,
  user: 100,
} as const;

export interface FakeOpsgenieAlert {
  /** 1-based creation order. */
  id: number;
  apiKey: string;
  alias: string;
  status: 'open' | 'closed';
  /** Creates deduplicated into it (the first opened it). */
  count: number;
  message: string;
  priority: string;
  description?: string;
  tags: string[];
  details: Record<string, string>;
  source?: string;
  /** Every applied action, in order. */
  log: string[];
}

export interface FakeOpsgenieRequestStatus {
  action: 'Create' | 'Close';
  isSuccess: boolean;
  status: string;
  alias: string;
}

export interface FakeOpsgenie extends FakeServer {
  readonly alerts: readonly FakeOpsgenieAlert[];
  /** The newest alert for an alias. */
  alert(alias: string): FakeOpsgenieAlert | undefined;
  /** What became of each accepted request (GET /v2/alerts/requests/{requestId}). */
  requestStatus(requestId: string): FakeOpsgenieRequestStatus | undefined;
  /** Once `after` more valid requests were accepted, answer the next `times` with 429. */
  rateLimit(options: { after: number; times: number }): void;
}

export async function startFakeOpsgenie(options: {
  apiKeys: readonly string[];
  /** Path prefix of the API: '' for Opsgenie, '/jsm/ops/integration' for JSM. */
  prefix?: string;
}): Promise<FakeOpsgenie> {
  const prefix = options.prefix ?? '';
  const known = new Set(options.apiKeys);
  const alerts: FakeOpsgenieAlert[] = [];
  const statuses = new Map<string, FakeOpsgenieRequestStatus>();
  let throttle: { after: number; times: number } | undefined;

  const server = await startFakeServer({
    handle: (request) => {
      const refused = validate(request, known, prefix);
      if (refused || !throttle) return refused;
      if (throttle.after > 0) {
        throttle.after--;
        return undefined;
      }
      if (--throttle.times <= 0) throttle = undefined;
      return {
        status: 429,
        headers: {
          'x-ratelimit-state': 'THROTTLED',
          'x-ratelimit-reason': 'ALERT',
          'x-ratelimit-period-in-sec': '60',
        },
        body: answer({
          message: 'You are making too many requests! To avoid errors, we recommend you limit requests.',
        }),
      };
    },
    fallback: (request) => apply(request),
  });

  function openAlert(apiKey: string, alias: string) {
    return alerts.findLast((a) => a.apiKey === apiKey && a.alias === alias && a.status === 'open');
  }

  function apply(request: FakeRequest): FakeAnswer {
    const apiKey = keyOf(request) ?? '';
    const requestId = randomUUID();
    const body = request.body as Record<string, unknown>;
    const route = routeOf(request, prefix);
    if (route?.action === 'close') {
      const open = openAlert(apiKey, route.alias);
      if (open) {
        open.status = 'closed';
        open.log.push('close');
      }
      statuses.set(requestId, {
        action: 'Close',
        isSuccess: open !== undefined,
        status: open ? 'Closed alert' : 'Alert does not exist',
        alias: route.alias,
      });
    } else {
      const alias = (body.alias as string | undefined) ?? requestId;
      const open = openAlert(apiKey, alias);
      if (open) {
        open.count++;
        open.log.push('create');
      } else {
        alerts.push({
          id: alerts.length + 1,
          apiKey,
          alias,
          status: 'open',
          count: 1,
          message: body.message as string,
          priority: (body.priority as string | undefined) ?? 'P3',
          ...(typeof body.description === 'string' ? { description: body.description } : {}),
          tags: (body.tags as string[] | undefined) ?? [],
          details: (body.details as Record<string, string> | undefined) ?? {},
          ...(typeof body.source === 'string' ? { source: body.source } : {}),
          log: ['create'],
        });
      }
      statuses.set(requestId, {
        action: 'Create',
        isSuccess: true,
        status: open ? 'Alert already exists; count increased' : 'Created alert',
        alias,
      });
    }
    return { status: 202, body: { result: 'Request will be processed', took: 0.01, requestId } };
  }

  return Object.assign(server, {
    alerts,
    alert: (alias: string) => alerts.findLast((a) => a.alias === alias),
    requestStatus: (requestId: string) => statuses.get(requestId),
    rateLimit: (limit: { after: number; times: number }) => {
      throttle = { ...limit };
    },
  });
}

function answer(fields: Record<string, unknown>): Record<string, unknown> {
  return { ...fields, took: 0.002, requestId: randomUUID() };
}

function keyOf(request: FakeRequest): string | undefined {
  return /^GenieKey (.+)$/.exec(request.headers.authorization ?? '')?.[1];
}

function routeOf(
  request: FakeRequest,
  prefix: string,
): { action: 'create' } | { action: 'close'; alias: string } | undefined {
  if (!request.path.startsWith(`${prefix}/v2/alerts`)) return undefined;
  const rest = request.path.slice(`${prefix}/v2/alerts`.length);
  if (rest === '' || rest === '/') return { action: 'create' };
  const close = /^\/([^/]+)\/close$/.exec(rest);
  if (close) return { action: 'close', alias: decodeURIComponent(close[1]) };
  return undefined;
}

function unprocessable(errors: Record<string, string>): FakeAnswer {
  return {
    status: 422,
    body: answer({ message: 'Request body is not processable. Please check the errors.', errors }),
  };
}

function chars(value: unknown): number {
  return typeof value === 'string' ? Array.from(value).length : 0;
}

function validate(request: FakeRequest, known: ReadonlySet<string>, prefix: string): FakeAnswer | undefined {
  const key = keyOf(request);
  if (!key || !known.has(key)) return { status: 401, body: answer({ message: 'Could not authenticate' }) };
  const route = routeOf(request, prefix);
  if (!route || request.method !== 'POST')
    return { status: 404, body: answer({ message: 'Could not find a handler for the request' }) };
  if (!(request.headers['content-type'] ?? '').startsWith('application/json'))
    return { status: 415, body: answer({ message: 'Unsupported Media Type' }) };
  const body = request.body as Record<string, unknown> | undefined;
  if (request.text !== '' && (!body || typeof body !== 'object' || Array.isArray(body)))
    return { status: 400, body: answer({ message: 'Invalid JSON body' }) };
  const fields = body ?? {};
  const errors: Record<string, string> = {};
  if (route.action === 'close') {
    const type = request.query.get('identifierType') ?? 'id';
    if (!['id', 'alias', 'tiny'].includes(type)) errors.identifierType = 'Invalid identifier type';
    if (chars(fields.note) > OPSGENIE_LIMITS.note)
      errors.note = 'Note can not be longer than 25000 characters.';
    if (chars(fields.source) > OPSGENIE_LIMITS.source)
      errors.source = 'Source can not be longer than 100 characters.';
    return Object.keys(errors).length > 0 ? unprocessable(errors) : undefined;
  }
  if (typeof fields.message !== 'string' || fields.message.trim() === '')
    errors.message = 'Message can not be empty.';
  else if (chars(fields.message) > OPSGENIE_LIMITS.message)
    errors.message = 'Message can not be longer than 130 characters.';
  if (
    fields.alias !== undefined &&
    (typeof fields.alias !== 'string' || chars(fields.alias) > OPSGENIE_LIMITS.alias)
  )
    errors.alias = 'Alias can not be longer than 512 characters.';
  if (chars(fields.description) > OPSGENIE_LIMITS.description)
    errors.description = 'Description can not be longer than 15000 characters.';
  if (chars(fields.source) > OPSGENIE_LIMITS.source)
    errors.source = 'Source can not be longer than 100 characters.';
  if (chars(fields.entity) > OPSGENIE_LIMITS.entity)
    errors.entity = 'Entity can not be longer than 512 characters.';
  if (chars(fields.note) > OPSGENIE_LIMITS.note)
    errors.note = 'Note can not be longer than 25000 characters.';
  if (chars(fields.user) > OPSGENIE_LIMITS.user) errors.user = 'User can not be longer than 100 characters.';
  if (fields.priority !== undefined && !['P1', 'P2', 'P3', 'P4', 'P5'].includes(fields.priority as string))
    errors.priority = 'Priority should be one of [P1, P2, P3, P4, P5]';
  if (fields.tags !== undefined) {
    const tags = fields.tags;
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) errors.tags = 'Tags must be strings';
    else if (tags.length > OPSGENIE_LIMITS.tags) errors.tags = 'Tags can not be more than 20.';
    else if (tags.some((t) => chars(t) > OPSGENIE_LIMITS.tagChars))
      errors.tags = 'Tags can not be longer than 50 characters.';
  }
  if (fields.details !== undefined) {
    const details = fields.details;
    if (!details || typeof details !== 'object' || Array.isArray(details))
      errors.details = 'Details must be a map';
    else {
      const entries = Object.entries(details as Record<string, unknown>);
      if (entries.some(([, v]) => typeof v !== 'string')) errors.details = 'Details values must be strings';
      else if (entries.reduce((sum, [k, v]) => sum + chars(k) + chars(v), 0) > OPSGENIE_LIMITS.detailsChars)
        errors.details = 'Details can not be longer than 8000 characters in total.';
    }
  }
  return Object.keys(errors).length > 0 ? unprocessable(errors) : undefined;
}

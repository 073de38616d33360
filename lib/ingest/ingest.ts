import { hash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { SchemaProblem } from '../alertmanager/schema.ts';
import type { Notification } from '../alertmanager/types.ts';
import type { RelayConfig } from '../config/types.ts';
import type { SecretReader } from '../delivery/sink.ts';
import { packBatches } from '../queue/batches.ts';
import type { Enqueuer, OutgoingMessage } from '../queue/types.ts';
import type { VersionedStateStore } from '../state/store.ts';
import type { Telemetry } from '../telemetry.ts';
import { resolveWatchdog } from '../watchdog/config.ts';
import { recordHeartbeat, splitHeartbeat } from '../watchdog/heartbeat.ts';
import { buildFanout, type FanoutEntry, MessageTooLargeError } from './fanout.ts';
import { isNotification } from './notification-shape.ts';
import { type Rejection, RejectionLog, type RejectionLogOptions, type RequestFacts } from './rejections.ts';
import { compileRoutes, routeNotification } from './routing.ts';

/**
 * Largest body ingest accepts: 2.75 MiB (2,883,584 bytes). On AWS the body reaches the Lambda
 * as a JSON string inside the API Gateway event, and a synchronous invocation carries at most
 * 6 MB (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html; read as
 * 6,000,000 bytes, the smaller reading). In valid JSON every byte escapes to at most two (`"`
 * and `\` gain a backslash; control characters are already escaped, and tab/CR/LF become
 * two bytes; UTF-8 text passes unescaped), so 2 x 2,883,584 plus 64 KiB for headers and request context is 5,832,704
 * bytes: a body up to 2.83 MiB still reaches the handler, which answers 413 above this.
 */
export const MAX_BODY_BYTES = 2.75 * 1024 * 1024;

/** Deepest nesting of objects and arrays ingest accepts (an Alertmanager body is 4 deep). */
export const MAX_JSON_DEPTH = 64;

export interface IngestDependencies {
  config: RelayConfig;
  secrets: SecretReader;
  enqueuer: Enqueuer;
  telemetry: Telemetry;
  now?: () => Date;
  /** How many rejected requests are logged one by one (lib/ingest/rejections.ts); the clock is `now`. */
  rejectionLog?: Omit<RejectionLogOptions, 'now'>;
  /**
   * Where the watchdog's heartbeats are recorded (`watchdog#<alertname>`: DynamoDB on AWS,
   * state.db locally). Required when relay.yaml has a `watchdog:` block, unused otherwise.
   */
  state?: VersionedStateStore;
}

export type IngestHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** The answer ingest gives Alertmanager once every queue accepted its messages. */
export interface IngestAccepted {
  notification: string;
  destinations: { name: string; alerts: number; parts?: number }[];
}

/**
 * The ingest handler: authenticate, parse, validate, record a watchdog heartbeat, route,
 * enqueue. 202 only after every queue accepted every message; 503 for anything transient, so
 * Alertmanager retries (it drops a notification on any 4xx, 429 included: never answer 429);
 * 4xx with a JSON `{error, details}` for a bad request, so a person reading Alertmanager's log
 * sees why.
 *
 * With a `watchdog:` block, a notification carrying the watched alert (firing) is a heartbeat
 * (lib/watchdog/heartbeat.ts): only after the token and the body were checked, so no
 * unauthenticated caller can forge one, it is recorded in `deps.state` before anything is
 * enqueued (a failed write is a 503: Alertmanager sends it again), and only what is left of the
 * notification without the watched alert is routed (unless `forward: true`). A notification of
 * the heartbeat alone is answered 202 with no destination, and is not counted as unrouted.
 */
export function createIngestHandler(deps: IngestDependencies): IngestHandler {
  const routes = compileRoutes(deps.config);
  const now = deps.now ?? (() => new Date());
  const watchdog = resolveWatchdog(deps.config.watchdog);
  const { state } = deps;
  if (watchdog && !state) {
    // Accepting heartbeats without recording them would swallow them (forward: false) and watch nothing.
    throw new Error('watchdog: is configured, but ingest was given no state store to record heartbeats in');
  }
  const { logger } = deps.telemetry;
  const authenticate = createAuthenticator(deps.config, deps.secrets);
  const rejections = new RejectionLog(logger, { ...deps.rejectionLog, now: () => now().getTime() });

  return async (event) => {
    const facts: RequestFacts = {
      requestId: event.requestContext?.requestId,
      sourceIp: event.requestContext?.http?.sourceIp,
      userAgent: event.requestContext?.http?.userAgent,
    };
    /** A refused request: counted, logged within the rejection log's budget, answered. */
    const refuse = (
      rejection: Rejection,
      body: { error: string; details: unknown[] },
      headers?: Record<string, string>,
    ) => {
      // The count (a metric log line on AWS, whose ingest-rejected alarm reads API Gateway's 4xx;
      // a Prometheus counter locally) is of refused notifications: not a 503, which Alertmanager
      // retries, nor a 405, which no notification gets.
      if (rejection.status < 500 && rejection.status !== 405)
        deps.telemetry.count('NotificationsRejected', {});
      rejections.record(rejection, facts);
      return reply(rejection.status, body, headers);
    };
    try {
      rejections.tick();
      const method = event.requestContext?.http?.method ?? 'POST';
      if (method !== 'POST') {
        return refuse(
          { status: 405, reason: 'method-not-allowed', detail: `method ${method.slice(0, 20)}` },
          { error: 'method not allowed', details: ['use POST /alertmanager'] },
          { allow: 'POST' },
        );
      }
      const headers = lowerCaseHeaders(event.headers);
      let auth: AuthResult;
      try {
        auth = await authenticate(headers.authorization);
      } catch (error) {
        // The token secret could not be read: answering 401 would make Alertmanager drop the
        // notification, so 503 keeps it retrying while the secret is fixed.
        // The caller is not authenticated yet: why the secret could not be read (a secret id,
        // an ARN, a file) goes to the operator's log and error report, never into the answer.
        // The error report shares the rejection log's budget: an unauthenticated flood during a
        // secret outage must not write (and send to Sentry) one report per request.
        const rejection: Rejection = {
          status: 503,
          reason: 'token-unreadable',
          detail: `the ingest token secret could not be read (${(error as Error)?.name ?? 'error'})`,
        };
        if (rejections.record(rejection, facts)) deps.telemetry.reportError(error, { stage: 'ingest-auth' });
        return reply(503, {
          error: 'cannot verify the token right now',
          details: ['the ingest token secret could not be read; the relay logged why'],
        });
      }
      if (auth !== 'ok') {
        return refuse(
          { status: 401, reason: authReason(auth), detail: auth },
          { error: 'unauthorized', details: [auth] },
          { 'www-authenticate': 'Bearer realm="alertmanager-relay"' },
        );
      }
      const contentType = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (contentType !== 'application/json') {
        const got = contentType ? JSON.stringify(contentType.slice(0, 100)) : 'none';
        return refuse(
          { status: 415, reason: 'unsupported-media-type', detail: `Content-Type ${got}` },
          { error: 'unsupported media type', details: [`Content-Type must be application/json, got ${got}`] },
        );
      }
      const raw = event.body ?? '';
      // The decoded size: base64 padding ('=') is not part of it.
      const size = Buffer.byteLength(raw, event.isBase64Encoded ? 'base64' : 'utf8');
      facts.bodyBytes = size;
      if (size > MAX_BODY_BYTES) {
        return refuse(
          { status: 413, reason: 'body-too-large', detail: `${size} bytes, over ${MAX_BODY_BYTES}` },
          { error: 'payload too large', details: [`the body is over ${MAX_BODY_BYTES} bytes`] },
        );
      }
      const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        // V8's message quotes a piece of the body: the caller gets it, the log only the position.
        const message = (error as Error).message;
        const position = /at position (\d+)/.exec(message)?.[1];
        return refuse(
          {
            status: 400,
            reason: 'malformed-json',
            detail: position ? `JSON.parse failed at position ${position}` : 'JSON.parse failed',
          },
          { error: 'malformed JSON', details: [message.slice(0, 300)] },
        );
      }
      if (nestedDeeperThan(parsed, MAX_JSON_DEPTH)) {
        // Unknown extra fields are passed on, and serialising a value nested thousands deep
        // overflows the stack: that would be a 500, which Alertmanager retries forever.
        return refuse(
          { status: 400, reason: 'nested-too-deep', detail: `deeper than ${MAX_JSON_DEPTH} levels` },
          { error: 'malformed JSON', details: [`the body is nested deeper than ${MAX_JSON_DEPTH} levels`] },
        );
      }
      if (!isNotification(parsed)) {
        const problems = await describeProblems(parsed);
        return refuse(
          { status: 400, reason: 'invalid-notification', detail: summarizeProblems(problems) },
          { error: 'invalid notification', details: problems },
        );
      }
      const notification: Notification = parsed;
      deps.telemetry.count('NotificationsReceived', {});
      // One receive time for the heartbeat's record and every queue message of the notification.
      const receivedAt = now();
      let deliver: Notification | undefined = notification;
      let heartbeat = false;
      if (watchdog && state) {
        const split = splitHeartbeat(notification, watchdog);
        deliver = split.deliver;
        heartbeat = split.heartbeat !== undefined;
        if (split.heartbeat) {
          try {
            await recordHeartbeat(state, watchdog, split.heartbeat, receivedAt);
          } catch (error) {
            // Nothing is enqueued yet: the 503 makes Alertmanager send the whole notification again.
            deps.telemetry.reportError(error, { stage: 'ingest-watchdog' });
            return refuse(
              {
                status: 503,
                reason: 'state-unavailable',
                detail: `the watchdog heartbeat could not be recorded (${(error as Error)?.name ?? 'error'})`,
              },
              {
                error: 'state unavailable',
                details: ['the watchdog heartbeat could not be recorded; the relay logged why'],
              },
              { 'retry-after': '1' },
            );
          }
          deps.telemetry.count('WatchdogHeartbeats', {});
        }
      }
      if (!deliver) {
        // Only the watched alert: a heartbeat (firing), or its resolve, which goes nowhere either.
        logger.info(heartbeat ? 'watchdog heartbeat recorded' : 'watched alert resolved: delivered nowhere', {
          groupKey: notification.groupKey,
        });
        return reply(202, { notification: notification.groupKey, destinations: [] } satisfies IngestAccepted);
      }
      const routed = routeNotification(deliver, routes);
      if (routed.length === 0) {
        deps.telemetry.count('NotificationsUnrouted', {});
        logger.info('notification matched no destination', {
          groupKey: notification.groupKey,
          alerts: deliver.alerts.length,
        });
        return reply(202, { notification: notification.groupKey, destinations: [] } satisfies IngestAccepted);
      }
      let entries: FanoutEntry[];
      try {
        // API Gateway gives each request its own id (so does the local server); the fallback
        // only serves callers that build events by hand.
        const requestId = event.requestContext?.requestId || randomUUID();
        entries = buildFanout(routed, { receivedAt: receivedAt.toISOString(), requestId });
      } catch (error) {
        if (!(error instanceof MessageTooLargeError)) throw error;
        return refuse(
          { status: 413, reason: 'message-too-large', detail: error.message },
          { error: 'payload too large', details: [error.message] },
        );
      }
      const failures = await enqueueAll(deps.enqueuer, entries);
      if (failures.length > 0) {
        // 503 so Alertmanager retries; the log line names the sinks and SQS's reasons.
        const listed = failures
          .slice(0, 3)
          .map((f) => `${f.sink}: ${f.reason}`)
          .join('; ');
        return refuse(
          {
            status: 503,
            reason: 'queue-unavailable',
            detail: `${failures.length} message(s) not accepted (${listed})`,
          },
          { error: 'queue unavailable', details: failures },
          { 'retry-after': '1' },
        );
      }
      const accepted = summarize(notification.groupKey, entries);
      for (const entry of entries)
        deps.telemetry.count('MessagesEnqueued', { sink: entry.sink, destination: entry.destination });
      logger.info('notification accepted', {
        groupKey: notification.groupKey,
        status: deliver.status,
        alerts: deliver.alerts.length,
        destinations: accepted.destinations,
      });
      return reply(202, accepted);
    } catch (error) {
      // Not the client's fault: a 5xx makes Alertmanager retry, and the error is reported.
      deps.telemetry.reportError(error, { stage: 'ingest' });
      return reply(500, {
        error: 'internal error',
        details: ['the relay failed unexpectedly; it has been reported'],
      });
    }
  };
}

/** 'ok', or why the token was refused, in the words the caller gets. */
type AuthResult = 'ok' | string;

const MISSING_TOKEN = 'missing Authorization header';
const MALFORMED_AUTHORIZATION = 'expected "Authorization: Bearer <token>"';
const INVALID_TOKEN = 'invalid token';

/** The rejection log's reason for a token createAuthenticator refused (ingest's, and the local server's check on the headers). */
export function authReason(verdict: string): 'missing-token' | 'malformed-authorization' | 'invalid-token' {
  if (verdict === MISSING_TOKEN) return 'missing-token';
  if (verdict === MALFORMED_AUTHORIZATION) return 'malformed-authorization';
  return 'invalid-token';
}

/**
 * Bearer token check against the current and the previous token (rotation), in constant
 * time: both sides are hashed to equal-length digests before timingSafeEqual, so neither the
 * content nor the length of the token leaks through timing.
 */
export function createAuthenticator(config: RelayConfig, secrets: SecretReader) {
  const names = [config.ingest.tokenSecret, config.ingest.previousTokenSecret].filter(
    (n): n is string => !!n,
  );
  const known: { token: string; digest: Buffer }[] = [];
  return async (header: string | undefined): Promise<AuthResult> => {
    if (names.length === 0) return 'ok';
    const match = /^Bearer ([^\s]+)$/i.exec(header ?? '');
    if (!match) return header ? MALFORMED_AUTHORIZATION : MISSING_TOKEN;
    const presented = digest(match[1]);
    let ok = false;
    for (const [i, name] of names.entries()) {
      let token: string;
      try {
        token = await secrets.get(name);
      } catch (error) {
        // The previous token is optional during normal operation.
        if (name === config.ingest.previousTokenSecret) continue;
        throw error;
      }
      // The token's digest is kept while the secret reads the same (it is read, cached, on
      // every request); a rotated token is hashed once.
      if (known[i]?.token !== token) known[i] = { token, digest: digest(token) };
      // Evaluate every candidate (no early exit), so timing doesn't tell which one matched.
      ok = safeEqual(presented, known[i].digest) || ok;
    }
    return ok ? 'ok' : INVALID_TOKEN;
  };
}

const digest = (value: string): Buffer => hash('sha256', value, 'buffer');

/** The timing-safe comparison used for tokens (exported so a test can pin it). */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

async function enqueueAll(
  enqueuer: Enqueuer,
  entries: FanoutEntry[],
): Promise<{ sink: string; reason: string }[]> {
  const bySink = new Map<string, OutgoingMessage[]>();
  for (const entry of entries) {
    const messages = bySink.get(entry.sink);
    if (messages) messages.push(entry.message);
    else bySink.set(entry.sink, [entry.message]);
  }
  const failures: { sink: string; reason: string }[] = [];
  await Promise.all(
    [...bySink].flatMap(([sink, messages]) =>
      packBatches(messages).map(async (batch) => {
        let pending = batch;
        // One retry for the entries SQS reported in `Failed` (SendMessageBatch can answer 200
        // with some entries failed); duplicates are absorbed by the deduplication id.
        for (let attempt = 1; attempt <= 2 && pending.length > 0; attempt++) {
          try {
            const { failed } = await enqueuer.sendBatch(sink, pending);
            if (failed.length === 0) break;
            const failedIds = new Set(failed.map((f) => f.id));
            pending = pending.filter((m) => failedIds.has(m.id));
            if (attempt === 2) for (const f of failed) failures.push({ sink, reason: f.reason });
          } catch (error) {
            if (attempt === 2) failures.push({ sink, reason: (error as Error).name || 'send failed' });
          }
        }
      }),
    ),
  );
  return failures;
}

/**
 * What is wrong with a body that is not a notification, with JSON paths. Ajv and the compiled
 * schema are loaded only here, for a rejected body: a dynamic import keeps them out of the
 * cold start of every function that bundles ingest.
 */
async function describeProblems(value: unknown): Promise<SchemaProblem[]> {
  const { validateNotification } = await import('../alertmanager/schema.ts');
  const result = validateNotification(value);
  if (result.ok) throw new Error('isNotification and the webhook v4 schema disagree on a body');
  return result.problems;
}

/** The rejection log's detail for an invalid body: how many problems, and the first. */
function summarizeProblems(problems: SchemaProblem[]): string {
  const [first] = problems;
  if (!first) return 'no problem named';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more listed)` : '';
  return `${first.path.slice(0, 120)} ${first.message.slice(0, 60)}${more}`;
}

/**
 * Whether `value` nests objects/arrays deeper than `limit`. The recursion stops at `limit`
 * levels, so a hostile depth cannot overflow the stack, and it allocates nothing per value.
 */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (limit <= 0) return true;
  if (Array.isArray(value)) {
    // An index, not for-of: until V8 optimizes this function, for-of allocates a result object
    // per element (28 MB for the first body of 699,050 alerts).
    for (let i = 0; i < value.length; i++) if (nestedDeeperThan(value[i], limit - 1)) return true;
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) if (nestedDeeperThan(record[key], limit - 1)) return true;
  return false;
}

function summarize(groupKey: string, entries: FanoutEntry[]): IngestAccepted {
  const byDestination = new Map<string, { name: string; alerts: number; parts?: number }>();
  for (const entry of entries) {
    const current = byDestination.get(entry.destination);
    if (current) {
      current.alerts += entry.alerts;
      current.parts = (current.parts ?? 1) + 1;
    } else byDestination.set(entry.destination, { name: entry.destination, alerts: entry.alerts });
  }
  return { notification: groupKey, destinations: [...byDestination.values()] };
}

function lowerCaseHeaders(
  headers: APIGatewayProxyEventV2['headers'] | undefined,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const key in headers) out[key.toLowerCase()] = headers[key];
  return out;
}

function reply(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

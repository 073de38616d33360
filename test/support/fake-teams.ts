import { createRequire } from 'node:module';
import type * as AdaptiveCardsModule from 'adaptivecards';
import { TEAMS_MESSAGE_LIMIT_BYTES } from '../../lib/sinks/teams/limits.ts';
import { type FakeAnswer, type FakeRequest, type FakeServer, startFakeServer } from './fake-server.ts';

export { TEAMS_MESSAGE_LIMIT_BYTES };

/**
 * A fake Teams workflow ("When a Teams webhook request is received" -> "Post card in a chat or
 * channel") that enforces what the Teams sink relies on:
 *
 * - the URL is the workflow's invoke URL, `.../workflows/{id}/triggers/manual/paths/invoke`
 *   with `api-version`, `sp`, `sv` and the `sig` signature in the query (the credential): no
 *   `sig` is 401 `{error: {code: "DirectApiAuthorizationRequired"}}`, a wrong one 401
 *   `DirectApiInvalidAuthorizationSignature`, an unknown (deleted) workflow 404
 *   `WorkflowNotFound`; only POST;
 * - the trigger answers 202 Accepted as soon as the run is queued, whatever the body. The run
 *   then posts each attachment as a card, or fails, which the sender never learns: not a
 *   `message` with Adaptive Card attachments (`contentType`
 *   `application/vnd.microsoft.card.adaptive`, `type: AdaptiveCard`, a version up to 1.5, a
 *   `body`), an element or action Teams does not know, a TextBlock without text (empty or only
 *   whitespace), an `Action.OpenUrl` that is not http(s), a card Microsoft's own Adaptive Cards
 *   library (the `adaptivecards` package) reports a problem for when it parses and validates
 *   it, or a message over Teams' message size limit (TEAMS_MESSAGE_LIMIT_BYTES, declared once
 *   in lib/sinks/teams/limits.ts with its sources). Tests read `failedRuns` for that, as a
 *   person reads the workflow's run history;
 * - more than `rateLimit.limit` requests per `rateLimit.windowMs`: 429 with Retry-After.
 */

export interface FakeTeamsCard {
  /** The Adaptive Card as posted. */
  card: Record<string, unknown>;
  /** Every TextBlock text and fact, in order: what a person reads. */
  texts: string[];
  /** Action.OpenUrl buttons. */
  buttons: { title: string; url: string }[];
  /** The bytes of the message it came in (its UTF-8 JSON body, as the limit counts). */
  messageBytes: number;
  /** When it was posted (epoch ms, the fake's clock). */
  postedAt: number;
}

export interface FakeTeams extends FakeServer {
  /** Cards posted into the channel, in order. */
  readonly cards: FakeTeamsCard[];
  /** Runs that failed after the 202, with the reason the run history shows. */
  readonly failedRuns: { seq: number; reason: string }[];
  /** The workflow's invoke URL, as Teams shows it when the workflow is saved. */
  readonly workflowUrl: string;
}

export interface FakeTeamsOptions {
  workflowId: string;
  sig: string;
  rateLimit?: { limit: number; windowMs: number };
  now?: () => number;
}

// The library's `lib/` build is ES modules with extension-less imports, which Node cannot load;
// its `dist/` bundle (UMD) loads with require, parses and validates without a DOM.
const AdaptiveCards = createRequire(import.meta.url)(
  'adaptivecards/dist/adaptivecards.js',
) as typeof AdaptiveCardsModule;

/**
 * What Microsoft's Adaptive Cards library reports for `card` when it parses it (an unknown
 * element or action, a value not allowed for a property) and validates it (a missing card
 * type, an unsupported version, a required property not set, a duplicate id): each problem as
 * `Event: message`, none for a card it takes as it is.
 */
export function adaptiveCardProblems(card: unknown): string[] {
  const parsed = new AdaptiveCards.AdaptiveCard();
  const context = new AdaptiveCards.SerializationContext();
  parsed.parse(card, context);
  const events = Array.from({ length: context.eventCount }, (_, i) => context.getEventAt(i));
  events.push(...parsed.validateProperties().validationEvents);
  return events.map((e) => `${AdaptiveCards.ValidationEvent[e.event]}: ${e.message}`);
}

const ELEMENTS = new Set([
  'TextBlock',
  'RichTextBlock',
  'Container',
  'ColumnSet',
  'Column',
  'FactSet',
  'Image',
  'ImageSet',
  'ActionSet',
]);
const ACTIONS = new Set(['Action.OpenUrl', 'Action.ShowCard', 'Action.ToggleVisibility', 'Action.Execute']);

/** Why the workflow's run would fail to post this body, or undefined. */
export function teamsRunFailure(body: unknown, bytes: number): string | undefined {
  if (bytes > TEAMS_MESSAGE_LIMIT_BYTES)
    return `RequestEntityTooLarge: ${bytes} bytes (max ${TEAMS_MESSAGE_LIMIT_BYTES})`;
  // biome-ignore lint/suspicious/noExplicitAny: the body is loosely typed JSON, checked field by field
  const b = body as Record<string, any> | undefined;
  if (b?.type !== 'message') return 'body is not a message';
  if (!Array.isArray(b.attachments) || b.attachments.length === 0) return 'attachments is missing or empty';
  // biome-ignore lint/suspicious/noExplicitAny: checked field by field
  for (const [i, attachment] of (b.attachments as Record<string, any>[]).entries()) {
    if (attachment.contentType !== 'application/vnd.microsoft.card.adaptive')
      return `attachments[${i}]: contentType is not application/vnd.microsoft.card.adaptive`;
    const card = attachment.content;
    if (card?.type !== 'AdaptiveCard') return `attachments[${i}]: Property 'type' must be 'AdaptiveCard'`;
    if (!/^1\.[0-5]$/.test(String(card.version)))
      return `attachments[${i}]: version ${card.version} is not 1.0-1.5`;
    if (!Array.isArray(card.body)) return `attachments[${i}]: body is not an array`;
    const problem = elementsProblem(card.body, `attachments[${i}].body`) ?? actionsProblem(card.actions, i);
    if (problem) return problem;
    const [reported] = adaptiveCardProblems(card);
    if (reported) return `attachments[${i}]: ${reported}`;
  }
  return undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: card JSON
function elementsProblem(elements: any[], where: string): string | undefined {
  for (const [i, element] of elements.entries()) {
    const at = `${where}[${i}]`;
    if (!ELEMENTS.has(element?.type)) return `${at}: unknown element ${element?.type}`;
    if (element.type === 'TextBlock' && (typeof element.text !== 'string' || element.text.trim() === ''))
      return `${at}: TextBlock without text`;
    if (element.type === 'FactSet') {
      if (!Array.isArray(element.facts)) return `${at}: FactSet without facts`;
      for (const fact of element.facts)
        if (typeof fact.title !== 'string' || typeof fact.value !== 'string')
          return `${at}: fact without title or value`;
    }
    if (element.type === 'Container') {
      if (!Array.isArray(element.items)) return `${at}: Container without items`;
      const inner = elementsProblem(element.items, `${at}.items`);
      if (inner) return inner;
    }
  }
  return undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: card JSON
function actionsProblem(actions: any, index: number): string | undefined {
  if (actions === undefined) return undefined;
  if (!Array.isArray(actions)) return `attachments[${index}]: actions is not an array`;
  for (const action of actions) {
    if (!ACTIONS.has(action?.type)) return `attachments[${index}]: unknown action ${action?.type}`;
    if (action.type === 'Action.OpenUrl' && !/^https?:\/\//.test(String(action.url)))
      return `attachments[${index}]: Action.OpenUrl url is not http(s)`;
  }
  return undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: card JSON
function readTexts(elements: any[], into: string[]): string[] {
  for (const element of elements) {
    if (element.type === 'TextBlock') into.push(element.text);
    if (element.type === 'FactSet')
      for (const fact of element.facts) into.push(`${fact.title}: ${fact.value}`);
    if (element.type === 'Container') readTexts(element.items, into);
  }
  return into;
}

const PATH =
  /^\/powerautomate\/automations\/direct\/workflows\/([0-9a-f]+)\/triggers\/manual\/paths\/invoke\/?$/;

export async function startFakeTeams(options: FakeTeamsOptions): Promise<FakeTeams> {
  const cards: FakeTeamsCard[] = [];
  const failedRuns: { seq: number; reason: string }[] = [];
  const recent: number[] = [];
  const clock = options.now ?? Date.now;
  const refuse = (status: number, code: string, message: string): FakeAnswer => ({
    status,
    body: { error: { code, message } },
  });

  const check = (request: FakeRequest): FakeAnswer | undefined => {
    const match = PATH.exec(request.path);
    if (!match || match[1] !== options.workflowId)
      return refuse(404, 'WorkflowNotFound', 'The workflow could not be found.');
    if (request.method !== 'POST') return refuse(405, 'MethodNotAllowed', 'The trigger accepts POST only.');
    const sig = request.query.get('sig');
    if (!sig || !request.query.get('sp') || !request.query.get('sv'))
      return refuse(
        401,
        'DirectApiAuthorizationRequired',
        'The request must be authenticated by the Shared Access scheme.',
      );
    if (sig !== options.sig)
      return refuse(
        401,
        'DirectApiInvalidAuthorizationSignature',
        'The provided shared access signature is not valid.',
      );
    if (options.rateLimit) {
      const t = clock();
      while (recent.length > 0 && recent[0] <= t - options.rateLimit.windowMs) recent.shift();
      if (recent.length >= options.rateLimit.limit) {
        const wait = Math.max(1, Math.ceil((recent[0] + options.rateLimit.windowMs - t) / 1000));
        return {
          status: 429,
          headers: { 'retry-after': String(wait) },
          body: {
            error: {
              code: 'TooManyRequests',
              message: `Rate limit is exceeded. Try again in ${wait} seconds.`,
            },
          },
        };
      }
      recent.push(t);
    }
    return undefined;
  };

  // The run, after the 202: post the cards, or fail where the sender cannot see it.
  const run = (request: FakeRequest): FakeAnswer => {
    const failure = teamsRunFailure(request.body, request.rawBody.byteLength);
    if (failure) failedRuns.push({ seq: request.seq, reason: failure });
    else {
      // biome-ignore lint/suspicious/noExplicitAny: validated above
      for (const attachment of (request.body as any).attachments) {
        const card = attachment.content;
        cards.push({
          card,
          texts: readTexts(card.body, []),
          // biome-ignore lint/suspicious/noExplicitAny: validated above
          buttons: (card.actions ?? []).map((a: any) => ({ title: a.title, url: a.url })),
          messageBytes: request.rawBody.byteLength,
          postedAt: clock(),
        });
      }
    }
    return { status: 202 };
  };

  const server = await startFakeServer({ handle: check, fallback: run });
  const workflowUrl = `${server.url}/powerautomate/automations/direct/workflows/${options.workflowId}/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${encodeURIComponent(options.sig)}`;
  return Object.assign(server, { cards, failedRuns, workflowUrl });
}

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../../lib/alertmanager/types.ts';
import { DeferredError, PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import { markdown } from '../../../lib/format/markdown.ts';
import { TEAMS_CARD_BUDGET_BYTES, TEAMS_MESSAGE_LIMIT_BYTES } from '../../../lib/sinks/teams/limits.ts';
import { createTeamsSink, type TeamsDestination } from '../../../lib/sinks/teams/teams.ts';
import {
  describeSinkConformance,
  jsonStrings,
  markdownViolations,
  plainTextViolations,
} from '../../support/conformance.ts';
import { type FakeTeams, startFakeTeams, teamsRunFailure } from '../../support/fake-teams.ts';
import { makeNotification } from '../../support/notifications.ts';
import { failure, memoryState, vendorDelivery } from '../../support/vendor-delivery.ts';

const WORKFLOW = '4b1f0a9c2d3e4f5a6b7c8d9e0f1a2b3c';
const SIG = 'sIgN4tur3-Xk2PqRw9zLmN0vBt7YcHd1';
const SECRET = 'TEAMS_WEBHOOK_URL';
const invokePath = `/powerautomate/automations/direct/workflows/${WORKFLOW}/triggers/manual/paths/invoke`;

describeSinkConformance<TeamsDestination>({
  name: 'teams',
  sink: ({ now }) => createTeamsSink({ now }),
  destination: (vendor) => ({
    name: 'ops-teams',
    sink: 'teams',
    webhookUrlSecret: SECRET,
    timeoutSeconds: vendor.timeoutSeconds,
  }),
  secrets: (vendor) => ({
    [SECRET]: `${vendor.url}${invokePath}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${SIG}`,
  }),
  leaks: () => [SIG],
  http: { label: (vendor) => `teams ${vendor.host}` },
  hostile: ({ requests }) => {
    expect(requests.length).toBeGreaterThan(0);
    const texts: string[] = [];
    for (const request of requests) {
      expect(teamsRunFailure(request.body, request.rawBody.byteLength)).toBeUndefined();
      const card = (request.body as { attachments: { content: unknown }[] }).attachments[0].content;
      JSON.stringify(card, (key, value) => {
        if ((key === 'text' || key === 'title' || key === 'value') && typeof value === 'string')
          texts.push(value);
        return value;
      });
      expect(jsonStrings(request.body).flatMap(plainTextViolations)).toEqual([]);
    }
    const text = texts.join('\n');
    // Markdown renders in TextBlocks and facts: no link, image, HTML or mention from the alert.
    expect(texts.flatMap((t) => markdownViolations(t))).toEqual([]);
    // Every markup character of the alert arrives escaped.
    expect(text).not.toMatch(/(^|[^\\])\]\(https:\/\/evil/);
    expect(text).not.toMatch(/(^|[^\\])<https:\/\/evil/);
    expect(text).not.toContain('@here');
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('reset your password');
  },
});

function group(statuses: Notification['status'][], extra: Partial<Notification> = {}): Notification {
  const n = makeNotification({
    count: statuses.length,
    ...(extra.groupKey ? { groupKey: extra.groupKey } : {}),
  });
  n.alerts = n.alerts.map((alert, i) => ({
    ...alert,
    status: statuses[i],
    endsAt: statuses[i] === 'resolved' ? '2026-11-21T11:30:00.000Z' : '0001-01-01T00:00:00Z',
  }));
  n.status = statuses.includes('firing') ? 'firing' : 'resolved';
  n.commonLabels = { alertname: 'HighLatency', severity: 'critical' };
  n.commonAnnotations = { summary: 'Latency is high', runbook_url: 'https://runbooks.example/latency' };
  return n;
}

describe('Sink: teams (contract with the fake Teams workflow)', () => {
  let teams: FakeTeams;
  let state: ReturnType<typeof memoryState>;

  beforeEach(async () => {
    teams = await startFakeTeams({ workflowId: WORKFLOW, sig: SIG });
    state = memoryState();
  });

  afterEach(async () => {
    await teams.close();
  });

  const destination: TeamsDestination = { name: 'ops-teams', sink: 'teams', webhookUrlSecret: SECRET };

  function deliver(notification: Notification, options: { secret?: string; idempotencyKey?: string } = {}) {
    return createTeamsSink().deliver(
      vendorDelivery(destination, notification, {
        state,
        secrets: { [SECRET]: options.secret ?? teams.workflowUrl },
        idempotencyKey: options.idempotencyKey ?? `idem-${notification.status}`,
      }),
    );
  }

  it('should pace the workflow: a burst of 4 posts, then the next comes back in 2 s, whatever its signature', async () => {
    // Prepare: six groups at the same instant.
    const now = Date.parse('2026-11-21T12:00:00.000Z');
    const sink = createTeamsSink({ now: () => now });
    const deliverGroup = (i: number, secret = teams.workflowUrl) =>
      sink.deliver(
        vendorDelivery(destination, group(['firing'], { groupKey: `{}:{instance="host-${i}"}` }), {
          state,
          secrets: { [SECRET]: secret },
          idempotencyKey: `idem-paced-${i}`,
        }),
      );
    for (let i = 0; i < 4; i++) await deliverGroup(i);

    // Act: the fifth; the sixth with the URL's signature rotated (the same workflow's budget).
    const fifth = await failure(deliverGroup(4));
    const rotated = new URL(teams.workflowUrl);
    rotated.searchParams.set('sig', 'rotatedSig-0000');
    const sixth = await failure(deliverGroup(5, rotated.href));

    // Assess
    expect(teams.requests).toHaveLength(4);
    expect(teams.failedRuns).toEqual([]);
    expect(fifth).toBeInstanceOf(DeferredError);
    expect(fifth.message).toBe("Teams workflow pacing: this notification's message may go out in 2 s");
    expect((sixth as DeferredError).retryAfterSeconds).toBe(4);
  });

  it('should post a red card for the firing group and a green one for its resolve', async () => {
    // Act
    await deliver(group(['firing', 'firing']));
    await deliver(group(['resolved', 'resolved']));

    // Assess
    expect(teams.requests.map((r) => r.outcome)).toEqual([202, 202]);
    expect(teams.failedRuns).toEqual([]);
    expect(teams.cards).toHaveLength(2);
    const [firing, resolved] = teams.cards.map(
      (c) => c.card as { body: { style?: string }[]; version: string },
    );
    expect(firing.version).toBe('1.4');
    expect(firing.body[0].style).toBe('attention');
    expect(resolved.body[0].style).toBe('good');
    expect(teams.cards[0].buttons.map((b) => b.title)).toEqual(['Graph', 'Runbook', 'Silence']);
    expect(teams.cards[1].buttons.map((b) => b.title)).toEqual(['Graph', 'Runbook']);
    expect(teams.cards[0].texts).toContain('severity: critical');
  });

  it('should split a large group into cards under the size limit, every alert in one of them, none failing in the workflow', async () => {
    // Prepare
    const big = group(Array.from({ length: 600 }, () => 'firing' as const));

    // Act
    await deliver(big);

    // Assess
    expect(teams.failedRuns).toEqual([]);
    expect(teams.cards.length).toBeGreaterThan(1);
    for (const card of teams.cards) expect(card.messageBytes).toBeLessThanOrEqual(TEAMS_CARD_BUDGET_BYTES);
    const lines = teams.cards.flatMap((c) => c.texts).filter((t) => t.startsWith('🔴'));
    expect(lines).toHaveLength(600);
    expect(teams.cards[1].texts[0]).toMatch(/alerts \d+-\d+ of 600 \(continued, card 2 of \d+\)/);
  });

  it('should deliver a 300-alert group with 60 labels of 300 characters whole, every card within the limit, none failing in the workflow', async () => {
    // Prepare: the labels alone were a 35 KB card before the facts were measured.
    const labels: Record<string, string> = { alertname: 'HighLatency' };
    for (let i = 0; i < 60; i++) labels[`label_${String(i).padStart(2, '0')}`] = `${i}-`.padEnd(300, 'v.');
    const big = makeNotification({ count: 300, labels: () => labels });
    big.commonLabels = labels;

    // Act
    await deliver(big);

    // Assess
    expect(teams.failedRuns).toEqual([]);
    expect(teams.requests.map((r) => r.outcome)).toEqual(teams.cards.map(() => 202));
    expect(teams.cards.length).toBeGreaterThan(2);
    for (const card of teams.cards) {
      expect(card.messageBytes).toBeLessThanOrEqual(TEAMS_CARD_BUDGET_BYTES);
      expect(card.messageBytes).toBeLessThanOrEqual(TEAMS_MESSAGE_LIMIT_BYTES);
    }
    const texts = teams.cards.flatMap((c) => c.texts);
    for (const [name, value] of Object.entries(labels))
      expect(texts.filter((t) => t === `${markdown(name)}: ${markdown(value)}`)).toHaveLength(1);
    const lines = texts.filter((t) => t.startsWith('🔴'));
    expect(lines).toHaveLength(300);
    for (let i = 0; i < 300; i++)
      expect(lines.filter((l) => l.includes(`${markdown(`instance=web-${i}:9100`)},`))).toHaveLength(1);
    expect(teams.cards[1].texts[0]).toMatch(
      new RegExp(`: labels \\d+-\\d+ of 61.* \\(continued, card 2 of ${teams.cards.length}\\)$`),
    );
  });

  it('should not post again the cards an earlier attempt delivered', async () => {
    // Prepare
    const big = group(Array.from({ length: 600 }, () => 'firing' as const));
    teams.respondWith([{ status: 202 }, { status: 503, headers: { 'retry-after': '4' } }]);
    const error = await failure(deliver(big, { idempotencyKey: 'idem-big' }));

    // Act
    await deliver(big, { idempotencyKey: 'idem-big' });

    // Assess
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterSeconds).toBe(4);
    const seqs = teams.requests.map((r) => r.outcome);
    expect(seqs.slice(0, 2)).toEqual([202, 503]);
    const cardCount = teams.cards.length + 1; // the first card was answered by the script, not posted
    expect(teams.requests).toHaveLength(cardCount + 1);
    expect(teams.failedRuns).toEqual([]);
  });

  it('should wait as long as a 429 says', async () => {
    // Prepare
    await teams.close();
    const clock = Date.parse('2026-11-21T12:00:00Z');
    teams = await startFakeTeams({
      workflowId: WORKFLOW,
      sig: SIG,
      rateLimit: { limit: 1, windowMs: 5000 },
      now: () => clock,
    });
    await deliver(group(['firing']));

    // Act
    const error = await failure(deliver(group(['resolved'])));

    // Assess
    expect(teams.failedRuns).toEqual([]);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).statusCode).toBe(429);
    expect((error as RetryableError).retryAfterSeconds).toBe(5);
  });

  it('should dead-letter a wrong signature (401) naming the secret, not the signature', async () => {
    // Act
    const error = await failure(
      deliver(group(['firing']), { secret: teams.workflowUrl.replace(SIG, 'wrongSig0123456') }),
    );

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(401);
    expect(error.message).toContain(`put the workflow's current URL in ${SECRET}`);
    expect(error.message).toContain('DirectApiInvalidAuthorizationSignature');
    expect(error.message).not.toContain('wrongSig0123456');
  });

  it('should dead-letter a deleted workflow (404)', async () => {
    // Act
    const error = await failure(
      deliver(group(['firing']), { secret: teams.workflowUrl.replace(WORKFLOW, 'ffff0000ffff0000') }),
    );

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).statusCode).toBe(404);
  });

  it('should refuse a secret that is not a URL without quoting it', async () => {
    // Act
    const error = await failure(deliver(group(['firing']), { secret: 'not a url sig=abc123' }));

    // Assess
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain(SECRET);
    expect(error.message).not.toContain('abc123');
  });
});

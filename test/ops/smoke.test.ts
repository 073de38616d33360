import { describe, expect, it } from 'vitest';
import { groupStateKey } from '../../lib/delivery/group-state.ts';
import { buildFanout } from '../../lib/ingest/fanout.ts';
import { compileRoutes, routeNotification } from '../../lib/ingest/routing.ts';
import type { DeadLetterQueues } from '../../lib/ops/dlq/dead-letters.ts';
import {
  type DeliveryObserver,
  formatSmokeReport,
  type Outcome,
  recordsObserver,
  runSmoke,
  smokeNotification,
} from '../../lib/ops/smoke.ts';
import type { QueueMessage } from '../../lib/queue/message.ts';

function fakeFetch(statuses: number[], destinations: string[]) {
  const bodies: { status: string }[] = [];
  const impl = (async (_url: string, init: { body: string }) => {
    bodies.push(JSON.parse(init.body));
    const status = statuses.shift() ?? 202;
    return new Response(
      JSON.stringify({ notification: 'g', destinations: destinations.map((name) => ({ name, alerts: 1 })) }),
      {
        status,
      },
    );
  }) as unknown as typeof fetch;
  return { impl, bodies };
}

function scriptedObserver(outcomes: Outcome[]): DeliveryObserver & { keys: string[] } {
  const keys: string[] = [];
  return {
    keys,
    description: 'test records',
    outcome: async (_destination, key) => {
      keys.push(key);
      return outcomes.shift() ?? { state: 'delivered', latencyMs: 5 };
    },
  };
}

describe('Function: runSmoke', () => {
  it('should send the resolve only after every destination took the firing notification', async () => {
    // Prepare
    const fetch = fakeFetch([], ['stdout']);
    const observer = scriptedObserver([{ state: 'pending' }, { state: 'delivered', latencyMs: 40 }]);

    // Act
    const reports = await runSmoke({
      url: 'http://relay/alertmanager',
      observer,
      fetch: fetch.impl,
      sleep: async () => undefined,
    });

    // Assess
    expect(fetch.bodies.map((body) => body.status)).toEqual(['firing', 'resolved']);
    expect(reports.map((report) => report.outcomes[0].outcome.state)).toEqual(['delivered', 'delivered']);
    expect(observer.keys).toHaveLength(3);
  });

  it('should stop after a dead-lettered firing notification and not send the resolve', async () => {
    // Prepare
    const fetch = fakeFetch([], ['audit']);
    const observer = scriptedObserver([
      { state: 'dead-lettered', reason: 'PermanentError: 403', statusCode: '403' },
    ]);

    // Act
    const reports = await runSmoke({ url: 'http://relay/alertmanager', observer, fetch: fetch.impl });
    const { text, ok } = formatSmokeReport(reports, 'test records');

    // Assess
    expect(fetch.bodies).toHaveLength(1);
    expect(ok).toBe(false);
    expect(text).toContain('firing  audit        dead-lettered  -        403: PermanentError: 403');
  });

  it('should look for the idempotency key the relay gives the routed message', async () => {
    // Prepare
    const fetch = fakeFetch([], ['audit']);
    const observer = scriptedObserver([]);

    // Act
    await runSmoke({
      url: 'http://relay/alertmanager',
      observer,
      fetch: fetch.impl,
      labels: { severity: 'critical' },
    });
    const firing = fetch.bodies[0] as unknown as Parameters<typeof routeNotification>[0];
    const routes = compileRoutes({
      ingest: {},
      destinations: [{ name: 'audit', sink: 'webhook', url: 'http://x', matchers: ['severity="critical"'] }],
    });
    const [entry] = buildFanout(routeNotification(firing, routes), {
      receivedAt: new Date().toISOString(),
      requestId: 'smoke-test',
    });

    // Assess
    expect(observer.keys[0]).toBe((JSON.parse(entry.message.body) as QueueMessage).idempotencyKey);
  });
});

const GROUP = '{}:{alertname="RelaySmokeTest"}';

describe('Function: recordsObserver', () => {
  const noDeadLetters: DeadLetterQueues = {
    description: 'none',
    sinks: async () => ['webhook'],
    depth: async () => 0,
    peek: async () => [],
    redrive: async () => ({ moved: 0, status: 'completed' }),
    purge: async () => 0,
  };

  it("should read delivered and the latency from the group's applied state", async () => {
    // Prepare
    const state = {
      get: async (key: string) =>
        key === groupStateKey('audit', GROUP)
          ? { receivedAt: '2026-11-21T12:00:00.000Z', keys: ['k1'], appliedAt: '2026-11-21T12:00:00.250Z' }
          : undefined,
      put: async () => undefined,
      delete: async () => undefined,
    };

    // Act
    const observer = recordsObserver({ state: state as never, deadLetters: noDeadLetters, description: 'x' });

    // Assess
    expect(await observer.outcome('audit', 'k1', GROUP)).toEqual({ state: 'delivered', latencyMs: 250 });
    expect(await observer.outcome('audit', 'k2', GROUP)).toEqual({ state: 'pending' });
  });

  it('should find a dead-lettered message by destination and key and give its reason', async () => {
    // Prepare
    const body = JSON.stringify({
      v: 1,
      destination: 'audit',
      idempotencyKey: 'k1',
      notification: smokeNotification({ status: 'firing', run: 'r', startsAt: 'now' }),
    });
    const deadLetters: DeadLetterQueues = {
      ...noDeadLetters,
      depth: async () => 1,
      peek: async () => [
        { messageId: 'm', body, attributes: { reason: 'PermanentError: gone', statusCode: '410' } },
      ],
    };
    const state = { get: async () => undefined, put: async () => undefined, delete: async () => undefined };

    // Act
    const observer = recordsObserver({ state, deadLetters, description: 'x' });

    // Assess
    expect(await observer.outcome('audit', 'k1', GROUP)).toEqual({
      state: 'dead-lettered',
      reason: 'PermanentError: gone',
      statusCode: '410',
    });
    expect(await observer.outcome('other', 'k1', GROUP)).toEqual({ state: 'pending' });
  });
});

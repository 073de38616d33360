import { describe, expect, it } from 'vitest';
import { groupStateKey } from '../../lib/delivery/group-state.ts';
import { buildFanout } from '../../lib/ingest/fanout.ts';
import { compileRoutes, routeNotification } from '../../lib/ingest/routing.ts';
import { StageLookupError } from '../../lib/ops/aws-hint.ts';
import { StageUnreachableError } from '../../lib/ops/dlq/command-line.ts';
import type { DeadLetterQueues } from '../../lib/ops/dlq/dead-letters.ts';
import {
  type DeliveryObserver,
  explainSmokeFailure,
  formatSmokeReport,
  localRelayUrl,
  type Outcome,
  RelayUnreachableError,
  recordsObserver,
  runSmoke,
  smokeInvocation,
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

describe('Function: runSmoke, when it cannot observe or reach the relay', () => {
  it('should check the records before it posts, and post nothing when they cannot be read', async () => {
    // Prepare
    const fetch = fakeFetch([], ['stdout']);
    const refused = new StageUnreachableError('no usable AWS credentials to reach stage dev', 'credentials');
    const observer: DeliveryObserver = {
      description: 'test records',
      check: async () => {
        throw refused;
      },
      outcome: async () => ({ state: 'delivered' }),
    };

    // Act
    const run = runSmoke({ url: 'http://relay/alertmanager', observer, fetch: fetch.impl });

    // Assess
    await expect(run).rejects.toBe(refused);
    expect(fetch.bodies).toEqual([]);
  });

  it("should name the URL and the cause under fetch's 'fetch failed'", async () => {
    // Prepare: what Node's fetch throws when nothing listens.
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9099'), { code: 'ECONNREFUSED' });
    const failing = (async () => {
      throw new TypeError('fetch failed', { cause: refused });
    }) as unknown as typeof fetch;

    // Act
    const run = runSmoke({
      url: 'http://127.0.0.1:9099/alertmanager',
      observer: scriptedObserver([]),
      fetch: failing,
    });

    // Assess
    await expect(run).rejects.toThrow(RelayUnreachableError);
    await expect(run).rejects.toThrow(
      'could not reach the relay at http://127.0.0.1:9099/alertmanager: connect ECONNREFUSED 127.0.0.1:9099',
    );
  });

  it('should give each address tried when the name had several', async () => {
    // Prepare: localhost is ::1 and 127.0.0.1; Node tries both and throws an AggregateError with no message.
    const both = Object.assign(
      new AggregateError([
        new Error('connect ECONNREFUSED ::1:9099'),
        new Error('connect ECONNREFUSED 127.0.0.1:9099'),
      ]),
      { code: 'ECONNREFUSED' },
    );

    // Act
    const error = new RelayUnreachableError(
      'http://localhost:9099/alertmanager',
      new TypeError('fetch failed', { cause: both }),
    );

    // Assess
    expect(error.message).toBe(
      'could not reach the relay at http://localhost:9099/alertmanager: connect ECONNREFUSED ::1:9099; connect ECONNREFUSED 127.0.0.1:9099',
    );
  });
});

describe('Function: localRelayUrl', () => {
  it('should take HOST and PORT as npm start does, and say where the address came from', () => {
    // Act
    const defaults = localRelayUrl({});
    const port = localRelayUrl({ PORT: '9100' });
    const wildcard = localRelayUrl({ HOST: '0.0.0.0', PORT: '9100' });
    const v6 = localRelayUrl({ HOST: '::1' });

    // Assess
    expect(defaults).toEqual({
      url: 'http://127.0.0.1:9099/alertmanager',
      address: '127.0.0.1:9099',
      from: "npm start's default address (HOST and PORT are not set here)",
    });
    expect(port).toEqual({
      url: 'http://127.0.0.1:9100/alertmanager',
      address: '127.0.0.1:9100',
      from: 'from PORT=9100; HOST not set: 127.0.0.1',
    });
    expect(wildcard.url).toBe('http://127.0.0.1:9100/alertmanager');
    expect(wildcard.from).toBe('from PORT=9100; HOST=0.0.0.0 (every interface), reached on 127.0.0.1');
    expect(v6.url).toBe('http://[::1]:9099/alertmanager');
  });
});

describe('Function: explainSmokeFailure', () => {
  const given = smokeInvocation({
    'token-file': 'relay token',
    label: ['severity=critical', 'team=db'],
    timeout: '30',
    stage: 'prod',
    region: 'eu-west-1',
  });

  it('should say AWS was not reached and give the same command with --local and the flags given', () => {
    // Prepare
    const error = new StageLookupError(
      'no usable AWS credentials to read stack alertmanager-relay-prod in eu-west-1 (the AWS CLI said: Unable to locate credentials.)',
      'credentials',
    );

    // Act
    const text = explainSmokeFailure(error, given);

    // Assess
    expect(text.split('\n')).toEqual([
      'no usable AWS credentials to read stack alertmanager-relay-prod in eu-west-1 (the AWS CLI said: Unable to locate credentials.)',
      '',
      'For the relay `npm start` runs on this machine, add --local:',
      "  npm run smoke -- --local --token-file 'relay token' --label severity=critical --label team=db --timeout 30",
      'For a deployed stage, set up AWS credentials (AWS_PROFILE, `aws configure` or `aws sso login`) and run it again.',
    ]);
  });

  it('should treat a stage without queues, a missing CLI and an SDK credentials error the same way', () => {
    // Prepare
    const noStage = new StageUnreachableError('stage qa is not deployed in eu-west-1', 'no-stage');
    const noCli = new StageLookupError('the AWS CLI (aws) is not installed', 'no-cli');
    const sdk = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });

    // Act
    const texts = [noStage, noCli, sdk].map((error) => explainSmokeFailure(error, given));

    // Assess
    expect(texts.map((text) => text.split('\n')[3])).toEqual(
      Array(3).fill(
        "  npm run smoke -- --local --token-file 'relay token' --label severity=critical --label team=db --timeout 30",
      ),
    );
    expect(texts[0]).toContain(
      'For a deployed stage, name it and its region as deployed (--stage S --region R).',
    );
    expect(texts[1]).toContain('or give its WebhookUrl and StateTableName outputs with --url and --table.');
    expect(texts[2]).toMatch(
      /^no usable AWS credentials \(CredentialsProviderError: Could not load credentials from any providers\)\n/,
    );
  });

  it("should repeat an http: --url with --local, and leave out a stage's https: one", () => {
    // Prepare
    const error = new StageLookupError('no usable AWS credentials', 'credentials');

    // Act
    const local = explainSmokeFailure(error, smokeInvocation({ url: 'http://127.0.0.1:9100/alertmanager' }));
    const stage = explainSmokeFailure(
      error,
      smokeInvocation({ url: 'https://abc.execute-api.eu-west-1.amazonaws.com/alertmanager' }),
    );

    // Assess
    expect(local).toContain('\n  npm run smoke -- --local --url http://127.0.0.1:9100/alertmanager\n');
    expect(stage).toContain('\n  npm run smoke -- --local\n');
  });

  it('should name the address --local tried, where it came from, and how to point smoke at npm start', () => {
    // Prepare
    const error = new RelayUnreachableError(
      'http://127.0.0.1:9099/alertmanager',
      new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9099') }),
    );

    // Act
    const text = explainSmokeFailure(
      error,
      smokeInvocation({ local: true, 'data-dir': '/srv/relay', 'token-file': 't' }),
      {},
    );

    // Assess
    expect(text.split('\n')).toEqual([
      'could not reach the relay at http://127.0.0.1:9099/alertmanager: connect ECONNREFUSED 127.0.0.1:9099',
      '',
      "Is `npm start` running? smoke --local tried 127.0.0.1:9099, npm start's default address (HOST and PORT are not set here).",
      'If it is not, start it (npm start) and run this again. If it listens elsewhere, give smoke the PORT (and HOST) it',
      'was started with, or its URL:',
      '  PORT=<its port> npm run smoke -- --local --data-dir /srv/relay --token-file t',
      "  npm run smoke -- --local --data-dir /srv/relay --url 'http://<host>:<port>/alertmanager' --token-file t",
    ]);
  });

  it('should print any other failure as it is', () => {
    // Act
    const text = explainSmokeFailure(new Error('no local relay queue at /x/relay.db'), given);

    // Assess
    expect(text).toBe('no local relay queue at /x/relay.db');
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

  it('should read the DLQs and the state store in its check, and name the records a read failed on', async () => {
    // Prepare
    const read: string[] = [];
    const deadLetters: DeadLetterQueues = {
      ...noDeadLetters,
      sinks: async () => {
        read.push('dlq');
        return ['webhook'];
      },
    };
    const missing = Object.assign(new Error('Requested resource not found'), {
      name: 'ResourceNotFoundException',
    });
    const state = {
      get: async () => {
        read.push('state');
        throw missing;
      },
      put: async () => undefined,
      delete: async () => undefined,
    };

    // Act
    const observer = recordsObserver({ state, deadLetters, description: 'state table t of stage prod' });

    // Assess
    await expect(observer.check?.()).rejects.toThrow(
      'could not read state table t of stage prod: ResourceNotFoundException: Requested resource not found',
    );
    expect(read).toEqual(['dlq', 'state']);
  });
});

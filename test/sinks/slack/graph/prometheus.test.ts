import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import { PermanentError } from '../../../../lib/delivery/errors.ts';
import type { SecretReader } from '../../../../lib/delivery/sink.ts';
import { type AlertGraph, renderAlertGraph } from '../../../../lib/sinks/slack/graph/alert-graph.ts';
import { graphConfigSchema } from '../../../../lib/sinks/slack/graph/config.ts';
import {
  authorization,
  queryRange,
  queryRangeUrl,
  rangeWindow,
} from '../../../../lib/sinks/slack/graph/prometheus.ts';
import {
  type FakePrometheus,
  prometheusErrorAnswer,
  startFakePrometheus,
} from '../../../support/fake-prometheus.ts';
import { type FakeServer, startFakeServer } from '../../../support/fake-server.ts';
import {
  LATENCY_NOW,
  LATENCY_QUERY,
  LATENCY_SERIES,
  latencyNotification,
} from '../../../support/graph-data.ts';
import { makeNotification } from '../../../support/notifications.ts';

const NOW = new Date('2026-11-21T12:00:00Z');
// Where a test is not about the timeout: long enough for a machine under heavy load.
const PATIENT = 60;
const NOW_S = NOW.getTime() / 1000;
const TOKEN = 'prom-token-7f3a9c21e5-NEVER-LOG';
const USER = 'relay-reader';
const PASSWORD = 'pw-91c2b7a0e4d3-NEVER-LOG';

function secretsOf(values: Record<string, string>): SecretReader {
  return {
    get: async (name) => {
      const value = values[name];
      if (value === undefined) throw new PermanentError(`secret "${name}" is not set`);
      return value;
    },
  };
}

const noSecrets = secretsOf({});
const window = { start: NOW_S - 3600, end: NOW_S, step: 30 };
const constant = (labels: Record<string, string>, v: number) => ({ labels, value: () => v });

let servers: FakeServer[] = [];
async function prometheus(options: Parameters<typeof startFakePrometheus>[0] = {}): Promise<FakePrometheus> {
  const server = await startFakePrometheus(options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

function skipped(graph: AlertGraph): { skipped: string; reason: string } {
  if (!('skipped' in graph)) throw new Error('expected the graph to be skipped');
  return graph;
}

describe('Graph: config schema', () => {
  // The same ajv settings as lib/config/load.ts: strict mode refuses sloppy schemas at compile.
  const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
    graphConfigSchema,
  );

  it('should accept the documented block', () => {
    // Prepare
    const blocks = [
      { prometheusUrl: 'https://prometheus.internal:9090' },
      {
        prometheusUrl: 'https://prometheus-prod-01.grafana.net/api/prom',
        windowSeconds: 3600,
        points: 120,
        timeoutSeconds: 2.5,
        basicAuthUserSecret: 'PROM_USER',
        basicAuthPasswordSecret: 'PROM_PASSWORD',
        timeZone: 'America/Argentina/Buenos_Aires',
      },
    ];

    // Act
    const results = blocks.map((block) => validate(block));

    // Assess
    expect(results).toEqual([true, true]);
  });

  it('should refuse credentials in the URL, unknown fields, half a basic auth, both auth kinds and secret values', () => {
    // Prepare
    const blocks = [
      {},
      { prometheusUrl: 'https://user:pass@prom:9090' },
      { prometheusUrl: 'prom:9090' },
      { prometheusUrl: 'http://p', step: 30 },
      { prometheusUrl: 'http://p', points: 100000 },
      { prometheusUrl: 'http://p', basicAuthUserSecret: 'U' },
      {
        prometheusUrl: 'http://p',
        bearerTokenSecret: 'T',
        basicAuthUserSecret: 'U',
        basicAuthPasswordSecret: 'P',
      },
      { prometheusUrl: 'http://p', bearerTokenSecret: 'glc_eyJvIjoiMTIzNCJ9==' },
    ];

    // Act
    const results = blocks.map((block) => validate(block));

    // Assess
    expect(results).toEqual(blocks.map(() => false));
  });
});

describe('Graph: range window', () => {
  it('should start an hour before the first startsAt and aim for about 120 points', () => {
    // Prepare
    const startsAt = Date.parse('2026-11-21T11:30:00Z');

    // Act
    const result = rangeWindow({ now: NOW, startsAt });

    // Assess
    expect(result).toEqual({ start: NOW_S - 5400, end: NOW_S, step: 45 });
    expect(Math.floor((result.end - result.start) / result.step) + 1).toBe(121);
  });

  it('should use the configured window and points', () => {
    // Act
    const result = rangeWindow({
      now: NOW,
      startsAt: Date.parse('2026-11-01T00:00:00Z'),
      windowSeconds: 1800,
      points: 60,
    });

    // Assess
    expect(result).toEqual({ start: NOW_S - 1800, end: NOW_S, step: 30 });
  });

  it('should cover at least an hour and at most a week by default', () => {
    // Act
    const future = rangeWindow({ now: NOW, startsAt: NOW.getTime() + 600_000 });
    const missing = rangeWindow({ now: NOW, startsAt: undefined });
    const ancient = rangeWindow({ now: NOW, startsAt: Date.parse('2026-01-01T00:00:00Z') });

    // Assess
    expect(future.end - future.start).toBe(3600);
    expect(missing.end - missing.start).toBe(3600);
    expect(ancient.end - ancient.start).toBe(7 * 86400);
    expect(ancient.step).toBe(5040);
  });
});

describe('Graph: Prometheus credentials', () => {
  it('should build a bearer header from the named secret', async () => {
    // Act
    const header = await authorization(
      { prometheusUrl: 'http://p', bearerTokenSecret: 'PROM_TOKEN' },
      secretsOf({ PROM_TOKEN: TOKEN }),
    );

    // Assess
    expect(header).toBe(`Bearer ${TOKEN}`);
  });

  it('should build a basic auth header from the two named secrets', async () => {
    // Act
    const header = await authorization(
      {
        prometheusUrl: 'http://p',
        basicAuthUserSecret: 'PROM_USER',
        basicAuthPasswordSecret: 'PROM_PASSWORD',
      },
      secretsOf({ PROM_USER: USER, PROM_PASSWORD: PASSWORD }),
    );

    // Assess
    expect(header).toBe(`Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
  });

  it('should send no header without credentials', async () => {
    // Act
    const header = await authorization({ prometheusUrl: 'http://p' }, noSecrets);

    // Assess
    expect(header).toBeUndefined();
  });
});

describe('Graph: query_range client', () => {
  it('should POST the query form-encoded with start, end, step and timeout to the API under the configured path', async () => {
    // Prepare
    const server = await prometheus({
      pathPrefix: '/prometheus',
      series: { up: [constant({ job: 'api' }, 1)] },
    });

    // Act
    const result = await queryRange({
      prometheusUrl: `${server.url}/prometheus/`,
      expr: 'up',
      window,
      timeoutSeconds: 45,
    });

    // Assess
    expect(result).toEqual({
      ok: true,
      series: [
        { labels: { job: 'api' }, points: Array.from({ length: 121 }, (_, k) => [window.start + k * 30, 1]) },
      ],
    });
    const [query] = server.queries;
    expect(query?.request.method).toBe('POST');
    expect(query?.request.path).toBe('/prometheus/api/v1/query_range');
    expect(query).toMatchObject({
      query: 'up',
      start: window.start,
      end: window.end,
      step: 30,
      timeout: '45',
    });
  });

  it('should build the API URL from a base with or without a path', () => {
    // Act
    const urls = ['http://p:9090', 'https://x.grafana.net/api/prom/', 'http://p/a/b?x=1#y'].map((u) =>
      queryRangeUrl(u).toString(),
    );

    // Assess
    expect(urls).toEqual([
      'http://p:9090/api/v1/query_range',
      'https://x.grafana.net/api/prom/api/v1/query_range',
      'http://p/a/b/api/v1/query_range',
    ]);
  });

  it('should send the bearer token that a protected Prometheus requires', async () => {
    // Prepare
    const server = await prometheus({ bearerToken: TOKEN, series: { up: [constant({}, 1)] } });

    // Act
    const result = await queryRange({
      prometheusUrl: server.url,
      expr: 'up',
      window,
      authorization: `Bearer ${TOKEN}`,
      timeoutSeconds: PATIENT,
    });

    // Assess
    expect(result.ok).toBe(true);
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('should skip with http-error on a 401, naming the host and never the credentials', async () => {
    // Prepare
    const server = await prometheus({ basicAuth: { user: USER, password: PASSWORD } });
    const wrong = `Basic ${Buffer.from(`${USER}:wrong-${PASSWORD}`).toString('base64')}`;

    // Act
    const result = await queryRange({
      prometheusUrl: server.url,
      expr: 'up',
      window,
      timeoutSeconds: PATIENT,
      authorization: wrong,
    });

    // Assess
    expect(result).toMatchObject({ ok: false, reason: 'http-error' });
    const message = result.ok ? '' : result.message;
    expect(message).toContain(`Prometheus at 127.0.0.1:${server.port} answered 401`);
    expect(message).not.toContain(PASSWORD);
    expect(message).not.toContain(wrong.slice(6));
  });

  it('should classify Prometheus error bodies as query-error with errorType and message', async () => {
    // Prepare
    const server = await prometheus();
    server.respondWith([
      prometheusErrorAnswer(422, 'execution', 'found duplicate series for the match group'),
      prometheusErrorAnswer(503, 'timeout', 'query timed out in expression evaluation'),
      { status: 200, body: { status: 'error', errorType: 'internal', error: 'boom' } },
    ]);

    // Act
    const results = [];
    for (let i = 0; i < 3; i++)
      results.push(
        await queryRange({ prometheusUrl: server.url, expr: 'up', window, timeoutSeconds: PATIENT }),
      );

    // Assess
    expect(results.map((r) => !r.ok && r.reason)).toEqual(['query-error', 'query-error', 'query-error']);
    expect(results.map((r) => !r.ok && r.message)).toEqual([
      expect.stringContaining('answered 422: execution: found duplicate series'),
      expect.stringContaining('answered 503: timeout: query timed out'),
      expect.stringContaining('internal: boom'),
    ]);
  });

  it('should report the fake contract errors Prometheus gives for a bad request', async () => {
    // Prepare
    const server = await prometheus();

    // Act
    const result = await queryRange({
      prometheusUrl: server.url,
      expr: 'up',
      window: { start: window.start, end: window.end, step: 0.1 },
      timeoutSeconds: PATIENT,
    });

    // Assess
    expect(result).toMatchObject({ ok: false, reason: 'query-error' });
    expect(!result.ok && result.message).toContain('bad_data: exceeded maximum resolution of 11,000 points');
  });

  it('should skip a 5xx without a Prometheus body and a non-JSON 200 with their own reasons', async () => {
    // Prepare
    const server = await prometheus();
    server.respondWith([
      { status: 502, body: '<html>Bad Gateway</html>' },
      { status: 200, body: '<html>login</html>' },
      { status: 200, body: { status: 'success' } },
    ]);

    // Act
    const gateway = await queryRange({
      prometheusUrl: server.url,
      expr: 'up',
      window,
      timeoutSeconds: PATIENT,
    });
    const html = await queryRange({ prometheusUrl: server.url, expr: 'up', window, timeoutSeconds: PATIENT });
    const noData = await queryRange({
      prometheusUrl: server.url,
      expr: 'up',
      window,
      timeoutSeconds: PATIENT,
    });

    // Assess
    expect(gateway).toEqual({
      ok: false,
      reason: 'http-error',
      message: `Prometheus at 127.0.0.1:${server.port} answered 502: <html>Bad Gateway</html>`,
    });
    expect(html).toMatchObject({ ok: false, reason: 'bad-response' });
    expect(noData).toMatchObject({ ok: false, reason: 'bad-response' });
  });

  it('should not follow a redirect (it would carry the Authorization header elsewhere)', async () => {
    // Prepare
    const elsewhere = await prometheus({ series: { up: [constant({}, 1)] } });
    const server = await prometheus();
    server.respondWith([{ status: 307, headers: { location: `${elsewhere.url}/api/v1/query_range` } }]);

    // Act
    const result = await queryRange({
      prometheusUrl: server.url,
      expr: 'up',
      window,
      authorization: `Bearer ${TOKEN}`,
      timeoutSeconds: PATIENT,
    });

    // Assess
    expect(result).toMatchObject({ ok: false, reason: 'http-error' });
    expect(!result.ok && result.message).toContain('answered 307 (redirects are not followed');
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('should skip with unexpected-result for a result that is not a matrix', async () => {
    // Prepare
    const server = await prometheus();
    server.respondWith([
      { status: 200, body: { status: 'success', data: { resultType: 'vector', result: [] } } },
    ]);

    // Act
    const result = await queryRange({
      prometheusUrl: server.url,
      expr: 'up',
      window,
      timeoutSeconds: PATIENT,
    });

    // Assess
    expect(result).toMatchObject({
      ok: false,
      reason: 'unexpected-result',
      message: expect.stringContaining('vector'),
    });
  });

  it('should skip with no-data for an empty matrix and for series without float samples', async () => {
    // Prepare
    const server = await prometheus();
    server.respondWith([
      {
        status: 200,
        body: { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [] }] } },
      },
      {
        status: 200,
        body: {
          status: 'success',
          data: {
            resultType: 'matrix',
            result: [
              { metric: { a: '1' }, histograms: [[1, { count: '1', sum: '1', buckets: [] }]] },
              {
                metric: { a: '2' },
                values: [
                  [1, 'NaN'],
                  [2, '+Inf'],
                ],
              },
            ],
          },
        },
      },
    ]);

    // Act
    const empty = await queryRange({
      prometheusUrl: server.url,
      expr: 'nothing',
      window,
      timeoutSeconds: PATIENT,
    });
    const histograms = await queryRange({
      prometheusUrl: server.url,
      expr: 'nothing',
      window,
      timeoutSeconds: PATIENT,
    });

    // Assess
    expect(empty).toMatchObject({ ok: false, reason: 'no-data' });
    expect(histograms).toMatchObject({ ok: false, reason: 'no-data' });
  });

  it('should keep finite samples and drop NaN and infinities (gaps in the chart)', async () => {
    // Prepare
    const server = await prometheus();
    const values = [
      [1, '1'],
      [2, 'NaN'],
      [3, '-Inf'],
      [4, '2.5e3'],
      [5, '+Inf'],
    ];
    server.respondWith([
      {
        status: 200,
        body: { status: 'success', data: { resultType: 'matrix', result: [{ metric: { x: 'y' }, values }] } },
      },
    ]);

    // Act
    const result = await queryRange({
      prometheusUrl: server.url,
      expr: 'x',
      window,
      timeoutSeconds: PATIENT,
    });

    // Assess
    expect(result).toEqual({
      ok: true,
      series: [
        {
          labels: { x: 'y' },
          points: [
            [1, 1],
            [4, 2500],
          ],
        },
      ],
    });
  });

  it('should give up after the timeout when Prometheus hangs', async () => {
    // Prepare
    const server = await prometheus();
    server.respondWith([{ hang: true }]);

    // Act
    const result = await queryRange({ prometheusUrl: server.url, expr: 'up', window, timeoutSeconds: 0.2 });

    // Assess
    expect(result).toEqual({
      ok: false,
      reason: 'timeout',
      message: `Prometheus at 127.0.0.1:${server.port} did not answer within 0.2 s`,
    });
  });

  it('should skip with unreachable when nothing listens', async () => {
    // Prepare
    const server = await prometheus();
    const url = server.url;
    await server.close();

    // Act
    const result = await queryRange({ prometheusUrl: url, expr: 'up', window, timeoutSeconds: PATIENT });

    // Assess
    expect(result).toMatchObject({
      ok: false,
      reason: 'unreachable',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });
});

describe('Graph: renderAlertGraph', () => {
  it('should query the configured Prometheus, never the generatorURL host, and return a PNG', async () => {
    // Prepare
    const server = await prometheus({ series: { [LATENCY_QUERY]: LATENCY_SERIES } });
    const generatorHost = await startFakeServer({ handle: () => undefined });
    servers.push(generatorHost);
    const notification = latencyNotification();
    for (const alert of notification.alerts) {
      alert.generatorURL = alert.generatorURL.replace('http://prometheus-0.internal:9090', generatorHost.url);
    }
    const fetched: string[] = [];
    const recordingFetch: typeof fetch = (input, init) => {
      fetched.push(String(input instanceof Request ? input.url : input));
      return fetch(input, init);
    };

    // Act
    const graph = await renderAlertGraph(
      { notification, now: LATENCY_NOW },
      { prometheusUrl: server.url, timeoutSeconds: PATIENT },
      noSecrets,
      {
        fetch: recordingFetch,
      },
    );

    // Assess
    expect(graph).toMatchObject({
      expr: `${LATENCY_QUERY} > 0.5`,
      query: LATENCY_QUERY,
      series: 4,
      title: `HighRequestLatency: ${LATENCY_QUERY} > 0.5`,
    });
    expect('png' in graph && Buffer.from(graph.png.subarray(1, 4)).toString()).toBe('PNG');
    expect(fetched).toEqual([`${server.url}/api/v1/query_range`]);
    expect(generatorHost.requests).toHaveLength(0);
    expect(server.queries[0]).toMatchObject({ end: LATENCY_NOW.getTime() / 1000, step: 64 });
  });

  it('should skip a resolved notification and one without an expression without asking Prometheus', async () => {
    // Prepare
    const server = await prometheus();
    const noExpr = makeNotification({});
    for (const alert of noExpr.alerts) alert.generatorURL = 'http://prom.local/graph';

    // Act
    const resolved = await renderAlertGraph(
      { notification: makeNotification({ status: 'resolved' }) },
      { prometheusUrl: server.url, timeoutSeconds: PATIENT },
      noSecrets,
    );
    const missing = await renderAlertGraph(
      { notification: noExpr },
      { prometheusUrl: server.url, timeoutSeconds: PATIENT },
      noSecrets,
    );

    // Assess
    expect(skipped(resolved).reason).toBe('not-firing');
    expect(skipped(missing).reason).toBe('no-expression');
    expect(server.requests).toHaveLength(0);
  });

  it('should skip with reason secret when a named secret is missing, naming the secret only', async () => {
    // Prepare
    const server = await prometheus();

    // Act
    const graph = await renderAlertGraph(
      { notification: latencyNotification(), now: LATENCY_NOW },
      { prometheusUrl: server.url, bearerTokenSecret: 'PROM_TOKEN', timeoutSeconds: PATIENT },
      noSecrets,
    );

    // Assess
    expect(skipped(graph)).toEqual({
      reason: 'secret',
      skipped: 'graph credentials: secret "PROM_TOKEN" is not set',
    });
    expect(server.requests).toHaveLength(0);
  });

  it('should skip, not throw, when Prometheus hangs, once the configured timeout passed', async () => {
    // Prepare
    const server = await prometheus();
    server.respondWith([{ hang: true }]);

    // Act
    const graph = await renderAlertGraph(
      { notification: latencyNotification(), now: LATENCY_NOW },
      { prometheusUrl: server.url, timeoutSeconds: 0.2 },
      noSecrets,
    );

    // Assess
    expect(skipped(graph).reason).toBe('timeout');
  });

  it('should skip with no-data when the expression matches nothing', async () => {
    // Prepare
    const server = await prometheus({ series: {} });

    // Act
    const graph = await renderAlertGraph(
      { notification: latencyNotification(), now: LATENCY_NOW },
      { prometheusUrl: server.url, timeoutSeconds: PATIENT },
      noSecrets,
    );

    // Assess
    expect(skipped(graph).reason).toBe('no-data');
    expect(server.queries).toHaveLength(1);
  });

  it('should skip with render-error instead of throwing when something unexpected breaks', async () => {
    // Prepare
    const throwingFetch = (() => {
      throw new TypeError('fetch exploded synchronously');
    }) as unknown as typeof fetch;
    const brokenSecrets: SecretReader = {
      get: () => {
        throw new Error('reader exploded synchronously');
      },
    };

    // Act
    const noFetch = await renderAlertGraph(
      { notification: latencyNotification(), now: LATENCY_NOW },
      { prometheusUrl: 'http://127.0.0.1:9' },
      noSecrets,
      { fetch: throwingFetch },
    );
    const noReader = await renderAlertGraph(
      { notification: latencyNotification(), now: LATENCY_NOW },
      { prometheusUrl: 'http://127.0.0.1:9', bearerTokenSecret: 'X' },
      brokenSecrets,
    );
    const garbage = await renderAlertGraph(
      { notification: { alerts: null } as never },
      { prometheusUrl: 'http://127.0.0.1:9' },
      noSecrets,
    );

    // Assess
    expect(skipped(noFetch).reason).toBe('unreachable');
    expect(skipped(noReader).reason).toBe('secret');
    expect(skipped(garbage).reason).toBe('render-error');
  });
});

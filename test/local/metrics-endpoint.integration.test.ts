import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../lib/config/load.ts';
import { type MetricFamily, parseExposition } from '../support/exposition.ts';
import { type LocalRelay, type LocalRelayOptions, useLocalRelay } from '../support/local-relay.ts';
import { makeNotification } from '../support/notifications.ts';
import { available, PROMTOOL } from '../support/optional-binary.ts';
import { run } from '../support/run-script.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const TOKEN = 'ingest-token-5e1b';
const METRICS_TOKEN = 'metrics-token-93c0a7';
const SIGNING_SECRET = `whsec_${Buffer.from('metrics-endpoint-signing-key-0123').toString('base64')}`;

async function scrape(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** The value of the one sample of `name` with exactly `labels`; undefined when there is none. */
function sample(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}) {
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  return family?.samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  )?.value;
}

describe('Local runtime: GET /metrics', () => {
  const local = useLocalRelay('metrics');
  let receiver: WebhookReceiver;

  beforeEach(async () => {
    receiver = local.own(await startWebhookReceiver({ secret: SIGNING_SECRET }));
  });

  function start(options: Partial<LocalRelayOptions> = {}): Promise<LocalRelay> {
    return local.start({
      token: TOKEN,
      destinations: [
        { name: 'audit', sink: 'webhook', url: receiver.url, signingSecret: 'AUDIT_HOOK_SECRET' },
        { name: 'stdout', sink: 'console', file: join(local.dir, 'alerts.jsonl'), format: 'json' },
      ],
      secrets: { AUDIT_HOOK_SECRET: SIGNING_SECRET, METRICS_TOKEN },
      ...options,
    });
  }

  const metrics = async (relay: LocalRelay) => parseExposition((await scrape(relay.metricsUrl)).body);
  const audit = { destination: 'audit', sink: 'webhook' };

  it("should serve the exposition on the relay's port, in the text format 0.0.4, to GET and HEAD", async () => {
    // Prepare
    const r = await start();

    // Act
    const got = await scrape(`${r.url}/metrics`);
    const head = await fetch(`${r.url}/metrics`, { method: 'HEAD' });
    const post = await fetch(`${r.url}/metrics`, { method: 'POST' });

    // Assess
    expect(r.metricsUrl).toBe(`${r.url}/metrics`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(
      sample(parseExposition(got.body), 'alertmanager_relay_notifications_total', {
        ...audit,
        outcome: 'delivered',
      }),
    ).toBe(0);
    expect(got.body).toContain('process_resident_memory_bytes');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(got.headers.get('content-type'));
    expect(await head.text()).toBe('');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('should count a delivery, its latency, its enqueue and the answer to Alertmanager, and a refusal before ingest', async () => {
    // Prepare
    const r = await start();

    // Act
    const accepted = await r.post(makeNotification({}));
    const refused = await r.post(makeNotification({}), { token: 'not-the-token' });
    await receiver.waitFor(1);
    await r.until(
      () => r.telemetry.get('Delivered', 'audit') === 1 && r.telemetry.get('Delivered', 'stdout') === 1,
    );
    const families = await metrics(r);

    // Assess
    expect([accepted.status, refused.status]).toEqual([202, 401]);
    expect(
      sample(families, 'alertmanager_relay_notifications_total', { ...audit, outcome: 'delivered' }),
    ).toBe(1);
    expect(
      sample(families, 'alertmanager_relay_notifications_total', {
        destination: 'stdout',
        sink: 'console',
        outcome: 'delivered',
      }),
    ).toBe(1);
    expect(sample(families, 'alertmanager_relay_notification_latency_seconds_count', audit)).toBe(1);
    expect(sample(families, 'alertmanager_relay_messages_enqueued_total', audit)).toBe(1);
    expect(sample(families, 'alertmanager_relay_notifications_received_total')).toBe(1);
    expect(sample(families, 'alertmanager_relay_notifications_rejected_total')).toBe(1);
    expect(sample(families, 'alertmanager_relay_ingest_requests_total', { code: '202' })).toBe(1);
    expect(sample(families, 'alertmanager_relay_ingest_requests_total', { code: '401' })).toBe(1);
    // /healthz's counters see the same counts.
    expect(r.telemetry.get('NotificationsRejected')).toBe(1);
  });

  it("should show a waiting message on its destination's queue gauges: visible, then delayed, and a dead letter", async () => {
    // Prepare: the webhook worker stopped, so the message waits on the queue.
    const r = await start();
    const worker = r.workers.get('webhook');
    await worker?.stop();
    await r.post(makeNotification({ groupKey: '{}:{alertname="first"}' }));
    const [message] = r.queue.peek('webhook');

    // Act
    const before = Date.now();
    const waiting = await metrics(r);
    const after = Date.now();
    receiver.respondWith([{ status: 503, headers: { 'retry-after': '600' } }, { status: 400 }]);
    worker?.start();
    await r.until(() => r.telemetry.get('Retried', 'audit') === 1);
    const delayed = await metrics(r);
    await r.post(makeNotification({ groupKey: '{}:{alertname="second"}' }));
    await r.until(() => r.telemetry.get('DeadLettered', 'audit') === 1);
    const deadLettered = await metrics(r);

    // Assess
    const state = (families: Map<string, MetricFamily>, value: string) =>
      sample(families, 'alertmanager_relay_queue_messages', { ...audit, state: value });
    expect([state(waiting, 'visible'), state(waiting, 'in_flight'), state(waiting, 'delayed')]).toEqual([
      1, 0, 0,
    ]);
    const age = sample(waiting, 'alertmanager_relay_oldest_message_age_seconds', audit) as number;
    expect(age).toBeGreaterThanOrEqual((before - message.sentTimestamp) / 1000);
    expect(age).toBeLessThanOrEqual((after - message.sentTimestamp) / 1000);
    expect([state(delayed, 'visible'), state(delayed, 'in_flight'), state(delayed, 'delayed')]).toEqual([
      0, 0, 1,
    ]);
    expect(sample(delayed, 'alertmanager_relay_dead_letters', audit)).toBe(0);
    expect(sample(deadLettered, 'alertmanager_relay_dead_letters', audit)).toBe(1);
    expect(state(deadLettered, 'delayed')).toBe(1);
    expect(
      sample(deadLettered, 'alertmanager_relay_queue_messages', {
        destination: 'stdout',
        sink: 'console',
        state: 'visible',
      }),
    ).toBe(0);
  });

  describe('metrics.bearerTokenSecret', () => {
    it('should answer 401 to a scrape without the metrics token or with another, and the exposition to one with it', async () => {
      // Prepare
      const r = await start({ config: { metrics: { bearerTokenSecret: 'METRICS_TOKEN' } } });

      // Act
      const none = await scrape(r.metricsUrl);
      const ingestToken = await scrape(r.metricsUrl, { authorization: `Bearer ${TOKEN}` });
      const right = await scrape(r.metricsUrl, { authorization: `Bearer ${METRICS_TOKEN}` });

      // Assess
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="alertmanager-relay metrics"');
      expect(ingestToken.status).toBe(401);
      expect(none.body + ingestToken.body).not.toContain(METRICS_TOKEN);
      expect(right.status).toBe(200);
      expect(right.body).toContain('alertmanager_relay_build_info');
    });

    it('should not start when the metrics token is not set, naming the field', async () => {
      // Act
      const failed = await start({ config: { metrics: { bearerTokenSecret: 'UNSET_METRICS_TOKEN' } } }).catch(
        (error: Error) => error,
      );
      const after = await start();

      // Assess
      expect(failed).toBeInstanceOf(Error);
      expect((failed as Error).message).toMatch(/^metrics\.bearerTokenSecret: .*UNSET_METRICS_TOKEN/);
      expect(after.url).toMatch(/^http:/);
    });
  });

  describe('metrics.listen', () => {
    it('should serve /metrics alone on a listener of its own, and no /metrics on the relay port', async () => {
      // Prepare
      const r = await start({ config: { metrics: { listen: '127.0.0.1:0' } } });

      // Act
      const own = await scrape(r.metricsUrl);
      const relayPort = await scrape(`${r.url}/metrics`);
      const health = await scrape(r.metricsUrl.replace(/\/metrics$/, '/healthz'));
      await r.close();
      const closed = await fetch(r.metricsUrl).catch((error: Error) => error);

      // Assess
      expect(r.metricsUrl).not.toBe(`${r.url}/metrics`);
      expect(own.status).toBe(200);
      expect(own.body).toContain('alertmanager_relay_notifications_total');
      expect(relayPort.status).toBe(404);
      expect(health.status).toBe(404);
      expect(closed).toBeInstanceOf(Error);
    });

    it('should refuse an address that is not host:port in the config, and a port over 65535 at start', async () => {
      // Act
      const notHostPort = (() => {
        try {
          return parseConfig(
            'metrics:\n  listen: "9100"\ndestinations: [{ name: out, sink: console }]\n',
            'relay.yaml',
          );
        } catch (error) {
          return error as Error;
        }
      })();
      const tooHigh = await start({ config: { metrics: { listen: '127.0.0.1:70000' } } }).catch(
        (error: Error) => error,
      );

      // Assess
      expect(notHostPort).toBeInstanceOf(ConfigError);
      expect((notHostPort as Error).message).toContain('metrics.listen: must match pattern');
      expect((tooHigh as Error).message).toBe('metrics.listen: the port of 127.0.0.1:70000 is over 65535');
    });

    it('should not start when the metrics address is taken, and leave nothing open', async () => {
      // Prepare
      const taken = await start({ config: { metrics: { listen: '127.0.0.1:0' } } });
      const port = new URL(taken.metricsUrl).port;
      const dataDir = `${local.dir}/other`;
      const { startRelay } = await import('../../lib/local/runtime.ts');
      const { LocalSecrets } = await import('../../lib/secrets.ts');
      const options = {
        config: { ingest: {}, destinations: [{ name: 'out', sink: 'console' }] },
        secrets: new LocalSecrets({ env: {} }),
        dataDir,
        port: 0,
      };

      // Act
      const failed = await startRelay({
        ...options,
        config: { ...options.config, metrics: { listen: `127.0.0.1:${port}` } },
      }).catch((error: Error) => error);
      const again = await startRelay(options);
      await again.close();

      // Assess
      expect((failed as Error).message).toBe(
        `cannot listen on 127.0.0.1:${port} for metrics.listen: EADDRINUSE`,
      );
      expect(again.url).toMatch(/^http:/);
    });
  });

  describe.runIf(available(PROMTOOL, 'promtool check metrics on the running relay'))('with promtool', () => {
    it('should serve what promtool check metrics accepts, after deliveries', async () => {
      // Prepare
      const r = await start();
      await r.post(makeNotification({}));
      await r.until(() => r.telemetry.get('Delivered') === 2);
      const { body } = await scrape(r.metricsUrl);

      // Act
      const result = await run(PROMTOOL.path, ['check', 'metrics'], { input: body });

      // Assess
      expect(result.stdout + result.stderr).toBe('');
      expect(result.code).toBe(0);
    });
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DestinationConfig } from '../../../lib/config/types.ts';
import { type Relay, startRelay } from '../../../lib/local/runtime.ts';
import { deadLetterQueueName } from '../../../lib/queue/local.ts';
import { LocalSecrets } from '../../../lib/secrets.ts';
import { groupDedupKey } from '../../../lib/sinks/pagerduty/event.ts';
import { type FakePagerDuty, startFakePagerDuty } from '../../support/fake-pagerduty.ts';
import { makeNotification, postNotification } from '../../support/notifications.ts';

const TOKEN = 'ingest-token-pd-4e1b';
const ROUTING_KEY = 'R0UT1NGKEYintegration0123456789a';
const UNKNOWN_KEY = 'R0UT1NGKEYnobodyknowsthis0123456';

describe('Local runtime: POST /alertmanager -> pagerduty sink -> fake PagerDuty', () => {
  let dir: string;
  let pagerduty: FakePagerDuty;
  let relay: Relay | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-pd-'));
    pagerduty = await startFakePagerDuty({ routingKeys: [ROUTING_KEY] });
  });

  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    await pagerduty.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(
    destination: Partial<DestinationConfig> = {},
    routingKey = ROUTING_KEY,
  ): Promise<Relay> {
    relay = await startRelay({
      config: {
        ingest: { tokenSecret: 'INGEST_TOKEN' },
        destinations: [
          {
            name: 'pager',
            sink: 'pagerduty',
            routingKeySecret: 'PD_ROUTING_KEY',
            baseUrl: pagerduty.url,
            ...destination,
          },
        ],
      },
      secrets: new LocalSecrets({ env: { INGEST_TOKEN: TOKEN, PD_ROUTING_KEY: routingKey } }),
      dataDir: join(dir, 'data'),
      port: 0,
      logger: new Logger({ logLevel: 'SILENT' }),
      backoff: { baseSeconds: 0, factor: 1, maxSeconds: 0 },
    });
    return relay;
  }

  it('should open an incident for a firing group and resolve it on the resolved notification', async () => {
    // Prepare
    const r = await start();
    const firing = makeNotification({ count: 2 });
    const resolved = makeNotification({ count: 2, status: 'resolved' });
    const dedupKey = groupDedupKey(firing.groupKey);

    // Act
    await postNotification(r.url, firing, { token: TOKEN });
    await pagerduty.waitFor(() => pagerduty.incident(dedupKey)?.status === 'triggered');
    await postNotification(r.url, resolved, { token: TOKEN });
    await pagerduty.waitFor(() => pagerduty.incident(dedupKey)?.status === 'resolved');
    await r.until(() => r.telemetry.get('Delivered', 'pager') === 2);

    // Assess
    expect(pagerduty.incidents).toHaveLength(1);
    expect(pagerduty.incidents[0].log).toEqual(['trigger', 'resolve']);
  });

  it('should deliver a notification posted twice (an Alertmanager HA pair) once', async () => {
    // Prepare
    const r = await start({ mode: 'alert' });
    const notification = makeNotification({ count: 2 });

    // Act
    await postNotification(r.url, notification, { token: TOKEN });
    await postNotification(r.url, notification, { token: TOKEN });
    await r.until(
      () => r.telemetry.get('Delivered', 'pager') === 1 && r.queue.depth('pagerduty').visible === 0,
    );
    await r.until(() => r.queue.depth('pagerduty').inFlight === 0);

    // Assess
    expect(pagerduty.requests).toHaveLength(2);
    expect(pagerduty.incidents.map((i) => i.triggers)).toEqual([1, 1]);
  });

  it('should retry a 5xx and then deliver', async () => {
    // Prepare
    const r = await start();
    pagerduty.respondWith([{ status: 502 }]);

    // Act
    await postNotification(r.url, makeNotification({}), { token: TOKEN });
    await r.until(() => r.telemetry.get('Delivered', 'pager') === 1);

    // Assess
    expect(pagerduty.requests.map((q) => q.outcome)).toEqual([502, 202]);
    expect(r.telemetry.get('Retried', 'pager')).toBe(1);
    expect(pagerduty.incidents).toHaveLength(1);
  });

  it("should dead-letter PagerDuty's 400 at once with its reason, without the routing key", async () => {
    // Prepare
    const r = await start({}, UNKNOWN_KEY);

    // Act
    await postNotification(r.url, makeNotification({}), { token: TOKEN });
    await r.until(() => r.telemetry.get('DeadLettered', 'pager') === 1);

    // Assess
    const [dead] = r.queue.peek(deadLetterQueueName('pagerduty'));
    expect(pagerduty.requests).toHaveLength(1);
    expect(dead.attributes).toMatchObject({
      statusCode: '400',
      destination: 'pager',
      errorType: 'permanent',
    });
    expect(dead.attributes.reason).toMatch(/invalid event|not a known integration key/);
    expect(dead.attributes.reason).not.toContain(UNKNOWN_KEY);
  });
});

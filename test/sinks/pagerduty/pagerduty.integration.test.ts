import { beforeEach, describe, expect, it } from 'vitest';
import type { DestinationConfig } from '../../../lib/config/types.ts';
import { groupDedupKey } from '../../../lib/sinks/pagerduty/event.ts';
import { type FakePagerDuty, startFakePagerDuty } from '../../support/fake-pagerduty.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';

const TOKEN = 'ingest-token-pd-4e1b';
const ROUTING_KEY = 'R0UT1NGKEYintegration0123456789a';
const UNKNOWN_KEY = 'R0UT1NGKEYnobodyknowsthis0123456';

describe('Local runtime: POST /alertmanager -> pagerduty sink -> fake PagerDuty', () => {
  const local = useLocalRelay('pd');
  let pagerduty: FakePagerDuty;

  beforeEach(async () => {
    pagerduty = local.own(await startFakePagerDuty({ routingKeys: [ROUTING_KEY] }));
  });

  function start(
    destination: Partial<DestinationConfig> = {},
    routingKey = ROUTING_KEY,
  ): Promise<LocalRelay> {
    return local.start({
      token: TOKEN,
      destinations: [
        {
          name: 'pager',
          sink: 'pagerduty',
          routingKeySecret: 'PD_ROUTING_KEY',
          baseUrl: pagerduty.url,
          ...destination,
        },
      ],
      secrets: { PD_ROUTING_KEY: routingKey },
    });
  }

  it('should open an incident for a firing group and resolve it on the resolved notification', async () => {
    // Prepare
    const r = await start();
    const firing = makeNotification({ count: 2 });
    const resolved = makeNotification({ count: 2, status: 'resolved' });
    const dedupKey = groupDedupKey(firing.groupKey);

    // Act
    await r.post(firing);
    await pagerduty.waitFor(() => pagerduty.incident(dedupKey)?.status === 'triggered');
    await r.post(resolved);
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
    await r.post(notification);
    await r.post(notification);
    await r.settled('pagerduty', () => r.telemetry.get('Delivered', 'pager') === 1);

    // Assess
    expect(pagerduty.requests).toHaveLength(2);
    expect(pagerduty.incidents.map((i) => i.triggers)).toEqual([1, 1]);
  });

  it('should retry a 5xx and then deliver', async () => {
    // Prepare
    const r = await start();
    pagerduty.respondWith([{ status: 502 }]);

    // Act
    await r.post(makeNotification({}));
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
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('DeadLettered', 'pager') === 1);

    // Assess
    const [dead] = r.deadLetters('pagerduty');
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

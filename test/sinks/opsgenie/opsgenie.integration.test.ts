import { beforeEach, describe, expect, it } from 'vitest';
import { groupAlias } from '../../../lib/sinks/opsgenie/alert.ts';
import { type FakeOpsgenie, startFakeOpsgenie } from '../../support/fake-opsgenie.ts';
import { useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';

const TOKEN = 'ingest-token-og-51d0';
const API_KEY = 'integration-key-0000-4000-8000-000000000000';

describe('Local runtime: POST /alertmanager -> opsgenie sink -> fake Opsgenie', () => {
  const local = useLocalRelay('opsgenie');
  let opsgenie: FakeOpsgenie;

  beforeEach(async () => {
    opsgenie = local.own(await startFakeOpsgenie({ apiKeys: [API_KEY] }));
  });

  const start = (apiKey = API_KEY) =>
    local.start({
      token: TOKEN,
      destinations: [{ name: 'oncall', sink: 'opsgenie', apiKeySecret: 'OG_API_KEY', baseUrl: opsgenie.url }],
      secrets: { OG_API_KEY: apiKey },
    });

  it('should create one alert for a firing group and close it by the same alias on the resolved notification', async () => {
    // Prepare
    const r = await start();
    const firing = makeNotification({ count: 2 });
    const alias = groupAlias(firing.groupKey);

    // Act
    await r.post(firing);
    await opsgenie.waitFor(() => opsgenie.alert(alias)?.status === 'open');
    await r.post(makeNotification({ count: 2, status: 'resolved' }));
    await opsgenie.waitFor(() => opsgenie.alert(alias)?.status === 'closed');
    await r.until(() => r.telemetry.get('Delivered', 'oncall') === 2);

    // Assess
    expect(opsgenie.alerts).toHaveLength(1);
    expect(opsgenie.alerts[0].log).toEqual(['create', 'close']);
    expect(opsgenie.requests.map((q) => [q.path, q.outcome])).toEqual([
      ['/v2/alerts', 202],
      [`/v2/alerts/${alias}/close`, 202],
    ]);
  });

  it('should retry a 5xx and then create the alert once', async () => {
    // Prepare
    const r = await start();
    opsgenie.respondWith([{ status: 503 }]);

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('Delivered', 'oncall') === 1);

    // Assess
    expect(opsgenie.requests.map((q) => q.outcome)).toEqual([503, 202]);
    expect(r.telemetry.get('Retried', 'oncall')).toBe(1);
    expect(opsgenie.alerts).toHaveLength(1);
  });

  it('should dead-letter a bad API key at once with the reason, without the key', async () => {
    // Prepare
    const badKey = 'revoked-key-0000-4000-8000-000000000000';
    const r = await start(badKey);

    // Act
    await r.post(makeNotification({}));
    await r.until(() => r.telemetry.get('DeadLettered', 'oncall') === 1);

    // Assess
    const [dead] = r.deadLetters('opsgenie');
    expect(opsgenie.requests).toHaveLength(1);
    expect(dead.attributes).toMatchObject({
      statusCode: '401',
      destination: 'oncall',
      errorType: 'permanent',
    });
    expect(dead.attributes.reason).toContain('the API key is not valid');
    expect(dead.attributes.reason).not.toContain(badKey);
  });
});

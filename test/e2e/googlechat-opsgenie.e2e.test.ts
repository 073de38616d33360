import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { groupAlias } from '../../lib/sinks/opsgenie/alert.ts';
import { type FakeGoogleChat, startFakeGoogleChat } from '../support/fake-googlechat.ts';
import { type FakeOpsgenie, startFakeOpsgenie } from '../support/fake-opsgenie.ts';
import { postAlerts, resolveAlerts } from './support/alerts.ts';
import { useE2EStack } from './support/stack.ts';

/**
 * Google Chat and Opsgenie end to end: the real Alertmanager posts its webhook to the relay
 * (twice per notification: two webhook_configs with the same URL stand in for an HA pair), the
 * relay delivers to fake Google Chat and Opsgenie servers, and the test reads the vendor-side
 * effect: the group's messages in one Chat thread, and one Opsgenie alert created and closed by
 * Alertmanager's own alias.
 */

const ingestToken = `e2e-${randomUUID()}`;
const WEBHOOK = {
  space: 'AAAAe2e0chat',
  key: 'AIzaSyE2EKey000000000000000000000000000',
  token: 'e2eToken0123456789abcdefghij',
};
const OG_KEY = 'e2e00000-0000-4000-8000-000000000000';
const ALERT = 'RelayE2EChatOps';

const stack = useE2EStack('googlechat-opsgenie');
let chat: FakeGoogleChat;
let opsgenie: FakeOpsgenie;
let alertmanagerUrl: string;

// The bound only turns a hang into a failure that lists what did arrive.
const WAIT = { timeoutMs: 60_000 };

beforeAll(async () => {
  chat = stack.own(await startFakeGoogleChat({ webhooks: [WEBHOOK] }));
  opsgenie = stack.own(await startFakeOpsgenie({ apiKeys: [OG_KEY] }));
  const relay = await stack.startRelay({
    config: {
      ingest: { tokenSecret: 'INGEST_TOKEN' },
      destinations: [
        { name: 'ops-chat', sink: 'googlechat', webhookUrlSecret: 'GCHAT_WEBHOOK_URL' },
        { name: 'oncall', sink: 'opsgenie', apiKeySecret: 'OG_API_KEY', baseUrl: opsgenie.url },
      ],
    },
    env: { INGEST_TOKEN: ingestToken, GCHAT_WEBHOOK_URL: chat.webhookUrl(WEBHOOK), OG_API_KEY: OG_KEY },
  });
  const webhook = { url: `${relay.url}/alertmanager`, bearerToken: ingestToken };
  const alertmanager = await stack.startAlertmanager({ webhooks: [webhook, webhook] });
  alertmanagerUrl = alertmanager.url;
});

describe('Alertmanager -> relay -> Google Chat and Opsgenie', () => {
  test('a firing group posts into one Chat thread and opens one Opsgenie alert; the resolve follows in the thread and closes it', async () => {
    // Prepare
    const alerts = await postAlerts(alertmanagerUrl, [
      {
        labels: { alertname: ALERT, severity: 'critical', instance: 'e2e-a' },
        annotations: { summary: 'chat and opsgenie e2e', runbook_url: 'https://runbooks.example/chat' },
      },
    ]);
    const alias = () => opsgenie.alerts[0]?.alias;

    // Act: firing
    await chat.waitFor(() => chat.messages.some((m) => m.text?.startsWith('🔥')), WAIT);
    await opsgenie.waitFor(() => opsgenie.alerts[0]?.status === 'open', WAIT);

    // Assess: the firing notification
    const firing = chat.messages.find((m) => m.text?.startsWith('🔥'));
    expect(firing?.text).toContain(`*[FIRING:1] ${ALERT}*`);
    expect(firing?.text).toContain('<https://runbooks.example/chat|runbook>');
    expect(opsgenie.alerts[0]).toMatchObject({ priority: 'P1', status: 'open' });
    expect(opsgenie.alerts[0].message).toBe(`[FIRING:1] ${ALERT} (e2e-a critical)`);

    // Act: resolved
    await resolveAlerts(alertmanagerUrl, alerts);
    await chat.waitFor(() => chat.messages.some((m) => m.text?.startsWith('✅')), WAIT);
    await opsgenie.waitFor(() => opsgenie.alerts[0]?.status === 'closed', WAIT);

    // Assess: one thread, one alert closed by Alertmanager's alias, nothing twice although every notification came twice
    const resolved = chat.messages.find((m) => m.text?.startsWith('✅'));
    expect(resolved?.thread).toBe(firing?.thread);
    expect(chat.messages).toHaveLength(2);
    expect(opsgenie.alerts).toHaveLength(1);
    expect(opsgenie.alerts[0].log).toEqual(['create', 'close']);
    const groupKey = `{}:{alertname="${ALERT}"}`;
    expect(alias()).toBe(groupAlias(groupKey));
    expect(opsgenie.requests.at(-1)?.path).toBe(`/v2/alerts/${groupAlias(groupKey)}/close`);
    expect(chat.requests.filter((r) => r.outcome !== 200)).toEqual([]);
    expect(opsgenie.requests.filter((r) => r.outcome !== 202)).toEqual([]);
  });
});

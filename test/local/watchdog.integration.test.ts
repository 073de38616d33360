import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Notification } from '../../lib/alertmanager/types.ts';
import { useLocalRelay } from '../support/local-relay.ts';
import { makeNotification, postNotification } from '../support/notifications.ts';
import { type ManagedProcess, relayUrl, spawnRelay } from '../support/run-script.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const SIGNING_SECRET = `whsec_${Buffer.from('watchdog-local-signing-key-0123').toString('base64')}`;

/** Alertmanager's always-firing Watchdog alert, as its route sends it. */
const heartbeat = () =>
  makeNotification({
    groupKey: '{}/{alertname="Watchdog"}:{alertname="Watchdog"}',
    labels: () => ({ alertname: 'Watchdog', severity: 'none' }),
  });

/**
 * The watchdog's timer in npm start (issue 24): heartbeats recorded and delivered nowhere, a page
 * through the named destination's pipeline once no heartbeat came for silentAfter, its resolve
 * when they are back. The timer's clock is moved by hand (silentAfter is at least 10 s); each
 * step awaits what the fake pager receives.
 */
describe('Local runtime: the watchdog timer', () => {
  const local = useLocalRelay('watchdog');
  let pager: WebhookReceiver;

  beforeEach(async () => {
    pager = local.own(await startWebhookReceiver({ secret: SIGNING_SECRET }));
  });

  it('should page the named destination after a silence, once, and resolve it when heartbeats are back', async () => {
    // Prepare
    let ahead = 0;
    const r = await local.start({
      destinations: [{ name: 'pager', sink: 'webhook', url: pager.url, signingSecret: 'PAGER_SECRET' }],
      secrets: { PAGER_SECRET: SIGNING_SECRET },
      config: { watchdog: { destinations: ['pager'], silentAfter: 10 } },
      watchdog: { now: () => new Date(Date.now() + ahead), intervalSeconds: 0.05 },
    });

    // Act: a heartbeat, then 11 s of silence on the timer's clock, then a heartbeat again.
    const first = await r.post(heartbeat());
    ahead = 11_000;
    const [page] = await pager.waitFor(1);
    ahead = 0;
    const back = await r.post(heartbeat());
    const [, resolve] = await pager.waitFor(2);

    // Assess
    expect(first.status).toBe(202);
    expect(first.body.destinations).toEqual([]);
    expect(back.body.destinations).toEqual([]);
    expect(r.telemetry.get('WatchdogHeartbeats')).toBe(2);
    const paged = page.body as Notification;
    const resolved = resolve.body as Notification;
    expect(page.verified).toBe(true);
    expect(paged.status).toBe('firing');
    expect(paged.alerts.map((a) => [a.labels.alertname, a.labels.severity])).toEqual([
      ['AlertmanagerSilent', 'critical'],
    ]);
    expect(resolved.status).toBe('resolved');
    expect(resolved.groupKey).toBe(paged.groupKey);
    // Only the page and its resolve: no heartbeat was delivered, no second page.
    expect(pager.requests.map((q) => (q.body as Notification).alerts[0].labels.alertname)).toEqual([
      'AlertmanagerSilent',
      'AlertmanagerSilent',
    ]);
    expect(r.telemetry.get('MessagesEnqueued', 'pager')).toBe(2);
  });

  it('should page nothing before the first heartbeat, however long the timer finds no heartbeat', async () => {
    // Prepare: the timer's clock an hour ahead; its third check resolves `checked`.
    let checks = 0;
    let checked: () => void = () => undefined;
    const thirdCheck = new Promise<void>((resolve) => {
      checked = resolve;
    });
    const r = await local.start({
      destinations: [{ name: 'pager', sink: 'webhook', url: pager.url, signingSecret: 'PAGER_SECRET' }],
      secrets: { PAGER_SECRET: SIGNING_SECRET },
      config: { watchdog: { destinations: ['pager'], silentAfter: 10 } },
      watchdog: {
        now: () => {
          if (++checks === 3) checked();
          return new Date(Date.now() + 3_600_000);
        },
        intervalSeconds: 0.01,
      },
    });

    // Act: after three checks, an ordinary notification through the same queue (a page enqueued
    // before it would be received before it).
    await thirdCheck;
    await r.post(makeNotification({}));
    const [first] = await pager.waitFor(1);

    // Assess
    expect((first.body as Notification).alerts[0].labels.alertname).toBe('HighLatency');
    expect(r.telemetry.get('MessagesEnqueued', 'pager')).toBe(1);
  });
});

describe('npm start with a watchdog: block', () => {
  let dir: string;
  const processes: ManagedProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-watchdog-start-'));
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop(2_000)));
    await rm(dir, { recursive: true, force: true });
  });

  it('should start, warn of a silentAfter that would page while Alertmanager works, and record a heartbeat', async () => {
    // Prepare
    const config = join(dir, 'relay.yaml');
    await writeFile(
      config,
      'watchdog:\n  destinations: [out]\n  silentAfter: 60\ndestinations:\n  - name: out\n    sink: console\n',
    );
    const relay = spawnRelay({
      cwd: dir,
      env: { RELAY_DATA_DIR: join(dir, 'data'), RELAY_CONFIG: config, PORT: '0' },
    });
    processes.push(relay);

    // Act
    const url = await relayUrl(relay);
    const [warning] = await relay.waitForLine(/warning: watchdog\.silentAfter: .*/);
    const answer = await postNotification(url, heartbeat());

    // Assess
    expect(warning).toContain(
      'watchdog.silentAfter: 60 s is less than twice the longest gap between heartbeats',
    );
    expect(answer.status).toBe(202);
    expect(answer.body.destinations).toEqual([]);
  });
});

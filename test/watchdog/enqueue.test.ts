import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateNotification } from '../../lib/alertmanager/schema.ts';
import type { DestinationConfig, RelayConfig } from '../../lib/config/types.ts';
import { afterApply, judge } from '../../lib/delivery/group-state.ts';
import { previewNotification } from '../../lib/ops/preview.ts';
import { ensureSinkQueues, LocalEnqueuer, sinkQueueName } from '../../lib/queue/local.ts';
import { parseMessage } from '../../lib/queue/message.ts';
import { SqliteQueue } from '../../lib/queue/sqlite-queue.ts';
import type { Enqueuer } from '../../lib/queue/types.ts';
import { checkWatchdog, type WatchdogPage } from '../../lib/watchdog/checker.ts';
import { createWatchdogEnqueue, WatchdogEnqueueError, watchdogMessages } from '../../lib/watchdog/enqueue.ts';
import { watchdogNotification } from '../../lib/watchdog/page.ts';
import type { WatchdogSilence } from '../../lib/watchdog/record.ts';
import { START, WATCHDOG, type WatchdogBench, watchdogBench } from './bench.ts';

const iso = (ms: number) => new Date(ms).toISOString();

const destinations: DestinationConfig[] = [
  { name: 'pager', sink: 'pagerduty', routingKeySecret: 'PD_KEY', matchers: ['team="nobody"'] },
  { name: 'ops-slack', sink: 'slack', tokenSecret: 'SLACK_TOKEN', channel: 'C0123456789' },
  { name: 'ops-teams', sink: 'teams', webhookUrlSecret: 'TEAMS_URL' },
  { name: 'ops-discord', sink: 'discord', webhookUrlSecret: 'DISCORD_URL' },
  { name: 'oncall', sink: 'opsgenie', apiKeySecret: 'OG_KEY' },
  { name: 'stdout', sink: 'console' },
];

/** A silence from a hostile Alertmanager: markup and control characters in what it sent. */
const silence: WatchdogSilence = {
  startedAt: iso(START),
  receiver: 'relay <b>*bold*</b> @channel',
  externalURL: 'http://alertmanager:9093/?q=<script>&x=`y`',
  silentAfterSeconds: 600,
  phase: 'resolved',
  pagedAt: iso(START + 600_000),
  returnedAt: iso(START + 900_000),
  resolvedAt: iso(START + 960_000),
  attempts: 1,
};

function page(transition: WatchdogPage['transition'], names = ['pager', 'stdout']): WatchdogPage {
  return {
    transition,
    notification: watchdogNotification('Watchdog', silence, transition),
    destinations: names,
    dedupKey: `key-${transition}`,
    receivedAt: transition === 'page' ? silence.pagedAt : (silence.resolvedAt as string),
  };
}

describe('Function: watchdogNotification', () => {
  it('should be a webhook v4 body the relay’s own schema accepts, firing and resolved', () => {
    // Act
    const firing = validateNotification(watchdogNotification('Watchdog', silence, 'page'));
    const resolved = validateNotification(watchdogNotification('Watchdog', silence, 'resolve'));

    // Assess
    expect(firing).toMatchObject({ ok: true, notification: { status: 'firing' } });
    expect(resolved).toMatchObject({ ok: true, notification: { status: 'resolved' } });
    expect(resolved.ok && resolved.notification.alerts[0].endsAt).toBe(iso(START + 900_000));
  });

  it('should render through every chat sink, PagerDuty, Opsgenie and the console without an error or warning', async () => {
    // Prepare
    const config: RelayConfig = { ingest: {}, destinations: destinations.map(({ matchers: _, ...d }) => d) };

    // Act
    const previews = [
      ...(await previewNotification(config, watchdogNotification('Watchdog', silence, 'page'))),
      ...(await previewNotification(config, watchdogNotification('Watchdog', silence, 'resolve'))),
    ];

    // Assess
    expect(previews.map((p) => [p.destination, p.error, p.warnings])).toEqual(
      [...destinations, ...destinations].map((d) => [d.name, undefined, []]),
    );
    const printed = previews.filter((p) => p.sink === 'console').flatMap((p) => p.printed);
    expect(printed[0]).toContain('[FIRING] AlertmanagerSilent');
    expect(printed[1]).toContain('[RESOLVED] AlertmanagerSilent');
    const slack = previews.find((p) => p.sink === 'slack')?.requests[0]?.body ?? '';
    expect(slack).toContain('AlertmanagerSilent');
    expect(slack).not.toContain('<script>');
  });
});

describe('Function: watchdogMessages', () => {
  it('should put one message on each named destination’s sink queue, whatever the destination’s matchers', () => {
    // Act
    const messages = watchdogMessages(page('page'), destinations);

    // Assess
    expect(messages.map((m) => [m.sink, m.destination])).toEqual([
      ['pagerduty', 'pager'],
      ['console', 'stdout'],
    ]);
    const body = parseMessage(messages[0].message.body);
    expect(body).toMatchObject({
      destination: 'pager',
      sink: 'pagerduty',
      receivedAt: silence.pagedAt,
      part: { index: 1, count: 1 },
    });
    expect(body.notification).toEqual(page('page').notification);
  });

  it('should build the same messages every time for one transition, and others for the resolve', () => {
    // Act
    const first = watchdogMessages(page('page'), destinations);
    const again = watchdogMessages(page('page'), destinations);
    const resolve = watchdogMessages(page('resolve'), destinations);

    // Assess
    expect(again).toEqual(first);
    expect(resolve[0].message.groupId).toBe(first[0].message.groupId);
    expect(resolve[0].message.deduplicationId).not.toBe(first[0].message.deduplicationId);
  });

  it('should make a copy enqueued after the queue’s deduplication window a duplicate for the record handler', () => {
    // Prepare: the first copy was delivered and recorded as its group's last applied notification.
    const [first] = watchdogMessages(page('page'), destinations).map((m) => parseMessage(m.message.body));
    const applied = afterApply(undefined, first, iso(START + 601_000));

    // Act: a retry after a crash, an hour later, builds the same message.
    const [copy] = watchdogMessages(page('page'), destinations).map((m) => parseMessage(m.message.body));

    // Assess
    expect(judge(copy, applied)).toMatchObject({ action: 'duplicate' });
  });

  it('should refuse a name that is not a configured destination', () => {
    // Act
    const build = () => watchdogMessages(page('page', ['pagr']), destinations);

    // Assess
    expect(build).toThrow(WatchdogEnqueueError);
    expect(build).toThrow('watchdog destination "pagr" is not configured');
  });
});

describe('Function: createWatchdogEnqueue', () => {
  let bench: WatchdogBench;
  let queue: SqliteQueue;

  beforeEach(() => {
    bench = watchdogBench();
    queue = new SqliteQueue({ path: ':memory:', now: () => bench.now() });
    ensureSinkQueues(queue, ['pagerduty', 'console'], { visibilityTimeoutSeconds: 30, maxReceiveCount: 50 });
  });

  afterEach(() => {
    queue.close();
    bench.close();
  });

  it('should leave one page on each queue when a checker crashed after sending and the next one sent it again', async () => {
    // Prepare: the first checker's send goes through, then it dies before marking the page sent.
    const state = bench.open();
    await bench.heartbeat(state);
    bench.advance(600);
    const enqueue = createWatchdogEnqueue({ destinations, enqueuer: new LocalEnqueuer(queue) });
    let sent = false;
    void checkWatchdog({
      state,
      now: bench.date(),
      config: { ...WATCHDOG, destinations: ['pager', 'stdout'] },
      enqueue: async (p) => {
        await enqueue(p);
        sent = true;
        await new Promise<void>(() => {});
      },
    });
    await expect.poll(() => sent).toBe(true);

    // Act
    bench.advance(61);
    const retried = await checkWatchdog({
      state,
      now: bench.date(),
      config: { ...WATCHDOG, destinations: ['pager', 'stdout'] },
      enqueue,
    });

    // Assess
    expect(retried.enqueued.map((e) => e.attempt)).toEqual([2]);
    expect(queue.depth(sinkQueueName('pagerduty')).visible).toBe(1);
    expect(queue.depth(sinkQueueName('console')).visible).toBe(1);
  });

  it('should send the entries a batch reported as failed once more, and throw naming the sink that still refused', async () => {
    // Prepare
    const calls: string[] = [];
    const enqueuer: Enqueuer = {
      async sendBatch(sink, entries) {
        calls.push(`${sink}:${entries.length}`);
        return {
          failed: sink === 'console' ? entries.map((e) => ({ id: e.id, reason: 'ServiceUnavailable' })) : [],
        };
      },
    };

    // Act
    const sending = createWatchdogEnqueue({ destinations, enqueuer })(page('page'));

    // Assess
    await expect(sending).rejects.toThrow(
      "the watchdog's page was not accepted by the queue of console (ServiceUnavailable)",
    );
    expect(calls.sort()).toEqual(['console:1', 'console:1', 'pagerduty:1']);
  });
});

import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../lib/delivery/errors.ts';
import { createRecordHandler } from '../../lib/delivery/record-handler.ts';
import type { Sink } from '../../lib/delivery/sink.ts';
import {
  type DestinationQueueState,
  LATENCY_BUCKETS_SECONDS,
  type RelayMetricName,
  RelayMetrics,
  UNKNOWN_LABEL,
} from '../../lib/local/metrics.ts';
import { messageGroupId } from '../../lib/queue/idempotency.ts';
import { buildMessage, serializeMessage } from '../../lib/queue/message.ts';
import type { RecordQueue } from '../../lib/queue/types.ts';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { CountingTelemetry, type MetricName } from '../../lib/telemetry.ts';
import { type MetricFamily, parseExposition } from '../support/exposition.ts';
import { makeNotification } from '../support/notifications.ts';
import { available, PROMTOOL } from '../support/optional-binary.ts';
import { run } from '../support/run-script.ts';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const DESTINATIONS = [
  { name: 'ops', sink: 'slack' },
  { name: 'audit', sink: 'webhook' },
];
const SILENT = new Logger({ logLevel: 'SILENT' });

function metrics(options: Partial<ConstructorParameters<typeof RelayMetrics>[0]> = {}) {
  return new RelayMetrics({ destinations: DESTINATIONS, version: '1.2.3', now: () => NOW, ...options });
}

async function families(relayMetrics: RelayMetrics): Promise<Map<string, MetricFamily>> {
  return parseExposition((await relayMetrics.exposition()).body);
}

/** The value of the one sample of `name` with exactly `labels`; undefined when there is none. */
function sampleValue(all: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}) {
  const family = all.get(name) ?? all.get(name.replace(/_(bucket|sum|count)$/, ''));
  const sample = family?.samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  return sample?.value;
}

/** The metrics table of monitoring/README.md: name -> type and label names. */
function documentedMetrics(): Map<string, { type: string; labels: string[] }> {
  const readme = readFileSync(new URL('../../monitoring/README.md', import.meta.url), 'utf8');
  const table = readme.split('<!-- metrics table: test/local/metrics.test.ts reads it -->')[1];
  if (!table) throw new Error('monitoring/README.md has no metrics table');
  const rows = new Map<string, { type: string; labels: string[] }>();
  for (const line of table.split('\n').slice(1)) {
    if (!line.startsWith('| `')) {
      if (rows.size > 0) break;
      continue;
    }
    const [, name, type, labels] = line.split('|').map((cell) => cell.trim());
    rows.set(name.replaceAll('`', ''), {
      type,
      labels: labels === '' ? [] : labels.split(',').map((label) => label.trim().replaceAll('`', '')),
    });
  }
  return rows;
}

const QUEUES: DestinationQueueState[] = [
  {
    destination: 'ops',
    sink: 'slack',
    visible: 4,
    inFlight: 1,
    delayed: 2,
    oldestSentAt: NOW - 90_000,
    deadLetters: 3,
  },
];

describe('Class: RelayMetrics', () => {
  describe('exposition', () => {
    it('should expose every metric of the table in monitoring/README.md, with its type and labels, and no other', async () => {
      // Prepare
      const relayMetrics = metrics({ queueState: () => QUEUES });

      // Act
      const exposed = await families(relayMetrics);

      // Assess
      const ours = [...exposed.values()].filter((f) => f.name.startsWith('alertmanager_relay_'));
      const documented = documentedMetrics();
      expect(ours.map((f) => f.name).sort()).toEqual([...documented.keys()].sort());
      for (const family of ours) {
        const row = documented.get(family.name);
        expect(family.type, family.name).toBe(row?.type);
        const labels = [...family.labelNames].filter((label) => label !== 'le').sort();
        expect(labels, family.name).toEqual([...(row?.labels ?? [])].sort());
        expect(family.help, family.name).not.toBe('');
      }
    });

    it("should include Node's process metrics, without the gauges named like counters", async () => {
      // Act
      const exposed = await families(metrics());

      // Assess
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_version_info',
      ])
        expect(exposed.has(name), name).toBe(true);
      expect(exposed.get('nodejs_gc_duration_seconds')?.type).toBe('histogram');
      const gaugesEndingInTotal = [...exposed.values()].filter(
        (f) => f.type !== 'counter' && f.name.endsWith('_total'),
      );
      expect(gaugesEndingInTotal.map((f) => f.name)).toEqual([]);
    });

    it('should leave out the process metrics when asked', async () => {
      // Act
      const exposed = await families(metrics({ defaultMetrics: false }));

      // Assess
      expect([...exposed.keys()].filter((name) => !name.startsWith('alertmanager_relay_'))).toEqual([]);
    });

    it('should have every series of every configured destination at 0 from the start', async () => {
      // Act
      const exposed = await families(metrics({ defaultMetrics: false }));

      // Assess
      for (const { name: destination, sink } of DESTINATIONS) {
        for (const outcome of ['delivered', 'retried', 'dead_lettered', 'duplicate', 'superseded'])
          expect(
            sampleValue(exposed, 'alertmanager_relay_notifications_total', { destination, sink, outcome }),
          ).toBe(0);
        for (const reason of ['deferred', 'rate_limited', 'held', 'out_of_time'])
          expect(sampleValue(exposed, 'alertmanager_relay_waits_total', { destination, sink, reason })).toBe(
            0,
          );
        expect(sampleValue(exposed, 'alertmanager_relay_storms_started_total', { destination, sink })).toBe(
          0,
        );
        expect(
          sampleValue(exposed, 'alertmanager_relay_notification_latency_seconds_count', {
            destination,
            sink,
          }),
        ).toBe(0);
      }
      expect(sampleValue(exposed, 'alertmanager_relay_ingest_requests_total', { code: '503' })).toBe(0);
      expect(sampleValue(exposed, 'alertmanager_relay_notifications_received_total')).toBe(0);
      expect(sampleValue(exposed, 'alertmanager_relay_build_info', { version: '1.2.3' })).toBe(1);
    });

    it("should answer in Prometheus' text format 0.0.4", async () => {
      // Act
      const { contentType, body } = await metrics().exposition();

      // Assess
      expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(body.endsWith('\n')).toBe(true);
    });

    it("should report package.json's version when given none", async () => {
      // Prepare
      const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));

      // Act
      const exposed = await families(new RelayMetrics({ destinations: [], defaultMetrics: false }));

      // Assess
      expect(sampleValue(exposed, 'alertmanager_relay_build_info', { version })).toBe(1);
    });
  });

  describe('as a Telemetry', () => {
    it('should map each count of the handlers onto its metric and labels', async () => {
      // Prepare
      const relayMetrics = metrics({ defaultMetrics: false });
      const ops = { sink: 'slack', destination: 'ops' };
      const expected: [RelayMetricName, string, Record<string, string>][] = [
        ['Delivered', 'alertmanager_relay_notifications_total', { ...ops, outcome: 'delivered' }],
        ['Retried', 'alertmanager_relay_notifications_total', { ...ops, outcome: 'retried' }],
        ['DeadLettered', 'alertmanager_relay_notifications_total', { ...ops, outcome: 'dead_lettered' }],
        ['DuplicatesSkipped', 'alertmanager_relay_notifications_total', { ...ops, outcome: 'duplicate' }],
        ['Superseded', 'alertmanager_relay_notifications_total', { ...ops, outcome: 'superseded' }],
        ['WaitDeferred', 'alertmanager_relay_waits_total', { ...ops, reason: 'deferred' }],
        ['WaitRateLimited', 'alertmanager_relay_waits_total', { ...ops, reason: 'rate_limited' }],
        ['WaitHeld', 'alertmanager_relay_waits_total', { ...ops, reason: 'held' }],
        ['WaitOutOfTime', 'alertmanager_relay_waits_total', { ...ops, reason: 'out_of_time' }],
        ['Renewed', 'alertmanager_relay_renewals_total', ops],
        ['MessagesEnqueued', 'alertmanager_relay_messages_enqueued_total', ops],
        ['StormStarted', 'alertmanager_relay_storms_started_total', ops],
        ['StormEnded', 'alertmanager_relay_storms_ended_total', ops],
        ['DigestPosted', 'alertmanager_relay_storm_digests_posted_total', ops],
        ['GroupsFolded', 'alertmanager_relay_storm_groups_folded_total', ops],
        ['GroupsBackfilled', 'alertmanager_relay_storm_groups_backfilled_total', ops],
        ['GraphsSkipped', 'alertmanager_relay_graphs_skipped_total', ops],
        ['TemplateFailed', 'alertmanager_relay_template_failures_total', ops],
        ['NotificationsReceived', 'alertmanager_relay_notifications_received_total', {}],
        ['NotificationsRejected', 'alertmanager_relay_notifications_rejected_total', {}],
        ['NotificationsUnrouted', 'alertmanager_relay_notifications_unrouted_total', {}],
      ];

      // Act
      for (const [i, [name]] of expected.entries()) relayMetrics.count(name, ops, i + 1);
      const exposed = await families(relayMetrics);

      // Assess
      for (const [i, [name, metric, labels]] of expected.entries())
        expect(sampleValue(exposed, metric, labels), name).toBe(i + 1);
    });

    it('should observe DeliveryLatency in seconds in the latency histogram', async () => {
      // Prepare
      const relayMetrics = metrics({ defaultMetrics: false });
      const labels = { sink: 'webhook', destination: 'audit' };

      // Act
      relayMetrics.milliseconds('DeliveryLatency', labels, 40);
      relayMetrics.milliseconds('DeliveryLatency', labels, 90_000);
      const exposed = await families(relayMetrics);

      // Assess
      const bucket = (le: string) =>
        sampleValue(exposed, 'alertmanager_relay_notification_latency_seconds_bucket', { ...labels, le });
      expect(bucket('0.025')).toBe(0);
      expect(bucket('0.05')).toBe(1);
      expect(bucket('60')).toBe(1);
      expect(bucket('120')).toBe(2);
      expect(bucket('600')).toBe(2);
      expect(sampleValue(exposed, 'alertmanager_relay_notification_latency_seconds_sum', labels)).toBeCloseTo(
        90.04,
      );
      expect(LATENCY_BUCKETS_SECONDS[0]).toBe(0.01);
      expect(LATENCY_BUCKETS_SECONDS.at(-1)).toBe(600);
    });

    it('should count into the wrapped telemetry too, and leave its logger and error reports alone', async () => {
      // Prepare
      const relayMetrics = metrics({ defaultMetrics: false });
      const reported: unknown[] = [];
      const counting = new CountingTelemetry({
        logger: SILENT,
        reporter: { captureException: (error) => reported.push(error) },
      });
      const telemetry = relayMetrics.observe(counting);

      // Act
      telemetry.count('Delivered', { sink: 'slack', destination: 'ops' });
      telemetry.count('NotificationsReceived', {}, 2);
      telemetry.reportError(new Error('boom'), { stage: 'test' });
      const exposed = await families(relayMetrics);

      // Assess
      expect(counting.get('Delivered', 'ops')).toBe(1);
      expect(counting.get('NotificationsReceived')).toBe(2);
      expect(telemetry.logger).toBe(SILENT);
      expect(reported).toHaveLength(1);
      expect(
        sampleValue(exposed, 'alertmanager_relay_notifications_total', {
          destination: 'ops',
          sink: 'slack',
          outcome: 'delivered',
        }),
      ).toBe(1);
      expect(sampleValue(exposed, 'alertmanager_relay_notifications_received_total')).toBe(2);
    });

    it('should count what the record handler reports: a delivery with its latency, a dead letter, a duplicate', async () => {
      // Prepare
      const relayMetrics = metrics({
        defaultMetrics: false,
        destinations: [{ name: 'stdout', sink: 'console' }],
      });
      const counting = new CountingTelemetry({ logger: SILENT });
      let refuse = false;
      const sink: Sink = {
        name: 'console',
        kind: 'event-log',
        configSchema: {},
        deliver: async () => {
          if (refuse) throw new PermanentError('refused');
        },
      };
      const queue: RecordQueue = {
        changeVisibility: async () => undefined,
        sendToDlq: async () => undefined,
        requeue: async () => ({ failed: [] }),
      };
      const handler = createRecordHandler({
        sink,
        config: { ingest: {}, destinations: [{ name: 'stdout', sink: 'console' }] },
        secrets: { get: async () => '' },
        state: new SqliteStateStore(':memory:', { now: () => NOW }),
        queue,
        telemetry: relayMetrics.observe(counting),
        maxReceiveCount: 50,
        now: () => NOW,
      });
      const record = (id: string, groupKey: string, receivedAgoMs: number): SQSRecord => {
        const notification = makeNotification({ groupKey });
        const message = buildMessage(
          'stdout',
          'console',
          notification,
          new Date(NOW - receivedAgoMs).toISOString(),
          {
            index: 1,
            count: 1,
          },
        );
        return {
          messageId: id,
          receiptHandle: `rh-${id}`,
          body: serializeMessage(message),
          attributes: {
            ApproximateReceiveCount: '1',
            SentTimestamp: String(NOW - receivedAgoMs),
            SenderId: 'local',
            ApproximateFirstReceiveTimestamp: String(NOW),
            MessageGroupId: messageGroupId('stdout', groupKey),
            MessageDeduplicationId: id,
          },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:local:000000000000:console.fifo',
          awsRegion: 'local',
        };
      };
      const batch = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

      // Act
      await handler(batch(record('m1', 'group-a', 3_000)));
      await handler(batch(record('m2', 'group-a', 3_000)));
      refuse = true;
      await handler(batch(record('m3', 'group-b', 1_000)));
      const exposed = await families(relayMetrics);

      // Assess
      const labels = { destination: 'stdout', sink: 'console' };
      const outcome = (name: string) =>
        sampleValue(exposed, 'alertmanager_relay_notifications_total', { ...labels, outcome: name });
      expect(outcome('delivered')).toBe(1);
      expect(outcome('duplicate')).toBe(1);
      expect(outcome('dead_lettered')).toBe(1);
      expect(sampleValue(exposed, 'alertmanager_relay_notification_latency_seconds_sum', labels)).toBe(3);
      expect(counting.get('DeadLettered', 'stdout')).toBe(1);
    });

    it('should ignore a count that would make a counter go down or be no number', async () => {
      // Prepare
      const relayMetrics = metrics({ defaultMetrics: false });
      const ops = { sink: 'slack', destination: 'ops' };

      // Act
      relayMetrics.count('Delivered', ops, -1);
      relayMetrics.count('Delivered', ops, Number.NaN);
      relayMetrics.milliseconds('DeliveryLatency', ops, Number.POSITIVE_INFINITY);
      const exposed = await families(relayMetrics);

      // Assess
      expect(
        sampleValue(exposed, 'alertmanager_relay_notifications_total', { ...ops, outcome: 'delivered' }),
      ).toBe(0);
      expect(sampleValue(exposed, 'alertmanager_relay_notification_latency_seconds_count', ops)).toBe(0);
    });
  });

  describe('labels', () => {
    const HOSTILE = '"}\nalertmanager_relay_build_info{version="evil"} 1\n# {{ .GroupKey }} \\';

    it('should never make a label of a destination or sink the config does not name', async () => {
      // Prepare
      const relayMetrics = metrics({
        defaultMetrics: false,
        queueState: () => [
          { destination: HOSTILE, sink: 'slack', visible: 2, inFlight: 0, delayed: 0, deadLetters: 5 },
          { destination: 'ops', sink: HOSTILE, visible: 7, inFlight: 0, delayed: 0, deadLetters: 0 },
        ],
      });

      // Act
      relayMetrics.count('DeadLettered', { sink: 'slack', destination: HOSTILE });
      relayMetrics.count('Delivered', { sink: HOSTILE, destination: 'ops' });
      // A configured destination under another sink than its own is not that destination.
      relayMetrics.count('Retried', { sink: 'webhook', destination: 'ops' });
      relayMetrics.milliseconds('DeliveryLatency', { sink: 'slack', destination: HOSTILE }, 10);
      const { body } = await relayMetrics.exposition();
      const exposed = parseExposition(body);

      // Assess
      expect(body).not.toContain('evil');
      expect(body).not.toContain('GroupKey');
      const unknownSlack = { destination: UNKNOWN_LABEL, sink: 'slack' };
      expect(
        sampleValue(exposed, 'alertmanager_relay_notifications_total', {
          ...unknownSlack,
          outcome: 'dead_lettered',
        }),
      ).toBe(1);
      expect(
        sampleValue(exposed, 'alertmanager_relay_notifications_total', {
          destination: UNKNOWN_LABEL,
          sink: UNKNOWN_LABEL,
          outcome: 'delivered',
        }),
      ).toBe(1);
      expect(
        sampleValue(exposed, 'alertmanager_relay_notifications_total', {
          destination: UNKNOWN_LABEL,
          sink: 'webhook',
          outcome: 'retried',
        }),
      ).toBe(1);
      expect(
        sampleValue(exposed, 'alertmanager_relay_notification_latency_seconds_count', unknownSlack),
      ).toBe(1);
      expect(sampleValue(exposed, 'alertmanager_relay_dead_letters', unknownSlack)).toBe(5);
      expect(
        sampleValue(exposed, 'alertmanager_relay_queue_messages', {
          destination: UNKNOWN_LABEL,
          sink: UNKNOWN_LABEL,
          state: 'visible',
        }),
      ).toBe(7);
      const labelValues = new Set(
        [...exposed.values()].flatMap((f) => f.samples.flatMap((s) => [s.labels.destination, s.labels.sink])),
      );
      labelValues.delete(undefined as unknown as string);
      expect([...labelValues].sort()).toEqual(['audit', 'ops', 'slack', UNKNOWN_LABEL, 'webhook'].sort());
    });

    it('should label ingest answers with their status, and anything that is no HTTP status as other', async () => {
      // Prepare
      const relayMetrics = metrics({ defaultMetrics: false });

      // Act
      relayMetrics.ingestAnswered(202);
      relayMetrics.ingestAnswered(202);
      relayMetrics.ingestAnswered(429);
      relayMetrics.ingestAnswered(1000);
      relayMetrics.ingestAnswered(Number.NaN);
      const exposed = await families(relayMetrics);

      // Assess
      expect(sampleValue(exposed, 'alertmanager_relay_ingest_requests_total', { code: '202' })).toBe(2);
      expect(sampleValue(exposed, 'alertmanager_relay_ingest_requests_total', { code: '429' })).toBe(1);
      expect(sampleValue(exposed, 'alertmanager_relay_ingest_requests_total', { code: 'other' })).toBe(2);
    });
  });

  describe('queue gauges', () => {
    it("should show each destination's queue by state, its oldest message's age and its dead letters", async () => {
      // Prepare
      const relayMetrics = metrics({ defaultMetrics: false, queueState: () => QUEUES });

      // Act
      const exposed = await families(relayMetrics);

      // Assess
      const ops = { destination: 'ops', sink: 'slack' };
      const audit = { destination: 'audit', sink: 'webhook' };
      expect(sampleValue(exposed, 'alertmanager_relay_queue_messages', { ...ops, state: 'visible' })).toBe(4);
      expect(sampleValue(exposed, 'alertmanager_relay_queue_messages', { ...ops, state: 'in_flight' })).toBe(
        1,
      );
      expect(sampleValue(exposed, 'alertmanager_relay_queue_messages', { ...ops, state: 'delayed' })).toBe(2);
      expect(sampleValue(exposed, 'alertmanager_relay_oldest_message_age_seconds', ops)).toBe(90);
      expect(sampleValue(exposed, 'alertmanager_relay_dead_letters', ops)).toBe(3);
      // A destination the reader did not mention has an empty queue.
      expect(sampleValue(exposed, 'alertmanager_relay_queue_messages', { ...audit, state: 'visible' })).toBe(
        0,
      );
      expect(sampleValue(exposed, 'alertmanager_relay_oldest_message_age_seconds', audit)).toBe(0);
      expect(sampleValue(exposed, 'alertmanager_relay_dead_letters', audit)).toBe(0);
    });

    it('should read the queue once per scrape, and again at the next', async () => {
      // Prepare
      let reads = 0;
      let visible = 1;
      const relayMetrics = metrics({
        defaultMetrics: false,
        queueState: () => {
          reads++;
          return [{ destination: 'ops', sink: 'slack', visible, inFlight: 0, delayed: 0, deadLetters: 0 }];
        },
      });

      // Act
      await relayMetrics.exposition();
      visible = 9;
      const second = await families(relayMetrics);

      // Assess
      expect(reads).toBe(2);
      expect(
        sampleValue(second, 'alertmanager_relay_queue_messages', {
          destination: 'ops',
          sink: 'slack',
          state: 'visible',
        }),
      ).toBe(9);
    });

    it('should leave the queue gauges out and count the failure when the queue cannot be read, and recover', async () => {
      // Prepare
      let failing = true;
      const relayMetrics = metrics({
        defaultMetrics: false,
        queueState: () => {
          if (failing) throw new Error('database or disk is full');
          return QUEUES;
        },
      });

      // Act
      const during = await families(relayMetrics);
      failing = false;
      const after = await families(relayMetrics);

      // Assess
      expect(during.get('alertmanager_relay_queue_messages')?.samples).toEqual([]);
      expect(during.get('alertmanager_relay_dead_letters')?.samples).toEqual([]);
      expect(sampleValue(during, 'alertmanager_relay_queue_read_failures_total')).toBe(1);
      expect(sampleValue(during, 'alertmanager_relay_notifications_received_total')).toBe(0);
      expect(
        sampleValue(after, 'alertmanager_relay_dead_letters', { destination: 'ops', sink: 'slack' }),
      ).toBe(3);
      expect(sampleValue(after, 'alertmanager_relay_queue_read_failures_total')).toBe(1);
    });

    it('should not expose the queue gauges without a reader', async () => {
      // Act
      const exposed = await families(metrics({ defaultMetrics: false }));

      // Assess
      expect(exposed.has('alertmanager_relay_queue_messages')).toBe(false);
      expect(exposed.has('alertmanager_relay_queue_read_failures_total')).toBe(false);
    });
  });

  describe.runIf(available(PROMTOOL, 'promtool check metrics on /metrics'))('with promtool', () => {
    it('should pass promtool check metrics, with every metric holding data', async () => {
      // Prepare
      const relayMetrics = metrics({ queueState: () => QUEUES });
      const names: MetricName[] = [
        'Delivered',
        'Retried',
        'DeadLettered',
        'StormStarted',
        'NotificationsReceived',
      ];
      for (const name of names) relayMetrics.count(name, { sink: 'slack', destination: 'ops' });
      relayMetrics.count('DeadLettered', { sink: 'slack', destination: 'removed-destination' });
      relayMetrics.milliseconds('DeliveryLatency', { sink: 'slack', destination: 'ops' }, 1_500);
      relayMetrics.ingestAnswered(202);
      const { body } = await relayMetrics.exposition();

      // Act
      const result = await run(PROMTOOL.path, ['check', 'metrics'], { input: body });

      // Assess
      expect(result.stdout + result.stderr).toBe('');
      expect(result.code).toBe(0);
    });
  });
});

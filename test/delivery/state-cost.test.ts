import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RelayConfig } from '../../lib/config/types.ts';
import { createRecordHandler, type RecordHandler } from '../../lib/delivery/record-handler.ts';
import type { Sink } from '../../lib/delivery/sink.ts';
import { buildMessage, serializeMessage } from '../../lib/queue/message.ts';
import type { RecordQueue } from '../../lib/queue/types.ts';
import { pagerdutySink } from '../../lib/sinks/pagerduty/pagerduty.ts';
import { createSlackSink } from '../../lib/sinks/slack/slack.ts';
import { webhookSink } from '../../lib/sinks/webhook/webhook.ts';
import type { ReadOptions, Versioned, VersionedStateStore } from '../../lib/state/store.ts';
import { CountingTelemetry } from '../../lib/telemetry.ts';
import { type FakePagerDuty, startFakePagerDuty } from '../support/fake-pagerduty.ts';
import { type FakeSlack, startFakeSlack } from '../support/fake-slack.ts';
import { makeNotification } from '../support/notifications.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

/**
 * What the delivery state costs per notification, counted as DynamoDB bills it, around the real
 * record handlers and sinks of the cost bench's three destinations (webhook, PagerDuty in group
 * mode, Slack with storm mode on, its default): 20 alert groups, each firing then resolved, a new
 * group every 7 s (as the cost bench runs them: nine new groups a minute, under storm mode's
 * threshold of ten) and each notification 3.5 s after the last (above Slack's pace), every record
 * on its first receive. Issue 21's target: at most 4.5 state
 * reads and 5 state writes per notification, over all three destinations.
 */

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);
const GROUPS = 20;
const SPACING_MS = 3_500;
const PD_KEY = 'R0123456789abcdef0123456789abcde';
const SLACK_TOKEN = 'xoxb-state-cost';
const CHANNEL = 'C0STATECOST';

/** An in-memory state store that compare-and-sets and counts what DynamoDB would bill. */
class CountingStateStore implements VersionedStateStore {
  readonly #items = new Map<string, { value: object; version: number; expiresAt?: number }>();
  /** Read units (4 KB a unit, half for an eventually consistent read) and write units (1 KB a unit). */
  readUnits = 0;
  writeUnits = 0;
  reads = 0;
  writes = 0;
  readonly keys = new Map<string, { reads: number; writes: number }>();

  #read(key: string, options: ReadOptions = {}) {
    const item = this.#items.get(key);
    const live = item && (item.expiresAt === undefined || item.expiresAt > Date.now()) ? item : undefined;
    const bytes = live ? JSON.stringify(live.value).length + key.length : 1;
    this.reads++;
    this.readUnits += Math.ceil(bytes / 4096) * (options.consistent === false ? 0.5 : 1);
    this.#tally(key).reads++;
    return live;
  }

  #write(key: string, value: object | undefined) {
    const bytes = (value ? JSON.stringify(value).length : 0) + key.length;
    this.writes++;
    this.writeUnits += Math.max(1, Math.ceil(bytes / 1024));
    this.#tally(key).writes++;
  }

  #tally(key: string) {
    const prefix = key.split('#')[0];
    const counts = this.keys.get(prefix) ?? { reads: 0, writes: 0 };
    this.keys.set(prefix, counts);
    return counts;
  }

  async get<T extends object>(key: string, options?: ReadOptions): Promise<T | undefined> {
    const item = this.#read(key, options);
    return item ? (structuredClone(item.value) as T) : undefined;
  }

  async getVersioned<T extends object>(
    key: string,
    options?: ReadOptions,
  ): Promise<Versioned<T> | undefined> {
    const item = this.#read(key, options);
    return item ? { value: structuredClone(item.value) as T, version: item.version } : undefined;
  }

  async put(key: string, value: object, options: { ttlSeconds?: number } = {}): Promise<void> {
    this.#write(key, value);
    this.#set(key, value, 0, options.ttlSeconds);
  }

  async putIfVersion(
    key: string,
    value: object,
    expectedVersion: number | undefined,
    options: { ttlSeconds?: number } = {},
  ): Promise<boolean> {
    this.#write(key, value);
    const item = this.#items.get(key);
    const live = item && (item.expiresAt === undefined || item.expiresAt > Date.now()) ? item : undefined;
    if ((live?.version ?? undefined) !== expectedVersion) return false;
    this.#set(key, value, (expectedVersion ?? 0) + 1, options.ttlSeconds);
    return true;
  }

  async delete(key: string): Promise<void> {
    this.#write(key, undefined);
    this.#items.delete(key);
  }

  #set(key: string, value: object, version: number, ttlSeconds?: number) {
    const expiresAt = ttlSeconds === undefined ? undefined : Date.now() + ttlSeconds * 1000;
    this.#items.set(key, { value: structuredClone(value), version, ...(expiresAt ? { expiresAt } : {}) });
  }
}

/** A queue that takes nothing back: every record here is delivered on its first receive. */
const queue: RecordQueue = {
  changeVisibility: async () => undefined,
  sendToDlq: async () => {
    throw new Error('nothing should be dead-lettered');
  },
  requeue: async () => ({ failed: [] }),
};

describe('State store cost per notification (webhook, PagerDuty group mode, Slack with storm mode on)', () => {
  let receiver: WebhookReceiver;
  let pagerduty: FakePagerDuty;
  let slack: FakeSlack;

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    [receiver, pagerduty, slack] = await Promise.all([
      startWebhookReceiver(),
      startFakePagerDuty({ routingKeys: [PD_KEY] }),
      startFakeSlack({ token: SLACK_TOKEN, channels: [CHANNEL], now: () => Date.now() }),
    ]);
  });

  afterAll(async () => {
    vi.useRealTimers();
    await Promise.all([receiver?.close(), pagerduty?.close(), slack?.close()]);
  });

  it('should read at most 4.5 and write at most 5 state units per notification, and make as few calls', async () => {
    // Prepare
    const config: RelayConfig = {
      ingest: {},
      destinations: [
        { name: 'audit', sink: 'webhook', url: receiver.url },
        {
          name: 'pager',
          sink: 'pagerduty',
          routingKeySecret: 'PD_KEY',
          mode: 'group',
          baseUrl: pagerduty.url,
        },
        { name: 'team', sink: 'slack', tokenSecret: 'SLACK_TOKEN', channel: CHANNEL, baseUrl: slack.apiUrl },
      ],
    };
    const state = new CountingStateStore();
    const telemetry = new CountingTelemetry({ logger: new Logger({ logLevel: 'SILENT' }) });
    const handlerOf = (sink: Sink): RecordHandler =>
      createRecordHandler({
        sink,
        config,
        secrets: { get: async (name) => ({ PD_KEY, SLACK_TOKEN })[name] ?? '' },
        state,
        queue,
        telemetry,
        maxReceiveCount: 9,
      });
    const handlers = {
      audit: handlerOf(webhookSink),
      pager: handlerOf(pagerdutySink),
      team: handlerOf(createSlackSink()),
    };
    let id = 0;
    const recordOf = (body: string, groupId: string): SQSRecord => {
      id++;
      return {
        messageId: `m${id}`,
        receiptHandle: `rh${id}`,
        body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(Date.now()),
          SenderId: 'ingest',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
          MessageGroupId: groupId,
          MessageDeduplicationId: `d${id}`,
          SequenceNumber: String(id),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:relay.fifo',
        awsRegion: 'us-east-1',
      };
    };

    // Act
    let notifications = 0;
    for (let group = 0; group < GROUPS; group++) {
      for (const status of ['firing', 'resolved'] as const) {
        const notification = makeNotification({
          status,
          count: 2,
          groupKey: `{}:{alertname="StateCost${group}"}`,
          labels: (i) => ({
            alertname: `StateCost${group}`,
            instance: `web-${i}:9100`,
            severity: 'critical',
          }),
        });
        const receivedAt = new Date(Date.now()).toISOString();
        notifications++;
        for (const destination of config.destinations) {
          const message = buildMessage(destination.name, destination.sink, notification, receivedAt, {
            index: 1,
            count: 1,
          });
          const handler = handlers[destination.name as keyof typeof handlers];
          const result = await handler({
            Records: [recordOf(serializeMessage(message), `${destination.name}:${group}`)],
          });
          expect(result.batchItemFailures).toEqual([]);
        }
        vi.setSystemTime(Date.now() + SPACING_MS);
      }
    }

    // Assess
    const per = (n: number) => n / notifications;
    console.log(
      `state per notification: ${per(state.readUnits)} read units (${per(state.reads)} reads), ` +
        `${per(state.writeUnits)} write units (${per(state.writes)} writes); by key: ` +
        JSON.stringify(
          Object.fromEntries([...state.keys].map(([k, v]) => [k, [per(v.reads), per(v.writes)]])),
        ),
    );
    expect(telemetry.get('Delivered')).toBe(notifications * 3);
    expect(slack.topLevel(CHANNEL)).toHaveLength(GROUPS);
    expect(per(state.readUnits)).toBeLessThanOrEqual(4.5);
    expect(per(state.writeUnits)).toBeLessThanOrEqual(5);
    expect(per(state.reads)).toBeLessThanOrEqual(4.5);
    expect(per(state.writes)).toBeLessThanOrEqual(5);
  });
});

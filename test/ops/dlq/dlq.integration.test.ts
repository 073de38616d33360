import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { shellQuote } from '../../../lib/ops/shell-quote.ts';
import { idempotencyKey, messageGroupId } from '../../../lib/queue/idempotency.ts';
import { deadLetterQueueName } from '../../../lib/queue/local.ts';
import type { QueueMessage } from '../../../lib/queue/message.ts';
import { type LocalRelay, useLocalRelay } from '../../support/local-relay.ts';
import { makeNotification } from '../../support/notifications.ts';
import { runScript } from '../../support/run-script.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/webhook-receiver.ts';

const DLQ = deadLetterQueueName('webhook');

/** `npm run dlq -- ...` as a second process on the running relay's SQLite file. */
const runDlq = (args: string[], input = '') => runScript('scripts/dlq.ts', args, { input });

describe('DLQ tools: against the local runtime while it runs', () => {
  const local = useLocalRelay('dlq');
  let receiver: WebhookReceiver;
  let relay: LocalRelay;

  beforeEach(async () => {
    receiver = local.own(await startWebhookReceiver());
    relay = await local.start({ destinations: [{ name: 'audit', sink: 'webhook', url: receiver.url }] });
  });

  async function deadLetterOne(groupKey: string): Promise<void> {
    receiver.respondWith([{ status: 400, body: 'unknown field "summary"' }]);
    const before = relay.telemetry.get('DeadLettered', 'audit');
    await relay.post(makeNotification({ groupKey }));
    await relay.until(() => relay.telemetry.get('DeadLettered', 'audit') === before + 1);
  }

  it('should list each DLQ depth and each message with its reason, without removing it', async () => {
    // Prepare
    await deadLetterOne('{}:{alertname="HighLatency"}');
    const [dead] = relay.queue.peek(DLQ);

    // Act
    const result = await runDlq(['list', '--local', '--data-dir', local.dataDir]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^webhook\s+1$/m);
    expect(result.stdout).toMatch(/^console\s+0$/m);
    const row = result.stdout.split('\n').find((line) => line.startsWith('audit'));
    expect(row).toContain('{}:{alertname="HighLatency"}');
    expect(row).toContain('HighLatency (1)');
    expect(row).toMatch(/\s400\s/);
    expect(row).toContain(dead.attributes.firstFailureAt);
    expect(row).toContain(dead.attributes.reason.slice(0, 60));
    expect(relay.queue.peek(DLQ)).toHaveLength(1);
    // The hint repeats --local and the data directory, or it would redrive a stage on AWS.
    expect(result.stdout).toContain(
      `\n  npm run dlq -- redrive --local --data-dir ${shellQuote(local.dataDir)} --sink webhook\n`,
    );
  });

  it('should redrive through the running relay and deliver each notification once', async () => {
    // Prepare
    // A: dead-lettered by a 400 that is fixed now. B: delivered, and also in the DLQ, as when a
    // function times out after delivering and the message reaches the DLQ by its receive count.
    await deadLetterOne('{}:{alertname="A"}');
    const notificationB = makeNotification({ groupKey: '{}:{alertname="B"}' });
    const accepted = new Date().toISOString();
    await relay.post(notificationB);
    await relay.until(() => relay.telemetry.get('Delivered', 'audit') === 1);
    const copyOfB: QueueMessage = {
      v: 1,
      destination: 'audit',
      sink: 'webhook',
      idempotencyKey: idempotencyKey('audit', notificationB),
      part: { index: 1, count: 1 },
      receivedAt: accepted,
      notification: notificationB,
    };
    relay.queue.send(DLQ, [
      {
        id: 'b',
        body: JSON.stringify(copyOfB),
        groupId: messageGroupId('audit', notificationB.groupKey),
        deduplicationId: `${copyOfB.idempotencyKey}-redelivered`,
        attributes: {
          reason: 'gave up after 5 attempts: Task timed out',
          destination: 'audit',
          attempts: '5',
        },
      },
    ]);

    // Act
    const result = await runDlq(['redrive', '--sink', 'webhook', '--local', '--data-dir', local.dataDir]);
    await relay.until(
      () =>
        relay.telemetry.get('Delivered', 'audit') === 2 &&
        relay.telemetry.get('DuplicatesSkipped', 'audit') === 1,
    );

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('webhook: redriving 2 messages');
    expect(result.stdout).toContain('completed: moved 2 of 2');
    expect(result.stdout).toContain(
      '0 superseded (a newer notification of their group was applied first), 1 already applied (skipped as duplicates), 1 to apply',
    );
    expect(relay.queue.depth(DLQ)).toEqual({ visible: 0, inFlight: 0 });
    expect(receiver.delivered()).toHaveLength(2);
    expect([...receiver.deliveriesById().values()]).toEqual([1, 1]);
    expect(receiver.duplicates()).toEqual([]);
  });

  it('should purge only after a yes, and empty the DLQ', async () => {
    // Prepare
    await deadLetterOne('{}:{alertname="A"}');
    await deadLetterOne('{}:{alertname="B"}');

    // Act
    const declined = await runDlq(
      ['purge', '--sink', 'webhook', '--local', '--data-dir', local.dataDir],
      'n\n',
    );
    const depthAfterNo = relay.queue.depth(DLQ).visible;
    const confirmed = await runDlq(
      ['purge', '--sink', 'webhook', '--local', '--data-dir', local.dataDir],
      'y\n',
    );
    const listed = await runDlq(['list', '--sink', 'webhook', '--local', '--data-dir', local.dataDir]);

    // Assess
    expect(declined.code).toBe(1);
    expect(declined.stdout).toContain("Delete 2 messages from webhook's DLQ");
    expect(depthAfterNo).toBe(2);
    expect(confirmed.code).toBe(0);
    expect(confirmed.stdout).toContain('webhook: deleted 2 messages');
    expect(relay.queue.depth(DLQ)).toEqual({ visible: 0, inFlight: 0 });
    expect(listed.stdout).toMatch(/^webhook\s+0$/m);
  });

  it('should refuse an unknown sink and a missing data directory, saying why', async () => {
    // Act
    const unknown = await runDlq(['redrive', '--sink', 'slackk', '--local', '--data-dir', local.dataDir]);
    const missing = await runDlq(['list', '--local', '--data-dir', join(local.dir, 'nowhere')]);

    // Assess
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown sink "slackk"');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no local relay queue at');
  });
});

describe('DLQ tools: against AWS without credentials', () => {
  let home: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'relay-dlq-nocreds-'));
  });

  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('should say there are no AWS credentials and give the same command with --local', async () => {
    // Act: an empty HOME (no ~/.aws), no AWS_* variables, and no EC2 instance metadata to ask.
    const result = await runScript('scripts/dlq.ts', ['redrive', '--sink', 'webhook'], {
      env: { HOME: home, AWS_EC2_METADATA_DISABLED: 'true' },
    });

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no usable AWS credentials to reach stage dev in eu-west-1');
    expect(result.stderr).toContain('\n  npm run dlq -- redrive --local --sink webhook\n');
  });
});

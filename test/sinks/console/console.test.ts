import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert, Notification } from '../../../lib/alertmanager/types.ts';
import { PermanentError, RetryableError } from '../../../lib/delivery/errors.ts';
import type { Delivery, SinkLogger } from '../../../lib/delivery/sink.ts';
import { type ConsoleDestination, createConsoleSink } from '../../../lib/sinks/console/console.ts';
import type { ConsoleRecord } from '../../../lib/sinks/console/format.ts';
import { memoryState } from '../../support/vendor-delivery.ts';

// Captured from Alertmanager 0.25 (events/alertmanager/am-0.25-prom-group-firing-3alerts.json).
const GENERATOR_URL =
  'http://vm:19090/graph?g0.expr=label_replace%28vector%281%29%2C+%22pod%22%2C+%22web-1%22%2C+%22%22%2C+%22%22%29+or+label_replace%28vector%282%29%2C+%22pod%22%2C+%22web-2%22%2C+%22%22%2C+%22%22%29+or+label_replace%28vector%283%29%2C+%22pod%22%2C+%22web-3%22%2C+%22%22%2C+%22%22%29&g0.tab=1';
const firing3: Notification = {
  receiver: 'rec',
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: {
        alertname: 'ManyInstances',
        pod: 'web-1',
        service: 'web',
        severity: 'critical',
      },
      annotations: {
        summary: 'Pod web-1 unhealthy',
      },
      startsAt: '2026-11-21T11:52:44.568Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: GENERATOR_URL,
      fingerprint: 'af01d46df1d1cb21',
    },
    {
      status: 'firing',
      labels: {
        alertname: 'ManyInstances',
        pod: 'web-2',
        service: 'web',
        severity: 'critical',
      },
      annotations: {
        summary: 'Pod web-2 unhealthy',
      },
      startsAt: '2026-11-21T11:52:44.568Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: GENERATOR_URL,
      fingerprint: '058728c2d0b47fbe',
    },
    {
      status: 'firing',
      labels: {
        alertname: 'ManyInstances',
        pod: 'web-3',
        service: 'web',
        severity: 'critical',
      },
      annotations: {
        summary: 'Pod web-3 unhealthy',
      },
      startsAt: '2026-11-21T11:52:44.568Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: GENERATOR_URL,
      fingerprint: '22ad06519118e8d7',
    },
  ],
  groupLabels: {
    alertname: 'ManyInstances',
  },
  commonLabels: {
    alertname: 'ManyInstances',
    service: 'web',
    severity: 'critical',
  },
  commonAnnotations: {},
  externalURL: 'http://vm:19093',
  version: '4',
  groupKey: '{}:{alertname="ManyInstances"}',
  truncatedAlerts: 0,
};

const NOW = new Date('2026-11-21T12:00:00.000Z');

const silentLogger: SinkLogger = { debug() {}, info() {}, warn() {}, error() {} };

function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    status: 'firing',
    labels: { alertname: 'HighLatency', severity: 'critical', job: 'node', instance: 'a:9100' },
    annotations: { summary: 'Pod web-1 unhealthy' },
    startsAt: '2026-11-21T11:41:47.157482837Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prom:9090/graph?g0.expr=up&g0.tab=1',
    fingerprint: 'af01d46df1d1cb21',
    ...overrides,
  };
}

function notification(alerts: Alert[], overrides: Partial<Notification> = {}): Notification {
  return {
    version: '4',
    groupKey: '{}:{alertname="HighLatency"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'relay',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://am:9093',
    alerts,
    ...overrides,
  };
}

function delivery(
  n: Notification,
  destination: Partial<ConsoleDestination> = {},
  extra: Partial<Delivery<ConsoleDestination>> = {},
): Delivery<ConsoleDestination> {
  return {
    destination: { name: 'stdout', sink: 'console', ...destination },
    notification: n,
    idempotencyKey: 'idem-1',
    part: { index: 1, count: 1 },
    receivedAt: '2026-11-21T11:59:59.000Z',
    attempt: 1,
    secrets: {
      async get(name) {
        throw new PermanentError(`no secret ${name}`);
      },
    },
    state: memoryState(),
    logger: silentLogger,
    ...extra,
  };
}

function capture() {
  const writes: string[] = [];
  const sink = createConsoleSink({ write: (text) => void writes.push(text), now: () => NOW });
  return { sink, writes };
}

describe('Sink: console', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-sink-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('should print one readable line per alert in a single write', async () => {
    // Prepare
    const { sink, writes } = capture();
    const n = notification([
      alert(),
      alert({ status: 'resolved', labels: { alertname: 'HighLatency', pod: 'web-2' } }),
    ]);

    // Act
    await sink.deliver(delivery(n));

    // Assess
    expect(writes).toEqual([
      '[FIRING] HighLatency severity=critical  Pod web-1 unhealthy  {instance="a:9100", job="node"}  dest=stdout group={}:{alertname="HighLatency"}\n' +
        '[RESOLVED] HighLatency  Pod web-1 unhealthy  {pod="web-2"}  dest=stdout group={}:{alertname="HighLatency"}\n',
    ]);
  });

  it('should fall back to the description when there is no summary', async () => {
    // Prepare
    const { sink, writes } = capture();
    const n = notification([alert({ annotations: { description: 'Latency is 3 s\non web-1' } })]);

    // Act
    await sink.deliver(delivery(n));

    // Assess
    expect(writes[0]).toContain('severity=critical  Latency is 3 s on web-1  {instance=');
  });

  it('should add a line for truncated alerts so they are never hidden', async () => {
    // Prepare
    const { sink, writes } = capture();
    const n = notification([alert()], { truncatedAlerts: 5 });

    // Act
    await sink.deliver(delivery(n));

    // Assess
    const lines = writes[0].trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe(
      '[TRUNCATED] 5 more alerts were cut off by Alertmanager (max_alerts)  dest=stdout group={}:{alertname="HighLatency"}',
    );
  });

  it('should name the part when a notification was split', async () => {
    // Prepare
    const { sink, writes } = capture();

    // Act
    await sink.deliver(delivery(notification([alert()]), {}, { part: { index: 2, count: 3 } }));

    // Assess
    expect(writes[0]).toMatch(/ part=2\/3\n$/);
  });

  it('should keep a label or annotation with newlines or escapes from forging extra lines', async () => {
    // Prepare
    const { sink, writes } = capture();
    const n = notification([
      alert({
        labels: { alertname: 'Evil\n[RESOLVED] Fake', note: 'a"b\\c\nd', severity: 'x\u001b[31m' },
        annotations: { summary: 'line1\r\nline2\u0007' },
      }),
    ]);

    // Act
    await sink.deliver(delivery(n));

    // Assess
    expect(writes[0].split('\n')).toHaveLength(2);
    const controls = [...writes[0]].filter(
      (c) => c !== '\n' && (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
    );
    expect(controls).toEqual([]);
    expect(writes[0]).toContain('{note="a\\"b\\\\c\\nd"}');
  });

  it('should print a real Alertmanager 0.25 group of three alerts', async () => {
    // Prepare
    const { sink, writes } = capture();

    // Act
    await sink.deliver(delivery(firing3));

    // Assess
    expect(writes[0].trimEnd().split('\n')).toEqual([
      '[FIRING] ManyInstances severity=critical  Pod web-1 unhealthy  {pod="web-1", service="web"}  dest=stdout group={}:{alertname="ManyInstances"}',
      '[FIRING] ManyInstances severity=critical  Pod web-2 unhealthy  {pod="web-2", service="web"}  dest=stdout group={}:{alertname="ManyInstances"}',
      '[FIRING] ManyInstances severity=critical  Pod web-3 unhealthy  {pod="web-3", service="web"}  dest=stdout group={}:{alertname="ManyInstances"}',
    ]);
  });

  it('should append one JSON line per alert to the file', async () => {
    // Prepare
    const { sink } = capture();
    const file = join(dir, 'alerts.jsonl');
    const first = notification([alert(), alert({ fingerprint: 'b2' })], { truncatedAlerts: 1 });

    // Act
    await sink.deliver(delivery(first, { file }));
    await sink.deliver(
      delivery(notification([alert({ status: 'resolved' })]), { file }, { idempotencyKey: 'idem-2' }),
    );

    // Assess
    const records = (await readFile(file, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as ConsoleRecord);
    expect(records).toHaveLength(3);
    expect(records[0]).toEqual({
      time: NOW.toISOString(),
      destination: 'stdout',
      idempotencyKey: 'idem-1',
      groupKey: '{}:{alertname="HighLatency"}',
      receiver: 'relay',
      status: 'firing',
      truncatedAlerts: 1,
      part: { index: 1, count: 1 },
      receivedAt: '2026-11-21T11:59:59.000Z',
      alert: alert(),
    });
    expect(records.map((r) => [r.idempotencyKey, r.alert?.fingerprint, r.alert?.status])).toEqual([
      ['idem-1', 'af01d46df1d1cb21', 'firing'],
      ['idem-1', 'b2', 'firing'],
      ['idem-2', 'af01d46df1d1cb21', 'resolved'],
    ]);
  });

  it('should print the JSON lines instead of text with format json', async () => {
    // Prepare
    const { sink, writes } = capture();

    // Act
    await sink.deliver(delivery(notification([alert(), alert()]), { format: 'json' }));

    // Assess
    expect(writes).toHaveLength(1);
    const lines = writes[0].trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as ConsoleRecord).alert?.labels.alertname)).toEqual([
      'HighLatency',
      'HighLatency',
    ]);
  });

  it('should still say something for a notification without alerts', async () => {
    // Prepare
    const { sink, writes } = capture();

    // Act
    await sink.deliver(delivery(notification([], { truncatedAlerts: 2 })));

    // Assess
    expect(writes[0]).toContain('[FIRING] (no alerts)  dest=stdout');
    expect(writes[0]).toContain('[TRUNCATED] 2 more alerts were cut off');
  });

  it('should fail permanently and print nothing when the file directory does not exist', async () => {
    // Prepare
    const { sink, writes } = capture();
    const file = join(dir, 'missing', 'alerts.jsonl');

    // Act
    const result = sink.deliver(delivery(notification([alert()]), { file }));

    // Assess
    await expect(result).rejects.toBeInstanceOf(PermanentError);
    await expect(result).rejects.toThrow(/ENOENT/);
    expect(writes).toEqual([]);
  });

  it('should retry when the disk is full', async () => {
    // Prepare
    const full = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const sink = createConsoleSink({
      write: () => undefined,
      appendFile: async () => {
        throw full;
      },
    });

    // Act
    const result = sink.deliver(delivery(notification([alert()]), { file: '/var/log/alerts.jsonl' }));

    // Assess
    await expect(result).rejects.toBeInstanceOf(RetryableError);
  });

  it('should default to writing on process.stdout', async () => {
    // Prepare
    const { consoleSink } = await import('../../../lib/sinks/console/console.ts');
    const written: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string, callback?: (error?: Error | null) => void) => {
      written.push(String(chunk));
      callback?.();
      return true;
    }) as typeof process.stdout.write;

    // Act
    try {
      await consoleSink.deliver(delivery(notification([alert()])));
    } finally {
      process.stdout.write = original;
    }

    // Assess
    expect(consoleSink.name).toBe('console');
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^\[FIRING\] HighLatency /);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RelayConfig } from '../../lib/config/types.ts';
import { type Relay, startRelay } from '../../lib/local/runtime.ts';
import { LocalSecrets } from '../../lib/secrets.ts';
import { createLogger } from '../../lib/telemetry.ts';
import { type FakeServer, startFakeServer } from '../support/fake-server.ts';
import { makeNotification, postNotification } from '../support/notifications.ts';

/**
 * Relay.close with a drain deadline (what `npm start` does on SIGTERM): a vendor call that does
 * not end in time is given up, the files are closed anyway, and the message is still queued:
 * the next start delivers it.
 */
describe('Local runtime: stopping with a drain deadline', () => {
  let dir: string;
  let vendor: FakeServer;
  const relays: Relay[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-stop-'));
    vendor = await startFakeServer({ handle: () => undefined });
  });

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.close()));
    await vendor.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(): Promise<Relay> {
    const config: RelayConfig = {
      ingest: {},
      destinations: [{ name: 'audit', sink: 'webhook', url: `${vendor.url}/hook` }],
    };
    const relay = await startRelay({
      config,
      secrets: new LocalSecrets({ env: {} }),
      dataDir: join(dir, 'data'),
      port: 0,
      // What the abandoned delivery says when its vendor connection is dropped after the test is noise.
      logger: createLogger('stop-test', 'SILENT'),
    });
    relays.push(relay);
    return relay;
  }

  it('should give up a delivery that outlasts the deadline, keep its message, and deliver it after the next start', async () => {
    // Prepare
    vendor.respondWith([{ hang: true }]);
    const first = await start();
    const accepted = await postNotification(first.url, makeNotification({}));
    await vendor.waitFor(1);

    // Act
    await first.close({ drainMs: 100 });
    const refused = await fetch(`${first.url}/healthz`).then(
      () => 'answered',
      () => 'refused',
    );
    const second = await start();
    await second.until(() => second.telemetry.get('Delivered', 'audit') === 1);

    // Assess
    expect(accepted.status).toBe(202);
    expect(refused).toBe('refused');
    expect(vendor.requests.map((r) => r.outcome)).toEqual(['hang', 200]);
    expect(second.queue.depth('webhook')).toEqual({ visible: 0, inFlight: 0 });
  });

  it('should wait for a delivery that ends within the deadline', async () => {
    // Prepare
    let answer: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    let arrive: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => {
      arrive = resolve;
    });
    await vendor.close();
    vendor = await startFakeServer({
      handle: async () => {
        arrive();
        await answered;
        return { status: 200 };
      },
    });
    const relay = await start();
    await postNotification(relay.url, makeNotification({}));
    await arrived;

    // Act
    const closing = relay.close({ drainMs: 60_000 });
    answer();
    await closing;

    // Assess
    expect(relay.telemetry.get('Delivered', 'audit')).toBe(1);
    expect(vendor.requests.map((r) => r.outcome)).toEqual([200]);
  });
});

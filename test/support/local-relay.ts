import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { DestinationConfig, RelayConfig } from '../../lib/config/types.ts';
import type { BackoffPolicy } from '../../lib/delivery/policy.ts';
import { type Relay, type RelayOptions, startRelay } from '../../lib/local/runtime.ts';
import { deadLetterQueueName } from '../../lib/queue/local.ts';
import type { PeekedMessage } from '../../lib/queue/sqlite-queue.ts';
import { LocalSecrets } from '../../lib/secrets.ts';
import { postNotification } from './notifications.ts';

/**
 * The local runtime (lib/local/runtime.ts) for an integration test: a temp data dir, a config
 * with the test's destinations, its secrets and a logger that keeps every line. Everything the
 * test started (relays, and fake vendors handed to `own`) is closed after it, relays first,
 * and the captured logs are printed when it failed.
 */

/** Retries come back at once: integration tests await outcomes, not the backoff curve. */
const IMMEDIATE_RETRIES: BackoffPolicy = { baseSeconds: 0, factor: 1, maxSeconds: 0 };

export interface LocalRelayOptions {
  destinations: DestinationConfig[];
  /** The ingest token, read from the secret INGEST_TOKEN; without it ingest asks for none. */
  token?: string;
  /** Secrets by the names the destinations give. */
  secrets?: Record<string, string>;
  /** The queue's redrive backstop (default DELIVERY_POLICY.receiveBackstop). */
  maxReceiveCount?: number;
  /** Failed attempts before the handler dead-letters (default DELIVERY_POLICY.maxAttempts). */
  maxAttempts?: number;
  /** Default IMMEDIATE_RETRIES. */
  backoff?: BackoffPolicy;
  /** Default: a logger at DEBUG that keeps its lines for `logs()` and prints nothing. */
  logger?: Logger;
  /** relay.yaml's `metrics:` and `watchdog:` blocks. */
  config?: Pick<RelayConfig, 'metrics' | 'watchdog'>;
  /** The watchdog timer's clock and interval (RelayOptions.watchdog). */
  watchdog?: RelayOptions['watchdog'];
}

export interface LocalRelay extends Relay {
  /** POSTs a notification to /alertmanager with the relay's ingest token, unless `options` give other credentials. */
  post(
    notification: unknown,
    options?: { token?: string; headers?: Record<string, string> },
  ): ReturnType<typeof postNotification>;
  /** The messages in `sink`'s DLQ, oldest first. */
  deadLetters(sink: string, limit?: number): PeekedMessage[];
  /**
   * Resolves once `condition` holds with nothing visible in `sink`'s queue, and then once
   * nothing is in flight either: a second copy of a notification has been taken and skipped.
   */
  settled(sink: string, condition: () => boolean): Promise<void>;
  /** The relay's log lines so far (JSON), when it runs with the capturing logger. */
  logs(): string[];
}

export interface LocalRelayFixture {
  /** The temp dir of the running test (or file, with scope 'file'); the relay's data is in `dataDir`. */
  readonly dir: string;
  readonly dataDir: string;
  start(options: LocalRelayOptions): Promise<LocalRelay>;
  /** Closes `thing` (a fake vendor) after the test, once its relays are closed. */
  own<T extends { close(): unknown }>(thing: T): T;
}

/**
 * Registers the hooks that make a temp dir before each test (or once, with scope 'file') and
 * close and remove everything after. Call it at the top of a describe, before its own hooks.
 *
 * @example
 * const local = useLocalRelay('sysdig');
 * beforeEach(async () => {
 *   fake = local.own(await startFakeSysdig({ token }));
 * });
 * it('...', async () => {
 *   const relay = await local.start({ token: INGEST_TOKEN, destinations: [...], secrets: {...} });
 *   await relay.post(makeNotification({}));
 *   await relay.until(() => relay.telemetry.get('Delivered', 'monitor') === 1);
 * });
 */
export function useLocalRelay(name: string, options: { scope?: 'test' | 'file' } = {}): LocalRelayFixture {
  const [before, after] = options.scope === 'file' ? [beforeAll, afterAll] : [beforeEach, afterEach];
  let dir: string | undefined;
  const relays: LocalRelay[] = [];
  const owned: { close(): unknown }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `relay-${name}-`));
  });
  afterEach((context) => {
    if (context.task.result?.state !== 'fail') return;
    for (const relay of relays) {
      const lines = relay.logs();
      if (lines.length > 0) console.error(`----- relay ${relay.url} -----\n${lines.join('\n')}`);
    }
  });
  after(async () => {
    for (const relay of relays.splice(0).reverse()) await relay.close();
    for (const thing of owned.splice(0).reverse()) await thing.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const current = () => {
    if (!dir) throw new Error('useLocalRelay: start() runs inside a test or a hook of its describe');
    return dir;
  };

  return {
    get dir() {
      return current();
    },
    get dataDir() {
      return join(current(), 'data');
    },
    async start(relayOptions) {
      const logger = relayOptions.logger ?? new CapturingLogger({ logLevel: 'DEBUG' });
      const relay = await startRelay({
        config: {
          ingest: relayOptions.token === undefined ? {} : { tokenSecret: 'INGEST_TOKEN' },
          destinations: relayOptions.destinations,
          ...relayOptions.config,
        },
        secrets: new LocalSecrets({
          env: {
            ...(relayOptions.token === undefined ? {} : { INGEST_TOKEN: relayOptions.token }),
            ...relayOptions.secrets,
          },
        }),
        dataDir: join(current(), 'data'),
        port: 0,
        logger,
        maxReceiveCount: relayOptions.maxReceiveCount,
        maxAttempts: relayOptions.maxAttempts,
        backoff: relayOptions.backoff ?? IMMEDIATE_RETRIES,
        ...(relayOptions.watchdog ? { watchdog: relayOptions.watchdog } : {}),
      });
      const local: LocalRelay = {
        ...relay,
        post: (notification, credentials) =>
          postNotification(relay.url, notification, credentials ?? { token: relayOptions.token }),
        deadLetters: (sink, limit) => relay.queue.peek(deadLetterQueueName(sink), limit),
        async settled(sink, condition) {
          await relay.until(() => condition() && relay.queue.depth(sink).visible === 0);
          await relay.until(() => relay.queue.depth(sink).inFlight === 0);
        },
        logs: () => (logger instanceof CapturingLogger ? [...logger.lines] : []),
      };
      relays.push(local);
      return local;
    },
    own(thing) {
      owned.push(thing);
      return thing;
    },
  };
}

/** A Powertools logger that keeps each line it would print, formatted as on stdout. */
class CapturingLogger extends Logger {
  // Made on first use: the Logger constructor may print before a subclass field is set.
  private captured: string[] | undefined;

  get lines(): readonly string[] {
    return this.captured ?? [];
  }

  protected override printLog(_logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    this.captured ??= [];
    this.captured.push(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }
}

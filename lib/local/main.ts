import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../config/load.ts';
import { LocalSecrets } from '../secrets.ts';
import { createLogger } from '../telemetry.ts';
import { watchdogWarnings } from '../watchdog/config.ts';
import { banner, checkListenAddress } from './banner.ts';
import { type Relay, STOP_DRAIN_MS, startRelay } from './runtime.ts';

/** After the drain deadline, how long closing the files may take before the process exits regardless. */
const STOP_GRACE_MS = 1_500;

// `npm start`: the relay on this machine (lib/local/runtime.ts), configured from the environment.
async function main(): Promise<number> {
  const env = process.env;
  const host = env.HOST ?? '127.0.0.1';
  const port = Number(env.PORT ?? 9099);
  const dataDir = resolve(env.RELAY_DATA_DIR ?? '.relay');
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ env });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 78;
    }
    throw error;
  }
  const { config, source } = loaded;
  const refusal = checkListenAddress(config, host);
  if (refusal) {
    console.error(refusal);
    return 78;
  }
  const secrets = new LocalSecrets({ env });
  // The errors name RELAY_SECRETS_FILE, not its path (HTTP callers can see them); this terminal may.
  const secretsFile = env.RELAY_SECRETS_FILE ? ` (RELAY_SECRETS_FILE is ${env.RELAY_SECRETS_FILE})` : '';
  const explain = (error: Error) =>
    error.message.includes('RELAY_SECRETS_FILE') ? `${error.message}${secretsFile}` : error.message;
  // A silentAfter that would page while Alertmanager works, among the others (lib/watchdog/config.ts).
  const warnings: string[] = [...watchdogWarnings(config.watchdog)];
  for (const name of [config.ingest.tokenSecret].filter((n): n is string => !!n)) {
    try {
      await secrets.get(name);
    } catch (error) {
      console.error(`ingest.tokenSecret: ${explain(error as Error)}`);
      return 78;
    }
  }
  for (const destination of config.destinations) {
    for (const [field, value] of Object.entries(destination)) {
      if (!field.endsWith('Secret') || typeof value !== 'string') continue;
      await secrets.get(value).catch((error: Error) => {
        warnings.push(
          `${destination.name}.${field}: ${explain(error)}; its deliveries will be dead-lettered until it is set`,
        );
      });
    }
  }
  const relay = await startRelay({
    config,
    secrets,
    dataDir,
    host,
    port,
    // Locally the console sink is the output; relay logs stay at warnings unless asked.
    logger: createLogger('alertmanager-relay', env.LOG_LEVEL ?? 'WARN'),
  });
  process.stdout.write(
    banner({ url: relay.url, host, metricsUrl: relay.metricsUrl, source, config, dataDir, warnings }),
  );
  const code = await stopped(relay);
  // Whatever is left (a vendor call given up at the drain deadline, an idle keep-alive socket)
  // must not keep the process, and its port, alive: the files are closed, nothing is lost.
  process.exit(code);
}

/**
 * Resolves with the exit code once SIGTERM or SIGINT (systemd, a container runtime, Ctrl-C, or
 * npm passing either on: `npm start` execs node, so npm's child is this process) has stopped the
 * relay: no new requests, in-flight requests and deliveries finished or given up after
 * STOP_DRAIN_MS, the files closed. A second signal changes nothing (Ctrl-C reaches both npm and
 * node, and npm passes it on again); if the stop itself hangs, the process exits anyway shortly
 * after the drain deadline, before a supervisor's SIGKILL.
 */
function stopped(relay: Relay): Promise<number> {
  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      const started = Date.now();
      process.stderr.write(`${signal}: finishing in-flight work (at most ${STOP_DRAIN_MS / 1000} s)...\n`);
      setTimeout(() => {
        process.stderr.write('the relay did not stop in time; exiting\n');
        done(1);
      }, STOP_DRAIN_MS + STOP_GRACE_MS).unref();
      relay.close({ drainMs: STOP_DRAIN_MS }).then(
        () => {
          process.stderr.write(`stopped in ${Date.now() - started} ms\n`);
          done(0);
        },
        (error: unknown) => {
          console.error(error instanceof Error ? error.message : error);
          done(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ManagedProcess,
  REPO_NODE,
  REPO_ROOT,
  spawnManaged,
  spawnRelay,
} from '../support/run-script.ts';

/**
 * A start that fails after the data files were opened must close them (the queue, the state, the
 * checkpoint thread, a listener already listening) before it rejects: otherwise the process prints
 * the error and never ends, under npm start as under a supervisor waiting for it to exit.
 */
describe('Local runtime: a start that fails', () => {
  let dir: string;
  let taken: Server;
  const processes: ManagedProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-start-failure-'));
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop(2_000)));
    await new Promise<void>((resolve) => taken.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it("should end npm start by itself, exit 1, when the metrics listener's address is taken", async () => {
    // Prepare
    const port = (taken.address() as { port: number }).port;
    const config = join(dir, 'relay.yaml');
    await writeFile(
      config,
      `metrics:\n  listen: 127.0.0.1:${port}\ndestinations:\n  - name: out\n    sink: console\n`,
    );
    const relay = spawnRelay({
      cwd: dir,
      env: { RELAY_DATA_DIR: join(dir, 'data'), RELAY_CONFIG: config, PORT: '0' },
    });
    processes.push(relay);

    // Act
    const exit = await relay.exited();

    // Assess
    expect(exit).toEqual({ code: 1, signal: null });
    expect(relay.stderr()).toContain(`cannot listen on 127.0.0.1:${port} for metrics.listen: EADDRINUSE`);
    expect(relay.stdout()).not.toContain('listening on');
  });

  it('should reject, and end its process by itself, when ingest refuses the config it was given', async () => {
    // Prepare: a matcher that does not parse (the config loader would refuse it; startRelay is given it as is).
    const script = `
      import { startRelay } from ${JSON.stringify(join(REPO_ROOT, 'lib/local/runtime.ts'))};
      import { LocalSecrets } from ${JSON.stringify(join(REPO_ROOT, 'lib/secrets.ts'))};
      const options = {
        config: { ingest: {}, destinations: [{ name: 'out', sink: 'console', matchers: ['severity=~"('] }] },
        secrets: new LocalSecrets({ env: {} }),
        dataDir: ${JSON.stringify(join(dir, 'data'))},
        port: 0,
      };
      await startRelay(options).then(
        () => console.log('started'),
        (error) => console.log('rejected:', error.message),
      );`;
    // A file, not `node -e`: the checkpoint thread (a Worker) would inherit -e's module mode and fail at once.
    const file = join(dir, 'start.mjs');
    await writeFile(file, script);
    const child = spawnManaged({
      name: 'start-failure',
      command: REPO_NODE,
      args: [file],
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    processes.push(child);

    // Act
    const exit = await child.exited();

    // Assess
    expect(child.stdout()).toMatch(/^rejected: /);
    expect(exit).toEqual({ code: 0, signal: null });
  });
});

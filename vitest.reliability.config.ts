import { defineConfig } from 'vitest/config';

// Reliability tests: fault injection, storms, kill -9 recovery and an Alertmanager HA pair, all
// on 127.0.0.1. One file at a time: a storm needs both cores, and the suite must stay well under
// five minutes on a loaded 2-core machine. The timeouts turn a hang into a failure; every test
// waits on events (a worker batch, a request at the fake sink, a process's output line).
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});

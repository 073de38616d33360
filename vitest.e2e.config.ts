import { defineConfig } from 'vitest/config';

// End-to-end tests start real Prometheus, Alertmanager and relay processes on loopback ports.
// One file at a time keeps them from competing for the 2 cores (and keeps their logs apart);
// the timeouts cover Prometheus discovering Alertmanager (about 6 s) plus slow CI machines.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});

import { configDefaults, defineConfig } from 'vitest/config';

// Unit, contract, integration (local runtime) and infra tests: everything under test/ that
// mirrors lib/. The e2e and reliability suites have configs of their own.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/e2e/**', 'test/reliability/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file owns its database and Redis prefix, so files run in parallel safely.
    pool: 'forks',
    reporters: ['default', './test/setup/summary-reporter.ts'],
  },
});

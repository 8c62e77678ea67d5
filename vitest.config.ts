import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real sockets and real namespaces: keep per-test time generous but bounded.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});

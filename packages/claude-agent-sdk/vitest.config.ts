import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    // The real Claude Code binary starts for each query: seconds, not milliseconds.
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
});

import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// Two projects: component tests in jsdom (beside the code, `src/**/*.test.tsx`), and end-to-end
// tests (`e2e/`) that drive Debian's Chromium against a real Arden server. The end-to-end tests
// never skip: without /usr/bin/chromium they fail, saying how to install it.
export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        plugins: [react()],
        test: {
          name: 'components',
          include: ['src/**/*.test.{ts,tsx}'],
          environment: 'jsdom',
          setupFiles: ['src/test-setup.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.e2e.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 90_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});

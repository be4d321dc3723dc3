import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    testTimeout: 30_000,
    // Starting a real Arden server (the e2e files) can take more than 10 s on a loaded machine.
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'ai@latest',
          include: ['src/**/*.test.ts'],
          typecheck: {
            enabled: true,
            include: ['src/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      },
      {
        // The oldest `ai` this package claims (peer >=7.0.82): the in-process suite again.
        extends: true,
        test: { name: 'ai@7.0.82', include: ['src/adapter.test.ts', 'src/import.test.ts'] },
        resolve: { alias: [{ find: /^ai(\/test)?$/, replacement: 'ai-oldest$1' }] },
      },
    ],
  },
});
